"""Approximate nearest-neighbour search over a snapshot's vectors (faiss HNSW), for large indexes.

Exact search reads every vector of a kind for each query: a few milliseconds at 100k vectors,
seconds at millions. A snapshot whose passages, entities or facts number at least the index's
`ann_threshold` (`IndexSettings`) gets an HNSW graph over those vectors (8-bit scalar-quantized,
inner product) beside its arrays, in segments of rows; its codes are memory-mapped when read. A
snapshot that only adds units to the previous one keeps the previous snapshot's segments (their
files linked, not copied) and indexes the added units in a new segment, merged with the last
ones while they are at most twice its size (`extend_ann`: each unit is indexed again a
logarithmic number of times, and a search asks a logarithmic number of segments); as a
snapshot keeps its units' rows and appends added units after them (`hippo.snapshot`), a
segment's labels plus its first row are its units' rows. A query asks it for its
`CANDIDATES` nearest units, scores them exactly against the snapshot's float32 vectors, and
gives every other unit the query's mean cosine over all units (capped at the lowest
candidate's): rankings keep the exact order of the units found, units beyond the candidates tie
below them, and a min-max rescaling (the `ppr` stage's passage prior) keeps its range and, on
average, its mass, as the farthest unit (as the ANN finds it) is scored too.

faiss rather than usearch: usearch 2.26's extension crashes onnxruntime when imported before it.
faiss is imported only where an ANN index is built or read (0.2 s), so small indexes never pay it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hippo.columns import link_file, segments_kept

CANDIDATES = 256  # nearest units an ANN query returns, rescored exactly (>= any stage's default depth)
UNIT_ARRAYS = ("passage_vectors", "entity_vectors", "fact_vectors")
_NEIGHBOURS = 16  # HNSW links per node (M)
_EXPANSION_ADD = 128  # efConstruction
_EXPANSION_SEARCH = 2 * CANDIDATES  # efSearch


@dataclass(frozen=True)
class Segment:
    """An HNSW index over the array rows `start` to `start` + its size - 1 (labels from 0)."""

    hnsw: Any
    start: int
    file: Path | None = None  # the file it was read from (codes memory-mapped): saving it links that

    @property
    def end(self) -> int:
        """The row after its last."""
        return self.start + int(self.hnsw.ntotal)

    def search(self, queries: np.ndarray, count: int, beam: int) -> tuple[np.ndarray, np.ndarray]:
        """(inner products, rows) of each query's `count` nearest units (-inf, -1 where fewer)."""
        self.hnsw.hnsw.efSearch = beam
        try:
            scores, labels = self.hnsw.search(queries, count)
        finally:
            self.hnsw.hnsw.efSearch = _EXPANSION_SEARCH
        return np.where(labels >= 0, scores, -np.inf), np.where(labels >= 0, labels + self.start, -1)


@dataclass
class UnitIndex:
    """The ANN index over one unit array: its segments, in row order, and the array's mean
    vector (a query's mean cosine)."""

    segments: list[Segment]
    mean: np.ndarray

    @property
    def size(self) -> int:
        """The number of units indexed."""
        return self.segments[-1].end if self.segments else 0

    def nearest_rows(self, queries: np.ndarray, count: int, beam: int = _EXPANSION_SEARCH) -> np.ndarray:
        """(queries, count) array rows of each query's `count` nearest units (-1 where fewer were
        found): the best of each segment's, searched with HNSW beam width `beam` (efSearch)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        found = [segment.search(queries, count, beam) for segment in self.segments]
        if len(found) == 1:
            return found[0][1]
        scores, rows = np.hstack([f[0] for f in found]), np.hstack([f[1] for f in found])
        best = np.argsort(-scores, axis=1, kind="stable")[:, :count]
        return np.take_along_axis(rows, best, axis=1)

    def similarities(self, vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
        """(units, queries) cosines like `vectors @ queries.T`: exact for each query's `CANDIDATES`
        nearest units and its farthest one found (so the range is kept); every other unit gets the
        query's mean cosine over all units, capped at the lowest candidate's."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        nearest = self.nearest_rows(queries, min(CANDIDATES, vectors.shape[0]))
        farthest = self.nearest_rows(-queries, 1)
        scores = np.empty((vectors.shape[0], queries.shape[0]), dtype=np.float32)
        for column, query in enumerate(queries):
            found = nearest[column][nearest[column] >= 0]
            rows = np.unique(np.concatenate([found, farthest[column][farthest[column] >= 0]]))  # sorted reads
            exact = np.asarray(vectors[rows]) @ query
            lowest = exact[np.isin(rows, found)].min(initial=np.inf)
            scores[:, column] = min(float(self.mean @ query), lowest)
            scores[rows, column] = exact
        return scores


