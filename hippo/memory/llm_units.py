"""Summaries and keywords of memory units written by the LLM (`--llm`), with an extractive
fallback for any one the LLM could not produce."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hippo.llm.base import LLMRequestError, Message
from hippo.llm.jsonparse import NotJSON, loads_lenient

log = logging.getLogger(__name__)

KEYWORDS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"keywords": {"type": "array", "items": {"type": "string"}}},
    "required": ["keywords"],
}
_SUMMARY_SYSTEM = ("Summarize the conversation session below in two or three sentences. Keep every name, date, "
                   "place and event that is mentioned; add nothing that is not said.")
_KEYWORDS_SYSTEM = ('List the keywords of the text below: names, places, dates, events, objects and topics. '
                    'Answer as JSON: {"keywords": ["...", "..."]}.')


def _messages(system: str, text: str) -> list[Message]:
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


def llm_summaries(llm: Any, texts: Sequence[str]) -> list[str | None]:
    """One summary per text; None where the request failed."""
    results = llm.generate_each([_messages(_SUMMARY_SYSTEM, t) for t in texts], max_tokens=160)
    return [r.strip() or None if isinstance(r, str) else _failed("summary", r) for r in results]


def llm_keywords(llm: Any, texts: Sequence[str]) -> list[list[str] | None]:
    """The keywords of each text; None where the request failed or was not a JSON list."""
    results = llm.generate_each([_messages(_KEYWORDS_SYSTEM, t) for t in texts], KEYWORDS_SCHEMA, max_tokens=160)
    return [_keywords(r) if isinstance(r, str) else _failed("keywords", r) for r in results]


def _keywords(text: str) -> list[str] | None:
    try:
        value, _ = loads_lenient(text)
    except NotJSON:
        return None
    if isinstance(value, dict):
        value = value.get("keywords")
    return [str(k).strip() for k in value if str(k).strip()] if isinstance(value, list) else None


def _failed(what: str, error: LLMRequestError) -> None:
    log.warning("LLM %s failed (%s); using the extractive one", what, error)
    return None


_FILTER_SYSTEM = ("Below are a question and numbered lines. Which lines help answer the question? "
                  'Answer as JSON: {"relevant": [line numbers]}; an empty list when none does.')


def llm_relevant_lines(llm: Any, question: str, lines: Sequence[str]) -> list[int] | None:
    """0-based indices of the `lines` the LLM judges relevant to `question`; None when its
    answer is unusable (the caller then keeps every line)."""
    from hippo.llm.prompts import FILTER_SCHEMA

    numbered = "\n".join(f"[{i}] {line}" for i, line in enumerate(lines, 1))
    result = llm.generate_each([_messages(_FILTER_SYSTEM, f"Question: {question}\n\n{numbered}")], FILTER_SCHEMA,
                               max_tokens=96)[0]
    if not isinstance(result, str):
        return _failed("filter", result)
    try:
        value, _ = loads_lenient(result)
    except NotJSON:
        return None
    numbers = value.get("relevant") if isinstance(value, dict) else value
    if not isinstance(numbers, list):
        return None
    return sorted({int(n) - 1 for n in numbers if isinstance(n, int) and 1 <= n <= len(lines)})
