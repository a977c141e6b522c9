"""Approximate nearest-neighbour search over a snapshot's vectors (faiss HNSW), for large indexes.

Exact search reads every vector of a kind for each query: a few milliseconds at 100k vectors,
seconds at millions. A snapshot whose passages, entities or facts number at least the index's
`ann_threshold` (`IndexSettings`) gets an HNSW graph over those vectors (8-bit scalar-quantized,
inner product) beside its arrays; its codes are memory-mapped when read. A snapshot that only adds
units to the previous one extends the previous snapshot's index with them (`extend_ann`: time
proportional to the units added); as a snapshot keeps its units' rows and appends added units
after them (`hippo.snapshot`), an index's ANN labels are its units' rows. A query asks it for its
`CANDIDATES` nearest units, scores them exactly against the snapshot's float32 vectors, and
gives every other unit the query's mean cosine over all units (capped at the lowest
candidate's): rankings keep the exact order of the units found, units beyond the candidates tie
below them, and a min-max rescaling (the `ppr` stage's passage prior) keeps its range and, on
average, its mass, as the farthest unit (as the ANN finds it) is scored too.

faiss rather than usearch: usearch 2.26's extension crashes onnxruntime when imported before it.
faiss is imported only where an ANN index is built or read (0.2 s), so small indexes never pay it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CANDIDATES = 256  # nearest units an ANN query returns, rescored exactly (>= any stage's default depth)
UNIT_ARRAYS = ("passage_vectors", "entity_vectors", "fact_vectors")
_NEIGHBOURS = 16  # HNSW links per node (M)
_EXPANSION_ADD = 128  # efConstruction
_EXPANSION_SEARCH = 2 * CANDIDATES  # efSearch


@dataclass
class UnitIndex:
    """The ANN index over one unit array (its labels the array's rows) and the array's mean
    vector (a query's mean cosine)."""

    hnsw: Any
    mean: np.ndarray

    @property
    def size(self) -> int:
        """The number of units indexed."""
        return int(self.hnsw.ntotal)

    def nearest_rows(self, queries: np.ndarray, count: int, beam: int = _EXPANSION_SEARCH) -> np.ndarray:
        """(queries, count) array rows of each query's `count` nearest units (-1 where fewer were
        found), searched with HNSW beam width `beam` (efSearch)."""
        self.hnsw.hnsw.efSearch = beam
        try:
            _, labels = self.hnsw.search(np.ascontiguousarray(queries, dtype=np.float32), count)
        finally:
            self.hnsw.hnsw.efSearch = _EXPANSION_SEARCH
        return labels

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


def ann_paths(folder: Path, array: str) -> tuple[Path, Path]:
    """Where a snapshot in `folder` keeps the ANN index over its `array` and that array's mean."""
    return folder / f"{array}.faiss", folder / f"{array}.mean.npy"


def build_ann(vectors: np.ndarray) -> UnitIndex:
    """An HNSW index over `vectors` (L2-normalized rows, ids their row numbers) and their mean."""
    import faiss

    hnsw = faiss.IndexHNSWSQ(vectors.shape[1], faiss.ScalarQuantizer.QT_8bit, _NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = _EXPANSION_ADD
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    hnsw.train(rows)
    hnsw.add(rows)
    hnsw.hnsw.efSearch = _EXPANSION_SEARCH
    return UnitIndex(hnsw, rows.mean(axis=0))


def extend_ann(previous: UnitIndex, added: np.ndarray) -> UnitIndex:
    """`previous` (left unchanged) with the units `added` (L2-normalized rows) after its own, as
    the rows after those of its array. The 8-bit codes keep the value ranges trained on the units
    first indexed."""
    import faiss

    hnsw = faiss.deserialize_index(faiss.serialize_index(previous.hnsw))  # an owned copy (`previous` may be mmapped)
    hnsw.add(np.ascontiguousarray(added, dtype=np.float32))
    hnsw.hnsw.efSearch = _EXPANSION_SEARCH
    new = np.asarray(added, dtype=np.float64)
    mean = (previous.mean * previous.size + new.sum(axis=0)) / (previous.size + new.shape[0])
    return UnitIndex(hnsw, mean.astype(np.float32))


def save_ann(folder: Path, indexes: dict[str, UnitIndex]) -> list[Path]:
    """Writes each unit array's ANN index in `indexes` into snapshot folder `folder`; the files
    written."""
    import faiss

    written: list[Path] = []
    for name, index in indexes.items():
        hnsw_path, mean_path = ann_paths(folder, name)
        faiss.write_index(index.hnsw, str(hnsw_path))
        np.save(mean_path, index.mean)
        written += [hnsw_path, mean_path]
    return written


def load_ann(folder: Path) -> dict[str, UnitIndex]:
    """The ANN indexes a snapshot in `folder` has, by array name (codes memory-mapped)."""
    indexes = {}
    for name in UNIT_ARRAYS:
        hnsw_path, mean_path = ann_paths(folder, name)
        if hnsw_path.is_file():
            import faiss

            hnsw = faiss.read_index(str(hnsw_path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
            hnsw.hnsw.efSearch = _EXPANSION_SEARCH
            indexes[name] = UnitIndex(hnsw, np.load(mean_path))
    return indexes
