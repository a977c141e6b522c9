"""Forward push of one seed vector compiled by numba: a queue of the nodes whose residual is over
their threshold, each pushed as it comes out (Andersen-Chung-Lang), where numpy would push a
whole frontier a round (`PushState` still does). The invariant and bound of `hippo_kernels.push`
hold; the order of pushes differs from a round-by-round push, so the result differs within that
bound. It releases the GIL, so a batch's columns run on a thread per core. Compiled once per
machine (numba's on-disk cache) on the first call (~0.9 s); a process's first call imports numba and
loads the compiled code (~0.4 s)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from numba import njit

from hippo_kernels.cpu import usable_cores
from hippo_kernels.push import push_degrees


def ppr_push(
    adjacency: sp.csr_matrix, out_weight: np.ndarray, seeds: np.ndarray, damping: float, eps: float
) -> np.ndarray:
    """Forward push for each column of (n, b) unit ``seeds``, the columns spread over the cores; result
    in the seeds' dtype, column-major (each column is written whole: a column of a row-major (n, b)
    array is one cache miss per entry, which cost more than a push itself)."""
    threshold = eps * push_degrees(adjacency)
    nodes, columns = np.nonzero(seeds != 0)  # a pass over a bool copy: several times faster than over seeds.T
    order = np.argsort(columns, kind="stable")
    nodes, columns = nodes[order], columns[order]  # by column, then node
    bounds = np.searchsorted(columns, np.arange(seeds.shape[1] + 1))
    result = np.empty(seeds.shape[::-1], dtype=seeds.dtype)  # (b, n): a contiguous row per column

    workers = min(usable_cores(), seeds.shape[1])

    def solve(first: int) -> None:  # every `workers`-th column from `first`, on one scratch
        scratch = PushScratch(seeds.shape[0])
        for column in range(first, seeds.shape[1], workers):
            seed_nodes = nodes[bounds[column]:bounds[column + 1]]
            forward_push(adjacency, out_weight, seed_nodes, seeds[seed_nodes, column], damping, threshold,
                         result[column], scratch)

    if workers <= 1:
        solve(0)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(solve, range(workers)))
    return result.T


class PushScratch:
    """A push's per-node working arrays, reused from column to column by one thread: `push_column`
    leaves them as it found them (no residual, nothing queued), so no column allocates or clears
    its own (fresh pages of that size cost more than a push on some hosts)."""

    def __init__(self, nodes: int) -> None:
        self.residual = np.zeros(nodes)
        self.queued = np.zeros(nodes, dtype=np.bool_)
        self.queue = np.empty(nodes, dtype=np.int64)


def forward_push(
    adjacency: sp.csr_matrix, out_weight: np.ndarray, seed_nodes: np.ndarray, seed_mass: np.ndarray,
    damping: float, threshold: np.ndarray, out: np.ndarray, scratch: PushScratch | None = None,
) -> None:
    """Approximate PPR of one unit seed vector, given by its non-zero nodes and their mass, into
    ``out`` (n,): `push_column` on the graph's CSR arrays. ``threshold`` is each node's
    ``eps * max(outdeg, 1)``; ``scratch`` (one per thread) saves allocating the working arrays."""
    scratch = scratch or PushScratch(out.shape[0])
    push_column(adjacency.indptr, adjacency.indices, adjacency.data, out_weight, seed_nodes.astype(np.int64),
                seed_mass.astype(np.float64), float(damping), threshold.astype(np.float64, copy=False), out,
                scratch.residual, scratch.queued, scratch.queue)


@njit(nogil=True, cache=True)
def push_column(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, out_weight: np.ndarray,
    seed_nodes: np.ndarray, seed_mass: np.ndarray, damping: float, threshold: np.ndarray,
    out: np.ndarray, residual: np.ndarray, queued: np.ndarray, queue: np.ndarray,
) -> None:  # pragma: no cover - compiled; tests call it through kernels.ppr(backend="push")
    """Approximate PPR of one unit seed vector (``seed_mass`` on distinct ``seed_nodes``) into
    ``out`` (n,): estimate plus residual once no node's residual exceeds its ``threshold``. A
    dangling node's followed mass returns along the seed vector (PRPACK's convention). Working
    arrays of n: ``residual`` (zero), ``queued`` (False), both left so; ``queue`` (a ring: a node
    is in it at most once)."""
    n = out.shape[0]
    estimate = out
    estimate[:] = 0.0
    head = 0
    size = 0
    for i in range(seed_nodes.shape[0]):  # the seeds are pushed once whatever their mass
        node = seed_nodes[i]
        residual[node] += seed_mass[i]
        if not queued[node]:
            size = _enqueue(node, queued, queue, head, size)
    while size > 0:
        node = queue[head]
        head = (head + 1) % n
        size -= 1
        queued[node] = False
        mass = residual[node]
        residual[node] = 0.0
        estimate[node] += (1.0 - damping) * mass
        weight = out_weight[node]
        if weight > 0:
            share = damping * mass / weight
            for slot in range(indptr[node], indptr[node + 1]):
                target = indices[slot]
                residual[target] += share * data[slot]
                if not queued[target] and residual[target] > threshold[target]:
                    size = _enqueue(target, queued, queue, head, size)
        else:
            for i in range(seed_nodes.shape[0]):
                target = seed_nodes[i]
                residual[target] += damping * mass * seed_mass[i]
                if not queued[target] and residual[target] > threshold[target]:
                    size = _enqueue(target, queued, queue, head, size)
    for node in range(n):
        out[node] += residual[node]
        residual[node] = 0.0


@njit(nogil=True, cache=True, inline="always")
def _enqueue(node: int, queued: np.ndarray, queue: np.ndarray, head: int, size: int) -> int:  # pragma: no cover
    """Appends ``node`` to the ring ``queue`` of ``size`` entries from ``head``; returns the new size."""
    queued[node] = True
    queue[(head + size) % queue.shape[0]] = node
    return size + 1
