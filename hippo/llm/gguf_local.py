"""What the in-process runtimes of a local .gguf model share: the file check, the model name,
and one request at a time."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from hippo.llm.base import LLMUnavailable, Request, Result

REPEAT_PENALTY = 1.1  # llama.cpp server's default; without it small models loop until max_tokens


class GgufBackend:
    """Chat completions from a local .gguf file, one request at a time; a runtime subclasses it
    with `kind` and `_complete_one`."""

    kind = "gguf"

    def __init__(self, model_path: Path) -> None:
        """Raises LLMUnavailable when `model_path` is not a file."""
        self.path = Path(model_path)
        if not self.path.is_file():
            raise LLMUnavailable(f"--llm-model {self.path}: no such .gguf file")
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        """The gguf file name without its suffix."""
        return self.path.stem

    def complete(self, requests: Sequence[Request]) -> list[Result]:
        """Runs the requests in order; a prompt longer than the context fails only itself."""
        with self._lock:
            return [self._complete_one(r) for r in requests]

    def _complete_one(self, request: Request) -> Result:
        raise NotImplementedError
