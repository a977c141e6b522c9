"""Retrieval stages, registered by name for pipeline specs."""

from hippo.stages import dense, fuse, link, ppr, read, rerank, route
from hippo.stages.base import RetrievalContext, RetrievalState, Stage, register_stage, stage_class

__all__ = [
    "RetrievalContext", "RetrievalState", "Stage", "dense", "fuse", "link", "ppr", "read",
    "register_stage", "rerank", "route", "stage_class",
]
