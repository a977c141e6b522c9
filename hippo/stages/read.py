"""`read`: the reader LLM answers from the top passages and cites them by number.

It reads exactly the passages the caller returns: the first `top_k` of the ranking
(`hippo ask --top-k`, `Hippo.ask(top_k=)`), so every `[n]` refers to the n-th passage printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hippo.errors import HippoError
from hippo.stages.context import RetrievalContext
from hippo.stages.registry import register_stage
from hippo.stages.stage import Stage
from hippo.stages.state import RetrievalState


@register_stage
@dataclass
class ReadStage(Stage):
    """Writes `state.answer` from the first `top_k` ranked passages; without a usable LLM it
    leaves the answer empty and says why in `state.note`."""

    name = "read"
    answers = True

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        from hippo.llm.reader import answer

        passages = [p for p, _ in ctx.ranked_passages(state)]
        if not passages:
            state.note = "no passage was retrieved, so there is nothing to answer from"
            return {"answered": False}
        try:
            result = answer(ctx.llm, state.question, [(p.title, p.text) for p in passages], hints=state.hints)
        except HippoError as err:
            state.note = f"no generated answer: {err}"
            return {"answered": False, "reason": str(err)}
        state.answer, state.citations = result.text, list(result.citations)
        return {"answered": True, "citations": state.citations, "passages": len(passages)}
