"""`hippo mcp` driven by the mcp SDK's own stdio client: every tool on a copy of the sample index."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.conftest import REPO

QUESTION = "Who trained the engineer who designed the Marlow Viaduct?"


def _payload(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content or json.loads(result.content[0].text)


async def _session_run(index: Path) -> dict[str, Any]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "hippo", "mcp", "--index", str(index)],
                                   cwd=str(REPO), env={**os.environ, "PYTHONPATH": str(REPO)})
    seen: dict[str, Any] = {}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        seen["tools"] = sorted(t.name for t in (await session.list_tools()).tools)
        seen["added"] = _payload(await session.call_tool("add_documents", {"documents": [
            {"title": "Orla Vance", "text": "Orla Vance is a clockmaker in Tamsworth who repairs tower clocks."}]}))
        seen["retrieved"] = _payload(await session.call_tool("retrieve", {"question": "Who repairs tower clocks?",
                                                                          "top_k": 2}))
        seen["asked"] = _payload(await session.call_tool("ask", {"question": QUESTION, "top_k": 3}))
        seen["bad"] = await session.call_tool("retrieve", {"question": QUESTION, "pipeline": "nope"})
        seen["session"] = _payload(await session.call_tool("add_session", {
            "conversation": "trip", "session": "1", "date": "2023-04-01",
            "turns": [{"speaker": "Ann", "text": "I booked the ferry to Skye for May 3."}]}))
    return seen


def test_mcp_tools_over_stdio(sample_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    seen = asyncio.run(asyncio.wait_for(_session_run(index), 240))
    assert seen["tools"] == ["add_documents", "add_session", "ask", "retrieve"]
    assert seen["added"]["documents"][0].startswith("memory:") and seen["added"]["report"]["files_changed"] == 1
    assert seen["retrieved"]["passages"][0]["title"] == "Orla Vance"
    assert {"answer", "citations", "note", "passages"} <= set(seen["asked"])
    assert "Thomas Keel" in {p["title"] for p in seen["asked"]["passages"]}
    assert seen["bad"].is_error and "unknown" in seen["bad"].content[0].text
    assert seen["session"]["report"]["files_changed"] == 1
    assert Path(seen["session"]["documents"][0]).is_file()
