"""The graph snapshot: everything a query reads, passage texts included, written atomically.

A snapshot is a folder `snapshot-<generation>/` of column files (`hippo.columns`: the passages',
entities' and facts' ids, vectors and records, the fact and mention edges, the synonymy pairs),
a manifest (`snapshot.json`: each column's shape, the info), the Aho-Corasick automata over its
entity names in segments of rows (`hippo.names`; read whole, as pyahocorasick cannot
memory-map them: 30 ms for 41k names) and, for large unit sets, their ANN indexes (`hippo.ann`,
memory-mapped). Units keep their rows from one snapshot to the next: a snapshot that only adds
units (`SnapshotParts.base`) appends their rows to the previous snapshot's column files, shared
by hard links, links the name segments it keeps, and writes whole only the synonymy pairs, its
new name segment and the ANN indexes; on disk an edge names an entity by -1 - its row, so
appended passages renumber no edge. It is written under a temporary name, fsynced, renamed, and only then
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

import hippo_kernels as kernels
from hippo.ann import UnitIndex, build_ann, extend_ann, load_ann, save_ann
from hippo.columns import STRINGS, Column, ColumnData, read_column, sync, write_column
from hippo.corpus import Passage
from hippo.errors import HippoError, IndexFormatError
from hippo.graph import SYNONYM_EDGE, Edges, merge_fact_edges
from hippo.names import NameSegment, load_names, name_segments, names_file, save_names

if TYPE_CHECKING:
    import igraph as ig

CURRENT_FILE = "CURRENT"
_GENERATION = re.compile(r"snapshot-[0-9]{1,30}")
_LOAD_ATTEMPTS = 3  # a writer may replace the snapshot while a reader loads it: read the new one
MANIFEST = "snapshot.json"
FORMAT = 2  # 1: whole .npy arrays and records.json (rebuilt by the indexer: `snapshot_exists`)
COLUMNS = {  # column -> dtype; edges: fact and mention edges, a node an entity by -1 - its row
    "passage_ids": STRINGS, "passage_vectors": "float32", "passage_offsets": "int64", "passage_blob": "uint8",
    "entity_ids": STRINGS, "entity_names": STRINGS, "entity_vectors": "float32",
    "fact_ids": STRINGS, "fact_relations": STRINGS, "fact_subject": "int64", "fact_object": "int64",
    "fact_vectors": "float32",
    "edge_src": "int64", "edge_dst": "int64", "edge_weight": "float64", "edge_kind": "int8",
    "synonym_first": "int64", "synonym_second": "int64", "synonym_weight": "float64",
}
REPLACED = ("synonym_first", "synonym_second", "synonym_weight")  # written whole by every snapshot


@dataclass
class GraphSnapshot:
    """Everything retrieval needs besides passage texts. Nodes are numbered passages first
    (0..P-1), then entities (P..P+E-1)."""

    passage_ids: Sequence[str]
    entity_ids: Sequence[str]
    entity_names: Sequence[str]
    fact_ids: Sequence[str]
    fact_relations: Sequence[str]
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
    names: list[NameSegment] = field(default_factory=list, repr=False, compare=False)  # automata (hippo.names)
    ann: dict[str, UnitIndex] = field(default_factory=dict, repr=False, compare=False)  # by unit array (hippo.ann)
    derived: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)  # in-memory caches, never saved
    folder: Path | None = field(default=None, repr=False, compare=False)  # where it was read from
    columns: dict[str, Column] = field(default_factory=dict, repr=False, compare=False)  # as read

    def __post_init__(self) -> None:
        if not self.names:
            self.names = name_segments(self.entity_names)

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

    def parts(self) -> SnapshotParts:
        """This snapshot as columns to write whole."""
        passages, kind = len(self.passage_ids), np.asarray(self.edge_kind)
        src, dst, weight = np.asarray(self.edge_src), np.asarray(self.edge_dst), np.asarray(self.edge_weight)
        synonym = kind == SYNONYM_EDGE
        edges = (src[~synonym], dst[~synonym], weight[~synonym], kind[~synonym])
        return SnapshotParts(
            {**{name: getattr(self, name) for name in COLUMNS if name in self.__dataclass_fields__},
             **unit_edges(edges, passages), "synonym_first": src[synonym] - passages,
             "synonym_second": dst[synonym] - passages, "synonym_weight": weight[synonym]},
            self.info, self.names, self.ann)


@dataclass
class SnapshotParts:
    """A snapshot to write: each column's rows (`COLUMNS`; edges by `unit_edges`), after those of
    `base`, a snapshot it only adds units to, where it has one (but `REPLACED`'s, always whole);
    its info, name automata and ANN indexes."""

    columns: dict[str, ColumnData]
    info: dict[str, object]
    names: list[NameSegment]
    ann: dict[str, UnitIndex]
    base: GraphSnapshot | None = None


def _flip(nodes: np.ndarray, passages: int) -> np.ndarray:
    """Node numbers <-> unit numbers: a passage keeps its row, entity row e is node passages + e
    and unit number -1 - e (the same map both ways)."""
    nodes = np.asarray(nodes, dtype=np.int64)
    return np.where((nodes < passages) & (nodes >= 0), nodes, passages - 1 - nodes)


def unit_edges(edges: Edges, passages: int) -> dict[str, np.ndarray]:
    """The edge columns of `edges` (nodes numbered `passages` passages first): an entity as -1 -
    its row, so that passages added later renumber no edge."""
    src, dst, weight, kind = edges
    return {"edge_src": _flip(src, passages), "edge_dst": _flip(dst, passages),
            "edge_weight": np.asarray(weight, dtype=np.float64), "edge_kind": np.asarray(kind, dtype=np.int8)}


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


def unit_ann(
    previous: np.ndarray | None, added: np.ndarray, threshold: int, index: UnitIndex | None = None,
) -> UnitIndex | None:
    """The ANN index a snapshot keeps over a unit array, the rows `previous` (None: none) then
    `added`: None below `threshold` rows; `index`, the previous snapshot's over `previous`,
    extended with `added` (`extend_ann`: a new segment, merged with the last ones while they are
    at most twice its size, so each segment's 8-bit ranges are trained on most of its units);
    else a new build."""
    before = 0 if previous is None else previous.shape[0]
    if before + added.shape[0] < threshold:
        return None
    if index is not None and previous is not None:
        return extend_ann(index, previous, added)
    return build_ann(added if previous is None else np.concatenate([previous, added]))


def scratch_folder(root: Path) -> Path:
    """A new folder in index `root` for files a build writes before its snapshot (its vectors,
    which the snapshot links): removed with the stale staging folders when a snapshot is saved."""
    folder = root / f".snapshot-{time.time_ns()}-build.tmp"
    folder.mkdir()
    return folder


def save_snapshot(root: Path, snapshot: GraphSnapshot | SnapshotParts) -> Path:
    """Writes `snapshot`, with its ANN indexes, as the index's new current snapshot (sharing the
    column files of its base, if it has one) and removes older ones."""
    parts = snapshot.parts() if isinstance(snapshot, GraphSnapshot) else snapshot
    generation = f"snapshot-{time.time_ns()}"
    staging = root / f".{generation}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    base = parts.base
    folder = None if base is None else base.folder  # the files it shares
    if base is not None and folder is None:
        raise ValueError("a snapshot grown from another needs that one as read from its folder")
    columns = {}
    for name, dtype in COLUMNS.items():
        shared = None if base is None or folder is None or name in REPLACED else (folder, base.columns[name])
        columns[name] = write_column(staging, name, parts.columns[name], dtype, shared).to_json()
    save_names(staging, parts.names, folder)
    save_ann(staging, parts.ann, folder)
    manifest = {"format": FORMAT, "columns": columns, "info": parts.info,
                "names": [[segment.start, segment.end] for segment in parts.names],
                "repeated_fact_edges": base is not None}  # a pair's fact edges may repeat: load merges them
    with open(staging / MANIFEST, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, ensure_ascii=False)
        sync(handle)
    final = root / generation
    os.replace(staging, final)
    _write_atomic(root / CURRENT_FILE, generation)
    for old in root.glob("snapshot-*"):
        if old.name != generation:
            shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".snapshot-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    return final


def kept_array(folder: Path | None, name: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """`compute()`, kept beside the snapshot read from `folder` (file `derived-<name>.npy`, read
    back memory-mapped) so that it is computed once per snapshot rather than once per process;
    a snapshot in memory (`folder` None) or a folder this process cannot write only skips keeping
    it, and an unreadable file is computed again. `name` must say everything the array depends on
    beyond the snapshot."""
    path = None if folder is None else folder / f"derived-{name}.npy"
    if path is not None and path.exists():
        try:
            return np.load(path, mmap_mode="r")
        except (OSError, ValueError):
            pass
    value = compute()
    if path is not None:
        staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(staging, "wb") as handle:
                np.save(handle, value)
                sync(handle)
            os.replace(staging, path)
        except OSError:
            staging.unlink(missing_ok=True)
    return value


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
        if generation is None:
            return False
        manifest = _manifest(root / generation)
    except (IndexFormatError, OSError, ValueError):
        return False
    try:
        files = [*COLUMNS, *(names_file(start, end) for start, end in manifest["names"])]
    except (KeyError, TypeError, ValueError):
        return False
    return manifest.get("format") == FORMAT and all((root / generation / name).is_file() for name in files)


def _manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the snapshot in `folder`; ValueError for one an older hippo wrote."""
    if not (folder / MANIFEST).is_file() and (folder / "records.json").is_file():
        raise ValueError("written by an older hippo, in a format this one does not read")
    with open(folder / MANIFEST, encoding="utf-8") as handle:
        manifest = json.load(handle)
    if not isinstance(manifest, dict):
        raise ValueError(f"{MANIFEST} is not an object")
    return manifest


def _read_snapshot(folder: Path) -> GraphSnapshot:
    manifest = _manifest(folder)
    if manifest.get("format") != FORMAT:
        raise ValueError(f"snapshot format {manifest.get('format')!r}, this hippo reads {FORMAT}")
    columns = {name: Column(**manifest["columns"][name]) for name in COLUMNS}
    data = {name: read_column(folder, name, column) for name, column in columns.items()}
    passages = columns["passage_ids"].rows
    edges: Edges = (_flip(data.pop("edge_src"), passages), _flip(data.pop("edge_dst"), passages),
                    np.asarray(data.pop("edge_weight")), np.asarray(data.pop("edge_kind")))
    if manifest["repeated_fact_edges"]:
        edges = merge_fact_edges(edges)
    first, second = np.asarray(data.pop("synonym_first")), np.asarray(data.pop("synonym_second"))
    synonyms = (first + passages, second + passages, np.asarray(data.pop("synonym_weight")),
                np.full(first.size, SYNONYM_EDGE, dtype=np.int8))
    src, dst, weight, kind = (np.concatenate(pair) for pair in zip(edges, synonyms, strict=True))
    return GraphSnapshot(**data, edge_src=src, edge_dst=dst, edge_weight=weight, edge_kind=kind,
                         info=manifest["info"], names=load_names(folder, manifest["names"]),
                         ann=load_ann(folder), folder=folder, columns=columns)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        sync(handle)
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
