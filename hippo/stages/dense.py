"""`dense`: plain embedding retrieval, the baseline every benchmark compares against.

With several queries (a clue stage's), passages rank by their combined score
(`scoring.combine_queries`); `per_query` > 0 is MemoRAG's own retrieval instead: each query,
the question first, retrieves its `per_query` best passages on its own, their union leads
the ranking in that order, and the combined ranking follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hippo.stages.context import RetrievalContext
from hippo.stages.registry import register_stage
from hippo.stages.scoring import rank_by_scores
from hippo.stages.stage import Stage, setting
from hippo.stages.state import RetrievalState


@register_stage
@dataclass
class DenseStage(Stage):
    """Ranks passages by cosine similarity of their embedding to the queries."""

    name = "dense"
    candidates: int = setting(100, ge=1)  # passages kept (at least the caller's top_k)
    per_query: int = setting(0, ge=0)  # > 0: each query's own top this many lead the ranking (MemoRAG)

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        scores = ctx.dense_scores(state)
        state.ranking = rank_by_scores(scores, max(self.candidates, state.top_k))
        if self.per_query and len(state.queries) > 1:
            lead = dict.fromkeys(i for column in ctx.similarities(state, "passages")
                                 for i, _ in rank_by_scores(column, self.per_query))
            state.ranking = [(i, float(scores[i])) for i in lead] + [r for r in state.ranking if r[0] not in lead]
            return {"ranked": len(state.ranking), "union": len(lead)}
        return {"ranked": len(state.ranking)}
