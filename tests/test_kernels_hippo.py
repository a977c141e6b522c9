"""kernels.ppr on a real hippo index (the session's indexed data/sample) against igraph PRPACK."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hippo_kernels as kernels
from tests.test_kernels import prpack, top

pytestmark = pytest.mark.slow  # builds the sample index with the real models (shared per session)


def test_hippo_index_matches_prpack(sample_index: Path) -> None:
    from hippo.snapshot import load_snapshot

    snapshot = load_snapshot(sample_index)
    adjacency = snapshot.adjacency
    n, passages = snapshot.node_count, len(snapshot.passage_ids)
    rng = np.random.default_rng(16)
    seeds = np.zeros((n, 4))
    for j in range(4):  # HippoRAG-2 style: a few weighted entity seeds plus small weights on every passage
        seeds[rng.choice(np.arange(passages, n), 3, replace=False), j] = rng.uniform(0.5, 1.0, 3)
        seeds[:passages, j] = 0.05 * rng.random(passages)
    expected = prpack(adjacency, seeds, 0.5)
    for backend in ("cpu", "push"):
        got = kernels.ppr(adjacency, seeds, damping=0.5, tol=1e-8 if backend == "cpu" else 1e-7, backend=backend)
        assert np.abs(got - expected).max() < (1e-6 if backend == "cpu" else 1e-4), backend
        np.testing.assert_array_equal(top(got), top(expected))
    # the snapshot's undirected igraph (self-loops counted twice, as the symmetric CSR stores them) agrees too
    undirected = snapshot.igraph.personalized_pagerank(
        damping=0.5, reset=seeds[:, 0].tolist(), weights="weight", implementation="prpack"
    )
    assert np.abs(kernels.ppr(adjacency, seeds[:, 0]) - np.array(undirected)).max() < 1e-6
