"""Bridge entities for graph clues: what a first retrieval round says a question leads to.

A multi-hop question names an entity (the *anchor*: "the Bubye River") and asks about one it
does not name (the *bridge*: the country the river is in). When the first round's top
passages hold a fact joining an anchor to an entity the question does not name, that other
entity is a bridge candidate; it scores the fact's cosine to the question, divided by
1 + the rank of the passage that holds the fact, so facts near the question in the best
passages win. Years, numbers and dates are never bridges. No LLM is involved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hippo.extract.base import normalize_entity
from hippo.snapshot import GraphSnapshot
from hippo.store import IndexStore


@dataclass(frozen=True)
class Bridge:
    """An entity the question leads to: its index, the name a clue uses (its page title
    when it has a titled passage), the fact and passage that lead to it, its score."""

    entity: int
    name: str
    anchor: int
    fact: int
    passage: int
    score: float


class BridgeFinder:
    """Finds bridges in one snapshot; built once per loaded index (see `load`)."""

    def __init__(self, snapshot: GraphSnapshot, passage_facts: dict[int, list[int]], titles: dict[int, str]) -> None:
        self.snapshot = snapshot
        self.passage_facts = passage_facts
        self.titles = titles

    @classmethod
    def load(cls, index_dir: Path, snapshot: GraphSnapshot) -> BridgeFinder:
        """The finder for `snapshot`, with each passage's facts read from the index's records and
        each titled entity's title from the snapshot's passages."""
        passage_index = snapshot.passage_index
        fact_index = {fid: i for i, fid in enumerate(snapshot.fact_ids)}
        facts: dict[int, list[int]] = defaultdict(list)
        titles: dict[int, str] = {}
        with IndexStore.open(index_dir) as store:
            for pid, fid in store.passage_facts():
                if pid in passage_index and fid in fact_index:
                    facts[passage_index[pid]].append(fact_index[fid])
        for passage in map(snapshot.passage, range(len(snapshot.passage_ids))):
            entity = snapshot.entity_index.get(normalize_entity(passage.title)) if passage.title else None
            if entity is not None:
                titles.setdefault(entity, passage.title)
        return cls(snapshot, dict(facts), titles)

    def find(
        self, question_vector: np.ndarray, anchors: Iterable[int], top_passages: Sequence[int], limit: int
    ) -> list[Bridge]:
        """The `limit` best bridges from facts of `top_passages` (best first) with exactly one
        end among `anchors`, best first; one per bridge entity."""
        anchor_set = set(anchors)
        snapshot = self.snapshot
        best: dict[int, Bridge] = {}
        for rank, passage in enumerate(top_passages):
            for fact in self.passage_facts.get(passage, ()):
                subject, obj = int(snapshot.fact_subject[fact]), int(snapshot.fact_object[fact])
                if (subject in anchor_set) == (obj in anchor_set):
                    continue
                anchor, bridge = (subject, obj) if subject in anchor_set else (obj, subject)
                if not _leads_somewhere(snapshot.entity_names[bridge], bridge in self.titles):
                    continue
                score = float(np.asarray(snapshot.fact_vectors[fact]) @ question_vector) / (1 + rank)
                if bridge not in best or score > best[bridge].score:
                    name = self.titles.get(bridge, snapshot.entity_names[bridge])
                    best[bridge] = Bridge(bridge, name, anchor, fact, passage, score)
        return sorted(best.values(), key=lambda b: (-b.score, b.entity))[:limit]


_MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"}


def _leads_somewhere(name: str, titled: bool) -> bool:
    """False for a year, a number or a date ("4 april 1975"): a next hop needs a named thing.
    An entity with its own page always qualifies ("2017 ... leadership election")."""
    if titled:
        return True
    words = name.split()
    return any(c.isalpha() for c in name) and not all(w.isdigit() or w in _MONTHS for w in words)
