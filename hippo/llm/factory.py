"""`make_llm`: one setting (`--llm`, $HIPPO_LLM) picks the backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hippo.config import HIPPO_LLM, HIPPO_LLM_API_KEY, HIPPO_LLM_MODEL, OPENAI_API_KEY, EnvVar
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
    Nothing is loaded or contacted until the first request (see `LLM`); an API key that would go
    over plain http:// to another machine is refused here.
    """
    spec = check_llm_spec(spec)
    model = model or HIPPO_LLM_MODEL.get()
    backend = _backend(spec, model, options)
    return LLM(backend, ResponseCache(cache_path) if cache_path is not None else None)


def check_llm_spec(spec: str | None = None) -> str:
    """The spec `make_llm` would use (None: $HIPPO_LLM, else "local"), checked without loading or
    contacting anything: raises HippoError when it is not understood or would send an API key
    over plain http:// to another machine."""
    spec = (spec or HIPPO_LLM.get() or DEFAULT_SPEC).strip()
    if spec.startswith(("http://", "https://")):
        from hippo.llm.openai_http import refuse_plain_http_key

        source = _key_source()
        if source is not None:
            refuse_plain_http_key(spec, f"${source.name}")
    elif not (spec == "local" or spec.startswith("local:") or (spec.startswith("vllm:") and spec != "vllm:")):
        raise HippoError(f"--llm {spec!r} is not understood; use {SPEC_HELP} (or set $HIPPO_LLM)")
    return spec


def _key_source() -> EnvVar | None:
    """The variable an HTTP endpoint's API key comes from, if any is set."""
    return next((var for var in (HIPPO_LLM_API_KEY, OPENAI_API_KEY) if var.get()), None)


def _backend(spec: str, model: str | None, options: dict[str, Any]) -> Backend | Callable[[], Backend]:
    """The backend for a checked `spec`; a local one as a function that loads it (on the first request)."""
    if spec.startswith(("http://", "https://")):
        from hippo.llm.openai_http import OpenAIBackend

        source = _key_source()
        if source is None:
            return OpenAIBackend(spec, model, **options)
        return OpenAIBackend(spec, model, api_key=source.get(), key_source=f"${source.name}", **options)
    if spec == "local" or spec.startswith("local:"):
        path = spec.removeprefix("local").removeprefix(":") or model

        def load_gguf() -> Backend:
            from hippo.llm.llama_local import LlamaCppBackend
            from hippo.models import bundled_gguf_path

            return LlamaCppBackend(Path(path) if path else bundled_gguf_path(), **options)

        return load_gguf

    def load_vllm() -> Backend:
        from hippo.llm.vllm_local import VLLMBackend

        return VLLMBackend(spec.removeprefix("vllm:"), **options)

    return load_vllm
