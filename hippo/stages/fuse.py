"""`fuse`: reciprocal rank fusion of the current ranking (e.g. PPR's) with the dense ranking.

PPR finds the passages two hops from the question's entities; dense similarity finds the one
that answers the question's own words. Reciprocal rank fusion adds `weight / (k + rank)`
from each list, so a passage high in either list stays high, and no scores need
calibrating against each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hippo.stages.context import RetrievalContext
from hippo.stages.registry import register_stage
from hippo.stages.scoring import rank_by_scores, reciprocal_rank_fusion
from hippo.stages.stage import Stage, setting
from hippo.stages.state import RetrievalState


@register_stage
@dataclass
class FuseStage(Stage):
    """Re-ranks passages by reciprocal rank fusion of the ranking so far and the dense one."""

    name = "fuse"
    k: int = setting(60, ge=1)                  # RRF constant: larger flattens the difference between ranks
    graph_weight: float = setting(1.0, ge=0)    # weight of the incoming ranking against the dense one (1.0)
    candidates: int = setting(100, ge=1)        # depth of each ranking fused and kept (at least top_k)

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        depth = max(self.candidates, state.top_k)
        dense = rank_by_scores(ctx.dense_scores(state), depth)
        fused = reciprocal_rank_fusion([(self.graph_weight, state.ranking[:depth]), (1.0, dense)], self.k)
        state.ranking = fused[:depth]
        return {"fused": len(fused), "k": self.k, "graph_weight": self.graph_weight}
