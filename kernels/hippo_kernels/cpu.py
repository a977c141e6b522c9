"""CPU backend: batched sparse power iteration (scipy CSR times a dense block of queries)."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from hippo_kernels.iterate import Step, power_iterate

if TYPE_CHECKING:
    from hippo_kernels.graph import Graph

SPARSE_FRACTION = 0.25  # iterate on the non-zero rows only while they are fewer than this fraction of n
# Add the teleport through the seeds' non-zeros only while they are fewer than this fraction of the entries:
# a scattered add costs about ten times a streamed one per entry (2Wiki's dense passage prior seeds 13%).
TELEPORT_SPARSE_FRACTION = 0.05
SPARSE_MIN_EDGES = 100_000  # ... and only on graphs this large (below, scipy's slicing overhead dominates)
# On large graphs, queries per sparse x dense product: narrow blocks keep the scattered reads of x in
# cache. Measured at batch 64 (2-core EPYC, random graphs with 10 edges per node), ms per query for block
# widths 2/4/8/16: float64 200k nodes 34/22/28/32, 1M nodes 366/261/214/182; float32 200k nodes 19 at 8
# against 30 unblocked. Eight is the compromise. On the 2Wiki index (271k edges) one block per core wins.
BLOCK_WIDTH = 8
BLOCK_MIN_EDGES = 1_000_000
# With fewer column blocks than cores (one query), graphs this large split each product's rows over the cores.
SPLIT_MIN_EDGES = 1_000_000


def transition(adjacency: sp.csr_matrix, out_weight: np.ndarray, damping: float, dtype: np.dtype) -> sp.csr_matrix:
    """Return ``damping * P`` as CSR, ``P`` the row-normalized adjacency.

    Rows with zero out-weight (dangling nodes, zero-weight rows) stay empty; their mass is re-added
    along the seed vector by the step, as PRPACK does.
    """
    scale = np.divide(damping, out_weight, out=np.zeros_like(out_weight), where=out_weight > 0)
    data = (adjacency.data * np.repeat(scale, np.diff(adjacency.indptr))).astype(dtype, copy=False)
    return sp.csr_matrix((data, adjacency.indices, adjacency.indptr), shape=adjacency.shape)


def make_step(
    adjacency: sp.csr_matrix, out_weight: np.ndarray, damping: float, seeds: np.ndarray,
    walk: sp.csr_matrix | None = None, propagate: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Step:
    """One PPR step ``x -> d P^T x + (d * dangling mass(x) + 1 - d) v`` for blocks of the (n, b) ``seeds``.

    While the iterate is supported on few rows (sparse seeds, first hops of a large graph) only those
    rows' edges are read; sparse seeds enter through their non-zeros only. ``walk`` is
    ``transition(...)`` when the caller already has it; ``propagate(x)`` computes ``walk.T @ x`` once
    the iterate is dense (by default through a CSC view of ``walk``: no copy, and as fast here as a
    transposed copy).
    """
    n, width = seeds.shape
    if walk is None:
        walk = transition(adjacency, out_weight, damping, seeds.dtype)
    propagate = propagate or walk.T.__matmul__
    dangling = np.flatnonzero(out_weight <= 0)
    sparse_phase = [adjacency.nnz >= SPARSE_MIN_EDGES]  # support only grows: once dense, always dense
    teleport = _Teleport(seeds)
    # Sums over the n rows as BLAS matrix-vector products: numpy's axis-0 sums of an (n, k) block take
    # as long as the sparse product here; BLAS accumulates in blocks, within 1e-5 relative in float32.
    ones_n, ones_b = np.ones(n, seeds.dtype), np.ones(width, seeds.dtype)

    def step(x: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if sparse_phase[0]:
            rows = np.flatnonzero(x @ ones_b[:x.shape[1]])  # x >= 0: a row sums to 0 only when it is all 0
            sparse_phase[0] = rows.size < SPARSE_FRACTION * n
        y = walk[rows].T @ x[rows] if sparse_phase[0] else propagate(x)
        dangling_mass = x[dangling].sum(0, dtype=np.float64)  # float64 sums: float32 ones drift on long columns
        teleport.add(y, cols, (damping * dangling_mass + (1.0 - damping)).astype(y.dtype))
        scratch = np.subtract(y, x, out=None if x is seeds else x)  # the driver never reads x again
        return y, (ones_n @ np.abs(scratch, out=scratch)).astype(np.float64)

    return step


class _Teleport:
    """Adds ``coef[j] * seeds[:, cols[j]]`` to a block, through the seeds' non-zeros when they are sparse."""

    def __init__(self, seeds: np.ndarray) -> None:
        self.seeds = seeds
        rows, cols = np.nonzero(seeds)
        self.sparse = rows.size < TELEPORT_SPARSE_FRACTION * seeds.size
        self.entries = (rows, cols, seeds[rows, cols])
        self.active = (np.arange(seeds.shape[1]), *self.entries)  # (cols, rows, positions, values)

    def add(self, y: np.ndarray, cols: np.ndarray, coef: np.ndarray) -> None:
        if not self.sparse:
            y += (self.seeds if cols.size == self.seeds.shape[1] else self.seeds[:, cols]) * coef
            return
        if self.active[0].size != cols.size:  # columns converged since the last step: re-select
            rows, all_cols, values = self.entries
            keep = np.isin(all_cols, cols)
            self.active = (cols, rows[keep], np.searchsorted(cols, all_cols[keep]), values[keep])
        _, rows, positions, values = self.active
        y[rows, positions] += values * coef[positions]


