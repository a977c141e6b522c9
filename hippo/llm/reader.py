"""The reader: a brief answer from the top passages, citing them by number."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from hippo.llm.client import LLM
from hippo.llm.prompts import reader_messages

_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_ANSWER_PREFIX = re.compile(r"^\s*answer\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class ReaderAnswer:
    """The reader's text and the 1-based passage numbers it cites (in order of first citation)."""

    text: str
    citations: list[int] = field(default_factory=list)


def answer(
    llm: LLM, question: str, passages: Sequence[tuple[str, str]], *, max_tokens: int = 128
) -> ReaderAnswer:
    """Answers `question` from (title, text) `passages`; citations outside 1..len(passages) are dropped."""
    text = llm.generate([reader_messages(question, passages)], max_tokens=max_tokens)[0]
    return ReaderAnswer(_ANSWER_PREFIX.sub("", text).strip(), citations(text, len(passages)))


def strip_citations(text: str) -> str:
    """The answer without its [n] citation markers (what EM/F1 should score)."""
    return " ".join(_CITATION.sub(" ", text).split())


def citations(text: str, count: int) -> list[int]:
    """Passage numbers cited as [n] or [n, m] in `text`, unique, within 1..count."""
    found: dict[int, None] = {}
    for group in _CITATION.findall(text):
        for number in (int(n) for n in group.split(",")):
            if 1 <= number <= count:
                found[number] = None
    return list(found)
