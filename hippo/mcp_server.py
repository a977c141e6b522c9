"""`hippo mcp`: an index as agent memory over the Model Context Protocol (stdio), with the
official `mcp` SDK (its `MCPServer`, called FastMCP before mcp 2). Tools: `retrieve`, `ask`,
`add_documents`, `add_session`. `retrieve` and `ask` answer with the JSON of `POST /retrieve`
and `POST /ask`; the writing tools with the documents' ids and the indexing report."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from hippo import __version__
from hippo.api import READ_TOP_K, Hippo
from hippo.errors import HippoError
from hippo.indexer import memory_document_ids
from hippo.pipeline import DEFAULT_TOP_K

INSTRUCTIONS = ("hippo is a graph-based long-term memory (HippoRAG 2 style). Use `retrieve` to recall passages "
                "for a question, `ask` for a cited answer, `add_documents` and `add_session` to remember.")


def build_server(hippo: Hippo, default_pipeline: str) -> MCPServer:
    """An MCP server whose tools read and write `hippo`'s index, one call at a time; queries
    that name no pipeline use `default_pipeline`."""
    server = MCPServer("hippo", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    lock = threading.Lock()  # the SDK runs tools in threads; Hippo serves one call at a time

    @contextmanager
    def calling() -> Iterator[None]:
        with lock:
            hippo.refresh()  # a snapshot another process wrote is answered from
            try:
                yield
            except HippoError as err:
                raise ToolError(str(err)) from None

    @server.tool()
    def retrieve(question: str, top_k: int = DEFAULT_TOP_K, pipeline: str | None = None) -> dict[str, Any]:
        """Passages of the memory that bear on `question`, best first, with scores (no answer)."""
        with calling():
            return hippo.retrieve(question, pipeline or default_pipeline, top_k).to_dict()

    @server.tool()
    def ask(question: str, top_k: int = READ_TOP_K, pipeline: str | None = None) -> dict[str, Any]:
        """An answer to `question` written by hippo's reader from the `top_k` passages it cites."""
        with calling():
            return hippo.ask(question, pipeline or default_pipeline, top_k).to_dict()

    @server.tool()
    def add_documents(documents: list[dict[str, str]]) -> dict[str, Any]:
        """Remembers documents, each {"title": ..., "text": ...}; returns their ids and the indexing report."""
        with calling():
            report = hippo.index(documents, replace=False)
            return {"documents": memory_document_ids(documents), "report": asdict(report)}

    @server.tool()
    def add_session(conversation: str, session: str, turns: list[dict[str, str]], date: str = "") -> dict[str, Any]:
        """Remembers one session of a conversation: turns are {"speaker", "text"} (optionally "id")."""
        with calling():
            report = hippo.add_session(conversation, session, turns, date)
            return {"documents": [hippo.session_document_id(conversation, session, turns, date)],
                    "report": asdict(report)}

    return server
