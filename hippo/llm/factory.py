"""`make_llm`: one setting (`--llm`, $HIPPO_LLM) picks the backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hippo.config import HIPPO_LLM, HIPPO_LLM_API_KEY, HIPPO_LLM_MODEL, OPENAI_API_KEY
from hippo.errors import HippoError
from hippo.llm.base import Backend
from hippo.llm.cache import ResponseCache
from hippo.llm.client import LLM

DEFAULT_SPEC = "local"
SPEC_HELP = "local, local:FILE.gguf, http(s)://HOST:PORT/v1 or vllm:MODEL"


def make_llm(
    spec: str | None = None, model: str | None = None, cache_path: Path | None = None, **options: Any
) -> LLM:
    """The LLM named by `spec`, its responses cached in `cache_path` (no cache if None).

    spec: "local" (bundled SmolLM2 via llama.cpp; `model` may name another .gguf file),
    "local:FILE.gguf", "http(s)://HOST:PORT/v1" (OpenAI-compatible; `model` defaults to the
    first one the server lists; API key from $HIPPO_LLM_API_KEY or $OPENAI_API_KEY) or
    "vllm:MODEL". None means $HIPPO_LLM, else "local"; `model` None means $HIPPO_LLM_MODEL.
    `options` go to the backend (e.g. concurrency=, timeout=, retries= for HTTP; n_ctx= local).
    """
    spec = (spec or HIPPO_LLM.get() or DEFAULT_SPEC).strip()
    model = model or HIPPO_LLM_MODEL.get()
    backend = _backend(spec, model, options)
    return LLM(backend, ResponseCache(cache_path) if cache_path is not None else None)


def _backend(spec: str, model: str | None, options: dict[str, Any]) -> Backend:
    if spec.startswith(("http://", "https://")):
        from hippo.llm.openai_http import OpenAIBackend

        key = HIPPO_LLM_API_KEY.get() or OPENAI_API_KEY.get()
        return OpenAIBackend(spec, model, api_key=key, **options)
    if spec == "local" or spec.startswith("local:"):
        from hippo.llm.llama_local import LlamaCppBackend
        from hippo.models import bundled_gguf_path

        path = spec.removeprefix("local").removeprefix(":") or model
        return LlamaCppBackend(Path(path) if path else bundled_gguf_path(), **options)
    if spec.startswith("vllm:") and spec != "vllm:":
        from hippo.llm.vllm_local import VLLMBackend

        return VLLMBackend(spec.removeprefix("vllm:"), **options)
    raise HippoError(f"--llm {spec!r} is not understood; use {SPEC_HELP} (or set $HIPPO_LLM)")
