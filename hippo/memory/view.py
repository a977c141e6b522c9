"""The memory of an index as queries see it: units by granularity, the association graph,
and for conversations the sessions, their turns and which session each passage belongs to."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from weakref import WeakKeyDictionary

import numpy as np
import scipy.sparse as sp

from hippo.memory.lexical import LexicalIndex
from hippo.memory.store import DB_NAME, MemoryStore, SessionRow, StoredUnits

_VIEWS: WeakKeyDictionary[object, MemoryView | None] = WeakKeyDictionary()
WHOLES = {"session": "turn", "document": "passage"}  # a whole's text for BM25 is its parts' texts


@dataclass(frozen=True)
class SessionHit:
    """A session ranked for a question: its score (its best turn's, or the router's), date,
    turns (dialog ids, best first for those the ranking scored, then the rest in order) and
    passage ids (in session order)."""

    key: str
    date: str
    score: float
    turns: tuple[str, ...]
    speakers: tuple[str, ...]
    passage_ids: tuple[str, ...]


class MemoryView:
    """Read-only memory of one index, loaded once per retrieval context."""

    def __init__(self, units: StoredUnits, sessions: Sequence[SessionRow]) -> None:
        self.units = units
        self.sessions = {s.key: s for s in sessions}
        self.passage_session = {pid: s.key for s in sessions for _, _, pid in s.turns}
        self._lexical: dict[str, LexicalIndex] = {}

    @classmethod
    def load(cls, index_dir: Path) -> MemoryView | None:
        """The memory of the index at `index_dir`, None when it has none."""
        if not (Path(index_dir) / DB_NAME).exists():
            return None
        with MemoryStore(index_dir, read_only=True) as memory:
            units, sessions = memory.load(), memory.sessions()
        return cls(units, sessions) if units.seqs.size else None

    @property
    def is_conversation(self) -> bool:
        """True when the index holds conversations (its retrieval unit is the session)."""
        return bool(self.sessions)

    @cached_property
    def granularities(self) -> dict[str, np.ndarray]:
        """Granularity -> positions of its units, in the order granularities first appear."""
        names = np.asarray(self.units.granularities)
        return {g: np.flatnonzero(names == g) for g in dict.fromkeys(self.units.granularities)}

    def lexical(self, granularity: str) -> LexicalIndex:
        """BM25 over the texts of one granularity's units (in `granularities` order), built on
        first use. A session's (document's) text is that of its turns (passages): the unit's
        own text is only its name and date."""
        if granularity not in self._lexical:
            positions = self.granularities[granularity]
            parts = self.granularities.get(WHOLES.get(granularity, ""), np.empty(0, dtype=int))
            if parts.size:
                by_target: defaultdict[str, list[str]] = defaultdict(list)
                for i in parts:
                    by_target[self.units.targets[i][0]].append(self.units.texts[i])
                texts = [" ".join(t for key in self.units.targets[i] for t in by_target[key]) for i in positions]
            else:
                texts = [self.units.texts[i] for i in positions]
            self._lexical[granularity] = LexicalIndex(texts)
        return self._lexical[granularity]

    @cached_property
    def adjacency(self) -> sp.csr_matrix:
        """Symmetric weighted adjacency of the association graph over all units."""
        n = self.units.seqs.size
        u = self.units
        rows, cols = np.concatenate([u.edge_src, u.edge_dst]), np.concatenate([u.edge_dst, u.edge_src])
        return sp.csr_matrix((np.concatenate([u.edge_weight, u.edge_weight]), (rows, cols)), shape=(n, n))

    @cached_property
    def target_keys(self) -> list[str]:
        """The retrieval units units score for (session keys, or passage ids), first-seen order."""
        return list(dict.fromkeys(t for targets in self.units.targets for t in targets))

    @cached_property
    def membership(self) -> sp.csr_matrix:
        """(unit x retrieval unit) 0/1 matrix: a retrieval unit's score is the sum of its units'."""
        position = {k: i for i, k in enumerate(self.target_keys)}
        rows = [i for i, targets in enumerate(self.units.targets) for _ in targets]
        cols = [position[t] for targets in self.units.targets for t in targets]
        return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(self.units.targets), len(position)))

    @cached_property
    def turn_units(self) -> dict[str, int]:
        """Passage id -> position of the turn unit made from it (conversations)."""
        by_session: dict[str, list[int]] = {}
        for i, (granularity, targets) in enumerate(zip(self.units.granularities, self.units.targets, strict=True)):
            if granularity == "turn":
                by_session.setdefault(targets[0], []).append(i)
        return {pid: position for key, positions in by_session.items() if key in self.sessions
                for (_, _, pid), position in zip(self.sessions[key].turns, positions, strict=False)}

    def sessions_from_passages(
        self, ranking: Sequence[tuple[str, float]], top_k: int
    ) -> list[SessionHit]:
        """The first `top_k` sessions of a (passage id, score) ranking, each scored by its
        best turn."""
        best: dict[str, float] = {}
        ranked_turns: dict[str, list[str]] = {}
        for passage_id, score in ranking:
            key = self.passage_session.get(passage_id)
            if key is None:
                continue
            best.setdefault(key, score)
            ranked_turns.setdefault(key, []).append(passage_id)
        return [self.hit(key, score, ranked_turns[key]) for key, score in list(best.items())[:top_k]]

    def hit(self, key: str, score: float, ranked_passages: Sequence[str] = ()) -> SessionHit:
        """Session `key` as a result; its turns of `ranked_passages` come first, in that order."""
        session = self.sessions[key]
        order = {pid: i for i, pid in enumerate(dict.fromkeys(ranked_passages))}
        turns = sorted(session.turns, key=lambda t: order.get(t[2], len(order)))
        return SessionHit(key, session.date, score, tuple(t[0] for t in turns), tuple(t[1] for t in turns),
                          tuple(t[2] for t in session.turns))

    def turn_ranking(self, ranking: Sequence[tuple[str, float]]) -> list[str]:
        """Dialog ids of a (passage id, score) ranking's turns, best first (a passage that
        holds two identical turns gives both)."""
        return [d for pid, _ in ranking for d in self.passage_turns.get(pid, [])]

    @cached_property
    def passage_turns(self) -> dict[str, list[str]]:
        """Passage id -> the dialog ids of the turns it holds."""
        dia_ids: dict[str, list[str]] = {}
        for session in self.sessions.values():
            for dia_id, _, pid in session.turns:
                dia_ids.setdefault(pid, []).append(dia_id)
        return dia_ids


def memory_view(context: object, index_dir: Path) -> MemoryView | None:
    """The memory view of a retrieval context's index, loaded on first use."""
    if context not in _VIEWS:
        _VIEWS[context] = MemoryView.load(index_dir)
    return _VIEWS[context]
