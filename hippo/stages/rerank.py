"""`rerank`: reorders the top passages. `method = "none"` keeps the order; `"cross-encoder"`
scores (question, passage) pairs with a local sentence-transformers CrossEncoder model."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from hippo.errors import HippoError
from hippo.stages.context import RetrievalContext
from hippo.stages.registry import register_stage
from hippo.stages.stage import SettingError, Stage, setting
from hippo.stages.state import RetrievalState


@register_stage
@dataclass
class RerankStage(Stage):
    """Reorders the first `top_n` ranked passages."""

    name = "rerank"
    method: Literal["none", "cross-encoder"] = "none"
    model: str = ""  # a local sentence-transformers CrossEncoder folder, for method "cross-encoder"
    top_n: int = setting(20, ge=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.method == "cross-encoder" and not self.model:
            raise SettingError(self.name, "setting model = '': method 'cross-encoder' needs a local model folder")

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        if self.method == "none":
            return {"method": "none"}
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

    try:
        return CrossEncoder(model, device="cpu", local_files_only=True)
    except OSError:
        raise HippoError(f"stage 'rerank': cross-encoder model {model!r} not found locally") from None
