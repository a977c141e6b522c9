"""CPU backend: batched sparse power iteration (scipy CSR times a dense block of queries)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from kernels.iterate import Step, power_iterate

SPARSE_FRACTION = 0.25  # iterate on the non-zero rows only while they are fewer than this fraction of n


def transition(adjacency: sp.csr_matrix, out_weight: np.ndarray, damping: float, dtype: np.dtype) -> sp.csr_matrix:
    """Return ``damping * P`` as CSR, ``P`` the row-normalized adjacency.

    Rows with zero out-weight (dangling nodes, zero-weight rows) stay empty; their mass is re-added
    along the seed vector by the step, as PRPACK does.
    """
    scale = np.divide(damping, out_weight, out=np.zeros_like(out_weight), where=out_weight > 0)
    data = (adjacency.data * np.repeat(scale, np.diff(adjacency.indptr))).astype(dtype, copy=False)
    return sp.csr_matrix((data, adjacency.indices, adjacency.indptr), shape=adjacency.shape)


def make_step(adjacency: sp.csr_matrix, out_weight: np.ndarray, damping: float, seeds: np.ndarray) -> Step:
    """One PPR step ``x -> d P^T x + (d * dangling mass(x) + 1 - d) v`` for blocks of the (n, b) ``seeds``.

    While the iterate is supported on few rows (sparse seeds, first hops) only those rows' edges are
    read; sparse seeds enter through their non-zeros only.
    """
    n, batch = seeds.shape
    walk = transition(adjacency, out_weight, damping, seeds.dtype)
    propagate = walk.T  # CSC view (scatter): as fast here as a transposed copy (gather), and no copy
    dangling = np.flatnonzero(out_weight <= 0)
    sparse_seeds = sp.csc_matrix(seeds) if np.count_nonzero(seeds) < SPARSE_FRACTION * seeds.size else None
    dense_from = [False]  # once the support covers SPARSE_FRACTION of the nodes it only grows

    def step(x: np.ndarray, cols: np.ndarray) -> np.ndarray:
        if not dense_from[0]:
            rows = np.flatnonzero(x.any(axis=1))
            dense_from[0] = rows.size >= SPARSE_FRACTION * n
        y = propagate @ x if dense_from[0] else walk[rows].T @ x[rows]
        coef = (damping * x[dangling].sum(0) + (1.0 - damping)).astype(y.dtype, copy=False)
        if sparse_seeds is None:
            y += (seeds if cols.size == batch else seeds[:, cols]) * coef
        else:
            v = sparse_seeds[:, cols].tocoo()
            y[v.row, v.col] += v.data * coef[v.col]
        scratch = np.subtract(y, x, out=None if x is seeds else x)  # the driver never reads x again
        return y, np.abs(scratch, out=scratch).sum(0)

    return step


def ppr_cpu(
    adjacency: sp.csr_matrix, out_weight: np.ndarray, seeds: np.ndarray, damping: float, tol: float, max_iter: int
) -> np.ndarray:
    """Exact PPR for (n, b) unit-column ``seeds`` (float32 or float64) by batched power iteration."""
    tol = max(tol, 16 * float(np.finfo(seeds.dtype).eps))  # below this float32 round-off never settles
    x = power_iterate(make_step(adjacency, out_weight, damping, seeds), seeds, tol, max_iter, np)
    return x / x.sum(0)
