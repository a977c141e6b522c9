"""The graph snapshot: everything a query reads, passage texts included, written atomically.

A snapshot is a folder `snapshot-<generation>/` of .npy files, one JSON file, the
Aho-Corasick automaton over its entity names (`hippo.names`; read whole, as pyahocorasick
cannot memory-map it: 30 ms for 41k names) and, for large unit sets, their ANN indexes
(`hippo.ann`, memory-mapped). It is written under a temporary name, fsynced, renamed, and only then
named in `CURRENT` (itself replaced atomically), so a reader never sees a half-written snapshot. It carries the titles
and texts of its passages, so a query sees one complete version of the index while the
records are being changed, or after a run that changed them was killed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

import kernels
from hippo.ann import UnitIndex, build_ann, extend_ann, load_ann, save_ann
from hippo.corpus import Passage
from hippo.errors import HippoError, IndexFormatError
from hippo.names import NAMES_FILE, build_names, load_names, save_names

if TYPE_CHECKING:
    import igraph as ig

CURRENT_FILE = "CURRENT"
_GENERATION = re.compile(r"snapshot-[0-9]{1,30}")
_LOAD_ATTEMPTS = 3  # a writer may replace the snapshot while a reader loads it: read the new one
_ARRAYS = ("passage_vectors", "entity_vectors", "fact_vectors", "fact_subject", "fact_object",
           "edge_src", "edge_dst", "edge_weight", "edge_kind", "passage_offsets", "passage_blob")


@dataclass
class GraphSnapshot:
    """Everything retrieval needs besides passage texts. Nodes are numbered passages first
    (0..P-1), then entities (P..P+E-1)."""

    passage_ids: list[str]
    entity_ids: list[str]
    entity_names: list[str]
    fact_ids: list[str]
    fact_relations: list[str]
    fact_subject: np.ndarray  # entity index (0-based among entities) of each fact's subject
    fact_object: np.ndarray
    passage_vectors: np.ndarray
    entity_vectors: np.ndarray
    fact_vectors: np.ndarray
    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_weight: np.ndarray
    edge_kind: np.ndarray
    passage_offsets: np.ndarray  # passage i is passage_blob[offsets[i]:offsets[i + 1]]
    passage_blob: np.ndarray  # UTF-8 JSON [title, text] of each passage, back to back
    info: dict[str, object]
    names: Any = field(default=None, repr=False, compare=False)  # automaton over entity_names (hippo.names)
    ann: dict[str, UnitIndex] = field(default_factory=dict, repr=False, compare=False)  # by unit array (hippo.ann)
    derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)  # in-memory caches, never saved

    def __post_init__(self) -> None:
        if self.names is None:
            self.names = build_names(self.entity_names)

    @property
    def node_count(self) -> int:
        return len(self.passage_ids) + len(self.entity_ids)

    def fact_text(self, index: int) -> str:
        """"subject relation object" of fact `index`."""
        return (f"{self.entity_names[self.fact_subject[index]]} {self.fact_relations[index]} "
                f"{self.entity_names[self.fact_object[index]]}")

    @cached_property
    def adjacency(self) -> sp.csr_matrix:
        """Symmetric weighted adjacency (node x node) of the undirected graph."""
        n = self.node_count
        rows = np.concatenate([self.edge_src, self.edge_dst])
        cols = np.concatenate([self.edge_dst, self.edge_src])
        data = np.concatenate([self.edge_weight, self.edge_weight])
        return sp.csr_matrix((data, (rows, cols)), shape=(n, n))

    @cached_property
    def ppr_graph(self) -> kernels.Graph:
        """The adjacency prepared once for every query's PPR (validated, walk matrices cached)."""
        return kernels.prepare(self.adjacency)

    def passage(self, index: int) -> Passage:
        """Passage `index` (its title and text as this snapshot was written)."""
        start, end = int(self.passage_offsets[index]), int(self.passage_offsets[index + 1])
        title, text = json.loads(bytes(self.passage_blob[start:end]).decode("utf-8"))
        return Passage(self.passage_ids[index], title, text)

    @cached_property
    def igraph(self) -> ig.Graph:
        """The graph as an undirected, weighted igraph Graph (igraph is imported here only)."""
        import igraph as ig

        graph = ig.Graph(n=self.node_count, edges=np.column_stack([self.edge_src, self.edge_dst]).tolist())
        graph.es["weight"] = self.edge_weight.tolist()
        return graph

    @property
    def node_kinds(self) -> dict[str, int]:
        """Node count per kind, in node order: "passage" nodes first, then "entity" nodes
        (a kind added later is numbered after these)."""
        return {"passage": len(self.passage_ids), "entity": len(self.entity_ids)}

    def node_offset(self, kind: str) -> int:
        """The number of the first node of `kind`; HippoError when the index has no such kind."""
        offset = 0
        for name, count in self.node_kinds.items():
            if name == kind:
                return offset
            offset += count
        raise HippoError(f"this index has no {kind!r} nodes (it has: {', '.join(self.node_kinds)})")

    def node_label(self, node: int) -> tuple[str, str]:
        """(kind, label) of node `node`: a passage's id, an entity's name."""
        passages = len(self.passage_ids)
        if node < passages:
            return "passage", self.passage_ids[node]
        return "entity", self.entity_names[node - passages]

    @cached_property
    def mention_counts(self) -> np.ndarray:
        """How many passages mention each node (its mention edges; 0 for passage nodes)."""
        return np.bincount(self.edge_dst[self.edge_kind == 1], minlength=self.node_count)

    @cached_property
    def passage_index(self) -> dict[str, int]:
        """Passage id -> passage index."""
        return {pid: i for i, pid in enumerate(self.passage_ids)}

    @cached_property
    def entity_index(self) -> dict[str, int]:
        """Entity name -> entity index."""
        return {name: i for i, name in enumerate(self.entity_names)}


