"""What every request passes before the API sees it: the API key (when one is set) and the
body size limit. Refusals are JSON `{"error": ...}` like every other error of the server."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Guard:
    """ASGI middleware: 401 without `Authorization: Bearer <api_key>` (compared in constant
    time) when `api_key` is set; 413 for a body over `max_body` bytes (read before the app runs,
    so a handler never sees a partial body)."""

    def __init__(self, app: ASGIApp, api_key: str | None, max_body: int) -> None:
        self.app = app
        self.expected = f"Bearer {api_key}".encode() if api_key else None
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self.expected is not None and not hmac.compare_digest(headers.get(b"authorization", b""), self.expected):
            await _refuse(scope, receive, send, 401, "missing or wrong API key; send the header "
                          "`Authorization: Bearer KEY`", {"WWW-Authenticate": "Bearer"})
            return
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_body:
            await _refuse(scope, receive, send, 413, self._too_large())
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await _refuse(scope, receive, send, 413, self._too_large())
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    def _too_large(self) -> str:
        return f"request body over the server's limit of {self.max_body} bytes; send less per request"


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that hands out `body` once, then waits on the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, error: str,
                  headers: dict[str, Any] | None = None) -> None:
    await JSONResponse({"error": error}, status_code=status, headers=headers)(scope, receive, send)
