"""The LLM contract: chat requests, the backend protocol, and the errors callers handle."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hippo.errors import HippoError

Message = dict[str, str]
"""One chat message: {"role": "system" | "user" | "assistant", "content": "..."}."""


class LLMUnavailable(HippoError):
    """The model cannot be used at all: endpoint unreachable, model missing, key refused."""


class LLMRequestError(HippoError):
    """One request failed (context overflow, malformed response); the others may succeed."""


@dataclass(frozen=True)
class Request:
    """One chat completion: messages, an optional JSON schema the output must follow, sampling."""

    messages: tuple[tuple[str, str], ...]
    schema: str | None = None  # canonical JSON text of the schema
    max_tokens: int = 512
    temperature: float = 0.0
    seed: int = 0

    @classmethod
    def make(
        cls, messages: Sequence[Message], schema: dict[str, Any] | None = None, *,
        max_tokens: int = 512, temperature: float = 0.0, seed: int = 0,
    ) -> Request:
        """A request from OpenAI-style message dicts and a schema dict."""
        pairs = tuple((str(m["role"]), str(m["content"])) for m in messages)
        text = json.dumps(schema, sort_keys=True, ensure_ascii=False) if schema is not None else None
        return cls(pairs, text, max_tokens, temperature, seed)

    def message_dicts(self) -> list[Message]:
        """The messages in the OpenAI wire format."""
        return [{"role": role, "content": content} for role, content in self.messages]

    def schema_dict(self) -> dict[str, Any] | None:
        """The JSON schema as a dict, or None for free text."""
        return json.loads(self.schema) if self.schema is not None else None

    def cache_key(self, backend: str, model: str) -> str:
        """Hash of everything that determines the response: backend kind, model, prompt, sampling."""
        payload = json.dumps(
            [backend, model, self.messages, self.schema, self.max_tokens, self.temperature, self.seed],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


Result = str | LLMRequestError
"""A backend's answer to one request: the generated text, or why that request failed."""


class Backend(Protocol):
    """Something that runs chat completions. `kind` and `model` key the response cache."""

    kind: str

    @property
    def model(self) -> str:
        """The model name requests go to (resolved from the server if not given)."""
        ...

    def complete(self, requests: Sequence[Request]) -> list[Result]:
        """One Result per request, in order. Raises LLMUnavailable when nothing can succeed."""
        ...