def pack_passages(passages: Sequence[Passage]) -> dict[str, Any]:
    """The `passage_ids`, `passage_offsets` and `passage_blob` fields of a snapshot."""
    records = [json.dumps([p.title, p.text], ensure_ascii=False).encode("utf-8") for p in passages]
    offsets = np.zeros(len(records) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in records], out=offsets[1:])
    return {
        "passage_ids": [p.id for p in passages],
        "passage_offsets": offsets,
        "passage_blob": np.frombuffer(b"".join(records), dtype=np.uint8),
    }


@dataclass(frozen=True)
class UnitGrowth:
    """How a unit set (passages, entities or facts, sorted by id) grew from one snapshot to the
    next, nothing removed: `kept[r]` is the row now of the unit at row r before, `added` the rows
    of the units that are new."""

    kept: np.ndarray
    added: np.ndarray


def unit_growth(before: Sequence[str], after: Sequence[str]) -> UnitGrowth | None:
    """How unit ids `before` became `after`; None when a unit of `before` is gone."""
    row = {unit: i for i, unit in enumerate(after)}
    kept = np.fromiter((row.get(unit, -1) for unit in before), dtype=np.int64, count=len(before))
    if (kept < 0).any():
        return None
    new = np.ones(len(after), dtype=bool)
    new[kept] = False
    return UnitGrowth(kept, np.flatnonzero(new))


def unit_ann(
    vectors: np.ndarray, threshold: int, previous: UnitIndex | None = None, growth: UnitGrowth | None = None,
) -> UnitIndex | None:
    """The ANN index a snapshot keeps over unit array `vectors`: None below `threshold` rows; the
    previous snapshot's index extended with the added units when the set only grew (`growth`),
    by no more than it had (past that, a new build keeps the 8-bit ranges representative at
    a cost that stays linear in the units added overall); else a new build."""
    if vectors.shape[0] < threshold:
        return None
    if previous is not None and growth is not None and growth.added.size <= previous.size:
        return extend_ann(previous, growth.kept, growth.added, vectors)
    return build_ann(vectors)


