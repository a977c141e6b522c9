"""Test helper: `hippo serve`'s app on uvicorn in a thread of the test process (the models the
tests already loaded are shared, so it starts in a moment)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from tests.llm_server import free_port


class ThreadServer:
    """uvicorn serving `app` on a free loopback port in a thread of the test process."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
