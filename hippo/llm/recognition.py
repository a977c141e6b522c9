"""Recognition memory (HippoRAG 2): the LLM keeps only the candidate facts relevant to a query."""

from __future__ import annotations

from collections.abc import Sequence

from hippo.llm.base import LLMRequestError
from hippo.llm.client import LLM
from hippo.llm.jsonparse import NotJSON, loads_lenient, normalize_keys
from hippo.llm.prompts import FILTER_SCHEMA, filter_messages


def filter_facts(
    llm: LLM, question: str, facts: Sequence[tuple[str, str, str]], *, max_tokens: int = 64
) -> list[int]:
    """Indices (0-based, ascending) of the `facts` the LLM judges relevant to `question`.

    Raises LLMUnavailable when the LLM cannot be reached and LLMRequestError when the request
    fails or its output is unusable, so the caller can fall back to linking without the filter.
    """
    if not facts:
        return []
    result = llm.generate_each([filter_messages(question, facts)], FILTER_SCHEMA, max_tokens=max_tokens)[0]
    if isinstance(result, LLMRequestError):
        raise result
    try:
        numbers = _numbers(result)
    except (NotJSON, ValueError) as err:
        raise LLMRequestError(f"recognition filter output unusable ({err})") from None
    return sorted({n - 1 for n in numbers if 1 <= n <= len(facts)})


def _numbers(text: str) -> list[int]:
    value, _ = loads_lenient(text)
    if isinstance(value, dict):
        value = normalize_keys(value)[0].get("relevant")
    if not isinstance(value, list):
        raise ValueError(f"expected a list of fact numbers, got {text[:60]!r}")
    return [int(n) for n in value if isinstance(n, int | str) and str(n).strip().isdigit()]
