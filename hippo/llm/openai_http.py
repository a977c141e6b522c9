"""OpenAI-compatible chat completions over HTTP: `vllm serve`, llama.cpp servers, hosted APIs.

Requests run concurrently up to a limit; timeouts, 429 and 5xx answers are retried with
exponential backoff (honouring Retry-After), and so is a refused connection to a server that
answered before (it may be restarting); one that never answered fails at once. An API key is
only ever sent over https:// or to a loopback address. JSON output uses the standard
`response_format: json_schema`, falling back to `json_object` + schema for servers (such as
llama-cpp-python's) that only know that form.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx

from hippo.errors import HippoError
from hippo.llm.base import LLMRequestError, LLMUnavailable, Request, Result

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
FORMAT_REJECTED = "json_schema"  # in an error: the server does not know this response_format
MAX_DELAY = 30.0


class OpenAIBackend:
    """Chat completions from a server at `base_url` (ending in /v1)."""

    kind = "openai"

    def __init__(
        self, base_url: str, model: str | None = None, *, api_key: str | None = None, key_source: str = "api_key",
        concurrency: int = 8, timeout: float = 300.0, retries: int = 5, backoff: float = 0.5,
    ) -> None:
        """Contacts nothing yet; raises HippoError when `api_key` would travel over plain http://
        to a host other than this machine (`key_source` names where the key came from)."""
        if api_key:
            refuse_plain_http_key(base_url, key_source)
        self.base_url = base_url.rstrip("/")
        self.concurrency = max(1, concurrency)
        self.retries = max(0, retries)
        self.backoff = backoff
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=self.concurrency),
        )
        self._model = model
        self._checked = False
        self._reached = False  # has the server ever answered this client?
        self._json_mode = "json_schema"
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        """The model named at construction, else the first model the server lists."""
        if self._model is None:
            self._check_model()
        assert self._model is not None
        return self._model

    def complete(self, requests: Sequence[Request]) -> list[Result]:
        """Runs `requests` concurrently; a failure of the whole endpoint stops the rest."""
        self._check_model()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="hippo-llm") as pool:
            futures: list[Future[Result]] = [pool.submit(self.complete_one, r) for r in requests]
            try:
                return [f.result() for f in futures]
            except LLMUnavailable:
                for future in futures:
                    future.cancel()
                raise

    def close(self) -> None:
        """Closes the HTTP connection pool."""
        self._client.close()

    # -- one request ------------------------------------------------------------------------

    def complete_one(self, request: Request) -> Result:
        """One request (after the model check); raises LLMUnavailable when the endpoint is unusable."""
        body: dict[str, Any] = {
            "model": self.model, "messages": request.message_dicts(), "max_tokens": request.max_tokens,
            "temperature": request.temperature, "seed": request.seed,
        }
        schema = request.schema_dict()
        mode = self._json_mode
        if schema is not None:
            body["response_format"] = _response_format(schema, mode)
        response = self._send("POST", "/chat/completions", body)
        if response.status_code >= 400:
            message = _error_message(response)
            if schema is not None and mode == "json_schema" and FORMAT_REJECTED in message:
                with self._lock:
                    self._json_mode = "json_object"
                return self.complete_one(request)
            return self._failure(response, message)
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return LLMRequestError(f"--llm {self.base_url}: response is not an OpenAI chat completion: "
                                   f"{response.text[:80]!r}")
        if not isinstance(content, str):
            return LLMRequestError(f"--llm {self.base_url}: the completion has no text content")
        return content

    def _failure(self, response: httpx.Response, message: str) -> LLMRequestError:
        code = response.status_code
        if code in (401, 403):
            raise LLMUnavailable(
                f"--llm {self.base_url}: HTTP {code} ({message}); set HIPPO_LLM_API_KEY (or OPENAI_API_KEY) "
                "to a key this server accepts"
            )
        if code == 404:
            raise LLMUnavailable(
                f"--llm {self.base_url}: HTTP 404 ({message}); check the URL ends in /v1 and "
                f"--llm-model {self.model!r} is served there"
            )
        return LLMRequestError(f"--llm {self.base_url}: HTTP {code}: {message}")

    # -- transport --------------------------------------------------------------------------

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """The response, retrying transport errors, 429 and 5xx with exponential backoff."""
        for attempt in range(self.retries + 1):
            retry_after: str | None = None
            try:
                response = self._client.request(method, path, json=body)
            except httpx.TransportError as err:
                failure = f"cannot reach it ({type(err).__name__}: {err})"
                if isinstance(err, httpx.ConnectError) and not self._reached:  # refused, or no such host
                    raise LLMUnavailable(f"--llm {self.base_url}: {failure}; start the server or fix --llm") from None
            else:
                self._reached = True
                message = _error_message(response) if response.status_code >= 400 else ""
                if response.status_code not in RETRY_STATUS or FORMAT_REJECTED in message:
                    return response
                failure = f"HTTP {response.status_code} ({message})"
                retry_after = response.headers.get("retry-after")
                if attempt == self.retries:
                    return response
            if attempt < self.retries:
                time.sleep(self._delay(attempt, retry_after))
        raise LLMUnavailable(
            f"--llm {self.base_url}: {failure} after {self.retries + 1} tries; start the server or fix --llm"
        )

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), 2 * MAX_DELAY)
            except ValueError:
                pass
        return min(self.backoff * 2**attempt, MAX_DELAY)

    def _check_model(self) -> None:
        """Once: lists the server's models; picks the first if none was named, or checks the name."""
        if self._checked:
            return
        response = self._send("GET", "/models")
        if response.status_code in (401, 403):
            self._failure(response, _error_message(response))
        try:
            served = [str(m["id"]) for m in response.json()["data"]]
        except (ValueError, KeyError, TypeError):
            served = []
        if self._model is None:
            if not served:
                raise LLMUnavailable(
                    f"--llm {self.base_url}: the server lists no models (HTTP {response.status_code}); "
                    "pass --llm-model NAME"
                )
            self._model = served[0]
        elif served and self._model not in served:
            raise LLMUnavailable(
                f"--llm-model {self._model!r}: not served by {self.base_url}; it serves {', '.join(served[:5])}"
            )
        self._checked = True


def refuse_plain_http_key(url: str, key_source: str) -> None:
    """Raises HippoError unless `url` is https:// or names a loopback host (an API key sent to
    it would cross the network in clear text)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" or _is_loopback(host):
        return
    raise HippoError(
        f"--llm {url}: refusing to send the API key ({key_source}) over {parts.scheme}:// to {host}; "
        f"use https:// or a loopback address, or unset {key_source} if the server needs no key"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _response_format(schema: dict[str, Any], mode: str) -> dict[str, Any]:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": True}}
    return {"type": "json_object", "schema": schema}


def _error_message(response: httpx.Response) -> str:
    """The server's error text, from the usual JSON shapes or the raw body."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error:
            return str(error)[:300]
    return str(data)[:200]
