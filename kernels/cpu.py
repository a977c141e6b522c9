"""CPU backend: batched sparse power iteration (scipy CSR times a dense block of queries)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from kernels.iterate import Step, power_iterate


def transition(adjacency: sp.csr_matrix, out_weight: np.ndarray, damping: float, dtype: np.dtype) -> sp.csc_matrix:
    """Return ``damping * P.T`` as a CSC view, where ``P`` is the row-normalized adjacency.

    Rows with zero out-weight (dangling nodes, zero-weight rows) stay empty; their mass is re-added
    along the seed vector by the step function, as PRPACK does.
    """
    scale = np.divide(damping, out_weight, out=np.zeros_like(out_weight), where=out_weight > 0)
    data = (adjacency.data * np.repeat(scale, np.diff(adjacency.indptr))).astype(dtype, copy=False)
    normalized = sp.csr_matrix((data, adjacency.indices, adjacency.indptr), shape=adjacency.shape)
    return normalized.T  # CSC view of the transpose: no copy, scipy runs it as a scatter


def make_step(adjacency: sp.csr_matrix, out_weight: np.ndarray, damping: float, dtype: np.dtype) -> Step:
    """One PPR step ``x -> d P^T x + (d * dangling mass(x) + 1 - d) v`` for (n, k) blocks."""
    propagate = transition(adjacency, out_weight, damping, dtype)
    dangling = np.flatnonzero(out_weight <= 0)

    def step(x: np.ndarray, v: np.ndarray) -> np.ndarray:
        y = propagate @ x
        y += v * (damping * x[dangling].sum(0) + (1.0 - damping)).astype(y.dtype, copy=False)
        return y

    return step


def ppr_cpu(
    adjacency: sp.csr_matrix, out_weight: np.ndarray, seeds: np.ndarray, damping: float, tol: float, max_iter: int
) -> np.ndarray:
    """Exact PPR for (n, b) unit-column ``seeds`` (float32 or float64) by batched power iteration."""
    dtype = seeds.dtype
    tol = max(tol, 16 * float(np.finfo(dtype).eps))  # below this float32 round-off never settles
    x = power_iterate(make_step(adjacency, out_weight, damping, dtype), seeds, tol, max_iter, np)
    return x / x.sum(0)
