"""Several OpenAI-compatible endpoints as one backend: client-side load balancing for a fleet.

`--llm http://a:8000/v1,http://b:8000/v1` spreads requests over servers that serve the same
model (vLLM replicas, llama.cpp servers): each request goes to the endpoint with the fewest
requests in flight relative to its concurrency limit, never above that limit. An endpoint that
becomes unusable (refused, unreachable after its retries, key refused) is left out for the rest
of the run and its request goes to another; the run fails only when none is left.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from hippo.llm.base import LLMUnavailable, Request, Result
from hippo.llm.openai_http import OpenAIBackend


class EndpointPool:
    """Requests balanced over `endpoints`, which must serve the same model."""

    kind = "openai"  # responses are the model's, whichever replica wrote them: one cache for all

    def __init__(self, endpoints: Sequence[OpenAIBackend]) -> None:
        if len(endpoints) < 2:
            raise ValueError("a pool needs at least two endpoints")
        self.endpoints = list(endpoints)
        self.served = dict.fromkeys((e.base_url for e in self.endpoints), 0)  # completed requests per endpoint
        self._in_flight = dict.fromkeys(self.served, 0)
        self.peak_in_flight = dict.fromkeys(self.served, 0)  # most requests an endpoint held at once
        self._failed: dict[str, LLMUnavailable] = {}
        self._model: str | None = None
        self._free = threading.Condition()

    @property
    def model(self) -> str:
        """The model every usable endpoint serves (checked once)."""
        if self._model is None:
            self._model = self._common_model()
        return self._model

    def complete(self, requests: Sequence[Request]) -> list[Result]:
        """Runs `requests` concurrently over the endpoints; raises LLMUnavailable when none is usable."""
        self.model  # noqa: B018 - checks the endpoints before any request is sent
        workers = sum(e.concurrency for e in self._usable())
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="hippo-llm-pool") as pool:
            return list(pool.map(self._complete_one, requests))

    def close(self) -> None:
        """Closes every endpoint's connection pool."""
        for endpoint in self.endpoints:
            endpoint.close()

    def _complete_one(self, request: Request) -> Result:
        while True:
            endpoint = self._acquire()
            try:
                result = endpoint.complete_one(request)
            except LLMUnavailable as err:
                self._release(endpoint, failure=err)
                continue
            self._release(endpoint)
            return result

    def _acquire(self) -> OpenAIBackend:
        """The least busy usable endpoint with a free slot, waiting for one if all are full."""
        with self._free:
            while True:
                usable = self._usable()
                if not usable:
                    raise self._all_failed()
                open_ = [e for e in usable if self._in_flight[e.base_url] < e.concurrency]
                if open_:
                    chosen = min(open_, key=lambda e: self._in_flight[e.base_url] / e.concurrency)
                    self._in_flight[chosen.base_url] += 1
                    self.peak_in_flight[chosen.base_url] = max(self.peak_in_flight[chosen.base_url],
                                                               self._in_flight[chosen.base_url])
                    return chosen
                self._free.wait()

    def _release(self, endpoint: OpenAIBackend, failure: LLMUnavailable | None = None) -> None:
        with self._free:
            self._in_flight[endpoint.base_url] -= 1
            if failure is not None:
                self._failed.setdefault(endpoint.base_url, failure)
            else:
                self.served[endpoint.base_url] += 1
            self._free.notify_all()

    def _usable(self) -> list[OpenAIBackend]:
        return [e for e in self.endpoints if e.base_url not in self._failed]

    def _common_model(self) -> str:
        models: dict[str, str] = {}
        for endpoint in self.endpoints:
            try:
                models[endpoint.base_url] = endpoint.model
            except LLMUnavailable as err:
                self._failed[endpoint.base_url] = err
        if not models:
            raise self._all_failed()
        if len(set(models.values())) > 1:
            served = ", ".join(f"{url} serves {model!r}" for url, model in models.items())
            raise LLMUnavailable(f"--llm: the endpoints serve different models ({served}); pass --llm-model NAME")
        return next(iter(models.values()))

    def _all_failed(self) -> LLMUnavailable:
        reasons = "; ".join(str(err) for err in self._failed.values())
        return LLMUnavailable(f"--llm: no endpoint is usable ({reasons})")
