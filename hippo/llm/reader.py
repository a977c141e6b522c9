"""The reader: a brief answer from the top passages, citing them by number.

Citations are checked against the passages they cite. The answer is cut into segments, each
ending at a run of `[n]` markers; a segment's content words (lower-cased, stop words
dropped, and yes/no) are looked up in every printed passage (title and text). A marker run stays when
one of its passages holds as many of those words as the best printed passage does (a run
such as `[1][2]` may cite a bridge passage beside the one holding the answer); otherwise it
moves to the first printed passage that holds the most of them, or is dropped when none
holds any. Markers outside 1..len(passages) are always dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from hippo.llm.client import LLM
from hippo.llm.prompts import reader_messages

_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_MARKER_RUN = re.compile(r"\s*(?:\[\d+(?:\s*,\s*\d+)*\]\s*)*\[\d+(?:\s*,\s*\d+)*\]")
_ANSWER_PREFIX = re.compile(r"^\s*answer\s*:\s*", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_YES_NO = {"yes", "no"}  # answers to yes/no questions: no passage spells them


@dataclass(frozen=True)
class ReaderAnswer:
    """The reader's text and the 1-based passage numbers it cites (in order of first citation)."""

    text: str
    citations: list[int] = field(default_factory=list)


def answer(
    llm: LLM, question: str, passages: Sequence[tuple[str, str]], *, hints: Sequence[str] = (),
    max_tokens: int = 128,
) -> ReaderAnswer:
    """Answers `question` from (title, text) `passages`, its citations checked (see the module doc);
    `hints` (e.g. a MemoRAG draft answer) are shown after the question."""
    text = llm.generate([reader_messages(question, passages, hints)], max_tokens=max_tokens)[0]
    return check_citations(_ANSWER_PREFIX.sub("", text).strip(), passages)


def check_citations(text: str, passages: Sequence[tuple[str, str]]) -> ReaderAnswer:
    """`text` with each run of [n] markers kept, moved to the passage that holds the words it
    cites for, or dropped (see the module doc); the citations that remain, in order."""
    words = [_words(f"{title}\n{body}") for title, body in passages]
    parts: list[str] = []
    cited: dict[int, None] = {}
    last = 0
    for run in _MARKER_RUN.finditer(text):
        segment = text[last:run.start()]
        numbers = citations(run.group(), len(passages))
        kept = _checked(_content_words(segment), numbers, words)
        lead = run.group()[:len(run.group()) - len(run.group().lstrip())]
        parts.append(segment + (lead + "".join(f"[{n}]" for n in kept) if kept else ""))
        cited.update(dict.fromkeys(kept))
        last = run.end()
    parts.append(text[last:])
    return ReaderAnswer("".join(parts).strip(), list(cited))


def _checked(claim: set[str], numbers: list[int], passages: list[set[str]]) -> list[int]:
    """The citations a claim's marker run keeps (see the module doc)."""
    if not claim or not numbers:
        return numbers
    held = [len(claim & words) for words in passages]
    best = max(held)
    if best == 0:
        return []
    if max(held[n - 1] for n in numbers) == best:
        return numbers
    return [held.index(best) + 1]


def _content_words(text: str) -> set[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return _words(text) - STOP_WORDS - _YES_NO


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


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
