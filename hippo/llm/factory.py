"""`make_llm`: one setting (`--llm`, $HIPPO_LLM) picks the backend."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hippo.config import HIPPO_LLM, HIPPO_LLM_API_KEY, HIPPO_LLM_MODEL, HIPPO_LLM_RUNTIME, OPENAI_API_KEY, EnvVar
from hippo.errors import HippoError
from hippo.llm.base import Backend
from hippo.llm.cache import ResponseCache
from hippo.llm.client import LLM

DEFAULT_SPEC = "local"
SPEC_HELP = "local, local:FILE.gguf, http(s)://HOST:PORT/v1 (several, comma-separated, to balance over) or vllm:MODEL"
LOCAL_RUNTIMES = ("llama-cpp", "transformers")


def make_llm(
    spec: str | None = None, model: str | None = None, cache_path: Path | None = None, **options: Any
) -> LLM:
    """The LLM named by `spec`, its responses cached in `cache_path` (no cache if None).

    spec: "local" (the bundled SmolLM2 gguf in-process; `model` may name another .gguf file),
    "local:FILE.gguf", "http(s)://HOST:PORT/v1" (OpenAI-compatible; `model` defaults to the
    first one the server lists; API key from $HIPPO_LLM_API_KEY or $OPENAI_API_KEY; several
    URLs separated by commas are balanced over, see `EndpointPool`) or
    "vllm:MODEL". None means $HIPPO_LLM, else "local"; `model` None means $HIPPO_LLM_MODEL.
    `options` go to the backend (e.g. concurrency=, timeout=, retries= for HTTP; n_ctx=, n_threads= local,
    and runtime="llama-cpp" | "transformers": which runs it, see `local_runtime`).
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

        urls = endpoint_urls(spec)
        if not all(url.startswith(("http://", "https://")) for url in urls):
            raise HippoError(f"--llm {spec!r}: every comma-separated endpoint must be an http(s):// URL")
        source = _key_source()
        if source is not None:
            for url in urls:
                refuse_plain_http_key(url, f"${source.name}")
    elif not (spec == "local" or spec.startswith("local:") or (spec.startswith("vllm:") and spec != "vllm:")):
        raise HippoError(f"--llm {spec!r} is not understood; use {SPEC_HELP} (or set $HIPPO_LLM)")
    return spec


def endpoint_urls(spec: str) -> list[str]:
    """The endpoints of an HTTP spec: one URL, or several separated by commas."""
    return [url.strip() for url in spec.split(",") if url.strip()]


def local_runtime(choice: str | None = None) -> str:
    """What runs `--llm local`: `choice`, else $HIPPO_LLM_RUNTIME, else llama.cpp when
    llama-cpp-python is installed (faster) and transformers (no build needed) when it is not."""
    runtime = choice or HIPPO_LLM_RUNTIME.get()
    if runtime is None:
        return "llama-cpp" if importlib.util.find_spec("llama_cpp") is not None else "transformers"
    if runtime not in LOCAL_RUNTIMES:
        source = "runtime" if choice else f"${HIPPO_LLM_RUNTIME.name}"
        raise HippoError(f"{source}={runtime!r} is not a local LLM runtime; use llama-cpp or transformers")
    return runtime


def _key_source() -> EnvVar | None:
    """The variable an HTTP endpoint's API key comes from, if any is set."""
    return next((var for var in (HIPPO_LLM_API_KEY, OPENAI_API_KEY) if var.get()), None)


def _backend(spec: str, model: str | None, options: dict[str, Any]) -> Backend | Callable[[], Backend]:
    """The backend for a checked `spec`; a local one as a function that loads it (on the first request)."""
    if spec.startswith(("http://", "https://")):
        from hippo.llm.openai_http import OpenAIBackend
        from hippo.llm.pool import EndpointPool

        source = _key_source()
        if source is not None:
            options = {"api_key": source.get(), "key_source": f"${source.name}", **options}
        endpoints = [OpenAIBackend(url, model, **options) for url in endpoint_urls(spec)]
        return endpoints[0] if len(endpoints) == 1 else EndpointPool(endpoints)
    if spec == "local" or spec.startswith("local:"):
        path = spec.removeprefix("local").removeprefix(":") or model
        runtime = local_runtime(options.pop("runtime", None))

        def load_gguf() -> Backend:
            from hippo.models import bundled_gguf_path

            gguf = Path(path) if path else bundled_gguf_path()
            if runtime == "llama-cpp":
                from hippo.llm.llama_local import LlamaCppBackend

                return LlamaCppBackend(gguf, **options)
            from hippo.llm.transformers_local import TransformersBackend

            return TransformersBackend(gguf, **options)

        return load_gguf

    def load_vllm() -> Backend:
        from hippo.llm.vllm_local import VLLMBackend

        return VLLMBackend(spec.removeprefix("vllm:"), **options)

    return load_vllm
