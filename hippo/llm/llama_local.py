"""llama.cpp in-process (llama-cpp-python): the fast local runtime for the bundled SmolLM2 gguf.

The 135M model is for plumbing and offline smoke runs: it writes valid JSON (output is
grammar-constrained) but its facts are often wrong. Point --llm at a real model for quality.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hippo.errors import HippoError
from hippo.llm.base import LLMRequestError, LLMUnavailable, Request, Result
from hippo.llm.gguf_local import REPEAT_PENALTY, GgufBackend


class LlamaCppBackend(GgufBackend):
    """Chat completions from a local .gguf file with llama.cpp, one request at a time."""

    kind = "llama-cpp"

    def __init__(self, model_path: Path, *, n_ctx: int = 4096, n_threads: int | None = None) -> None:
        """Loads `model_path`; `n_threads` defaults to half the CPUs (llama.cpp threads spin, so
        oversubscribing a shared machine is much slower than using fewer)."""
        try:
            from llama_cpp import Llama
        except ImportError as err:
            raise HippoError(
                f"the llama-cpp runtime needs llama-cpp-python ({err}); run "
                "`CMAKE_ARGS=-DGGML_NATIVE=OFF pip install 'hippo-rag[llamacpp]'` or set HIPPO_LLM_RUNTIME=transformers"
            ) from None
        super().__init__(model_path)
        threads = n_threads or max(1, min(8, (os.cpu_count() or 2) // 2))
        try:
            self._llama = Llama(
                model_path=str(self.path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, seed=0,
                verbose=False,
            )
        except (ValueError, RuntimeError) as err:
            raise LLMUnavailable(f"--llm-model {self.path}: llama.cpp cannot load it ({err})") from None

    def _complete_one(self, request: Request) -> Result:
        options: dict[str, Any] = {
            "max_tokens": request.max_tokens, "temperature": request.temperature, "seed": request.seed,
            "repeat_penalty": REPEAT_PENALTY,
        }
        schema = request.schema_dict()
        if schema is not None:
            options["response_format"] = {"type": "json_object", "schema": schema}
        try:
            response = self._llama.create_chat_completion(messages=request.message_dicts(), **options)
        except ValueError as err:  # llama-cpp-python reports context overflow this way
            return LLMRequestError(f"--llm local: {err}")
        content = response["choices"][0]["message"].get("content")
        return content if isinstance(content, str) else LLMRequestError("--llm local: empty completion")
