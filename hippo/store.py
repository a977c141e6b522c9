"""The index directory's record store: SQLite for documents, passages, OpenIE output,
entities, facts and the embedding cache.

Every write is a transaction, so a run killed at any point leaves the last committed state;
an exclusive lock file keeps two indexers from writing one index at once. A database is checked
to be a hippo index before anything is written to it, and readers open it read-only, so
`ask` and `stats` write nothing (an index on a read-only mount can be queried).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import numpy as np

from hippo.config import IndexSettings
from hippo.corpus import Passage, passage_string
from hippo.embed import text_key
from hippo.errors import HippoError, IndexFormatError
from hippo.extract.base import Extraction, Triple

FORMAT_VERSION = 1
DB_NAME = "index.sqlite"
LOCK_NAME = ".lock"
LOCK_GRACE_SECONDS = 0.5  # a writer waits this long for a lock held by a reader's probe (`stats`)
EMBEDDING_BLOCK = 16_384  # vectors read from the cache at a time where a whole set is not held (~25 MB at 384)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, sha256 TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS passages (id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS doc_passages (
    doc_id TEXT NOT NULL, position INTEGER NOT NULL, passage_id TEXT NOT NULL,
    PRIMARY KEY (doc_id, position));
CREATE INDEX IF NOT EXISTS doc_passages_by_passage ON doc_passages (passage_id);
CREATE TABLE IF NOT EXISTS extractions (
    passage_id TEXT NOT NULL, extractor TEXT NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (passage_id, extractor));
CREATE TABLE IF NOT EXISTS entities (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS facts (
    id TEXT PRIMARY KEY, subject_id TEXT NOT NULL, relation TEXT NOT NULL, object_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS passage_entities (
    passage_id TEXT NOT NULL, entity_id TEXT NOT NULL, PRIMARY KEY (passage_id, entity_id));
CREATE TABLE IF NOT EXISTS passage_facts (
    passage_id TEXT NOT NULL, fact_id TEXT NOT NULL, PRIMARY KEY (passage_id, fact_id));
CREATE TABLE IF NOT EXISTS synonyms (
    entity_a TEXT NOT NULL, entity_b TEXT NOT NULL, similarity REAL NOT NULL,
    PRIMARY KEY (entity_a, entity_b));
CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL);
"""
_OWN_FILES = frozenset({LOCK_NAME, DB_NAME, *(f"{DB_NAME}-{suffix}" for suffix in ("wal", "shm", "journal"))})
_TABLES = tuple(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", _SCHEMA))


@dataclass(frozen=True)
class DocumentRecord:
    """A corpus file as last indexed."""

    id: str
    title: str
    sha256: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class DerivedRecords:
    """Entities, facts and provenance computed from the extractions of live passages."""

    entities: dict[str, str]  # id -> name
    facts: dict[str, tuple[str, str, str]]  # id -> (subject_id, relation, object_id)
    passage_entities: list[tuple[str, str]]
    passage_facts: list[tuple[str, str]]


class IndexStore:
    """One index directory's SQLite records. Open with `IndexStore.open`."""

    def __init__(self, root: Path, conn: sqlite3.Connection, lock: IO[str] | None) -> None:
        self.root = root
        self._conn = conn
        self._lock = lock
        self._settings = IndexSettings()

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls, root: Path, *, settings: IndexSettings | None = None, create: bool = False,
        write: bool = False,
    ) -> IndexStore:
        """Opens (or with `create`, creates) the index at `root`.

        Without `write`/`create` the database is opened read-only and nothing in the directory
        is written (a read-only index can be queried). `write` takes the exclusive writer lock
        first; only then is the directory inspected, created or changed. `settings` given for
        an existing index must agree on the embedding model and extractor it was built with.
        """
        root = Path(root)
        store = cls._open_writer(root, create, settings) if write or create else cls._open_reader(root)
        try:
            if settings is not None:
                store._check_compatible(settings)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def _open_reader(cls, root: Path) -> IndexStore:
        db_path = root / DB_NAME
        if not db_path.exists():
            raise _missing(root)
        store = cls(root, connect_database(db_path, read_only=True), None)
        store._adopt(None)
        return store

    @classmethod
    def _open_writer(cls, root: Path, create: bool, settings: IndexSettings | None) -> IndexStore:
        if create:
            _make_directory(root)
        elif not (root / DB_NAME).exists():
            raise _missing(root)
        _check_writable(root)
        cls._check_ours(root)  # before the lock file is made in a foreign folder
        lock = _take_lock(root)
        try:
            db_path = root / DB_NAME
            if not db_path.exists():
                _check_empty(root)
            store = cls(root, connect_database(db_path, read_only=False), lock)
        except BaseException:
            lock.close()
            raise
        store._adopt((settings or IndexSettings()) if create else None)
        return store

    @classmethod
    def _check_ours(cls, root: Path) -> None:
        """Refuses a folder of other files or a foreign database, reading only."""
        db_path = root / DB_NAME
        if not db_path.exists():
            _check_empty(root)
            return
        probe = cls(root, connect_database(db_path, read_only=True), None)
        try:
            probe._inspect()
        finally:
            probe.close()

    def _adopt(self, new: IndexSettings | None) -> None:
        """Checks the database is a hippo index before anything is written to it, then (for a
        writer) switches it to WAL and, when it is empty and `new` is given, creates the schema."""
        try:
            empty = self._inspect()
            if empty and new is None:
                raise IndexFormatError(_incomplete(self.root))
            if self._lock is not None:
                with _readable(self.root):
                    self._conn.execute("PRAGMA journal_mode=WAL")
                    self._conn.execute("PRAGMA synchronous=NORMAL")
            if empty and new is not None:
                with self.transaction():
                    self._create_schema(new)
        except BaseException:
            self.close()
            raise

    def _inspect(self) -> bool:
        """True for an empty database (a first run killed before its schema was written);
        IndexFormatError unless it is a hippo index this version can read."""
        with _readable(self.root):
            tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables:
                return True
            foreign = IndexFormatError(
                f"{self.root / DB_NAME}: this SQLite file is not a hippo index; use another --index"
            )
            if "meta" not in tables or not {"key", "value"} <= {
                r[1] for r in self._conn.execute("PRAGMA table_info(meta)")
            }:
                raise foreign
            version = self.meta("format_version")
            if version is None or not str(version).isdigit():
                raise foreign
            if int(version) > FORMAT_VERSION:
                raise IndexFormatError(
                    f"{self.root}: made by a newer hippo (index format {version} > {FORMAT_VERSION}); "
                    "upgrade hippo or use another --index"
                )
            missing = set(_TABLES) - tables
            try:
                self._settings = IndexSettings.from_dict(json.loads(self.meta("settings") or "null"))
            except (ValueError, TypeError, AttributeError):  # absent, not JSON, not an object, bad values
                missing.add("settings")
        if missing:
            raise IndexFormatError(
                f"{self.root / DB_NAME}: damaged hippo index (missing {', '.join(sorted(missing))}); "
                "rebuild it into a new --index"
            )
        return False

    def _create_schema(self, settings: IndexSettings) -> None:
        for statement in _SCHEMA.strip().split(";"):
            if statement.strip():
                self._conn.execute(statement)
        self.set_meta("format_version", str(FORMAT_VERSION))
        self.set_meta("settings", json.dumps(settings.to_dict()))
        self._settings = settings

    def _check_compatible(self, settings: IndexSettings) -> None:
        built = self.settings
        for name in ("embedding_model", "extractor"):
            have, want = getattr(built, name), getattr(settings, name)
            if have != want:
                raise IndexFormatError(
                    f"{self.root}: built with {name.replace('_', ' ')} {have!r}, not {want!r}; "
                    "use another --index for a different model"
                )

    def close(self) -> None:
        """Closes the database and releases the writer lock."""
        self._conn.close()
        if self._lock:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (Ctrl-C included)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- meta ------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def settings(self) -> IndexSettings:
        """The settings recorded when the index was created."""
        return self._settings

    @property
    def dirty(self) -> bool:
        """True when records changed after the last complete graph snapshot."""
        return self.meta("dirty") == "1"

    def mark_dirty(self, dirty: bool) -> None:
        with self.transaction():
            self.set_meta("dirty", "1" if dirty else "0")

    # -- documents and passages --------------------------------------------------------------

    def document(self, doc_id: str) -> DocumentRecord | None:
        row = self._conn.execute(
            "SELECT id, title, sha256, size, mtime_ns FROM documents WHERE id=?", (doc_id,)
        ).fetchone()
        return DocumentRecord(*row) if row else None

    def document_ids_under(self, prefix: str) -> list[str]:
        """Ids (absolute paths) of indexed documents at or below `prefix`."""
        rows = self._conn.execute(
            "SELECT id FROM documents WHERE id = ? OR substr(id, 1, ?) = ?",
            (prefix, len(prefix) + 1, prefix.rstrip("/") + "/"),
        )
        return [r[0] for r in rows]

    def touch_document(self, doc_id: str, size: int, mtime_ns: int) -> None:
        """Records new stat values for a file whose content did not change."""
        with self.transaction():
            self._conn.execute("UPDATE documents SET size=?, mtime_ns=? WHERE id=?", (size, mtime_ns, doc_id))

    def replace_document(self, doc: DocumentRecord, passages: Sequence[Passage]) -> None:
        """Stores a document and its passages, replacing what it had before, atomically."""
        with self.transaction() as conn:
            self._drop_document(doc.id)
            conn.execute(
                "INSERT INTO documents(id, title, sha256, size, mtime_ns) VALUES (?,?,?,?,?)",
                (doc.id, doc.title, doc.sha256, doc.size, doc.mtime_ns),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO passages(id, title, text) VALUES (?,?,?)",
                [(p.id, p.title, p.text) for p in passages],
            )
            conn.executemany(
                "INSERT INTO doc_passages(doc_id, position, passage_id) VALUES (?,?,?)",
                [(doc.id, i, p.id) for i, p in enumerate(passages)],
            )
            self.set_meta("dirty", "1")

    def delete_document(self, doc_id: str) -> None:
        """Removes a document and the passages no other document holds."""
        with self.transaction():
            self._drop_document(doc_id)
            self.set_meta("dirty", "1")

    def _drop_document(self, doc_id: str) -> None:
        """Removes a document and those of its passages no other document holds (looked up by
        passage: time proportional to the document, not to the index)."""
        conn = self._conn
        held = [(r[0],) * 2 for r in conn.execute("SELECT passage_id FROM doc_passages WHERE doc_id=?", (doc_id,))]
        conn.execute("DELETE FROM documents WHERE id=?", (doc_id,))
        conn.execute("DELETE FROM doc_passages WHERE doc_id=?", (doc_id,))
        conn.executemany(
            "DELETE FROM passages WHERE id = ? AND NOT EXISTS (SELECT 1 FROM doc_passages WHERE passage_id = ?)", held
        )

    def passages(self, ids: Iterable[str] | None = None) -> list[Passage]:
        """Passages by id (missing ids are left out), or all of them in id order."""
        if ids is None:
            rows = self._conn.execute("SELECT id, title, text FROM passages ORDER BY id")
            return [Passage(*r) for r in rows]
        found = {}
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(f"SELECT id, title, text FROM passages WHERE id IN ({marks})", chunk):
                found[row[0]] = Passage(*row)
        return [found[i] for i in ids if i in found]

    def passage_ids(self) -> list[str]:
        """The id of every passage (their texts left unread)."""
        return [r[0] for r in self._conn.execute("SELECT id FROM passages")]

    def passage_documents(self) -> list[tuple[str, str]]:
        """(document id, passage id) pairs for every live passage."""
        return list(self._conn.execute("SELECT DISTINCT doc_id, passage_id FROM doc_passages"))

    def document_passages(self, doc_ids: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """(document id, passage id) of every document's passages (or of documents `doc_ids`), in
        reading order."""
        rows = self._select("SELECT doc_id, passage_id, position FROM doc_passages", "doc_id", doc_ids)
        return [(doc_id, passage_id) for doc_id, passage_id, _ in sorted(rows, key=lambda r: (r[0], r[2]))]

    def documents(self) -> list[DocumentRecord]:
        rows = self._conn.execute("SELECT id, title, sha256, size, mtime_ns FROM documents ORDER BY id")
        return [DocumentRecord(*r) for r in rows]

    # -- extractions ---------------------------------------------------------------------------

    def passages_without_extraction(self, extractor: str) -> list[Passage]:
        rows = self._conn.execute(
            "SELECT p.id, p.title, p.text FROM passages p LEFT JOIN extractions e "
            "ON e.passage_id = p.id AND e.extractor = ? WHERE e.passage_id IS NULL ORDER BY p.id",
            (extractor,),
        )
        return [Passage(*r) for r in rows]

    def save_extractions(self, extractor: str, results: Sequence[tuple[str, Extraction]]) -> None:
        """Stores successful extractions; failed ones are not stored, so a re-run retries them."""
        rows = [(pid, extractor, _encode_extraction(x)) for pid, x in results if x.error is None]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO extractions(passage_id, extractor, payload) VALUES (?,?,?)", rows
            )

    def extractions(self, extractor: str, passage_ids: Iterable[str] | None = None) -> dict[str, Extraction]:
        """Extractions of live passages (all, or those with `passage_ids`) by passage id."""
        query = ("SELECT e.passage_id, e.payload FROM extractions e JOIN passages p ON p.id = e.passage_id "
                 "AND e.extractor = ?")
        rows = self._select(query, "e.passage_id", passage_ids, (extractor,))
        return {pid: _decode_extraction(payload) for pid, payload in rows}

    def extraction_mark(self) -> int:
        """A mark of the extractions stored so far: `passages_extracted_since` it names later ones."""
        return int(self._conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM extractions").fetchone()[0])

    def passages_extracted_since(self, extractor: str, mark: int) -> set[str]:
        """Ids of the passages whose extraction was stored after `extraction_mark` gave `mark` (an
        extraction stored again gets a new, higher row id)."""
        rows = self._conn.execute("SELECT passage_id FROM extractions WHERE extractor = ? AND rowid > ?",
                                  (extractor, mark))
        return {r[0] for r in rows}

    # -- embeddings cache ----------------------------------------------------------------------

    def embedded_keys(self, keys: Iterable[str] | None = None) -> set[str]:
        """The keys of the cached vectors: all, or those of `keys` that have one."""
        return {r[0] for r in self._select("SELECT key FROM embeddings", "key", keys)}

    @property
    def embedding_dim(self) -> int:
        """Width of the stored vectors (0 before anything was embedded)."""
        return int(self.meta("embedding_dim") or 0)

    def save_embeddings(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        rows = [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        with self.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO embeddings(key, vector) VALUES (?, ?)", rows)
            self.set_meta("embedding_dim", str(vectors.shape[1]))

    def passage_vectors(self, passages: Sequence[Passage]) -> np.ndarray:
        """The stored vector of each passage's embedded string (`passage_string`), in order."""
        return self.load_embeddings([text_key(passage_string(p)) for p in passages])

    def embedding_blocks(self, keys: Sequence[str]) -> Iterator[np.ndarray]:
        """`load_embeddings(keys)`, `EMBEDDING_BLOCK` keys at a time: the whole array is never in memory."""
        for start in range(0, len(keys), EMBEDDING_BLOCK):
            yield self.load_embeddings(keys[start:start + EMBEDDING_BLOCK])

    def load_embeddings(self, keys: Sequence[str]) -> np.ndarray:
        """Vectors for `keys` in order (a key may repeat: two units can embed the same string);
        KeyError naming the first missing key."""
        position = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        out = np.empty((len(position), self.embedding_dim), dtype=np.float32)
        seen = 0
        for chunk in _chunks(list(position), 900):
            marks = ",".join("?" * len(chunk))
            for key, blob in self._conn.execute(
                f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk
            ):
                out[position[key]] = np.frombuffer(blob, dtype=np.float32)
                seen += 1
        if seen != len(position):
            missing = next(k for k in position if not self._has_embedding(k))
            raise KeyError(missing)
        return out if len(position) == len(keys) else out[[position[k] for k in keys]]

    def _has_embedding(self, key: str) -> bool:
        return self._conn.execute("SELECT 1 FROM embeddings WHERE key=?", (key,)).fetchone() is not None

    def prune_embeddings(self, keep: set[str]) -> int:
        """Deletes cached vectors not in `keep`; returns how many were removed."""
        stale = [k for k in self.embedded_keys() if k not in keep]
        with self.transaction() as conn:
            conn.executemany("DELETE FROM embeddings WHERE key=?", [(k,) for k in stale])
        return len(stale)

    # -- derived records -------------------------------------------------------------------------

    def replace_derived(self, derived: DerivedRecords, synonyms: Sequence[tuple[str, str, float]]) -> None:
        """Replaces entities, facts, provenance and synonymy in one transaction, and drops
        extractions of passages that no longer exist."""
        with self.transaction() as conn:
            for table in ("entities", "facts", "passage_entities", "passage_facts", "synonyms"):
                conn.execute(f"DELETE FROM {table}")
            _insert_derived(conn, derived, "INSERT")
            conn.executemany("INSERT INTO synonyms VALUES (?,?,?)", synonyms)
            conn.execute("DELETE FROM extractions WHERE passage_id NOT IN (SELECT id FROM passages)")

    def add_derived(
        self, derived: DerivedRecords, synonyms_gone: Sequence[tuple[str, str]],
        synonyms_new: Sequence[tuple[str, str, float]],
    ) -> None:
        """Adds the records of added passages (those already stored are kept) and updates the
        synonymy pairs, in one transaction: `replace_derived` for a graph that only grew."""
        with self.transaction() as conn:
            _insert_derived(conn, derived, "INSERT OR IGNORE")
            conn.executemany("DELETE FROM synonyms WHERE entity_a = ? AND entity_b = ?", synonyms_gone)
            conn.executemany("INSERT OR REPLACE INTO synonyms VALUES (?,?,?)", synonyms_new)

    def entities(self, ids: Iterable[str] | None = None) -> dict[str, str]:
        """Entity id -> name, of all entities or of those with `ids`."""
        return dict(self._select("SELECT id, name FROM entities", "id", ids))

    def facts(self, ids: Iterable[str] | None = None) -> dict[str, tuple[str, str, str]]:
        """Fact id -> (subject id, relation, object id), of all facts or of those with `ids`."""
        return {r[0]: (r[1], r[2], r[3]) for r in self._select("SELECT * FROM facts", "id", ids)}

    def passage_entities(self, passage_ids: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """(passage id, entity id) mentions, of all passages or of those with `passage_ids`."""
        return self._select("SELECT passage_id, entity_id FROM passage_entities", "passage_id", passage_ids)

    def passage_facts(self, passage_ids: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """(passage id, fact id) provenance, of all passages or of those with `passage_ids`."""
        return self._select("SELECT passage_id, fact_id FROM passage_facts", "passage_id", passage_ids)

    def _select(
        self, query: str, column: str, values: Iterable[str] | None, params: tuple[Any, ...] = (),
    ) -> list[tuple[Any, ...]]:
        """The rows of `query` (a SELECT without WHERE, with `params`), all or those whose
        `column` is in `values`."""
        if values is None:
            return list(self._conn.execute(query, params))
        rows: list[tuple[Any, ...]] = []
        for chunk in _chunks(list(dict.fromkeys(values)), 500):
            rows += self._conn.execute(f"{query} WHERE {column} IN ({','.join('?' * len(chunk))})", (*params, *chunk))
        return rows

    def synonyms(self) -> list[tuple[str, str, float]]:
        return list(self._conn.execute("SELECT entity_a, entity_b, similarity FROM synonyms"))

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables."""
        tables = ("documents", "passages", "entities", "facts", "passage_entities", "synonyms")
        counts = {t: self._conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
        extractions = self.extractions(self.settings.extractor)
        counts["passages_without_triples"] = counts["passages"] - sum(
            1 for x in extractions.values() if x.triples
        )
        counts["extraction_repairs"] = sum(x.repairs for x in extractions.values())
        return counts


def _encode_extraction(extraction: Extraction) -> str:
    return json.dumps({
        "entities": list(extraction.entities),
        "triples": [[t.subject, t.relation, t.object] for t in extraction.triples],
        "repairs": extraction.repairs,
    })


def _decode_extraction(payload: str) -> Extraction:
    data = json.loads(payload)
    return Extraction(
        entities=tuple(data["entities"]),
        triples=tuple(Triple(*t) for t in data["triples"]),
        repairs=int(data.get("repairs", 0)),
    )


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def connect_database(db_path: Path, *, read_only: bool) -> sqlite3.Connection:
    """A connection to an SQLite file of the index. Read-only ones never write: `mode=ro`, and where the
    directory is not writable (a read-only mount) `immutable=1`, which needs no -wal/-shm files."""
    if not read_only:
        target, uri = str(db_path), False
    else:
        target, uri = f"file:{quote(str(db_path.resolve()))}?mode=ro", True
        wal = db_path.with_name(db_path.name + "-wal")
        if not writable(db_path.parent) and not (wal.exists() and wal.stat().st_size):
            target += "&immutable=1"
    try:
        return sqlite3.connect(target, uri=uri, timeout=30, isolation_level=None)
    except sqlite3.Error as err:
        raise IndexFormatError(f"{db_path}: cannot open it ({err}); check its permissions") from None


def _missing(root: Path) -> IndexFormatError:
    if (root / LOCK_NAME).exists():  # a first run stopped before it created the database
        return IndexFormatError(_incomplete(root))
    return IndexFormatError(f"{root}: no hippo index here; run `hippo index CORPUS --index {root}` first")


def _incomplete(root: Path) -> str:
    return (f"{root}: incomplete hippo index (its first `hippo index` run stopped early); "
            f"run `hippo index CORPUS --index {root}` to resume it")


def _make_directory(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise HippoError(f"--index {root}: exists and is not a directory; choose another --index")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise HippoError(f"--index {root}: cannot create it ({err.strerror}); choose another --index") from None


@contextmanager
def _readable(root: Path) -> Iterator[None]:
    """Turns SQLite's "file is not a database" and the like into one line naming the file."""
    try:
        yield
    except sqlite3.DatabaseError as err:
        raise IndexFormatError(
            f"{root / DB_NAME}: not a readable hippo index ({err}); "
            "choose another --index (or rebuild this one into a new folder)"
        ) from None


def _check_empty(root: Path) -> None:
    """A new index goes only into a folder holding nothing but hippo's own files (another
    first run may be creating them right now: the lock decides which run goes on)."""
    if any(p.name not in _OWN_FILES for p in root.iterdir()):
        raise IndexFormatError(f"{root}: not empty and not a hippo index; choose another --index")


def writable(root: Path) -> bool:
    """Whether this process may create files in index directory `root` (False on a read-only mount)."""
    return os.access(root, os.W_OK)


def _check_writable(root: Path) -> None:
    if not writable(root) or (
        (root / DB_NAME).exists() and not os.access(root / DB_NAME, os.W_OK)
    ):
        raise HippoError(f"{root}: index directory is read-only; fix its permissions or choose another --index")


def _take_lock(root: Path) -> IO[str]:
    """The exclusive writer lock. A holder seen within `LOCK_GRACE_SECONDS` is a `stats`
    probe, which lets go at once; after that another writer holds it."""
    handle = open(root / LOCK_NAME, "a")  # noqa: SIM115 - held open for the store's lifetime
    deadline = time.monotonic() + LOCK_GRACE_SECONDS
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                raise HippoError(
                    f"{root}: another hippo process is writing this index; wait for it to finish"
                ) from None
            time.sleep(0.02)


def writer_active(root: Path) -> bool:
    """Whether a `hippo index` run holds the index's writer lock now (nothing is written)."""
    try:
        handle = open(Path(root) / LOCK_NAME)  # noqa: SIM115 - closed below
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def _insert_derived(conn: sqlite3.Connection, derived: DerivedRecords, insert: str) -> None:
    """Writes `derived`'s entities, facts and provenance with `insert` ("INSERT", or "INSERT OR
    IGNORE" to keep rows already there)."""
    conn.executemany(f"{insert} INTO entities(id, name) VALUES (?,?)", derived.entities.items())
    conn.executemany(f"{insert} INTO facts(id, subject_id, relation, object_id) VALUES (?,?,?,?)",
                     [(fid, *spo) for fid, spo in derived.facts.items()])
    conn.executemany(f"{insert} INTO passage_entities VALUES (?,?)", derived.passage_entities)
    conn.executemany(f"{insert} INTO passage_facts VALUES (?,?)", derived.passage_facts)
