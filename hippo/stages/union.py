"""`union`: MemoRAG's retrieval of clues — each clue retrieves on its own, the union is read.

MemoRAG lets every clue retrieve its own passages beside the question's and reads their union.
Here the incoming ranking stands for the question's (PPR's, or dense): its first `keep`
passages stay in front, then each clue query in order adds its own `per_query` best passages
by dense similarity (`cos(clue, passage)`, the clue's weight plays no part) that are not there
yet, then the rest of the incoming ranking follows. A clue's passage can therefore displace
only the incoming ranking's passages below rank `keep`: with `keep = 4` and one clue, the
question's top 4 are untouched and the fifth place goes to the passage the clue found. With
no clue the ranking is left as it is. Each place keeps the incoming ranking's score for that
place, so scores still fall with rank and stay on its scale; the trace gives each added
passage's cosine to its clue.
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
class UnionStage(Stage):
    """Puts each clue's own best passages after the ranking's first `keep` (see the module doc)."""

    name = "union"
    keep: int = setting(4, ge=0)  # passages of the incoming ranking kept in front of the clues' passages
    per_query: int = setting(1, ge=1)  # passages each clue query adds (MemoRAG: 3)

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        clues = [i for i, q in enumerate(state.queries) if q.source != "question"]
        if not clues or not state.ranking:
            return {"added": []}
        columns = ctx.similarities(state, "passages")
        front = state.ranking[:self.keep]
        taken = {i for i, _ in front}
        added: list[tuple[int, float]] = []
        for clue in clues:
            own = [(i, s) for i, s in rank_by_scores(columns[clue], self.per_query + len(taken))
                   if i not in taken][:self.per_query]
            added += own
            taken.update(i for i, _ in own)
        order = [i for i, _ in front + added] + [i for i, _ in state.ranking[self.keep:] if i not in taken]
        scores = [score for _, score in state.ranking]
        scores += scores[-1:] * (len(order) - len(scores))  # a clue's passage the ranking had cut off
        state.ranking = list(zip(order, scores, strict=True))
        passages = ctx.passages([i for i, _ in added])
        return {"keep": self.keep, "added": [
            {"rank": len(front) + n + 1, "id": p.id, "title": p.title, "cosine": round(cosine, 4)}
            for n, (p, (_, cosine)) in enumerate(zip(passages, added, strict=True)) if p is not None
        ]}
