"""MemoRAG clues from an LLM: recalled spans, surrogate questions and a draft answer.

One JSON-constrained call per question, all the questions of a batch sent together; each
prompt holds the parts of the global memory most similar to its question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hippo.corpus import Passage
from hippo.llm.base import LLMRequestError
from hippo.llm.client import LLM
from hippo.llm.jsonparse import NotJSON, loads_lenient, normalize_keys
from hippo.llm.prompts import CLUES_SCHEMA, clue_messages, gist_messages, passage_prompt


@dataclass(frozen=True)
class LLMClues:
    """What the LLM recalled for one question."""

    spans: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    answer: str = ""


def write_clues(
    llm: LLM, questions: Sequence[str], memories: Sequence[str], *, max_tokens: int = 256
) -> list[LLMClues | LLMRequestError]:
    """Clues for each question from its memory text; a failed or unusable response yields
    its LLMRequestError in place of the clues (raises LLMUnavailable when no LLM answers)."""
    batch = [clue_messages(q, m) for q, m in zip(questions, memories, strict=True)]
    results = llm.generate_each(batch, CLUES_SCHEMA, max_tokens=max_tokens)
    return [r if isinstance(r, LLMRequestError) else _parse(r) for r in results]


def write_gists(llm: LLM, pieces: Sequence[Sequence[Passage]], *, max_tokens: int = 320) -> list[str]:
    """MemoRAG-lite's memory: one gist per piece of the corpus (raises on a failed request)."""
    texts = ["\n\n".join(passage_prompt(p.title, p.text) for p in piece) for piece in pieces]
    return [text.strip() for text in llm.generate([gist_messages(t) for t in texts], max_tokens=max_tokens)]


def _parse(text: str) -> LLMClues | LLMRequestError:
    try:
        value, _ = loads_lenient(text)
    except NotJSON as err:
        return LLMRequestError(f"clue output is not JSON ({err})")
    if not isinstance(value, dict):
        return LLMRequestError(f"clue output is not a JSON object: {text[:60]!r}")
    value = normalize_keys(value)[0]
    answer = value.get("answer")
    return LLMClues(_strings(value.get("spans")), _strings(value.get("questions")),
                    answer.strip() if isinstance(answer, str) else "")


def _strings(value: object) -> list[str]:
    return [s.strip() for s in value if isinstance(s, str) and s.strip()] if isinstance(value, list) else []
