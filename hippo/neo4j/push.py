"""Mirror an index's graph into Neo4j: diff what the database holds against the index, then
write only the difference in batched `UNWIND ... MERGE` transactions.

The database mirrors one index. Graph model (keys stay stable across re-indexing):

* `(:Document {id: absolute path, title})-[:CONTAINS]->(:Passage {id: content hash, title, text})`
* `(:Passage)-[:MENTIONS {weight}]->(:Entity {id: hash of name, name})` (weight: `--title-edge-weight`
  for the passage's own title entity, else 1, as in the PPR graph)
* `(:Entity)-[:FACT {id, relation, passages: [passage ids stating it]}]->(:Entity)`
* `(:Entity)-[:SYNONYM {similarity}]->(:Entity)` (one direction; read it undirected)
* `(:Memory {id, granularity, text, targets})-[:ASSOCIATED {weight}]->(:Memory)`: MemGAS
  memory units and their GMM association edges, from a new unit to an earlier one

Each batch commits on its own, and the diff is taken against the database itself, so an
interrupted push is completed by the next one and a repeated push writes nothing. One kind (label
or relationship type) is read, diffed and written at a time, and what the database holds is
streamed rather than collected, so memory follows the largest kind, not the whole graph (at 1M
passages, ~5M mentions).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import neo4j

from hippo.errors import HippoError
from hippo.extract.base import normalize_entity
from hippo.graph import entity_id
from hippo.memory.store import memory_graph
from hippo.neo4j.connection import Neo4jConfig, open_session
from hippo.progress import progress_bar
from hippo.store import IndexStore

BATCH_ROWS = 10_000
NODE_LABELS = ("Document", "Passage", "Entity", "Query", "Memory")

Key = str | tuple[str, str, str | None]
Props = dict[str, Any]


@dataclass(frozen=True)
class NodeKind:
    """Nodes of one label, keyed by their `id` property. Rows are [id, properties]."""

    label: str

    @property
    def name(self) -> str:
        return self.label

    def existing_query(self) -> str:
        return f"MATCH (n:{self.label}) RETURN n.id, properties(n)"

    def key_parts(self, key: Key) -> list[str | None]:
        return [str(key)]

    def key(self, row: Sequence[Any]) -> Key:
        return str(row[0])

    def write_query(self) -> str:
        return f"UNWIND $rows AS row MERGE (n:{self.label} {{id: row[0]}}) SET n += row[1]"

    def delete_query(self) -> str:
        return f"UNWIND $rows AS row MATCH (n:{self.label} {{id: row[0]}}) DETACH DELETE n"


@dataclass(frozen=True)
class RelKind:
    """Relationships of one type, keyed by (start id, end id, own `id` when `keyed`).
    Rows are [start id, end id, own id or null, properties]."""

    type: str
    start: str
    end: str
    keyed: bool = False

    @property
    def name(self) -> str:
        return self.type

    def existing_query(self) -> str:
        return f"MATCH (a:{self.start})-[r:{self.type}]->(b:{self.end}) RETURN a.id, b.id, r.id, properties(r)"

    def key_parts(self, key: Key) -> list[str | None]:
        return list(key)

    def key(self, row: Sequence[Any]) -> Key:
        return (row[0], row[1], row[2])

    def _match(self) -> str:
        return f"UNWIND $rows AS row MATCH (a:{self.start} {{id: row[0]}}), (b:{self.end} {{id: row[1]}}) "

    def write_query(self) -> str:
        own = " {id: row[2]}" if self.keyed else ""
        return f"{self._match()}MERGE (a)-[r:{self.type}{own}]->(b) SET r = row[3]"

    def delete_query(self) -> str:
        return (f"UNWIND $rows AS row MATCH (a:{self.start} {{id: row[0]}})-[r:{self.type}]->"
                f"(b:{self.end} {{id: row[1]}}) WHERE row[2] IS NULL OR r.id = row[2] DELETE r")


Kind = NodeKind | RelKind


@dataclass
class KindCounts:
    """What a push did to one node label or relationship type."""

    total: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0


@dataclass
class PushReport:
    """Counts per label/type and the time taken."""

    uri: str
    counts: dict[str, KindCounts] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def elements(self) -> int:
        """Nodes plus relationships the index has."""
        return sum(c.total for c in self.counts.values())

    @property
    def written(self) -> int:
        """Nodes and relationships created, updated or deleted."""
        return sum(c.created + c.updated + c.deleted for c in self.counts.values())

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [f"pushed to {self.uri} in {self.seconds:.1f}s: "
                 f"{self.written} written, {self.elements - self.written} unchanged"]
        width = max(len(k) for k in self.counts)
        lines += [f"  {kind:<{width}}  {c.total:>8} in index  +{c.created} ~{c.updated} -{c.deleted}"
                  for kind, c in self.counts.items()]
        return "\n".join(lines)


NODE_KINDS = (NodeKind("Document"), NodeKind("Passage"), NodeKind("Entity"), NodeKind("Memory"))
REL_KINDS = (
    RelKind("CONTAINS", "Document", "Passage"),
    RelKind("MENTIONS", "Passage", "Entity"),
    RelKind("FACT", "Entity", "Entity", keyed=True),
    RelKind("SYNONYM", "Entity", "Entity"),
    RelKind("ASSOCIATED", "Memory", "Memory"),
)


def index_graph(root: Path) -> dict[str, dict[Key, Props]]:
    """What the database should hold for the index at `root`: kind name -> key -> properties."""
    return dict(kind_rows(root))


def kind_rows(root: Path) -> Iterator[tuple[str, dict[Key, Props]]]:
    """`index_graph`, one kind at a time in push order (`NODE_KINDS`, then `REL_KINDS`), so that
    a caller holds one kind's rows at once."""
    with IndexStore.open(root) as store:
        if store.dirty:
            raise HippoError(f"--index {root}: indexing did not finish; re-run `hippo index` before pushing")
        memory = memory_graph(root)
        yield "Document", {d.id: {"id": d.id, "title": d.title} for d in store.documents()}
        yield "Passage", {p.id: {"id": p.id, "title": p.title, "text": p.text} for p in store.passages()}
        yield "Entity", {eid: {"id": eid, "name": name} for eid, name in store.entities().items()}
        yield "Memory", memory["Memory"]
        yield "CONTAINS", {(d, p, None): {} for d, p in store.passage_documents()}
        yield "MENTIONS", _mentions(store)
        yield "FACT", _facts(store)
        yield "SYNONYM", {(a, b, None): {"similarity": float(sim)} for a, b, sim in store.synonyms()}
        yield "ASSOCIATED", memory["ASSOCIATED"]


