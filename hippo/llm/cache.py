"""On-disk LLM response cache: one SQLite file that several processes may share.

WAL mode and a busy timeout let concurrent readers and writers (two `hippo index` runs, an
indexer and `hippo ask`) use one file; every write is its own short transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hippo.errors import HippoError

CACHE_NAME = "llm_cache.sqlite"
_SCHEMA = """CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY, backend TEXT NOT NULL, model TEXT NOT NULL,
    response TEXT NOT NULL, created REAL NOT NULL)"""
_MAX_VARS = 500


def default_cache_path(index_dir: Path) -> Path:
    """Where commands working on index `index_dir` keep their LLM cache."""
    return Path(index_dir) / CACHE_NAME


@dataclass(frozen=True)
class CacheStats:
    """What a cache file holds."""

    path: str
    entries: int
    bytes: int
    models: dict[str, int]  # "backend:model" -> entries


class ResponseCache:
    """Responses by request key (see `Request.cache_key`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as err:
            raise HippoError(f"LLM cache {self.path}: cannot open it ({err}); delete it or fix permissions") from None

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        """Cached responses for those of `keys` that have one."""
        found: dict[str, str] = {}
        for start in range(0, len(keys), _MAX_VARS):
            chunk = keys[start:start + _MAX_VARS]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(f"SELECT key, response FROM responses WHERE key IN ({marks})", chunk)
            found.update(rows)
        return found

    def put_many(self, backend: str, model: str, items: Iterable[tuple[str, str]]) -> None:
        """Stores (key, response) pairs in one transaction."""
        now = time.time()
        rows = [(key, backend, model, text, now) for key, text in items]
        if rows:
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany("INSERT OR REPLACE INTO responses VALUES (?,?,?,?,?)", rows)

    def stats(self) -> CacheStats:
        """Entry count, size on disk (WAL included) and entries per backend:model."""
        per_model = {
            f"{backend}:{model}": count for backend, model, count in self._conn.execute(
                "SELECT backend, model, COUNT(*) FROM responses GROUP BY backend, model ORDER BY 3 DESC"
            )
        }
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return CacheStats(str(self.path), sum(per_model.values()), size, per_model)

    def clear(self) -> int:
        """Deletes every entry; returns how many there were."""
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            removed = self._conn.execute("DELETE FROM responses").rowcount
        self._conn.execute("VACUUM")
        return removed

    def close(self) -> None:
        """Closes the connection."""
        self._conn.close()
