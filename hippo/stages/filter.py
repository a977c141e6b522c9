"""`filter` (MemGAS): the LLM keeps the parts of the top units that bear on the question, in
their original words. On a conversation index the parts are the turns of the top sessions
(a session keeps its best-ranked turn when the LLM keeps none of it); on a document index,
the top passages themselves (one the LLM judges irrelevant is dropped from the ranking).
Without an LLM (`--llm`) the stage changes nothing and says so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hippo.errors import HippoError
from hippo.memory.llm_units import llm_relevant_lines
from hippo.memory.sessions import KEPT, conversation_sessions, conversation_view
from hippo.stages.context import RetrievalContext
from hippo.stages.registry import register_stage
from hippo.stages.stage import Stage
from hippo.stages.state import RetrievalState


@register_stage
@dataclass
class FilterStage(Stage):
    """Keeps the turns (or passages) of the top `top_k` units that the LLM finds relevant."""

    name = "filter"

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        if ctx.llm_spec is None:
            return {"skipped": "no LLM set (--llm); the units are kept whole"}
        try:
            if conversation_view(ctx) is not None:
                return self._turns(state, ctx)
            return self._passages(state, ctx)
        except HippoError as err:
            return {"skipped": f"the LLM failed ({err}); the units are kept whole"}

    def _turns(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        view = conversation_view(ctx)
        assert view is not None
        index = {pid: i for i, pid in enumerate(ctx.snapshot.passage_ids)}
        order = {i: rank for rank, (i, _) in enumerate(state.ranking)}
        kept: list[int] = []
        for session, _ in conversation_sessions(ctx, state) or []:
            turns = [index[pid] for _, _, pid in view.sessions[session.id].turns if pid in index]
            texts = [p.text if p else "" for p in ctx.passages(turns)]
            chosen = llm_relevant_lines(ctx.llm, state.question, texts)
            picked = [turns[i] for i in chosen] if chosen is not None else turns
            kept += picked or [min(turns, key=lambda i: order.get(i, len(order)))]
        state.cache[KEPT] = np.asarray(kept, dtype=np.int64)
        return {"kept_turns": len(kept)}

    def _passages(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        head = state.ranking[:state.top_k]
        passages = ctx.passages([i for i, _ in head])
        lines = [f"{p.title}: {p.text}" if p and p.title else (p.text if p else "") for p in passages]
        chosen = llm_relevant_lines(ctx.llm, state.question, lines)
        if chosen is None or not chosen:
            return {"kept_passages": len(head), "note": "the LLM kept none; all are kept"}
        dropped = {head[i][0] for i in range(len(head)) if i not in chosen}
        state.ranking = [item for item in state.ranking if item[0] not in dropped]
        return {"kept_passages": len(head) - len(dropped)}