def _mean_path(folder: Path, array: str) -> Path:
    return folder / f"{array}.mean.npy"


def _segment_file(array: str, segment: Segment) -> str:
    """A segment's file in a snapshot folder (the same in every snapshot: its rows do not change)."""
    return f"{array}.{segment.start}-{segment.end}.faiss"


def _build_segment(vectors: np.ndarray, start: int) -> Segment:
    """An HNSW index over `vectors` (L2-normalized rows), the array's rows from `start`."""
    import faiss

    hnsw = faiss.IndexHNSWSQ(vectors.shape[1], faiss.ScalarQuantizer.QT_8bit, _NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = _EXPANSION_ADD
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    hnsw.train(rows)
    hnsw.add(rows)
    hnsw.hnsw.efSearch = _EXPANSION_SEARCH
    return Segment(hnsw, start)


def build_ann(vectors: np.ndarray) -> UnitIndex:
    """An HNSW index over `vectors` (L2-normalized rows, ids their row numbers) and their mean."""
    return UnitIndex([_build_segment(vectors, 0)], np.asarray(vectors, dtype=np.float32).mean(axis=0))


def extend_ann(previous: UnitIndex, before: np.ndarray, added: np.ndarray) -> UnitIndex:
    """`previous`, an index over the rows `before` (left unchanged), with the rows `added` after
    them (L2-normalized) in a new segment, merged with the last segments while they are at most
    twice its size (their rows read from `before`)."""
    segments, start = segments_kept(previous.segments, previous.size + added.shape[0])
    rows = added if start == previous.size else np.concatenate([np.asarray(before[start:]), added])
    segments.append(_build_segment(rows, start))
    new = np.asarray(added, dtype=np.float64)
    mean = (previous.mean * previous.size + new.sum(axis=0)) / (previous.size + new.shape[0])
    return UnitIndex(segments, mean.astype(np.float32))


def save_ann(folder: Path, indexes: dict[str, UnitIndex], base: Path | None = None) -> None:
    """Writes each unit array's ANN index in `indexes` into snapshot folder `folder`: a segment read
    from a file, or one snapshot folder `base` has, as a hard link to that file (synced when it
    was written); the files it writes are synced."""
    import faiss

    written: list[Path] = []
    for name, index in indexes.items():
        for segment in index.segments:
            path = folder / _segment_file(name, segment)
            source = segment.file or (base / path.name if base is not None else None)
            if source is not None and source.is_file():
                link_file(source, path)
                continue
            faiss.write_index(segment.hnsw, str(path))
            written.append(path)
        np.save(_mean_path(folder, name), index.mean)
        written.append(_mean_path(folder, name))
    for path in written:
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


def load_ann(folder: Path) -> dict[str, UnitIndex]:
    """The ANN indexes a snapshot in `folder` has, by array name (codes memory-mapped)."""
    return {name: index for name in UNIT_ARRAYS if (index := _load_index(folder, name)) is not None}


def mapped_ann(folder: Path, name: str, index: UnitIndex) -> UnitIndex:
    """`index`, unit array `name`'s, written into `folder` and read back: its codes memory-mapped,
    so that a build holds the links of the indexes it made, not their codes too."""
    save_ann(folder, {name: index})
    mapped = _load_index(folder, name)
    assert mapped is not None
    return mapped


def _load_index(folder: Path, name: str) -> UnitIndex | None:
    """Unit array `name`'s ANN index in `folder` (None: it has none)."""
    files = {int(path.name.split(".")[1].split("-")[0]): path for path in folder.glob(f"{name}.*-*.faiss")}
    if not files:
        return None
    import faiss

    segments = []
    for start in sorted(files):
        hnsw = faiss.read_index(str(files[start]), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        hnsw.hnsw.efSearch = _EXPANSION_SEARCH
        segments.append(Segment(hnsw, start, files[start]))
    return UnitIndex(segments, np.load(_mean_path(folder, name)))
