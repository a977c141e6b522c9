"""Memory units: one piece of memory at one granularity, and how each kind is made.

Conversations keep MemGAS's four granularities per session: the **session** (the mean of its
turn embeddings, so a long session is seen whole, not cut at the encoder's 256 tokens), its
**turns**, a **summary** and its **keywords**; and two finer ones that a small encoder needs:
each turn's **sentences** (`Speaker: sentence`; a long turn's embedding blurs the one
sentence a question asks about) and each **exchange** (a turn with the reply to it, so an
answer is seen with its question). Documents keep the **document** (mean of its
passages, when it has several), each **passage**, the passage's **sentences** and its
**keywords**. Summaries and keywords come from the LLM when one is set (`--llm`); otherwise
the summary is extractive (the most central turns: closest to the session's mean embedding,
in their original order) and the keywords are the entities spaCy OpenIE found (named
entities, noun phrases, triple arguments).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hippo.conversations import Session, dated
from hippo.corpus import Passage, split_sentences

CONVERSATION_GRANULARITIES = ("session", "turn", "sentence", "exchange", "summary", "keywords")
DOCUMENT_GRANULARITIES = ("document", "passage", "sentence", "keywords")
SUMMARY_TURNS = 3
MAX_KEYWORDS = 40


@dataclass(frozen=True)
class UnitDraft:
    """A unit before it is stored: its granularity, text, the retrieval units it scores for
    (session keys, or passage ids) and its vector when it is known without embedding."""

    granularity: str
    text: str
    targets: tuple[str, ...]
    vector: np.ndarray | None = None


def normalized_mean(vectors: np.ndarray) -> np.ndarray:
    """The unit-length mean of some unit vectors."""
    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def central_texts(texts: Sequence[str], vectors: np.ndarray, count: int = SUMMARY_TURNS) -> str:
    """The `count` texts closest to the group's mean embedding, in their original order."""
    if len(texts) <= count:
        return " ".join(texts)
    closeness = vectors @ normalized_mean(vectors)
    chosen = sorted(np.argsort(-closeness, kind="stable")[:count])
    return " ".join(texts[i] for i in chosen)


def keyword_text(names: Sequence[str]) -> str:
    """Distinct keywords in first-seen order, comma-separated (at most MAX_KEYWORDS)."""
    return ", ".join(list(dict.fromkeys(n for n in names if n))[:MAX_KEYWORDS])


def session_units(
    session: Session, passages: Sequence[Passage], vectors: np.ndarray, keywords: Sequence[str],
    summary: str | None = None,
) -> list[UnitDraft]:
    """The units of one session: `passages`/`vectors` are its turns' passages and embeddings,
    `keywords` its turns' entities (or the LLM's keywords), `summary` the LLM's (extractive
    when None)."""
    key = (session.key,)
    texts = [p.text for p in passages]
    units = [UnitDraft("session", f"{session.key} ({session.date})", key, normalized_mean(vectors))]
    units += [UnitDraft("turn", p.text, key, v) for p, v in zip(passages, vectors, strict=True)]
    sentences = [f"{t.speaker}: {s}" for t in session.turns for s in split_sentences(t.text)]
    units += [UnitDraft("sentence", s, key) for s in dict.fromkeys(sentences)]
    exchanges = [dated(session, " ".join(f"{t.speaker}: {t.text}" for t in pair))
                 for pair in zip(session.turns, session.turns[1:], strict=False)]
    units += [UnitDraft("exchange", e, key) for e in dict.fromkeys(exchanges)]
    units.append(UnitDraft("summary", summary or central_texts(texts, vectors), key))
    if text := keyword_text(keywords):
        units.append(UnitDraft("keywords", text, key))
    return units


def document_units(
    title: str, passages: Sequence[Passage], vectors: np.ndarray, keywords: Sequence[Sequence[str]]
) -> list[UnitDraft]:
    """The units of one document: per passage, itself, its sentences (when it has more than
    one) and its keywords; the whole document when it has several passages."""
    units = []
    if len(passages) > 1:
        units.append(UnitDraft("document", title, tuple(p.id for p in passages), normalized_mean(vectors)))
    for passage, vector, names in zip(passages, vectors, keywords, strict=True):
        target = (passage.id,)
        units.append(UnitDraft("passage", passage.text, target, vector))
        sentences = split_sentences(passage.text)
        if len(sentences) > 1:
            units += [UnitDraft("sentence", s, target) for s in dict.fromkeys(sentences)]
        if text := keyword_text(names):
            units.append(UnitDraft("keywords", text, target))
    return units
