"""The `fuse` stage: reciprocal rank fusion of the graph ranking with the dense one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hippo.api import Hippo
from hippo.errors import HippoError
from hippo.stages import RetrievalContext, RetrievalState
from hippo.stages.fuse import FuseStage
from tests.conftest import SAMPLE_QUESTIONS


def _state(ctx: RetrievalContext, graph: list[int], dense_order: list[int]) -> RetrievalState:
    state = RetrievalState(question="q", top_k=3)
    state.ranking = [(p, 1.0 / (r + 1)) for r, p in enumerate(graph)]
    scores = np.zeros(len(ctx.snapshot.passage_ids))
    scores[dense_order] = np.linspace(1.0, 0.5, len(dense_order))  # the rest score 0
    state.cache["passages", "q"] = scores  # the dense scores of query "q"
    return state


def test_rrf_by_hand(sample_index: Path) -> None:
    ctx = RetrievalContext(sample_index)
    state = _state(ctx, graph=[3, 1, 2], dense_order=[2, 4, 3])
    FuseStage(k=1, candidates=3).run(state, ctx)
    # 3: 1/2 + 1/4; 2: 1/4 + 1/2; 1: 1/3; 4: 1/3 -> ties broken by passage index
    assert [p for p, _ in state.ranking] == [2, 3, 1]
    assert state.ranking[0][1] == pytest.approx(0.75)
    assert state.trace[-1]["stage"] == "fuse" and state.trace[-1]["fused"] == 4


def test_graph_weight_zero_is_the_dense_ranking(sample_index: Path) -> None:
    ctx = RetrievalContext(sample_index)
    state = _state(ctx, graph=[0, 1, 5], dense_order=[7, 6, 5])
    FuseStage(k=60, graph_weight=0.0, candidates=3).run(state, ctx)
    assert [p for p, _ in state.ranking] == [7, 6, 5]


def test_bad_settings_are_named() -> None:
    with pytest.raises(HippoError, match=r"stage 'fuse': setting k = 0: must be >= 1"):
        FuseStage(k=0)


def test_hybrid_pipeline_answers_the_sample_questions(sample_index: Path) -> None:
    questions = [json.loads(line) for line in SAMPLE_QUESTIONS.read_text().splitlines()]
    results = Hippo(sample_index).retrieve_many([q["question"] for q in questions], pipeline="hybrid", top_k=5)
    found = [
        len(set(q["supporting_titles"]) & {p.title for p in r.passages}) / len(q["supporting_titles"])
        for q, r in zip(questions, results, strict=True)
    ]
    assert sum(found) / len(found) >= 0.85
    assert [t["stage"] for t in results[0].trace] == ["link", "ppr", "fuse", "rerank"]
