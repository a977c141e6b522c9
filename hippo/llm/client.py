"""`LLM`: a backend behind the response cache, with call counters and a circuit breaker."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hippo.errors import HippoError
from hippo.llm.base import Backend, LLMRequestError, LLMUnavailable, Message, Request, Result
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

    `backend` may be a zero-argument function that makes one: it is then called on the first
    request, so making an LLM loads and contacts nothing. Once the backend proves unusable
    (LLMUnavailable: unreachable, model missing, key refused; or it cannot be made), every later
    request that needs it raises that same error at once, without contacting or loading
    anything, for the life of this object; cached responses are still served. Callers say so
    once (the error is the same object each time).
    """

    def __init__(self, backend: Backend | Callable[[], Backend], cache: ResponseCache | None = None) -> None:
        self._backend: Backend | None = None if _is_factory(backend) else backend  # type: ignore[assignment]
        self._make = backend if _is_factory(backend) else None
        self._unusable: HippoError | None = None
        self._kind_model: tuple[str, str] | None = None  # the cache keys' part; kept once known
        self.cache = cache
        self.stats = LLMStats()

    @property
    def backend(self) -> Backend:
        """The backend, made on first use; raises what made it unusable, if anything did."""
        if self._unusable is not None:
            raise self._unusable
        if self._backend is None:
            assert self._make is not None
            with self._breaker(HippoError):
                self._backend = self._make()
        return self._backend

    @property
    def name(self) -> str:
        """`kind:model`, e.g. `openai:Qwen2.5-7B-Instruct` or `llama-cpp:SmolLM2-135M-Instruct.Q4_1`."""
        kind, model = self._identity()
        return f"{kind}:{model}"

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
        kind, model = self._identity()
        keys = [r.cache_key(kind, model) for r in requests]
        answers: dict[str, Result] = dict(self.cache.get_many(list(dict.fromkeys(keys)))) if self.cache else {}
        self.stats.cache_hits += sum(k in answers for k in keys)
        missing = list(dict.fromkeys(k for k in keys if k not in answers))
        if missing:
            by_key = dict(zip(keys, requests, strict=True))
            backend = self.backend
            with self._breaker(LLMUnavailable):
                fresh = backend.complete([by_key[k] for k in missing])
            self.stats.calls += len(missing)
            self._remember(missing, fresh, keep or (is_json if schema is not None else None))
            answers.update(zip(missing, fresh, strict=True))
        results = [answers[k] for k in keys]
        self.stats.failures += sum(isinstance(r, LLMRequestError) for r in results)
        return results

    def _identity(self) -> tuple[str, str]:
        """(backend kind, model), asked of the backend once (an HTTP one may list its models)."""
        if self._kind_model is None:
            backend = self.backend
            with self._breaker(LLMUnavailable):
                self._kind_model = (backend.kind, backend.model)
        return self._kind_model

    @contextmanager
    def _breaker(self, trips: type[HippoError]) -> Iterator[None]:
        """Marks this LLM unusable when the block raises `trips` (the circuit breaker opens)."""
        try:
            yield
        except trips as err:
            self._unusable = self._unusable or err
            raise

    def _remember(self, keys: list[str], results: list[Result], keep: Callable[[str], bool] | None) -> None:
        usable = [(k, r) for k, r in zip(keys, results, strict=True)
                  if isinstance(r, str) and (keep is None or keep(r))]
        if self.cache and usable:
            self.cache.put_many(*self._identity(), usable)
        for result in results:
            if isinstance(result, LLMRequestError):
                log.info("%s: request failed: %s", self.name, result)

    def close(self) -> None:
        """Releases the cache connection and the backend's resources."""
        if self.cache:
            self.cache.close()
        close = getattr(self._backend, "close", None)
        if close:
            close()


def _is_factory(backend: object) -> bool:
    return callable(backend) and not hasattr(backend, "complete")
