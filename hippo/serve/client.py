"""`Hippo.remote(URL)`: a `hippo serve` server behind the methods of `Hippo`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from hippo.api import READ_TOP_K, Answer, Document, Retrieval
from hippo.errors import HippoError, UnknownDocumentError
from hippo.indexer import IndexReport
from hippo.pipeline import DEFAULT_TOP_K


class RemoteHippo:
    """A client of a `hippo serve` server with `retrieve`, `ask`, `index`, `add_session`,
    `delete` and `stats`. Results are the dataclasses `Hippo` returns (`Retrieval`, `Answer`,
    `IndexReport`); a refusal by the server is a HippoError carrying its message. `pipeline`
    None means the server's default."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 300.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def retrieve(self, question: str, pipeline: str | None = None, top_k: int = DEFAULT_TOP_K) -> Retrieval:
        """The `top_k` passages for `question` (no reader)."""
        return Retrieval.from_dict(self._call("POST", "/retrieve", _query(question, pipeline, top_k)))

    def ask(self, question: str, pipeline: str | None = None, top_k: int = READ_TOP_K) -> Answer:
        """The server reader's answer from `top_k` passages, citing them."""
        return Answer.from_dict(self._call("POST", "/ask", _query(question, pipeline, top_k)))

    def index(self, sources: Iterable[Document]) -> IndexReport:
        """Adds {"title", "text"} documents to the server's index (they join those indexed
        before; files cannot be sent: index them on the server's machine)."""
        documents = []
        for source in sources:
            if not isinstance(source, Mapping):
                raise HippoError(f"{source}: a remote index takes {{'title', 'text'}} documents, not paths")
            documents.append(dict(source))
        return _report(self._call("POST", "/index", {"documents": documents})["reports"][0])

    def add_session(
        self, conversation: str, session_id: str | int, turns: Sequence[Any], date: str = ""
    ) -> IndexReport:
        """Adds one conversation session ({"speaker", "text"} turns, or (speaker, text) pairs)."""
        rows = [turn if isinstance(turn, Mapping) else {"speaker": turn[0], "text": turn[1]} for turn in turns]
        session = {"conversation": conversation, "session": session_id, "turns": rows, "date": date}
        return _report(self._call("POST", "/index", {"sessions": [session]})["reports"][0])

    def delete(self, document_ids: Iterable[str]) -> IndexReport:
        """Removes documents by the ids the server gave them; the last removal's report."""
        reports = [self._call("DELETE", f"/documents/{quote(doc_id, safe='/')}")["report"] for doc_id in document_ids]
        return _report(reports[-1]) if reports else IndexReport()

    def stats(self) -> dict[str, Any]:
        """The index's figures (`hippo stats --json`)."""
        return self._call("GET", "/stats")

    def close(self) -> None:
        """Closes the HTTP connections."""
        self._http.close()

    def __enter__(self) -> RemoteHippo:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as err:
            raise HippoError(f"{self.url}: cannot reach the hippo server ({err}); is `hippo serve` running?") from None
        if response.is_success:
            return response.json()
        try:
            message = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        error = UnknownDocumentError if response.status_code == 404 and method == "DELETE" else HippoError
        raise error(f"{self.url}{path}: {response.status_code}: {message}")


def _query(question: str, pipeline: str | None, top_k: int) -> dict[str, Any]:
    return {"question": question, "top_k": top_k, **({"pipeline": pipeline} if pipeline else {})}


def _report(payload: dict[str, Any]) -> IndexReport:
    return IndexReport(**payload)

