"""A LlamaIndex retriever over hippo (the `llamaindex` extra: `llama-index-core`)."""

from __future__ import annotations

from typing import Any

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from hippo.integrations import Retriever, retrieve_passages


class HippoRetriever(BaseRetriever):
    """LlamaIndex `BaseRetriever` over a `Hippo` or `Hippo.remote(URL)`: each ranked passage
    is a `NodeWithScore` whose `TextNode` has the passage id as `id_`, its text, and `title`
    (and `session`, `date`, `turns` on a conversation index) in its metadata.

    >>> HippoRetriever(Hippo("example-index")).retrieve("Who designed the Marlow Viaduct?")  # doctest: +SKIP
    """

    def __init__(self, hippo: Retriever, pipeline: str | None = None, top_k: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hippo = hippo
        self.pipeline = pipeline
        self.top_k = top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        nodes = []
        for passage in retrieve_passages(self.hippo, query_bundle.query_str, self.pipeline, self.top_k):
            score = passage.pop("score")
            node = TextNode(id_=passage.pop("id"), text=passage.pop("text"), metadata=passage)
            nodes.append(NodeWithScore(node=node, score=score))
        return nodes
