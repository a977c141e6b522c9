"""Retrievers for the frameworks RAG applications are built with, over a local `Hippo` or a
remote one (`Hippo.remote(URL)`): `hippo.integrations.langchain` (the `langchain` extra) and
`hippo.integrations.llama_index` (the `llamaindex` extra)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Protocol

from hippo.api import Retrieval


class Retriever(Protocol):
    """What the framework retrievers call: `Hippo` and `RemoteHippo` both have it."""

    def retrieve(self, question: str, pipeline: Any = ..., top_k: int = ...) -> Retrieval: ...


def retrieve_passages(hippo: Retriever, question: str, pipeline: str | None, top_k: int) -> list[dict[str, Any]]:
    """The ranked passages for `question` as dicts (`text` plus `id`, `title`, `score`, and on a
    conversation index `session`, `date`, `turns`); `pipeline` None is the default one."""
    options: dict[str, Any] = {"top_k": top_k, **({"pipeline": pipeline} if pipeline else {})}
    return [asdict(p) for p in hippo.retrieve(question, **options).passages]
