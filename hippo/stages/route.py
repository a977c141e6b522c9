"""`route`: MemGAS multi-granularity routing over an index's memory units.

Per granularity, the entropy of the query's softmax similarity distribution sets its weight
(`hippo.memory.route`); the weighted unit scores (optionally spread by PPR over the GMM
association graph) aggregate to the retrieval unit: a session on a conversation index, a
passage on a document index. `--explain` shows each granularity's entropy and weight.
"""

from __future__ import annotations

from typing import Any

from hippo.errors import HippoError
from hippo.memory.route import AGGREGATES, passage_ranking, route
from hippo.memory.view import memory_view
from hippo.stages.base import RetrievalContext, RetrievalState, Stage, register_stage
from hippo.stages.dense import rank_by_scores


@register_stage
class RouteStage(Stage):
    """Ranks passages by the routed scores of their memory units."""

    name = "route"
    granularities: str = ""  # comma-separated granularities to route over; empty: all the index has
    temperature: float = 0.2
    graph: bool = False  # spread the weighted scores by PPR over the association graph
    seeds: int = 15  # with graph: the best units that seed PPR
    damping: float = 0.1
    aggregate: str = "max"  # "max": per granularity the best unit, summed; "sum": every unit
    candidates: int = 100

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        if self.aggregate not in AGGREGATES or not self.temperature > 0 or not 0 < self.damping < 1:
            raise HippoError("stage 'route': needs aggregate 'max' or 'sum', temperature > 0, 0 < damping < 1")
        view = memory_view(ctx, ctx.index_dir)
        if view is None:
            state.ranking = rank_by_scores(ctx.dense_scores(state), self.candidates)
            return {"fallback": "dense (the index has no memory units; re-run `hippo index`)"}
        wanted = [g.strip() for g in self.granularities.split(",") if g.strip()]
        routed = route(view, ctx.encode_queries(state)[0], wanted, temperature=self.temperature, graph=self.graph,
                       seeds=self.seeds, damping=self.damping, aggregate=self.aggregate)
        state.ranking = passage_ranking(view, routed, ctx.snapshot.passage_ids, self.candidates)
        return {"granularities": [{"granularity": w.granularity, "units": w.units, "entropy": round(w.entropy, 4),
                                   "weight": round(w.weight, 4)} for w in routed.weights]}