def save_snapshot(root: Path, snapshot: GraphSnapshot) -> Path:
    """Writes `snapshot`, with its ANN indexes (`snapshot.ann`), as the index's new current
    snapshot and removes older ones."""
    generation = f"snapshot-{time.time_ns()}"
    staging = root / f".{generation}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name in _ARRAYS:
        with open(staging / f"{name}.npy", "wb") as handle:
            np.save(handle, getattr(snapshot, name))
            _fsync(handle)
    records = {
        "passage_ids": snapshot.passage_ids, "entity_ids": snapshot.entity_ids,
        "entity_names": snapshot.entity_names, "fact_ids": snapshot.fact_ids,
        "fact_relations": snapshot.fact_relations, "info": snapshot.info,
    }
    with open(staging / "records.json", "w", encoding="utf-8") as handle:
        json.dump(records, handle, ensure_ascii=False)
        _fsync(handle)
    with open(staging / NAMES_FILE, "wb") as handle:
        save_names(snapshot.names, handle)
        _fsync(handle)
    for path in save_ann(staging, snapshot.ann):
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    final = root / generation
    os.replace(staging, final)
    _write_atomic(root / CURRENT_FILE, generation)
    for old in root.glob("snapshot-*"):
        if old.name != generation:
            shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".snapshot-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    return final


def load_snapshot(root: Path) -> GraphSnapshot:
    """The current snapshot of the index at `root` (arrays memory-mapped, so a reader keeps
    its version even after a writer replaces and deletes it)."""
    for _ in range(_LOAD_ATTEMPTS):
        generation = current_generation(root)
        if generation is None:
            raise IndexFormatError(
                f"{root}: incomplete index, no graph yet (indexing has not finished); "
                f"run `hippo index CORPUS --index {root}` to finish it"
            )
        try:
            return _read_snapshot(root / generation)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:  # RuntimeError: faiss
            if current_generation(root) == generation:  # not replaced meanwhile: really unreadable
                raise IndexFormatError(
                    f"{root / generation}: graph snapshot unreadable ({err}); "
                    f"re-run `hippo index CORPUS --index {root}`"
                ) from None
    raise IndexFormatError(f"{root}: the graph is being rewritten too often to load; try again")


def current_generation(root: Path) -> str | None:
    """The snapshot folder `CURRENT` names (None before the first one), checked to be a
    `snapshot-<digits>` name before it is joined into a path."""
    try:
        with open(root / CURRENT_FILE, "rb") as handle:
            raw = handle.read(64)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise IndexFormatError(f"{root / CURRENT_FILE}: cannot read it ({err.strerror})") from None
    name = raw.decode("ascii", errors="replace").strip()
    if not _GENERATION.fullmatch(name):
        raise IndexFormatError(
            f"{root / CURRENT_FILE}: corrupt snapshot pointer {name[:40]!r} (expected snapshot-<digits>); "
            f"re-run `hippo index CORPUS --index {root}` to rewrite it"
        )
    return name


def snapshot_exists(root: Path) -> bool:
    """Whether `CURRENT` names a complete snapshot of this format (False when it is corrupt, or
    written by an older hippo: the indexer then rebuilds it)."""
    try:
        generation = current_generation(root)
    except IndexFormatError:
        return False
    names = ["records.json", NAMES_FILE, *(f"{name}.npy" for name in _ARRAYS)]
    return generation is not None and all((root / generation / name).is_file() for name in names)


def _read_snapshot(folder: Path) -> GraphSnapshot:
    with open(folder / "records.json", encoding="utf-8") as handle:
        records = json.load(handle)
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}
    return GraphSnapshot(**records, **arrays, names=load_names(folder, records["entity_names"]), ann=load_ann(folder))


def _fsync(handle: object) -> None:
    handle.flush()  # type: ignore[attr-defined]
    os.fsync(handle.fileno())  # type: ignore[attr-defined]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        _fsync(handle)
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
