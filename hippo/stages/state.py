"""The per-question state that moves through a pipeline's stages.

Stages talk to each other only through it: `queries` is what `link` and dense scoring read
(a clue stage appends to it), `levels` holds the PPR seeds of each memory level (a routing
stage weights them through `level_weights`, or adds a level of its own), `ranking` is the
passage ranking so far, and `trace` records what each stage did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from hippo.stages.scoring import rank_by_scores


class Query(NamedTuple):
    """One query: the question itself (source "question") or one a stage added."""

    text: str
    weight: float = 1.0
    source: str = "question"


class LinkedFact(NamedTuple):
    """A fact linked to the queries: its index, min-max normalized score and best query."""

    fact: int
    score: float
    query: str


class LinkedEntity(NamedTuple):
    """An entity linked by name or mention: its index, score, the words and their query."""

    entity: int
    score: float
    mention: str
    query: str


@dataclass
class Level:
    """The seeds one memory level gives PPR: nodes of one snapshot kind ("entity",
    "passage", ...) by their index within that kind, with their weights."""

    kind: str
    nodes: np.ndarray
    weights: np.ndarray

    @classmethod
    def from_mapping(cls, kind: str, seeds: Mapping[int, float]) -> Level:
        """A level from {index within `kind`: weight}."""
        return cls(kind, np.fromiter(seeds.keys(), dtype=np.int64, count=len(seeds)),
                   np.fromiter(seeds.values(), dtype=np.float64, count=len(seeds)))

    def top(self, count: int) -> list[tuple[int, float]]:
        """The `count` heaviest (node index, weight) pairs, heaviest first."""
        return [(int(self.nodes[i]), weight) for i, weight in rank_by_scores(self.weights, count)]


@dataclass
class RetrievalState:
    """Everything known about one question as it moves through the stages.

    `top_k` is how many passages the caller returns and the reader reads; ranking stages
    keep at least that many. `ranking` holds (passage index, score) best first once a
    ranking stage has run. `cache` holds per-query vectors and scores keyed by query text
    (see `RetrievalContext`).
    """

    question: str
    top_k: int = 10
    queries: list[Query] = field(default_factory=list)
    level_weights: dict[str, float] = field(default_factory=dict)
    levels: dict[str, Level] = field(default_factory=dict)
    linked_facts: list[LinkedFact] = field(default_factory=list)
    linked_entities: list[LinkedEntity] = field(default_factory=list)
    ranking: list[tuple[int, float]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)  # shown to the reader after the question
    answer: str | None = None
    citations: list[int] = field(default_factory=list)
    note: str | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    cache: dict[tuple[str, str], np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.queries:
            self.queries = [Query(self.question)]

    def add_query(self, text: str, weight: float, source: str) -> None:
        """Appends a query unless one with the same text is already there."""
        if text.strip() and all(q.text != text for q in self.queries):
            self.queries.append(Query(text, weight, source))

    def level_weight(self, level: str) -> float:
        """The weight of memory level `level` (1.0 unless a stage set it)."""
        return self.level_weights.get(level, 1.0)
