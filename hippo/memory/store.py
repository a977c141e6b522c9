"""`memory.sqlite` in the index directory: memory units with their vectors, association
edges, and the sessions and turns of conversations.

Everything a document (a corpus file) contributes is written in one transaction together
with the document's content hash, so an interrupted run leaves either all of it or none, and
the next run redoes exactly the documents whose hash is missing or stale.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hippo.memory.units import UnitDraft

DB_NAME = "memory.sqlite"

LinkFunction = Callable[[str, np.ndarray, np.ndarray], list[tuple[int, int, float]]]
"""`link(scope, new seqs, new vectors)` -> (src seq, dst seq, weight) association edges."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (id TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, scope TEXT NOT NULL,
    granularity TEXT NOT NULL, text TEXT NOT NULL, targets TEXT NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS units_by_source ON units (source);
CREATE INDEX IF NOT EXISTS units_by_scope ON units (scope);
CREATE TABLE IF NOT EXISTS edges (
    src INTEGER NOT NULL, dst INTEGER NOT NULL, weight REAL NOT NULL, PRIMARY KEY (src, dst));
CREATE TABLE IF NOT EXISTS sessions (
    key TEXT NOT NULL, source TEXT NOT NULL, conversation TEXT NOT NULL, session_id TEXT NOT NULL,
    date TEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (key, source));
CREATE TABLE IF NOT EXISTS turns (
    session_key TEXT NOT NULL, source TEXT NOT NULL, position INTEGER NOT NULL, dia_id TEXT NOT NULL,
    speaker TEXT NOT NULL, passage_id TEXT NOT NULL, PRIMARY KEY (session_key, source, position));
