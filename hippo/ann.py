"""Approximate nearest-neighbour search over a snapshot's vectors (faiss HNSW), for large indexes.

Exact search reads every vector of a kind for each query: a few milliseconds at 100k vectors,
seconds at millions. A snapshot whose passages, entities or facts number at least the index's
`ann_threshold` (`IndexSettings`) gets an HNSW graph over those vectors (8-bit scalar-quantized,
inner product) beside its arrays, rebuilt with every snapshot like its name automaton; its codes
are memory-mapped when read. A query then asks it for its `CANDIDATES` nearest units, scores them exactly against the
snapshot's float32 vectors, and gives every other unit the lowest of those scores: rankings
keep the exact order of the units found, and units beyond the candidates tie below them.

faiss rather than usearch: usearch 2.26's extension crashes onnxruntime when imported before it.
faiss is imported only where an ANN index is built or read (0.2 s), so small indexes never pay it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

CANDIDATES = 256  # nearest units an ANN query returns, rescored exactly (>= any stage's default depth)
UNIT_ARRAYS = ("passage_vectors", "entity_vectors", "fact_vectors")
_NEIGHBOURS = 16  # HNSW links per node (M)
_EXPANSION_ADD = 128  # efConstruction
_EXPANSION_SEARCH = 2 * CANDIDATES  # efSearch


def ann_path(folder: Path, array: str) -> Path:
    """Where a snapshot in `folder` keeps the ANN index over its `array` of vectors."""
    return folder / f"{array}.faiss"


def build_ann(vectors: np.ndarray) -> Any:
    """An HNSW index over `vectors` (L2-normalized rows); its ids are row numbers."""
    import faiss

    index = faiss.IndexHNSWSQ(vectors.shape[1], faiss.ScalarQuantizer.QT_8bit, _NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = _EXPANSION_ADD
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    index.train(rows)
    index.add(rows)
    index.hnsw.efSearch = _EXPANSION_SEARCH
    return index


def save_ann(folder: Path, arrays: dict[str, np.ndarray], threshold: int) -> list[Path]:
    """Writes the ANN index of each unit array in `arrays` with at least `threshold` rows; the
    files written."""
    import faiss

    written = []
    for name in UNIT_ARRAYS:
        if arrays[name].shape[0] >= threshold:
            written.append(ann_path(folder, name))
            faiss.write_index(build_ann(arrays[name]), str(written[-1]))
    return written


def load_ann(folder: Path) -> dict[str, Any]:
    """The ANN indexes a snapshot in `folder` has, by array name (codes memory-mapped)."""
    indexes = {}
    for name in UNIT_ARRAYS:
        if (path := ann_path(folder, name)).is_file():
            import faiss

            indexes[name] = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
            indexes[name].hnsw.efSearch = _EXPANSION_SEARCH
    return indexes


def approximate_similarities(index: Any, vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """(units, queries) cosines like `vectors @ queries.T`, exact for each query's `CANDIDATES`
    nearest units found by `index`; every other unit gets the lowest of those."""
    count = min(CANDIDATES, vectors.shape[0])
    _, found = index.search(np.ascontiguousarray(queries, dtype=np.float32), count)
    scores = np.empty((vectors.shape[0], queries.shape[0]), dtype=np.float32)
    for column, query in enumerate(queries):
        rows = np.unique(found[column][found[column] >= 0])  # sorted: memory-mapped rows read in order
        exact = np.asarray(vectors[rows]) @ query
        scores[:, column] = exact.min() if exact.size else -1.0
        scores[rows, column] = exact
    return scores
