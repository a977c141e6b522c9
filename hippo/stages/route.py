"""`route`: MemGAS multi-granularity routing over an index's memory units.

Per granularity, the entropy of the query's softmax similarity distribution sets its weight
(`hippo.memory.route`); the weighted unit scores (optionally spread by PPR over the GMM
association graph) aggregate to the retrieval unit: a session on a conversation index, a
passage on a document index; with `lexical` granularities a `lexical_weight` share of the
final score is BM25's (`hippo.memory.lexical`). `--explain` shows each granularity's entropy
and weight, and the lexical share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from hippo.memory.route import passage_ranking, route
from hippo.memory.view import memory_view
from hippo.stages.context import RetrievalContext
from hippo.stages.registry import register_stage
from hippo.stages.scoring import rank_by_scores
from hippo.stages.stage import Stage, setting
from hippo.stages.state import RetrievalState


@register_stage
@dataclass
class RouteStage(Stage):
    """Ranks passages by the routed scores of their memory units."""

    name = "route"
    granularities: str = ""  # comma-separated granularities to route over; empty: all the index has
    temperature: float = setting(0.2, gt=0)
    graph: bool = False  # spread the weighted scores by PPR over the association graph
    seeds: int = setting(15, ge=0)  # with graph: the best units that seed PPR (0: all)
    damping: float = setting(0.1, gt=0, lt=1)
    aggregate: Literal["max", "sum"] = "max"  # per granularity its best unit, summed; or every unit summed
    lexical: str = ""  # comma-separated granularities whose units BM25 also scores against the question
    lexical_weight: float = setting(0.0, ge=0, le=1)  # share of the BM25 scores in the final score (1: BM25 alone)
    candidates: int = setting(100, ge=1)  # passages ranked on a document index (at least the caller's top_k)

    def run_batch(self, states: list[RetrievalState], ctx: RetrievalContext) -> list[RetrievalState]:
        """Encodes every question in one batch first (one at a time is most of the stage's time)."""
        missing = list(dict.fromkeys(s.question for s in states if ("vector", s.question) not in s.cache))
        if missing:
            vectors = dict(zip(missing, ctx.encoder.encode(missing), strict=True))
            for state in states:
                state.cache.setdefault(("vector", state.question), vectors.get(state.question))
        return [self.run(state, ctx) for state in states]

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        view = memory_view(ctx, ctx.index_dir)
        if view is None:
            state.ranking = rank_by_scores(ctx.dense_scores(state), max(self.candidates, state.top_k))
            return {"fallback": "dense (the index has no memory units: conversations get them; for documents "
                                "index into a new --index with --document-memory)"}
        query = ctx.query_vectors(state)[0]  # the question; added queries do not change the routing
        lexical = _names(self.lexical)
        routed = route(view, query, _names(self.granularities), temperature=self.temperature, graph=self.graph,
                       seeds=self.seeds, damping=self.damping, aggregate=self.aggregate, question=state.question,
                       lexical=lexical, lexical_weight=self.lexical_weight)
        state.ranking = passage_ranking(view, routed, ctx.snapshot.passage_ids, max(self.candidates, state.top_k))
        trace: dict[str, Any] = {"granularities": [
            {"granularity": w.granularity, "units": w.units, "entropy": round(w.entropy, 4),
             "weight": round(w.weight, 4)} for w in routed.weights]}
        if lexical and self.lexical_weight > 0:
            trace["lexical"] = {"granularities": lexical, "weight": self.lexical_weight}
        return trace


def _names(text: str) -> list[str]:
    """The names in a comma-separated setting."""
    return [g.strip() for g in text.split(",") if g.strip()]
