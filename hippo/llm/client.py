"""`LLM`: a backend behind the response cache, with call counters."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hippo.llm.base import Backend, LLMRequestError, Message, Request, Result
from hippo.llm.cache import ResponseCache
from hippo.llm.jsonparse import is_json

log = logging.getLogger(__name__)


@dataclass
class LLMStats:
    """What an LLM did since it was made: requests asked, answered from cache, sent, failed."""

    requests: int = 0
    cache_hits: int = 0
    calls: int = 0
    failures: int = 0


class LLM:
    """Batched chat generation with optional JSON-schema output, cached on disk.

    Every request is looked up in the cache first (key: backend kind, model, messages, schema,
    sampling); only misses reach the backend. Failed requests are never cached, nor are
    responses the caller's `keep` rejects (default: with a schema, text that is not JSON), so a
    re-run retries exactly those.
    """

    def __init__(self, backend: Backend, cache: ResponseCache | None = None) -> None:
        self.backend = backend
        self.cache = cache
        self.stats = LLMStats()

    @property
    def name(self) -> str:
        """`kind:model`, e.g. `openai:Qwen2.5-7B-Instruct` or `llama-cpp:SmolLM2-135M-Instruct.Q4_1`."""
        return f"{self.backend.kind}:{self.backend.model}"

    def generate(
        self, batch: Sequence[Sequence[Message]], schema: dict[str, Any] | None = None, *,
        max_tokens: int = 512, temperature: float = 0.0, seed: int = 0, keep: Callable[[str], bool] | None = None,
    ) -> list[str]:
        """Completes each conversation in `batch`; raises the first per-request failure.

        With `schema`, the backend constrains output to that JSON schema (guided decoding or
        the server's JSON mode). Raises LLMUnavailable when the model cannot be reached at all
        and LLMRequestError when one request fails (e.g. the prompt overflows the context).
        """
        results = self.generate_each(
            batch, schema, max_tokens=max_tokens, temperature=temperature, seed=seed, keep=keep
        )
        for result in results:
            if isinstance(result, LLMRequestError):
                raise result
        return [str(r) for r in results]

    def generate_each(
        self, batch: Sequence[Sequence[Message]], schema: dict[str, Any] | None = None, *,
        max_tokens: int = 512, temperature: float = 0.0, seed: int = 0, keep: Callable[[str], bool] | None = None,
    ) -> list[Result]:
        """Like `generate`, but a failed request yields its LLMRequestError in place of text.

        `keep(text)` False means: return this response but do not cache it (it was unusable).
        """
        requests = [
            Request.make(m, schema, max_tokens=max_tokens, temperature=temperature, seed=seed) for m in batch
        ]
        self.stats.requests += len(requests)
        kind, model = self.backend.kind, self.backend.model
        keys = [r.cache_key(kind, model) for r in requests]
        answers: dict[str, Result] = dict(self.cache.get_many(list(dict.fromkeys(keys)))) if self.cache else {}
        self.stats.cache_hits += sum(k in answers for k in keys)
        missing = list(dict.fromkeys(k for k in keys if k not in answers))
        if missing:
            by_key = dict(zip(keys, requests, strict=True))
            fresh = self.backend.complete([by_key[k] for k in missing])
            self.stats.calls += len(missing)
            self._remember(missing, fresh, keep or (is_json if schema is not None else None))
            answers.update(zip(missing, fresh, strict=True))
        results = [answers[k] for k in keys]
        self.stats.failures += sum(isinstance(r, LLMRequestError) for r in results)
        return results

    def _remember(self, keys: list[str], results: list[Result], keep: Callable[[str], bool] | None) -> None:
        usable = [(k, r) for k, r in zip(keys, results, strict=True)
                  if isinstance(r, str) and (keep is None or keep(r))]
        if self.cache and usable:
            self.cache.put_many(self.backend.kind, self.backend.model, usable)
        for result in results:
            if isinstance(result, LLMRequestError):
                log.info("%s: request failed: %s", self.name, result)

    def close(self) -> None:
        """Releases the cache connection and the backend's resources."""
        if self.cache:
            self.cache.close()
        close = getattr(self.backend, "close", None)
        if close:
            close()
