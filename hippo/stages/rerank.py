"""`rerank`: reorders the top passages. `method = "none"` keeps the order; `"cross-encoder"`
scores (question, passage) pairs with a local sentence-transformers CrossEncoder model."""

from __future__ import annotations

from functools import cache
from typing import Any

from hippo.errors import HippoError
from hippo.stages.base import RetrievalContext, RetrievalState, Stage, register_stage


@register_stage
class RerankStage(Stage):
    """Reorders the first `top_n` ranked passages."""

    name = "rerank"
    method: str = "none"
    model: str = ""
    top_n: int = 20

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        if self.method == "none":
            return {"method": "none"}
        if self.method != "cross-encoder":
            raise HippoError(f"stage 'rerank': method must be 'none' or 'cross-encoder', not {self.method!r}")
        head, tail = state.ranking[:self.top_n], state.ranking[self.top_n:]
        passages = ctx.passages([i for i, _ in head])
        pairs = [(state.question, f"{p.title}\n{p.text}" if p else "") for p in passages]
        scores = _cross_encoder(self.model).predict(pairs) if pairs else []
        reordered = sorted(zip(head, scores, strict=True), key=lambda item: -float(item[1]))
        state.ranking = [(i, float(s)) for (i, _), s in reordered] + tail
        return {"method": self.method, "model": self.model, "reranked": len(head)}


@cache
def _cross_encoder(model: str) -> Any:
    from sentence_transformers import CrossEncoder

    if not model:
        raise HippoError("stage 'rerank': method 'cross-encoder' needs model = a local model folder")
    try:
        return CrossEncoder(model, device="cpu", local_files_only=True)
    except OSError:
        raise HippoError(f"stage 'rerank': cross-encoder model {model!r} not found locally") from None
