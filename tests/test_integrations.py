"""The LangChain and LlamaIndex retrievers, each called through its framework's own retriever
interface, over a local Hippo and over `Hippo.remote` on the sample index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.retrievers import BaseRetriever as LangChainRetriever
from llama_index.core.retrievers import BaseRetriever as LlamaIndexRetriever

from hippo.api import Hippo
from hippo.integrations.langchain import HippoRetriever as LangChainHippo
from hippo.integrations.llama_index import HippoRetriever as LlamaIndexHippo
from tests.serve_server import ThreadServer

QUESTION = "Who trained the engineer who designed the Marlow Viaduct?"


@pytest.fixture(scope="module")
def remote(sample_index: Path) -> Iterator[object]:
    from hippo.serve.app import create_app

    with ThreadServer(create_app(Hippo(sample_index), "hipporag2")) as server, Hippo.remote(server.url) as client:
        yield client


def _expected(sample_index: Path, pipeline: str = "hipporag2") -> list[str]:
    return [p.id for p in Hippo(sample_index).retrieve(QUESTION, pipeline, top_k=3).passages]


@pytest.mark.parametrize("where", ["local", "remote"])
def test_langchain_retriever(sample_index: Path, remote: object, where: str) -> None:
    hippo = Hippo(sample_index) if where == "local" else remote
    retriever = LangChainHippo(hippo=hippo, top_k=3)
    assert isinstance(retriever, LangChainRetriever)
    documents = retriever.invoke(QUESTION)
    assert [d.metadata["id"] for d in documents] == _expected(sample_index)
    assert "Samuel Pike" in documents[[d.metadata["title"] for d in documents].index("Thomas Keel")].page_content
    assert all(isinstance(d.metadata["score"], float) for d in documents)
    dense = LangChainHippo(hippo=hippo, top_k=3, pipeline="dense").invoke(QUESTION)
    assert [d.metadata["id"] for d in dense] == _expected(sample_index, "dense")


@pytest.mark.parametrize("where", ["local", "remote"])
def test_llama_index_retriever(sample_index: Path, remote: object, where: str) -> None:
    hippo = Hippo(sample_index) if where == "local" else remote
    retriever = LlamaIndexHippo(hippo, top_k=3)  # type: ignore[arg-type]
    assert isinstance(retriever, LlamaIndexRetriever)
    nodes = retriever.retrieve(QUESTION)
    assert [n.node.node_id for n in nodes] == _expected(sample_index)
    assert {"Marlow Viaduct", "Thomas Keel"} <= {n.node.metadata["title"] for n in nodes}
    assert nodes[0].score is not None and nodes[0].score >= nodes[-1].score
