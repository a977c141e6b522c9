"""Pipelines: declarative lists of stages in TOML (`pipelines/NAME.toml`), loaded by name.

A spec looks like::

    description = "HippoRAG 2: link facts and entities, PPR over the graph, read"
    [[stages]]
    type = "link"
    top_facts = 1

Each `[[stages]]` table names a stage by `type` (a registered name or
`package.module:Class`, see `hippo.stages.registry`); its other keys override that stage's
settings, which are checked when the pipeline loads. Names are looked up in $HIPPO_PIPELINES
(folders, `:`-separated), then in the `pipelines/` folder shipped with hippo; a path to a
.toml file works too.
"""

from __future__ import annotations

import tomllib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from threadpoolctl import ThreadpoolController

import pipelines
from hippo.config import HIPPO_PIPELINES
from hippo.errors import HippoError
from hippo.stages import RetrievalContext, RetrievalState, SettingError, Stage, stage_class

DEFAULT_PIPELINE = "hipporag2"
DEFAULT_TOP_K = 10
BUILTIN_DIR = Path(pipelines.__file__).resolve().parent


@dataclass
class Pipeline:
    """A named sequence of configured stages."""

    name: str
    stages: list[Stage]
    description: str = ""

    def run(
        self, question: str, ctx: RetrievalContext, retrieve_only: bool = False, top_k: int = DEFAULT_TOP_K
    ) -> RetrievalState:
        """Runs every stage (all but answering ones with `retrieve_only`) on one question."""
        return self.run_batch([question], ctx, retrieve_only, top_k)[0]

    def run_batch(
        self, questions: list[str], ctx: RetrievalContext, retrieve_only: bool = False, top_k: int = DEFAULT_TOP_K
    ) -> list[RetrievalState]:
        """Runs the stages over many questions, stage by stage, so batched kernels apply.
        `top_k` passages are kept by ranking stages, returned, and read by the reader."""
        for question in questions:
            if not question.strip():
                raise HippoError("the question is empty; ask something")
        if top_k < 1:
            raise HippoError(f"top_k must be at least 1, not {top_k}")
        states = [RetrievalState(question=q.strip(), top_k=top_k) for q in questions]
        with single_threaded_blas():
            for stage in self.stages:
                if not (retrieve_only and stage.answers):
                    states = stage.run_batch(states, ctx)
        return states


def pipeline_dirs() -> list[Path]:
    """Folders searched for pipeline specs, first match wins."""
    extra = [Path(p) for p in (HIPPO_PIPELINES.get() or "").split(":") if p]
    return [*extra, BUILTIN_DIR]


def available_pipelines() -> list[str]:
    """Names of the pipeline specs that can be loaded by name."""
    return sorted({p.stem for d in pipeline_dirs() if d.is_dir() for p in d.glob("*.toml")})


def load_pipeline(name_or_path: str = DEFAULT_PIPELINE) -> Pipeline:
    """The pipeline named `name_or_path` (or read from that .toml file), validated."""
    path = _find_spec(name_or_path)
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise HippoError(f"{path}: malformed pipeline file ({err}); fix the TOML") from None
    tables = spec.get("stages")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise HippoError(f"{path}: a pipeline needs one or more [[stages]] tables")
    stages = []
    for position, table in enumerate(tables, 1):
        settings = dict(table)
        kind = settings.pop("type", None)
        if not isinstance(kind, str):
            raise HippoError(f"{path}: stage {position} has no `type = \"...\"`")
        try:
            stages.append(stage_class(kind).from_settings(settings))
        except SettingError as err:
            raise HippoError(f"{path}: stage {position} ({kind}): {err.detail}") from None
        except HippoError as err:
            raise HippoError(f"{path}: stage {position} ({kind}): {err}") from None
    return Pipeline(path.stem, stages, str(spec.get("description", "")))


@cache
def _blas_libraries() -> ThreadpoolController:
    return ThreadpoolController().select(user_api="blas")


def single_threaded_blas() -> AbstractContextManager[Any]:
    """Keeps BLAS (numpy's OpenBLAS or MKL) on one thread while queries run: its threads
    spin-wait after each small product and starve torch's encoder threads."""
    return _blas_libraries().limit(limits=1)


def _find_spec(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml":
        if not candidate.is_file():
            raise HippoError(f"--pipeline {name_or_path}: no such file")
        return candidate
    for folder in pipeline_dirs():
        path = folder / f"{name_or_path}.toml"
        if path.is_file():
            return path
    raise HippoError(
        f"--pipeline {name_or_path!r} is unknown; available: {', '.join(available_pipelines()) or 'none'}"
    )
