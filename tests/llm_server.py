"""Test helpers for the LLM layer: a real llama.cpp server with the bundled gguf, and a tiny
scripted HTTP server for remote-API behaviours llama.cpp cannot produce (429, 503, 401, HTML)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from hippo.models import bundled_gguf_path

MODEL_ALIAS = "smollm2"
N_CTX = 1024


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """`python -m llama_cpp.server` with the bundled SmolLM2 on 127.0.0.1 (startable again)."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> None:
        """Starts the server; with `wait`, returns once it lists its model."""
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf_path()),
            "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(N_CTX), "--n_threads", "1", "--n_threads_batch", "1", "--seed", "0",
        ]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited: {self._log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/models", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("llama.cpp server did not become ready")

    def stop(self) -> None:
        """Stops the server process (started by this helper) and waits for it."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


Reply = tuple[int, str, dict[str, str]]


class ScriptedAPI:
    """An OpenAI-style endpoint answering POST /v1/chat/completions from a queue of replies."""

    def __init__(self, models: tuple[str, ...] = ("fake-model",), models_status: int = 200) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, object]] = []
        self.headers: list[dict[str, str]] = []
        api = self
        body = json.dumps({"object": "list", "data": [{"id": m} for m in models]})

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.headers.append(dict(self.headers))
                self._send(models_status, body if models_status == 200 else '{"error": {"message": "no"}}', {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                api.requests.append(json.loads(self.rfile.read(length)))
                api.headers.append(dict(self.headers))
                self._send(*(api.replies.popleft() if api.replies else (500, "script ran out", {})))

            def _send(self, status: int, text: str, headers: dict[str, str]) -> None:
                data = text.encode()
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def reply(self, content: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        """Queues a chat completion with `content` (status 200) or a raw error body."""
        text = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}) \
            if status == 200 else content
        self.replies.append((status, text, headers or {}))

    def raw(self, status: int, text: str) -> None:
        """Queues a response body sent as is."""
        self.replies.append((status, text, {}))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

