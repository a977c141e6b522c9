"""`read`: the reader LLM answers from the top passages and cites them by number."""

from __future__ import annotations

from typing import Any

from hippo.errors import HippoError
from hippo.stages.base import RetrievalContext, RetrievalState, Stage, register_stage


@register_stage
class ReadStage(Stage):
    """Writes `state.answer` from the first `top_k` ranked passages; without a usable LLM it
    leaves the answer empty and says why in `state.note`."""

    name = "read"
    answers = True
    top_k: int = 5

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        from hippo.llm.reader import answer

        passages = [p for p in ctx.passages([i for i, _ in state.ranking[:self.top_k]]) if p]
        if not passages:
            state.note = "no passage was retrieved, so there is nothing to answer from"
            return {"answered": False}
        try:
            result = answer(ctx.llm, state.question, [(p.title, p.text) for p in passages])
        except HippoError as err:
            state.note = f"no generated answer: {err}"
            return {"answered": False, "reason": str(err)}
        state.answer, state.citations = result.text, list(result.citations)
        return {"answered": True, "citations": state.citations, "passages": len(passages)}
