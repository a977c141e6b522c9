"""`dense`: plain embedding retrieval, the baseline every benchmark compares against.

With several queries (a clue stage's), passages rank by their combined score
(`scoring.combine_queries`); MemoRAG's own per-clue retrieval is the `union` stage.
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

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        scores = ctx.dense_scores(state)
        state.ranking = rank_by_scores(scores, max(self.candidates, state.top_k))
        return {"ranked": len(state.ranking)}
