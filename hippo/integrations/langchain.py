"""A LangChain retriever over hippo (the `langchain` extra: `langchain-core`)."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from hippo.integrations import retrieve_passages


class HippoRetriever(BaseRetriever):
    """`BaseRetriever` over a `Hippo` or `Hippo.remote(URL)`: each ranked passage is a
    `Document` whose `page_content` is its text and whose metadata holds `id`, `title` and
    `score` (and `session`, `date`, `turns` on a conversation index).

    >>> retriever = HippoRetriever(hippo=Hippo("example-index"), top_k=5)   # doctest: +SKIP
    >>> retriever.invoke("Who designed the Marlow Viaduct?")[0].metadata["title"]  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    hippo: Any
    pipeline: str | None = None
    top_k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        passages = retrieve_passages(self.hippo, query, self.pipeline, self.top_k)
        return [Document(page_content=p.pop("text"), metadata=p) for p in passages]
