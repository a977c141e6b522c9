"""What every retrieval stage shares: the per-question state, the loaded index context,
and the registry that maps stage names in pipeline specs to stage classes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from threadpoolctl import ThreadpoolController

from hippo.corpus import Passage
from hippo.embed import Encoder
from hippo.errors import HippoError
from hippo.models import load_spacy
from hippo.snapshot import GraphSnapshot, load_snapshot
from hippo.store import IndexStore, writable


@dataclass
class RetrievalState:
    """Everything known about one question as it moves through the stages.

    `queries` starts as [question]; a clue stage may append more. `level_weights` lets a
    routing stage weight memory levels ("facts", "entities", "passages") for later stages.
    `passage_scores` is the dense score of every passage (indexed like the snapshot).
    `ranking` holds (passage index, score) best first once a ranking stage has run.
    """

    question: str
    queries: list[str] = field(default_factory=list)
    query_vectors: np.ndarray | None = None
    level_weights: dict[str, float] = field(default_factory=lambda: {"facts": 1.0, "entities": 1.0, "passages": 1.0})
    linked_facts: list[tuple[int, float]] = field(default_factory=list)
    linked_entities: list[tuple[int, float, str]] = field(default_factory=list)
    entity_seeds: dict[int, float] = field(default_factory=dict)
    passage_scores: np.ndarray | None = None
    ranking: list[tuple[int, float]] = field(default_factory=list)
    answer: str | None = None
    citations: list[int] = field(default_factory=list)
    note: str | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.queries:
            self.queries = [self.question]


class RetrievalContext:
    """The loaded index and lazily created models shared by all stages of a process."""

    def __init__(self, index_dir: Path, llm_spec: str | None = None, llm_model: str | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.llm_spec = llm_spec
        self.llm_model = llm_model
        with IndexStore.open(self.index_dir) as store:
            self.settings = store.settings
        self.snapshot: GraphSnapshot = load_snapshot(self.index_dir)

    @cached_property
    def encoder(self) -> Encoder:
        return Encoder(self.settings.embedding_model)

    @cached_property
    def nlp(self) -> Any:
        return load_spacy()

    @cached_property
    def llm(self) -> Any:
        """The configured LLM client (raises hippo.llm.LLMUnavailable when it cannot be reached)."""
        from hippo.llm import default_cache_path, make_llm

        cache = default_cache_path(self.index_dir) if writable(self.index_dir) else None  # read-only: no cache
        return make_llm(self.llm_spec, self.llm_model, cache_path=cache)

    def passages(self, indices: Sequence[int]) -> list[Passage]:
        """Passages by snapshot index, as the loaded snapshot holds them (records the index
        changed or deleted since then still read as they were)."""
        return [self.snapshot.passage(i) for i in indices]

    def encode_queries(self, state: RetrievalState) -> np.ndarray:
        """Embeddings of the state's queries, computed once per state."""
        if state.query_vectors is None or len(state.query_vectors) != len(state.queries):
            state.query_vectors = self.encoder.encode(state.queries)
        return state.query_vectors

    def dense_scores(self, state: RetrievalState) -> np.ndarray:
        """Cosine of every passage to the queries (max over queries), computed once per state."""
        if state.passage_scores is None:
            vectors = self.encode_queries(state)
            state.passage_scores = np.asarray(self.snapshot.passage_vectors @ vectors.T).max(axis=1)
        return state.passage_scores


@cache
def _blas_libraries() -> ThreadpoolController:
    return ThreadpoolController().select(user_api="blas")


def single_threaded_blas() -> AbstractContextManager[Any]:
    """Keeps BLAS (numpy's OpenBLAS or MKL) on one thread while queries run: its threads spin-wait after each
    small product and starve torch's encoder threads (2Wiki query encoding p50 17 -> 8 ms,
    p95 110 -> 12 ms on 2 cores)."""
    return _blas_libraries().limit(limits=1)


class Stage:
    """A pipeline step. Subclasses set `name`, declare settings as class attributes with
    defaults (overridable from the pipeline spec) and implement `run`."""

    name: ClassVar[str]
    answers: ClassVar[bool] = False  # True for stages skipped by --retrieve-only

    def __init__(self, **settings: Any) -> None:
        allowed = {k for k in dir(type(self)) if not k.startswith("_") and not callable(getattr(type(self), k))}
        allowed -= {"name", "answers"}
        unknown = set(settings) - allowed
        if unknown:
            raise HippoError(
                f"stage {self.name!r}: unknown setting(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(allowed)) or 'none'}"
            )
        for key, value in settings.items():
            default = getattr(type(self), key)
            if default is not None and not isinstance(value, type(default)) and not (
                isinstance(default, float) and isinstance(value, int)
            ):
                raise HippoError(f"stage {self.name!r}: setting {key} must be {type(default).__name__}")
            setattr(self, key, value)

    def settings(self) -> dict[str, Any]:
        """The stage's effective settings."""
        names = [k for k in vars(type(self)) if not k.startswith("_") and not callable(getattr(type(self), k))]
        return {k: getattr(self, k) for k in names if k not in ("name", "answers")}

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        """Updates `state` in place; returns what the trace should record about it."""
        raise NotImplementedError

    def run(self, state: RetrievalState, ctx: RetrievalContext) -> RetrievalState:
        """Applies the stage and appends its trace entry (with wall time in seconds)."""
        started = time.perf_counter()
        details = self.apply(state, ctx)
        self.record(state, details, time.perf_counter() - started)
        return state

    def record(self, state: RetrievalState, details: dict[str, Any], seconds: float) -> None:
        state.trace.append({"stage": self.name, "seconds": round(seconds, 6), **details})

    def run_batch(self, states: list[RetrievalState], ctx: RetrievalContext) -> list[RetrievalState]:
        """Runs the stage over many questions; stages with a batched kernel override this."""
        return [self.run(state, ctx) for state in states]


_STAGES: dict[str, type[Stage]] = {}


def register_stage(cls: type[Stage]) -> type[Stage]:
    """Class decorator making a stage available to pipeline specs under `cls.name`."""
    _STAGES[cls.name] = cls
    return cls


def stage_class(name: str) -> type[Stage]:
    """The stage class registered as `name`; HippoError listing the known stages otherwise."""
    if name not in _STAGES:
        raise HippoError(f"unknown stage {name!r}; known stages: {', '.join(sorted(_STAGES))}")
    return _STAGES[name]