def _facts(store: IndexStore) -> dict[Key, Props]:
    """Entity -> entity facts with their relation and the passages that state them."""
    fact_passages: dict[str, list[str]] = {}
    for pid, fid in sorted(store.passage_facts()):
        fact_passages.setdefault(fid, []).append(pid)
    return {(s, o, fid): {"id": fid, "relation": r, "passages": fact_passages.get(fid, [])}
            for fid, (s, r, o) in store.facts().items()}


def _mentions(store: IndexStore) -> dict[Key, Props]:
    """Passage -> entity mentions, weighted as in hippo's graph: a passage's own title entity
    `title_edge_weight`, any other 1."""
    title_weight = store.settings.title_edge_weight
    titles = {p.id: entity_id(normalize_entity(p.title)) for p in store.passages() if p.title}
    return {(p, e, None): {"weight": title_weight if titles.get(p) == e else 1.0} for p, e in store.passage_entities()}


def push_index(
    root: Path, config: Neo4jConfig, *, quiet: bool = False, batch_rows: int = BATCH_ROWS,
    after_batch: Callable[[], None] | None = None,
) -> PushReport:
    """Makes the Neo4j database hold exactly the graph of the index at `root`.

    Creates uniqueness constraints, then, one kind at a time (nodes before the relationships
    that need them), writes new and changed nodes and relationships; last deletes those the
    index no longer has (stale relationships before nodes). `after_batch` runs after each
    committed batch.
    """
    kinds: dict[str, Kind] = {kind.name: kind for kind in (*NODE_KINDS, *REL_KINDS)}
    report = PushReport(config.uri)
    started = time.perf_counter()
    stale: list[tuple[Kind, list[Key]]] = []
    with open_session(config) as session:
        ensure_constraints(session)

        def run(query: str, rows: Iterable[list[Any]], total: int, what: str) -> None:
            if not total:
                return
            with progress_bar(total, f"neo4j {what}", "item", quiet) as bar:
                for batch in _batches(rows, batch_rows):
                    session.execute_write(lambda tx, b=batch: tx.run(query, rows=b).consume())
                    bar.update(len(batch))
                    if after_batch:
                        after_batch()

        for name, desired in kind_rows(root):
            kind = kinds[name]
            upserts, deletes, report.counts[name] = _diff(session, kind, desired)
            del desired  # its rows to write stay referenced by `upserts`; the rest can go
            run(kind.write_query(), ([*kind.key_parts(k), p] for k, p in upserts), len(upserts), f"write {name}")
            stale.append((kind, deletes))
        for kind, deletes in reversed(stale):
            run(kind.delete_query(), (kind.key_parts(k) for k in deletes), len(deletes), f"delete {kind.name}")
    report.seconds = time.perf_counter() - started
    return report


def _batches(rows: Iterable[list[Any]], size: int) -> Iterator[list[list[Any]]]:
    """`rows` in lists of `size` (the last shorter)."""
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def ensure_constraints(session: neo4j.Session) -> None:
    """A uniqueness constraint (and so an index) on `id` for every node label hippo writes."""
    for label in NODE_LABELS:
        session.run(
            f"CREATE CONSTRAINT hippo_{label.lower()}_id IF NOT EXISTS "
            f"FOR (n:{label}) REQUIRE n.id IS UNIQUE"
        ).consume()


def _diff(
    session: neo4j.Session, kind: Kind, desired: dict[Key, Props]
) -> tuple[list[tuple[Key, Props]], list[Key], KindCounts]:
    """(rows to write, keys to delete, counts) for one kind."""
    records = session.run(kind.existing_query())  # streamed, not collected into one row
    existing = {kind.key(row): row[-1] for row in map(tuple, records)}  # (a Record reads [-1] as None)
    upserts = [(k, p) for k, p in desired.items() if existing.get(k) != p]
    deletes = [k for k in existing if k not in desired]
    created = sum(1 for k, _ in upserts if k not in existing)
    counts = KindCounts(len(desired), created, len(upserts) - created, len(deletes))
    return upserts, deletes, counts


def graph_counts(config: Neo4jConfig) -> dict[str, int]:
    """How many nodes of each hippo label and relationships of each type the database holds."""
    with open_session(config) as session:
        return {kind.name: _count(session, kind) for kind in (*NODE_KINDS, *REL_KINDS)}


def _count(session: neo4j.Session, kind: Kind) -> int:
    pattern = f"(:{kind.label})" if isinstance(kind, NodeKind) else f"(:{kind.start})-[:{kind.type}]->(:{kind.end})"
    return int(session.run(f"MATCH {pattern} RETURN count(*) AS n").single(strict=True)["n"])