"""


@dataclass(frozen=True)
class SessionRow:
    """A stored session: key, conversation, session id, date and its turns' (dia id,
    speaker, passage id) in order."""

    key: str
    conversation: str
    session_id: str
    date: str
    turns: tuple[tuple[str, str, str], ...]


@dataclass
class StoredUnits:
    """All units of an index, as arrays in `seq` order, with their association edges given
    as positions into those arrays."""

    seqs: np.ndarray
    scopes: list[str]
    granularities: list[str]
    texts: list[str]
    targets: list[tuple[str, ...]]
    vectors: np.ndarray
    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_weight: np.ndarray


class MemoryStore:
    """The memory tables of one index. Use as a context manager."""

    def __init__(self, index_dir: Path) -> None:
        self._conn = sqlite3.connect(Path(index_dir) / DB_NAME, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        for statement in _SCHEMA.strip().split(";"):
            if statement.strip():
                self._conn.execute(statement)

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *_: object) -> None:
        self._conn.close()

    def sources(self) -> dict[str, str]:
        """Document id -> content hash of every document whose memory is complete."""
        return dict(self._conn.execute("SELECT id, sha256 FROM sources"))

    def drop_source(self, source: str) -> None:
        """Removes a document's units, their edges, sessions and turns."""
        with self._conn as conn:  # one transaction: committed, or rolled back on any exception
            self._drop(conn, source)

    @staticmethod
    def _drop(conn: sqlite3.Connection, source: str) -> None:
        doomed = "SELECT seq FROM units WHERE source = ?"
        conn.execute(f"DELETE FROM edges WHERE src IN ({doomed}) OR dst IN ({doomed})", (source, source))
        for table, column in (("units", "source"), ("sessions", "source"), ("turns", "source"), ("sources", "id")):
            conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (source,))

    def scope_units(self, scope: str) -> tuple[np.ndarray, np.ndarray]:
        """(seqs, vectors) of the units already stored in `scope`, in seq order."""
        rows = self._conn.execute("SELECT seq, vector FROM units WHERE scope = ? ORDER BY seq", (scope,)).fetchall()
        return _arrays(rows)

    def add_source(
        self, source: str, sha256: str, units: Sequence[tuple[str, UnitDraft, np.ndarray]],
        sessions: Sequence[SessionRow], link: LinkFunction,
    ) -> int:
        """Stores a document's (scope, unit, vector) triples and sessions, then the edges
        `link(scope, new seqs, new vectors)` returns, all in one transaction; returns the
        number of edges."""
        edges = 0
        with self._conn as conn:  # one transaction: committed, or rolled back on any exception
            self._drop(conn, source)
            by_scope: dict[str, list[tuple[int, np.ndarray]]] = {}
            for scope, unit, vector in units:
                cursor = conn.execute(
                    "INSERT INTO units(source, scope, granularity, text, targets, vector) VALUES (?,?,?,?,?,?)",
                    (source, scope, unit.granularity, unit.text, json.dumps(unit.targets),
                     np.asarray(vector, dtype=np.float32).tobytes()))
                by_scope.setdefault(scope, []).append((int(cursor.lastrowid or 0), vector))
            for scope, added in by_scope.items():
                rows = link(scope, np.asarray([s for s, _ in added]), np.stack([v for _, v in added]))
                conn.executemany("INSERT OR REPLACE INTO edges(src, dst, weight) VALUES (?,?,?)", rows)
                edges += len(rows)
            for position, session in enumerate(sessions):
                conn.execute("INSERT INTO sessions VALUES (?,?,?,?,?,?)", (
                    session.key, source, session.conversation, session.session_id, session.date, position))
                conn.executemany("INSERT OR REPLACE INTO turns VALUES (?,?,?,?,?,?)", [
                    (session.key, source, i, *turn) for i, turn in enumerate(session.turns)])
            conn.execute("INSERT INTO sources(id, sha256) VALUES (?,?)", (source, sha256))
        return edges

    def load(self) -> StoredUnits:
        """Every unit and edge."""
        rows = self._conn.execute(
            "SELECT seq, scope, granularity, text, targets, vector FROM units ORDER BY seq").fetchall()
        seqs, vectors = _arrays([(r[0], r[5]) for r in rows])
        position = {int(s): i for i, s in enumerate(seqs)}
        edges = [(position[a], position[b], w) for a, b, w in self._conn.execute("SELECT src, dst, weight FROM edges")
                 if a in position and b in position]
        src, dst, weight = (np.asarray(c) for c in zip(*edges, strict=True)) if edges else (
            np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
        return StoredUnits(seqs, [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
                           [tuple(json.loads(r[4])) for r in rows], vectors, src.astype(np.int64),
                           dst.astype(np.int64), weight.astype(np.float64))

    def sessions(self) -> list[SessionRow]:
        """Every stored session with its turns, conversations in order of their sessions."""
        turns: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for key, source, dia_id, speaker, pid in self._conn.execute(
                "SELECT session_key, source, dia_id, speaker, passage_id FROM turns ORDER BY source, session_key, "
                "position"):
            turns.setdefault((key, source), []).append((dia_id, speaker, pid))
        return [SessionRow(key, conversation, session_id, date, tuple(turns.get((key, source), ())))
                for key, source, conversation, session_id, date in self._conn.execute(
                    "SELECT key, source, conversation, session_id, date FROM sessions ORDER BY source, position")]

    def counts(self) -> dict[str, int]:
        """Units per granularity, association edges and sessions."""
        counts = {f"{g}_units": n for g, n in self._conn.execute(
            "SELECT granularity, COUNT(*) FROM units GROUP BY granularity ORDER BY MIN(seq)")}
        counts["association_edges"] = self._conn.execute("SELECT COUNT(*) FROM edges").fetchone()[0]
        counts["sessions"] = self._conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        return counts


def memory_counts(index_dir: Path) -> dict[str, int]:
    """`MemoryStore.counts` of the index at `index_dir`; empty for an index without memory."""
    if not (Path(index_dir) / DB_NAME).exists():
        return {}
    with MemoryStore(index_dir) as memory:
        return memory.counts()


def memory_graph(index_dir: Path) -> dict[str, dict]:
    """The memory units and association edges as Neo4j rows: {"Memory": {id: properties},
    "ASSOCIATED": {(src id, dst id, None): {"weight"}}} (empty for an index without memory)."""
    if not (Path(index_dir) / DB_NAME).exists():
        return {"Memory": {}, "ASSOCIATED": {}}
    with MemoryStore(index_dir) as memory:
        units = memory.load()
    ids = [f"m{int(seq)}" for seq in units.seqs]
    nodes = {ids[i]: {"id": ids[i], "granularity": units.granularities[i], "text": units.texts[i],
                      "targets": list(units.targets[i])} for i in range(len(ids))}
    edges = {(ids[a], ids[b], None): {"weight": float(w)}
             for a, b, w in zip(units.edge_src, units.edge_dst, units.edge_weight, strict=True)}
    return {"Memory": nodes, "ASSOCIATED": edges}


def _arrays(rows: Sequence[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return (np.asarray([r[0] for r in rows], dtype=np.int64),
            np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]))
