"""Local forward-push approximate PPR (Andersen-Chung-Lang): its bound, and a state vectorized over a frontier.

Each round pushes every node ``u`` whose residual exceeds ``eps * max(outdeg(u), 1)``: a fraction
``1 - d`` of ``r[u]`` is settled into the estimate ``p[u]``, ``d * r[u]`` is spread over ``u``'s out-edges
by weight, or, for a dangling node, back along the seed vector (PRPACK's convention). The invariant
``x = p + (1 - d) (I - d M)^-1 r`` holds throughout (``M`` the column-stochastic walk), and
``sum(p) + sum(r) = 1``. The result is ``p + r`` (the residual left in place), a probability vector with

    ||x - (p + r)||_1 <= 2 * sum(r) <= 2 * eps * sum_u max(outdeg(u), 1) = 2 * eps * (nnz + n_dangling).

Work is about ``1 / ((1 - d) eps)`` edge visits at most, independent of graph size, so it wins on large
graphs with few seeds; on small graphs the exact backends are as fast. ``kernels.ppr(backend="push")``
runs the compiled queue-based push of `hippo_kernels.push_jit`, a batch's columns on a thread per core.

``PushState`` pushes the linear form ``(1 - d)(I - d M)^-1 s`` instead (signed seeds, a dangling node's
mass left there, no normalization) with the same bound in the seeds' own units, and its state stays at
the touched nodes: reused from push to push, it makes no pass over every node (hippo's ``ppr`` stage
under ANN).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class PushState:
    """A forward push's state on one graph as dense per-node arrays that stay zero outside the nodes
    it touched: `clear` zeroes only those, so one state serves push after push (``kernels.Graph``
    lends them out) and each push costs what it touches, not the size of the graph."""

    def __init__(self, nodes: int) -> None:
        self.estimate = np.zeros(nodes)
        self.residual = np.zeros(nodes)
        self.touched = np.zeros(nodes, dtype=bool)
        self._stamp = np.zeros(nodes, dtype=np.intp)  # `_distinct`'s scratch: any values will do
        self._reached: list[np.ndarray] = []

    def push(
        self, adjacency: sp.csr_matrix, out_weight: np.ndarray, degrees: np.ndarray, seed_nodes: np.ndarray,
        seed_weights: np.ndarray, damping: float, tol: float,
    ) -> None:
        """Adds ``(1 - d)(I - d P^T)^-1 s`` for signed seeds ``s`` (``seed_weights`` on distinct
        ``seed_nodes``) to the result: PPR in its linear form, neither normalized nor returning a dangling
        node's mass (its walk ends there). Pushes every node whose residual exceeds ``tol * degrees`` in
        absolute value; the result is ``p + r`` (`values`)."""
        residual = self.residual
        self.add(seed_nodes, seed_weights)
        frontier = seed_nodes  # always push the seeds once
        while frontier.size:
            targets, _ = _push_frontier(adjacency, out_weight, self.estimate, residual, frontier, damping)
            self._mark(targets)
            frontier = _distinct(targets[np.abs(residual[targets]) > tol * degrees[targets]], self._stamp)

    def add(self, nodes: np.ndarray, values: np.ndarray) -> None:
        """Adds ``values`` to the result at distinct ``nodes``."""
        self.residual[nodes] += values
        self._mark(nodes)

    def nodes(self) -> np.ndarray:
        """The nodes touched since the last `clear`, distinct, in no particular order."""
        if len(self._reached) != 1:
            self._reached = [np.concatenate([np.empty(0, dtype=np.intp), *self._reached])]
        return self._reached[0]

    def values(self, nodes: np.ndarray) -> np.ndarray:
        """The result at ``nodes``: estimate plus residual (zero where untouched)."""
        return self.estimate[nodes] + self.residual[nodes]

    def clear(self) -> None:
        """Zeroes the touched entries only."""
        nodes = self.nodes()
        self.estimate[nodes] = self.residual[nodes] = 0.0
        self.touched[nodes] = False
        self._reached = []

    def _mark(self, nodes: np.ndarray) -> None:
        """Records ``nodes`` (repeats allowed) as touched."""
        fresh = _distinct(nodes[~self.touched[nodes]], self._stamp)
        self.touched[fresh] = True
        self._reached.append(fresh)


def _distinct(nodes: np.ndarray, stamp: np.ndarray) -> np.ndarray:
    """``nodes`` without repeats, in no particular order: each position writes itself into ``stamp``
    and keeps its node only if its write is the one left (one per node): no sort."""
    positions = np.arange(nodes.size)
    stamp[nodes] = positions
    return nodes[stamp[nodes] == positions]


def _push_frontier(
    adjacency: sp.csr_matrix, out_weight: np.ndarray, estimate: np.ndarray, residual: np.ndarray,
    frontier: np.ndarray, damping: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Pushes each node of ``frontier`` (distinct) once: ``1 - d`` of its residual to its estimate,
    ``d`` along its out-edges by weight (nowhere for a dangling node). Returns the edges' targets
    (with repeats) and the residual each node held."""
    mass = residual[frontier]
    residual[frontier] = 0.0
    estimate[frontier] += (1.0 - damping) * mass
    weight = out_weight[frontier]
    share = np.divide(damping * mass, weight, out=np.zeros_like(mass), where=weight > 0)
    edges, counts = _row_slots(adjacency.indptr, frontier)
    targets = adjacency.indices[edges]
    np.add.at(residual, targets, adjacency.data[edges] * np.repeat(share, counts))
    return targets, mass


def _row_slots(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in the CSR arrays of every edge leaving ``rows`` (concatenated ranges), and each
    row's edge count."""
    starts, counts = indptr[rows], indptr[rows + 1] - indptr[rows]
    ends = np.cumsum(counts)
    return np.repeat(starts - ends + counts, counts) + np.arange(ends[-1] if ends.size else 0), counts


def push_degrees(adjacency: sp.csr_matrix) -> np.ndarray:
    """Each node's out-degree, at least 1: a node's push threshold is the tolerance times this."""
    return np.maximum(np.diff(adjacency.indptr), 1)
