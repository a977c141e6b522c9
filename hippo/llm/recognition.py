"""Recognition memory (HippoRAG 2): the LLM keeps only the candidate facts relevant to a query."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from hippo.llm.base import LLMRequestError
from hippo.llm.client import LLM
from hippo.llm.jsonparse import NotJSON, loads_lenient, normalize_keys
from hippo.llm.prompts import FILTER_SCHEMA, filter_messages

log = logging.getLogger(__name__)


def filter_facts(
    llm: LLM, question: str, facts: Sequence[tuple[str, str, str]], *, max_tokens: int = 64
) -> list[int]:
    """Indices (0-based, ascending) of the `facts` the LLM judges relevant to `question`.

    Malformed output or a failed request keeps every fact (logged as a warning), so the
    filter can only narrow the candidates, never lose them by accident.
    """
    if not facts:
        return []
    result = llm.generate_each([filter_messages(question, facts)], FILTER_SCHEMA, max_tokens=max_tokens)[0]
    if isinstance(result, LLMRequestError):
        log.warning("recognition filter skipped (%s); keeping all %d facts", result, len(facts))
        return list(range(len(facts)))
    try:
        numbers = _numbers(result)
    except (NotJSON, ValueError) as err:
        log.warning("recognition filter output unusable (%s); keeping all %d facts", err, len(facts))
        return list(range(len(facts)))
    return sorted({n - 1 for n in numbers if 1 <= n <= len(facts)})


def _numbers(text: str) -> list[int]:
    value, _ = loads_lenient(text)
    if isinstance(value, dict):
        value = normalize_keys(value)[0].get("relevant")
    if not isinstance(value, list):
        raise ValueError(f"expected a list of fact numbers, got {text[:60]!r}")
    return [int(n) for n in value if isinstance(n, int | str) and str(n).strip().isdigit()]
