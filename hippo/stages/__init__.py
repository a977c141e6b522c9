"""Retrieval stages: the framework a stage is written against.

A stage is one module: a `Stage` dataclass subclass (see `hippo.stages.stage`) registered
with `@register_stage`, or referenced from a pipeline spec as `package.module:Class`, or
installed under the `hippo.stages` entry-point group (see `hippo.stages.registry`).
"""

from hippo.stages.context import RetrievalContext
from hippo.stages.registry import known_stages, register_stage, stage_class
from hippo.stages.stage import SettingError, Stage, setting
from hippo.stages.state import Level, LinkedEntity, LinkedFact, Query, RetrievalState

__all__ = [
    "Level", "LinkedEntity", "LinkedFact", "Query", "RetrievalContext", "RetrievalState", "SettingError",
    "Stage", "known_stages", "register_stage", "setting", "stage_class",
]