def ppr_cpu(graph: Graph, seeds: np.ndarray, damping: float, tol: float, max_iter: int) -> np.ndarray:
    """Exact PPR for (n, b) unit-column ``seeds`` (float32 or float64) by batched power iteration,
    on the graph's `local` renumbering.

    The batch is cut into column blocks solved on a thread per core (scipy's sparse products and
    numpy's array ops release the GIL): ``BLOCK_WIDTH`` queries a block on graphs of
    ``BLOCK_MIN_EDGES`` or more, else one block per core. With fewer blocks than cores (one query) on a
    graph of ``SPLIT_MIN_EDGES`` or more, each dense product is split by rows over the cores instead.
    """
    tol = max(tol, 16 * float(np.finfo(seeds.dtype).eps))  # below this float32 round-off never settles
    graph, order = graph.local()  # iterate in the renumbering that keeps neighbours close
    seeds = seeds[order]
    adjacency, out_weight, walk = graph.adjacency, graph.out_weight, graph.walk(damping, seeds.dtype)
    b, cores = seeds.shape[1], usable_cores()
    width = BLOCK_WIDTH if adjacency.nnz >= BLOCK_MIN_EDGES else -(-b // cores)
    starts = range(0, b, width)
    result = np.empty_like(seeds)
    # BLAS (the row sums) on one thread: its own threads would spin-wait between the many small products
    # and starve the block threads. Pool threads start on first use.
    with _blas().limit(limits=1), ThreadPoolExecutor(cores) as pool:
        split = len(starts) < cores and adjacency.nnz >= SPLIT_MIN_EDGES
        propagate = _row_parallel(graph.row_blocks(damping, seeds.dtype, cores), pool) if split else None

        def solve(start: int) -> None:
            block = np.ascontiguousarray(seeds[:, start:start + width])
            step = make_step(adjacency, out_weight, damping, block, walk, propagate)
            x = power_iterate(step, block, tol, max_iter, np)
            result[:, start:start + width] = x / x.sum(0, dtype=np.float64).astype(x.dtype)

        if split or len(starts) == 1:  # blocks one after another here (the pool splits rows, if anything)
            for start in starts:
                solve(start)
        else:
            list(pool.map(solve, starts))
    scores = np.empty_like(result)
    scores[order] = result
    return scores


def _row_parallel(
    blocks: list[tuple[slice, sp.csr_matrix]], pool: ThreadPoolExecutor
) -> Callable[[np.ndarray], np.ndarray]:
    """``x -> walk.T @ x`` with the rows of the result computed on the pool, a block of rows each."""

    def propagate(x: np.ndarray) -> np.ndarray:
        y = np.empty((sum(m.shape[0] for _, m in blocks), x.shape[1]), dtype=x.dtype)

        def part(block: tuple[slice, sp.csr_matrix]) -> None:
            y[block[0]] = block[1] @ x

        list(pool.map(part, blocks))
        return y

    return propagate


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController().select(user_api="blas")


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
