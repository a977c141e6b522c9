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
memory and beside the snapshot (the next process reads it). kernels.ppr normalizes its seeds and
returns dangling mass along them, so that part is taken back to the linear
(1 - d)(I - d P^T)^-1 seeds (`_linear`), the form the push computes. No
step of a query passes over every node (`SparseScores`): the push's state holds the nodes it
touched (`kernels.push.PushState`), the reset stays sparse (`Reset`), and since w0 x PPR(1 on
every passage) orders the untouched nodes the same for every query, their best are the first
untouched ones in that vector's order, sorted once per snapshot (`AllPassages`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, Protocol

import numpy as np

import hippo_kernels as kernels
from hippo.corpus import Passage
from hippo.errors import HippoError
from hippo.snapshot import kept_array
from hippo.stages.context import RetrievalContext
from hippo.stages.registry import register_stage
from hippo.stages.scoring import min_max, rank_by_scores
from hippo.stages.stage import Stage, setting
from hippo.stages.state import Level, RetrievalState
from hippo_kernels.push import PushState

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

    def personalization(self, state: RetrievalState, ctx: RetrievalContext) -> Reset | None:
        """The reset vector (`Reset`), or None when no level seeds a node."""
        snapshot = ctx.snapshot
        levels = [(snapshot.node_offset(level.kind) + level.nodes, level.weights * state.level_weight(name))
                  for name, level in state.levels.items() if name != PASSAGE_LEVEL]
        nodes, where = np.unique(np.concatenate([n for n, _ in levels] or [np.empty(0, dtype=np.int64)]),
                                 return_inverse=True)
        weights = np.zeros(nodes.size)
        np.add.at(weights, where, np.concatenate([w for _, w in levels] or [np.empty(0)]))  # in level order
        if self.specificity:
            weights /= np.maximum(1, snapshot.mention_counts[nodes])
        if not (weights > 0).any():
            return None
        passages = len(snapshot.passage_ids)
        dense = min_max(ctx.dense_scores(state)) * self.passage_weight
        state.levels[PASSAGE_LEVEL] = Level("passage", np.arange(passages), dense)
        seeded = weights > 0
        return Reset(nodes[seeded], weights[seeded], dense * state.level_weight(PASSAGE_LEVEL), snapshot.node_count)

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        reset = self.personalization(state, ctx)
        if reset is None:
            return self._fallback(state, ctx)
        if self._local(ctx):
            with ctx.snapshot.ppr_graph.push_state() as pushed:
                return self._rank(state, ctx, self._decomposed(ctx, reset, pushed), reset)
        return self._rank(state, ctx, DenseScores(self._ppr(ctx, reset.dense()), reset.prior.size), reset)

    def run_batch(self, states: list[RetrievalState], ctx: RetrievalContext) -> list[RetrievalState]:
        """One batched kernel call for every question that has seeds (one push each under ANN)."""
        if self._local(ctx):
            return super().run_batch(states, ctx)
        started = time.perf_counter()
        resets = [self.personalization(state, ctx) for state in states]
        seeded = {i: reset for i, reset in enumerate(resets) if reset is not None}
        scores = self._ppr(ctx, np.column_stack([reset.dense() for reset in seeded.values()])) if seeded else None
        share = (time.perf_counter() - started) / max(1, len(states))
        columns = {i: c for c, i in enumerate(seeded)}
        for i, (state, reset) in enumerate(zip(states, resets, strict=True)):
            details = (self._rank(state, ctx, DenseScores(scores[:, columns[i]], reset.prior.size), reset)
                       if reset is not None and scores is not None else self._fallback(state, ctx))
            self.record(state, {**details, "batched": len(states)}, share)
        return states

    def _local(self, ctx: RetrievalContext) -> bool:
        """Whether PPR takes the sparse decomposition (see the module's note)."""
        return self.backend == "auto" and ctx.approximate("passages")

    def _ppr(self, ctx: RetrievalContext, reset: np.ndarray) -> np.ndarray:
        try:
            return kernels.ppr(ctx.snapshot.ppr_graph, reset.astype(self.precision), damping=self.damping, tol=self.tol,
                               backend=self.backend)
        except ValueError as err:
            raise HippoError(f"stage 'ppr': {err}") from None

    def _decomposed(self, ctx: RetrievalContext, reset: Reset, pushed: PushState) -> SparseScores:
        """PPR of `reset` as its sparse part, pushed into `pushed` (`push_tol` in the reset's own
        units: a part of little mass needs little work), plus its shared passage weight times the
        snapshot's PPR of all passages (see the module's note)."""
        shared, nodes, weights = reset.split()
        graph = ctx.snapshot.ppr_graph
        pushed.push(graph.adjacency, graph.out_weight, graph.push_degrees, nodes, weights, self.damping, self.push_tol)
        base = self._derived(ctx, "all passages", self._all_passages)
        return SparseScores(pushed, base, shared, reset.prior.size, np.dtype(self.precision))

    def _all_passages(self, ctx: RetrievalContext) -> AllPassages:
        """`_linear` PPR of 1 on every passage, by power iteration, with its order; kept beside the
        snapshot (`kept_array`): on a 5M-node graph it takes ~15 s, which every new process paid."""
        snapshot = ctx.snapshot
        passages = len(snapshot.passage_ids)

        def walk() -> np.ndarray:
            ones = np.zeros(snapshot.node_count)
            ones[:passages] = 1.0
            walked = kernels.ppr(snapshot.ppr_graph, ones, damping=self.damping, tol=PASSAGE_MASS_TOL, backend="cpu")
            return _linear(walked, passages, self.damping, snapshot.ppr_graph.dangling)

        name = f"ppr-all-passages-damping{self.damping}-tol{PASSAGE_MASS_TOL}"
        return AllPassages.of(kept_array(snapshot.folder, name, walk), passages)

    def _derived(self, ctx: RetrievalContext, name: str, compute: Callable[[RetrievalContext], Any]) -> Any:
        """`compute(ctx)`, computed once per snapshot (and damping) and kept on it in memory."""
        key = ("ppr", name, self.damping)
        if key not in ctx.snapshot.derived:
            ctx.snapshot.derived[key] = compute(ctx)
        return ctx.snapshot.derived[key]

    def _rank(self, state: RetrievalState, ctx: RetrievalContext, scores: Scores, reset: Reset) -> dict[str, Any]:
        snapshot = ctx.snapshot
        offset = len(snapshot.passage_ids)
        corrected = self._correct_prior(state, ctx, scores, reset)
        state.ranking = scores.top(max(self.candidates, state.top_k), passages=True)
        top_nodes = scores.top(TOP_NODES, passages=False)
        passages = iter(ctx.passages([n for n, _ in top_nodes if n < offset]))
        graph = np.flatnonzero(reset.nodes >= offset)
        graph_seeds = [(int(reset.nodes[graph[i]]), w) for i, w in rank_by_scores(reset.weights[graph], graph.size)]
        return {
            "seeds": {snapshot.node_label(n)[1]: round(w, 4) for n, w in graph_seeds},
            "levels": {name: _level_summary(state, ctx, name, level) for name, level in state.levels.items()},
            "top_nodes": [
                _passage_node(next(passages), snapshot.passage_ids[n], s) if n < offset
                else {"node": snapshot.node_label(n)[1], "kind": snapshot.node_label(n)[0], "score": round(s, 6)}
                for n, s in top_nodes
            ],
            **({"exact_prior": corrected} if corrected else {}),
        }

    def _correct_prior(self, state: RetrievalState, ctx: RetrievalContext, scores: Scores, reset: Reset) -> int:
        """Adds to the PPR `scores` of the `exact_prior` top passages their own share of the prior
        an approximate passage search left out (see the module's note); returns how many passages
        it corrected: none with exact search, whose scores stay as PPR gave them."""
        if not self.exact_prior or not ctx.approximate("passages"):
            return 0
        used = ctx.dense_scores(state)
        low, high = float(used.min()), float(used.max())
        if high - low < 1e-12:  # `min_max` gave every passage the same prior
            return 0
        top = scores.top(self.exact_prior, passages=True)
        rows = np.fromiter((n for n, _ in top), dtype=np.int64, count=len(top))
        scale = self.passage_weight * state.level_weight(PASSAGE_LEVEL) / (high - low)  # cosine -> reset weight
        missing = (ctx.exact_scores(state, "passages", rows) - used[rows]) * scale
        scores.add(rows, (1 - self.damping) * missing / reset.total())
        return rows.size

    def _fallback(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        state.ranking = rank_by_scores(ctx.dense_scores(state), max(self.candidates, state.top_k))
        return {"fallback": "dense (no fact or entity linked)"}


@dataclass
class Reset:
    """The reset vector as the stage builds it: the levels' seeds, `weights` (positive) on distinct
    graph `nodes` in order, plus the passages' `prior` (passage i is node i) over `node_count` nodes."""

    nodes: np.ndarray
    weights: np.ndarray
    prior: np.ndarray
    node_count: int

    def dense(self) -> np.ndarray:
        """The reset over every node (float64)."""
        reset = np.zeros(self.node_count)
        reset[self.nodes] = self.weights
        reset[:self.prior.size] += self.prior
        return reset

    def total(self) -> float:
        """The reset's sum."""
        return float(self.weights.sum() + self.prior.sum())

    def split(self) -> tuple[float, np.ndarray, np.ndarray]:
        """(w0, nodes, weights): the reset as w0 on every passage plus signed `weights` on distinct
        `nodes`, w0 the prior most passages share (any value is exact; this one leaves few nodes)."""
        shared = _most_common(self.prior)
        differing = np.flatnonzero(self.prior != shared)
        nodes, where = np.unique(np.concatenate([differing, self.nodes]), return_inverse=True)
        weights = np.bincount(where, np.concatenate([self.prior[differing] - shared, self.weights]), nodes.size)
        return shared, nodes, weights


class Scores(Protocol):
    """PPR scores of every node (passages first) as `_rank` reads them."""

    def top(self, limit: int, passages: bool) -> list[tuple[int, float]]:
        """(node, score) of the `limit` best passages (or nodes), best first, ties by lower node."""
        ...

    def add(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Adds `values` to the scores of distinct passages `rows`."""
        ...


@dataclass
class DenseScores:
    """`Scores` held as one array over every node (a view of a batch's column is fine)."""

    scores: np.ndarray
    passages: int

    def top(self, limit: int, passages: bool) -> list[tuple[int, float]]:
        return rank_by_scores(np.asarray(self.scores[:self.passages] if passages else self.scores), limit)

    def add(self, rows: np.ndarray, values: np.ndarray) -> None:
        self.scores[rows] += values


@dataclass
class AllPassages:
    """The linear PPR of 1 on every passage (`scores` over every node, their `total`) and the nodes
    and passages sorted by it, best first, ties by lower node."""

    scores: np.ndarray
    total: float
    nodes: np.ndarray
    passages: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray, passages: int) -> AllPassages:
        """Sorts `scores`' nodes once."""
        nodes = np.argsort(-scores, kind="stable")
        return cls(scores, float(scores.sum()), nodes, nodes[nodes < passages])


@dataclass
class SparseScores:
    """`Scores` (pushed + shared x base) / total, read without a pass over every node: `pushed` is
    the reset's sparse part, touched at few nodes; every other node scores shared x base, so its best
    are the first untouched nodes in `base`'s order (in node order when `shared` is 0). The touched
    nodes' scores are computed once; `add` records the rows it changes, scored anew when ranked."""

    pushed: PushState
    base: AllPassages
    shared: float
    passages: int
    dtype: np.dtype

    def __post_init__(self) -> None:
        self.touched = self.pushed.nodes()
        values = self.pushed.values(self.touched)
        self.total = float(values.sum()) + self.shared * self.base.total
        self.scores = (values + self.shared * self.base.scores[self.touched]) / self.total
        self.changed = np.empty(0, dtype=np.int64)

    @cached_property
    def touched_passages(self) -> tuple[np.ndarray, np.ndarray]:
        """The touched passages and their scores (before `add`)."""
        inside = self.touched < self.passages
        return self.touched[inside], self.scores[inside]

    def top(self, limit: int, passages: bool) -> list[tuple[int, float]]:
        touched, scores = self.touched_passages if passages else (self.touched, self.scores)
        changed = self.changed[self.changed < self.passages] if passages else self.changed
        untouched = self._untouched(limit, passages, touched.size + changed.size)
        best = limit + changed.size  # holds the `limit` best touched nodes that `add` left unchanged
        if scores.size > best:
            touched = touched[np.argpartition(scores, scores.size - best)[scores.size - best:]]
        nodes = np.unique(np.concatenate([touched, changed, untouched]))
        return _best(nodes, self._scores(nodes), limit)

    def add(self, rows: np.ndarray, values: np.ndarray) -> None:
        self.pushed.add(rows, values * self.total)
        self.changed = np.union1d(self.changed, rows)

    def _scores(self, nodes: np.ndarray) -> np.ndarray:
        return ((self.pushed.values(nodes) + self.shared * self.base.scores[nodes]) / self.total).astype(self.dtype)

    def _untouched(self, limit: int, passages: bool, touched: int) -> np.ndarray:
        """The `limit` best untouched passages (or nodes), of which at most `touched` are: the first
        in `base`'s order, all within its first `limit + touched`."""
        order = self.base.passages if passages else self.base.nodes
        prefix = order[:limit + touched] if self.shared > 0 else np.arange(min(limit + touched, order.size))
        return prefix[~self.pushed.touched[prefix]][:limit]


def _best(nodes: np.ndarray, scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
    """(node, score) of the `limit` highest `scores` of distinct `nodes`, best first, ties by lower node."""
    if scores.size > limit > 0:
        keep = scores >= np.partition(scores, scores.size - limit)[scores.size - limit]
        nodes, scores = nodes[keep], scores[keep]
    order = np.lexsort((nodes, -scores))[:limit]
    return list(zip(nodes[order].tolist(), scores[order].tolist(), strict=True))


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
