"""`fuse`: reciprocal rank fusion of the current ranking (e.g. PPR's) with the dense ranking.

PPR finds the passages two hops from the question's entities; dense similarity finds the one
that answers the question's own words. Reciprocal rank fusion (Cormack et al., 2009) adds
`weight / (k + rank)` from each list, so a passage high in either list stays high, and no
scores need calibrating against each other.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hippo.errors import HippoError
from hippo.stages.base import RetrievalContext, RetrievalState, Stage, register_stage
from hippo.stages.dense import rank_by_scores


@register_stage
class FuseStage(Stage):
    """Re-ranks passages by reciprocal rank fusion of the ranking so far and the dense one."""

    name = "fuse"
    k: int = 60                 # RRF constant: larger flattens the difference between ranks
    graph_weight: float = 1.0   # weight of the incoming ranking against the dense one (1.0)
    candidates: int = 100

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        if self.k < 1 or self.graph_weight < 0 or self.candidates < 1:
            raise HippoError("stage 'fuse': needs k >= 1, graph_weight >= 0 and candidates >= 1")
        dense = rank_by_scores(ctx.dense_scores(state), self.candidates)
        fused: dict[int, float] = defaultdict(float)
        for weight, ranking in ((self.graph_weight, state.ranking[:self.candidates]), (1.0, dense)):
            for rank, (passage, _) in enumerate(ranking, 1):
                fused[passage] += weight / (self.k + rank)
        state.ranking = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:self.candidates]
        return {"fused": len(fused), "k": self.k, "graph_weight": self.graph_weight}
