"""`ppr`: seeds Personalized PageRank from every memory level in the state and ranks passages.

The reset vector sums, over the state's levels (e.g. "facts" and "entities" from `link`, or
a level a later stage adds), each seed's weight times its level's weight, on the level's
snapshot node kind; `specificity` divides each node's seed by the number of passages that
mention it. When no level seeds anything, the stage falls back to the dense ranking.
Otherwise it adds the "passages" level: every passage node gets its dense score, min-max
normalized, times `passage_weight`, so the question's own words still count.

When the passages were searched through an ANN index (`hippo.ann`), only the nearest ones got
their exact cosine and the rest the query's mean, so the prior misses the variation among the far
passages. PPR is linear in its reset vector, and a node's own teleport share of it is
(1 - damping) x its weight / the weights' sum, so after PPR the stage adds that share of the
missing prior, (1 - damping) x (exact prior - prior used) / the reset's sum, to each of the
`exact_prior` top passages (their exact cosines: that many dot products, whatever the corpus
size) before ranking; what would flow on from them through the graph is left out. With exact
search nothing changes.

The same linearity makes PPR local under ANN (`backend` "auto"): all passages but the nearest
ones share one reset weight w0, so reset = sparse + w0 x (1 on every passage), and PPR(reset) is
PPR(sparse) by forward push (`push_tol`; its edge work does not grow with the graph) plus w0 times
PPR(1 on every passage), computed once per snapshot and damping by power iteration and kept in
memory. kernels.ppr normalizes its seeds and returns dangling mass along them, so each part is
taken back to the linear (1 - d)(I - d P^T)^-1 seeds before the parts are added (`_linear`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

import kernels
from hippo.corpus import Passage
from hippo.errors import HippoError
from hippo.stages.context import RetrievalContext
from hippo.stages.registry import register_stage
from hippo.stages.scoring import min_max, rank_by_scores
from hippo.stages.stage import Stage, setting
from hippo.stages.state import Level, RetrievalState
from kernels.push import forward_push

PASSAGE_LEVEL = "passages"
TOP_NODES = 10
PASSAGE_MASS_TOL = 1e-10  # power iteration's L1 step change for the one-off PPR of all passages
MODE_SAMPLE = 1024  # passages sampled to find the prior most of them share


@register_stage
@dataclass
class PPRStage(Stage):
    """Ranks passages by their PPR probability from the state's seeds."""

    name = "ppr"
    damping: float = setting(0.5, gt=0, lt=1)
    passage_weight: float = setting(0.05, ge=0)
    specificity: bool = False
    candidates: int = setting(100, ge=1)  # passages ranked (at least the caller's top_k)
    tol: float = setting(3e-5, gt=0)  # L1 change per step that stops PPR: the top 10 of a converged run (measured)
    precision: Literal["float32", "float64"] = "float32"  # float32 keeps the top ranks of float64, faster
    backend: Literal["auto", "cpu", "push", "triton"] = "auto"
    exact_prior: int = setting(100, ge=0)  # top passages whose prior is corrected after an ANN search (0: none)
    push_tol: float = setting(3e-6, gt=0)  # forward push threshold (reset units) for the sparse part of an ANN reset

    def personalization(self, state: RetrievalState, ctx: RetrievalContext) -> np.ndarray | None:
        """The reset vector over all nodes (float64), or None when no level seeds a node."""
        snapshot = ctx.snapshot
        seeds = np.zeros(snapshot.node_count)
        for name, level in state.levels.items():
            if name != PASSAGE_LEVEL:
                nodes = snapshot.node_offset(level.kind) + level.nodes
                np.add.at(seeds, nodes, level.weights * state.level_weight(name))
        if self.specificity:
            seeds /= np.maximum(1, snapshot.mention_counts)
        seeds[seeds < 0] = 0.0
        if not seeds.any():
            return None
        passages = np.arange(len(snapshot.passage_ids))
        dense = min_max(ctx.dense_scores(state)) * self.passage_weight
        state.levels[PASSAGE_LEVEL] = Level("passage", passages, dense)
        seeds[passages] += dense * state.level_weight(PASSAGE_LEVEL)
        return seeds

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        reset = self.personalization(state, ctx)
        if reset is None:
            return self._fallback(state, ctx)
        return self._rank(state, ctx, self._ppr(ctx, reset), reset)

    def run_batch(self, states: list[RetrievalState], ctx: RetrievalContext) -> list[RetrievalState]:
        """One batched kernel call for every question that has seeds."""
        started = time.perf_counter()
        resets = [self.personalization(state, ctx) for state in states]
        seeded = [i for i, r in enumerate(resets) if r is not None]
        scores = self._ppr(ctx, np.column_stack([resets[i] for i in seeded])) if seeded else None
        share = (time.perf_counter() - started) / max(1, len(states))
        columns = {i: c for c, i in enumerate(seeded)}
        for i, (state, reset) in enumerate(zip(states, resets, strict=True)):
            details = (self._rank(state, ctx, scores[:, columns[i]], reset)
                       if reset is not None and scores is not None else self._fallback(state, ctx))
            self.record(state, {**details, "batched": len(states)}, share)
        return states

    def _ppr(self, ctx: RetrievalContext, reset: np.ndarray) -> np.ndarray:
        try:
            if self.backend == "auto" and ctx.approximate("passages"):
                return self._decomposed(ctx, reset)
            return kernels.ppr(ctx.snapshot.ppr_graph, reset.astype(self.precision), damping=self.damping, tol=self.tol,
                               backend=self.backend)
        except ValueError as err:
            raise HippoError(f"stage 'ppr': {err}") from None

    def _decomposed(self, ctx: RetrievalContext, reset: np.ndarray) -> np.ndarray:
        """PPR of the (n,) or (n, b) `reset` as PPR(sparse part) by push plus each column's shared
        passage weight times the snapshot's PPR of all passages (see the module's note)."""
        passages = len(ctx.snapshot.passage_ids)
        columns = reset.reshape(reset.shape[0], -1)
        scores = np.empty(columns.shape, dtype=self.precision)
        for j, column in enumerate(columns.T):
            shared = _most_common(column[:passages])
            nodes = np.concatenate([np.flatnonzero(column[:passages] != shared),
                                    passages + np.flatnonzero(column[passages:])])
            weights = column[nodes] - np.where(nodes < passages, shared, 0.0)
            total = shared * self._derived(ctx, "passage mass", self._passage_mass)
            total += self._pushed(ctx, nodes[weights > 0], weights[weights > 0])
            total -= self._pushed(ctx, nodes[weights < 0], -weights[weights < 0])  # push takes non-negative seeds
            scores[:, j] = total / total.sum()
        return scores.reshape(reset.shape)

    def _pushed(self, ctx: RetrievalContext, nodes: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """`_linear` PPR of positive `weights` on `nodes` by one forward push, its threshold
        `push_tol` in the reset's own units (a part of little mass needs little work). It calls
        kernels.push on the seeds' non-zeros: kernels.ppr's checks and copies of every node cost
        as much as the push itself on a 1M-node graph."""
        graph = ctx.snapshot.ppr_graph
        walked = np.zeros(graph.shape[0])
        if nodes.size:
            mass = float(weights.sum())
            threshold = (self.push_tol / mass) * graph.push_degrees
            forward_push(graph.adjacency, graph.out_weight, nodes, weights / mass, self.damping, threshold, walked)
            _linear(walked, mass, self.damping, graph.dangling)
        return walked

    def _passage_mass(self, ctx: RetrievalContext) -> np.ndarray:
        """`_linear` PPR of 1 on every passage, by power iteration."""
        snapshot = ctx.snapshot
        ones = np.zeros(snapshot.node_count)
        ones[:len(snapshot.passage_ids)] = 1.0
        walked = kernels.ppr(snapshot.ppr_graph, ones, damping=self.damping, tol=PASSAGE_MASS_TOL, backend="cpu")
        return _linear(walked, len(snapshot.passage_ids), self.damping, snapshot.ppr_graph.dangling)

    def _derived(
        self, ctx: RetrievalContext, name: str, compute: Callable[[RetrievalContext], np.ndarray]
    ) -> np.ndarray:
        """`compute(ctx)`, computed once per snapshot (and damping) and kept on it in memory."""
        key = ("ppr", name, self.damping)
        if key not in ctx.snapshot.derived:
            ctx.snapshot.derived[key] = compute(ctx)
        return ctx.snapshot.derived[key]

    def _rank(
        self, state: RetrievalState, ctx: RetrievalContext, scores: np.ndarray, reset: np.ndarray
    ) -> dict[str, Any]:
        snapshot = ctx.snapshot
        offset = len(snapshot.passage_ids)
        corrected = self._correct_prior(state, ctx, scores, reset)
        state.ranking = rank_by_scores(np.asarray(scores[:offset]), max(self.candidates, state.top_k))
        top_nodes = rank_by_scores(np.asarray(scores), TOP_NODES)
        passages = iter(ctx.passages([n for n, _ in top_nodes if n < offset]))
        graph_seeds = rank_by_scores(reset[offset:], np.count_nonzero(reset[offset:]))
        return {
            "seeds": {snapshot.node_label(offset + n)[1]: round(w, 4) for n, w in graph_seeds},
            "levels": {name: _level_summary(state, ctx, name, level) for name, level in state.levels.items()},
            "top_nodes": [
                _passage_node(next(passages), snapshot.passage_ids[n], s) if n < offset
                else {"node": snapshot.node_label(n)[1], "kind": snapshot.node_label(n)[0], "score": round(s, 6)}
                for n, s in top_nodes
            ],
            **({"exact_prior": corrected} if corrected else {}),
        }

    def _correct_prior(
        self, state: RetrievalState, ctx: RetrievalContext, scores: np.ndarray, reset: np.ndarray
    ) -> int:
        """Adds to the PPR `scores` (in place) of the `exact_prior` top passages their own share of
        the prior an approximate passage search left out (see the module's note); returns how many
        passages it corrected: none with exact search, whose scores stay as PPR gave them."""
        if not self.exact_prior or not ctx.approximate("passages"):
            return 0
        used = ctx.dense_scores(state)
        low, high = float(used.min()), float(used.max())
        if high - low < 1e-12:  # `min_max` gave every passage the same prior
            return 0
        top = rank_by_scores(np.asarray(scores[:len(ctx.snapshot.passage_ids)]), self.exact_prior)
        rows = np.fromiter((n for n, _ in top), dtype=np.int64, count=len(top))
        scale = self.passage_weight * state.level_weight(PASSAGE_LEVEL) / (high - low)  # cosine -> reset weight
        missing = (ctx.exact_scores(state, "passages", rows) - used[rows]) * scale
        scores[rows] += (1 - self.damping) * missing / reset.sum()
        return rows.size

    def _fallback(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        state.ranking = rank_by_scores(ctx.dense_scores(state), max(self.candidates, state.top_k))
        return {"fallback": "dense (no fact or entity linked)"}


def _linear(walked: np.ndarray, mass: float | np.ndarray, damping: float, dangling: np.ndarray) -> np.ndarray:
    """(1 - d)(I - d P^T)^-1 seeds, linear in them, from `walked` (scaled in place), kernels' PPR
    of (n,) or (n, b) seeds of total `mass` (per column) on a graph whose `dangling` nodes have no
    out-edges: kernels normalize the seeds and send dangling mass back along them, so `walked` is
    that times a factor, which summing the fixed point gives from its dangling mass w_D:
    (1 - d) mass / (1 - d + d w_D)."""
    walked *= (1 - damping) * mass / (1 - damping + damping * walked[dangling].sum(axis=0))
    return walked


def _most_common(values: np.ndarray) -> float:
    """The value most of `values` share, judged on an even sample of about `MODE_SAMPLE` of them (the
    far passages' prior under ANN); any value keeps the decomposition exact, this one keeps it sparse."""
    sample = values[::max(1, values.size // MODE_SAMPLE)]
    distinct, counts = np.unique(sample, return_counts=True)
    return float(distinct[np.argmax(counts)])


def _level_summary(state: RetrievalState, ctx: RetrievalContext, name: str, level: Level) -> dict[str, Any]:
    """A level as the trace shows it: node kind, level weight, seed count, heaviest seeds."""
    offset = ctx.snapshot.node_offset(level.kind)
    return {
        "kind": level.kind, "weight": state.level_weight(name), "seeds": int(np.count_nonzero(level.weights)),
        "top": {ctx.snapshot.node_label(offset + n)[1]: round(w, 4) for n, w in level.top(5) if w},
    }


def _passage_node(passage: Passage | None, passage_id: str, score: float) -> dict[str, Any]:
    """A top PPR node that is a passage: labelled by its title (its id when untitled or deleted)."""
    label = passage.title if passage is not None and passage.title else passage_id
    return {"node": label, "kind": "passage", "id": passage_id, "score": round(score, 6)}
