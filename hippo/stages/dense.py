"""`dense`: plain embedding retrieval, the baseline every benchmark compares against."""

from __future__ import annotations

from typing import Any

import numpy as np

from hippo.stages.base import RetrievalContext, RetrievalState, Stage, register_stage


def rank_by_scores(scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
    """(index, score) of the `limit` highest scores, best first (ties by lower index)."""
    limit = min(limit, scores.shape[0])
    if limit <= 0:
        return []
    best = np.argpartition(-scores, limit - 1)[:limit]
    order = best[np.lexsort((best, -scores[best]))]
    return [(int(i), float(scores[i])) for i in order]


@register_stage
class DenseStage(Stage):
    """Ranks passages by cosine similarity of their embedding to the question."""

    name = "dense"
    candidates: int = 100

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        state.ranking = rank_by_scores(ctx.dense_scores(state), self.candidates)
        return {"ranked": len(state.ranking)}
