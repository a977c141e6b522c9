"""The ANN index over a snapshot's vectors: built past the threshold, searched by queries with
the exact search's top results, and absent (exact search) below it."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

import hippo_kernels as kernels
from hippo import ann
from hippo.ann import CANDIDATES, UNIT_ARRAYS, build_ann, extend_ann, load_ann, save_ann
from hippo.api import Hippo
from hippo.cli import main
from hippo.config import IndexSettings
from hippo.errors import IndexFormatError
from hippo.snapshot import current_generation, load_snapshot, save_snapshot, unit_ann
from hippo.stages.context import RetrievalContext
from hippo.stages.link import LinkStage
from hippo.stages.ppr import DenseScores, PPRStage, Reset, _linear
from hippo.stages.state import RetrievalState
from hippo.store import IndexStore
from hippo_kernels.push import PushState
from tests.conftest import SAMPLE, SAMPLE_QUESTIONS
from tests.test_kernels import random_graph


def _unit_vectors(rows: int, dim: int = 48, seed: int = 0) -> np.ndarray:
    """Clustered unit vectors (like embeddings, unlike uniform noise)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, dim))
    vectors = centres[rng.integers(0, 40, rows)] + 0.6 * rng.normal(size=(rows, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_threshold_setting_defaults_validates_and_reads_old_records() -> None:
    assert IndexSettings().ann_threshold == 100_000
    assert IndexSettings.from_dict({"encoder": "onnx"}).ann_threshold == 100_000  # recorded before it existed
    with pytest.raises(ValueError, match="ann_threshold"):
        IndexSettings(ann_threshold=0)


def test_approximate_scores_are_exact_for_the_candidates_and_the_range() -> None:
    vectors, queries = _unit_vectors(4000), _unit_vectors(20, seed=1)
    exact = vectors @ queries.T
    approximate = build_ann(vectors).similarities(vectors, queries)
    recall = []
    for column in range(queries.shape[0]):
        got, want = approximate[:, column], exact[:, column]
        fill = min(float(vectors.mean(axis=0) @ queries[column]), np.sort(got)[-CANDIDATES])
        scored = got != np.float32(fill)
        assert CANDIDATES <= scored.sum() <= CANDIDATES + 1  # the nearest units and the farthest
        np.testing.assert_allclose(got[scored], want[scored], rtol=1e-5, atol=1e-6)
        assert abs(got.max() - want.max()) < 1e-6 and got.min() - want.min() < 0.01  # the farthest found: approximate
        recall.append(len(set(np.argsort(-want)[:10]) & set(np.argsort(-got, kind="stable")[:10])) / 10)
    assert np.mean(recall) >= 0.98


def test_an_extended_index_searches_its_segments_as_one_and_merges_them_as_they_grow(tmp_path: Path) -> None:
    vectors, queries = _unit_vectors(4600), _unit_vectors(20, seed=1)
    index = extend_ann(build_ann(vectors[:3000]), vectors[:3000], vectors[3000:3400])
    assert [(s.start, s.end) for s in index.segments] == [(0, 3000), (3000, 3400)]  # the earlier one kept
    grown = extend_ann(index, vectors[:3400], vectors[3400:3600])  # 200 against 400: merged with it
    assert [(s.start, s.end) for s in grown.segments] == [(0, 3000), (3000, 3600)]
    assert grown.segments[0] is index.segments[0]
    np.testing.assert_allclose(grown.mean, vectors[:3600].mean(axis=0), atol=1e-6)
    exact = np.argsort(-(vectors[:3600] @ queries.T), axis=0)[:10].T
    found = grown.nearest_rows(queries, 10)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found, strict=True)]) >= 0.98
    assert np.mean(grown.nearest_rows(vectors[3000:3600], 1)[:, 0] == np.arange(3000, 3600)) >= 0.95
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    save_ann(first, {"passage_vectors": index})
    save_ann(second, {"passage_vectors": grown}, first)
    base = "passage_vectors.0-3000.faiss"
    assert (second / base).stat().st_ino == (first / base).stat().st_ino  # linked, not written again
    np.testing.assert_array_equal(load_ann(second)["passage_vectors"].nearest_rows(queries, 10), found)
    whole = extend_ann(grown, vectors[:3600], vectors[3600:])  # 1,000 + 600 against 3,000: one segment again
    assert [(s.start, s.end) for s in whole.segments] == [(0, 4600)]


def test_the_ppr_stage_corrects_its_top_passages_for_the_prior_the_ann_left_out(
    sample_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ANN on, 4 candidates: all but 4 of the 22 passages get the query's mean cosine in the
    `ppr` stage's prior. Its correction after PPR gives every sample question the top 5 of exact
    search and brings the passages' PPR scores to at most half their L1 distance from exact
    search's without it (measured: 0.31-0.40 of it; what flows through the graph stays off).
    With exact search it changes nothing."""
    index = _with_ann(sample_index, tmp_path, threshold=1)
    monkeypatch.setattr(ann, "CANDIDATES", 4)
    questions = [json.loads(line)["question"] for line in SAMPLE_QUESTIONS.read_text().splitlines()]
    exact, approximate = RetrievalContext(sample_index), RetrievalContext(index)
    passages = len(exact.snapshot.passage_ids)
    assert passages > 4 * ann.CANDIDATES

    def ranking(ctx: RetrievalContext, stage: PPRStage, question: str) -> list[tuple[int, float]]:
        state = stage.run(LinkStage().run(RetrievalState(question=question), ctx), ctx)
        corrected = passages if ctx is approximate and stage.exact_prior else None  # all 22: fewer than 100
        assert "fallback" not in state.trace[-1] and state.trace[-1].get("exact_prior") == corrected, question
        return state.ranking

    for question in questions:
        want = ranking(exact, PPRStage(), question)
        assert ranking(exact, PPRStage(exact_prior=0), question) == want  # bit for bit
        got = ranking(approximate, PPRStage(), question)
        uncorrected = ranking(approximate, PPRStage(exact_prior=0), question)
        assert [n for n, _ in got[:5]] == [n for n, _ in want[:5]], question
        distance = [sum(abs(dict(scores)[n] - score) for n, score in want) for scores in (got, uncorrected)]
        assert distance[0] <= 0.5 * distance[1], (question, distance)


@pytest.mark.parametrize(("backend", "tol", "rtol"), [("cpu", 1e-12, 1e-9), ("push", 1e-10, 1e-6)])
def test_ppr_taken_back_to_its_linear_form_adds_up_with_dangling_nodes(backend: str, tol: float, rtol: float) -> None:
    """kernels.ppr normalizes its seeds and returns dangling mass along them, so it does not add
    up; `_linear` of it does: the PPR of a + b is the sum of those of a and b."""
    rng = np.random.default_rng(1)
    dense = rng.random((40, 40)) * (rng.random((40, 40)) < 0.15)
    dense[:4] = 0.0  # dangling nodes
    graph = kernels.prepare(sp.csr_matrix(dense))

    def linear(seeds: np.ndarray) -> np.ndarray:
        walked = kernels.ppr(graph, seeds, damping=0.5, tol=tol, backend=backend).astype(np.float64)
        return _linear(walked, seeds.sum(), 0.5, np.flatnonzero(graph.out_weight <= 0))

    a, b = rng.random(40), np.where(rng.random(40) < 0.2, 3.0, 0.0)
    np.testing.assert_allclose(linear(a + b), linear(a) + linear(b), rtol=rtol)
    normalized = [kernels.ppr(graph, seeds, damping=0.5, tol=1e-12, backend="cpu") for seeds in (a, b, a + b)]
    assert not np.allclose(normalized[2] * (a + b).sum(), normalized[0] * a.sum() + normalized[1] * b.sum(), rtol=1e-3)


def test_the_ppr_stage_pushes_the_sparse_part_of_an_ann_reset_and_adds_the_shared_prior(
    sample_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ANN on, 4 candidates: with `backend` "auto" the `ppr` stage runs forward push on the reset
    less the prior most passages share, and adds that prior times the PPR of all passages (linear
    in the seeds once dangling mass is taken back). Its scores are power iteration's on the same
    reset within push's tolerance, with the same top 5 for every sample question."""
    index = _with_ann(sample_index, tmp_path, threshold=1)
    monkeypatch.setattr(ann, "CANDIDATES", 4)
    ctx = RetrievalContext(index)
    calls: list[str] = []  # kernels.ppr's backends, and "push" for each forward push of a sparse part
    ppr, push = kernels.ppr, PushState.push
    monkeypatch.setattr(kernels, "ppr", lambda *args, **kw: calls.append(kw["backend"]) or ppr(*args, **kw))
    monkeypatch.setattr(PushState, "push", lambda *args: calls.append("push") or push(*args))
    questions = [json.loads(line)["question"] for line in SAMPLE_QUESTIONS.read_text().splitlines()]
    linked = [LinkStage().run(RetrievalState(question=question), ctx) for question in questions]
    batched = PPRStage(exact_prior=0).run_batch(copy.deepcopy(linked), ctx)
    assert calls.count("cpu") == 1 and set(calls) == {"cpu", "push"}, calls  # the PPR of all passages once, pushes
    for question, state, in_batch in zip(questions, linked, batched, strict=True):
        want = PPRStage(backend="cpu", tol=1e-10, precision="float64", exact_prior=0).run(copy.deepcopy(state), ctx)
        calls.clear()
        got = PPRStage(exact_prior=0).run(state, ctx)
        assert in_batch.ranking == got.ranking, question
        assert calls and set(calls) == {"push"}, calls  # the PPR of all passages is kept
        assert [p for p, _ in got.ranking[:5]] == [p for p, _ in want.ranking[:5]], question
        distance = sum(abs(dict(got.ranking)[p] - score) for p, score in want.ranking)
        assert distance < 1e-4, (question, distance)


def test_the_ppr_of_all_passages_is_kept_beside_the_snapshot(
    sample_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sparse path's PPR of all passages is computed by the first process that needs it and
    read from the snapshot folder by the next (the same ranking); an unreadable file is computed
    again."""
    index = _with_ann(sample_index, tmp_path, threshold=1)
    monkeypatch.setattr(ann, "CANDIDATES", 4)
    question = json.loads(SAMPLE_QUESTIONS.read_text().splitlines()[0])["question"]
    calls: list[str] = []
    ppr = kernels.ppr
    monkeypatch.setattr(kernels, "ppr", lambda *args, **kw: calls.append(kw["backend"]) or ppr(*args, **kw))

    def ranking() -> list[tuple[str, float]]:
        calls.clear()
        return [(p.id, p.score) for p in Hippo(index).retrieve(question, pipeline="hipporag2", top_k=5).passages]

    first = ranking()
    assert calls.count("cpu") == 1
    [kept] = load_snapshot(index).folder.glob("derived-ppr-all-passages-*.npy")
    assert ranking() == first and "cpu" not in calls
    kept.write_bytes(b"not an array")
    assert ranking() == first and calls.count("cpu") == 1


@pytest.mark.parametrize("shared", [0.015, 0.0])
def test_the_sparse_ppr_path_gives_power_iterations_ranks_and_scores(shared: float) -> None:
    """The `ppr` stage's path under ANN reads PPR without a pass over every node: a push of the
    reset's sparse part, the untouched nodes ranked by the all-passage PPR's order. On a graph with
    dangling nodes and a component no seed reaches, it gives power iteration's top passages and
    nodes and their scores on the same reset, with a correction added to touched and untouched
    passages; with a shared prior of 0 the untouched passages tie at 0 and come in node order."""
    rng = np.random.default_rng(4)
    nodes, passages = 600, 400  # random_graph: nodes [0, 300) and [300, 600) apart
    graph = kernels.prepare(random_graph(nodes, 5))
    snapshot = SimpleNamespace(ppr_graph=graph, passage_ids=range(passages), node_count=nodes, derived={}, folder=None)
    prior = np.full(passages, shared)
    prior[rng.choice(np.arange(300, passages), 20, replace=False)] = rng.uniform(0.02, 0.05, 20)
    prior[310] = 0.0  # the farthest passage: below the shared prior
    reset = Reset(np.array([410, 450, 555]), np.array([1.0, 0.6, 0.3]), prior, nodes)
    stage = PPRStage(push_tol=1e-12, precision="float64")
    want = DenseScores(kernels.ppr(graph, reset.dense(), damping=0.5, tol=1e-13, backend="cpu"), passages)
    with graph.push_state() as pushed:
        got = stage._decomposed(SimpleNamespace(snapshot=snapshot), reset, pushed)  # type: ignore[arg-type]
        assert 0 < pushed.nodes().size < nodes - 250 and not pushed.touched[:300].any()
        rows = np.array([got.top(1, passages=True)[0][0], 5, 305])  # the best, an untouched, a touched one
        for scores in (got, want):
            scores.add(rows, np.array([-1e-4, 2e-3, 1e-4]))
        for among_passages, count in ((True, passages), (False, nodes)):
            top, expected = got.top(count, among_passages), want.top(count, among_passages)
            assert [n for n, _ in top] == [n for n, _ in expected]
            np.testing.assert_allclose([s for _, s in top], [s for _, s in expected], rtol=1e-7, atol=1e-12)
            for limit in range(1, count, 7):  # each limit reads a prefix of the untouched nodes' order
                assert got.top(limit, among_passages) == top[:limit], (limit, among_passages)


def _with_ann(sample_index: Path, tmp_path: Path, threshold: int) -> Path:
    """A copy of the sample index whose snapshot is rewritten with ANN indexes past `threshold`."""
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    snapshot = load_snapshot(index)
    built = {name: unit_ann(None, np.asarray(getattr(snapshot, name)), threshold) for name in UNIT_ARRAYS}
    snapshot.ann = {name: ann for name, ann in built.items() if ann is not None}
    save_snapshot(index, snapshot)
    return index


def test_a_low_threshold_gives_the_exact_top_results(sample_index: Path, tmp_path: Path) -> None:
    index = _with_ann(sample_index, tmp_path, threshold=1)
    assert set(load_snapshot(index).ann) == set(UNIT_ARRAYS)
    assert load_snapshot(sample_index).ann == {}  # the default threshold: exact search
    questions = [json.loads(line)["question"] for line in SAMPLE_QUESTIONS.read_text().splitlines()]
    exact, approximate = Hippo(sample_index), Hippo(index)
    for pipeline in ("dense", "hipporag2"):
        for question in questions:
            want = exact.retrieve(question, pipeline=pipeline, top_k=5)
            got = approximate.retrieve(question, pipeline=pipeline, top_k=5)
            assert [p.id for p in got.passages] == [p.id for p in want.passages], (pipeline, question)


def test_the_threshold_counts_each_unit_set(sample_index: Path, tmp_path: Path) -> None:
    snapshot = load_snapshot(sample_index)
    sizes = {name: getattr(snapshot, name).shape[0] for name in UNIT_ARRAYS}
    threshold = sorted(sizes.values())[1]  # the middle set's size: it and the largest get one
    index = _with_ann(sample_index, tmp_path, threshold)
    assert set(load_snapshot(index).ann) == {name for name, size in sizes.items() if size >= threshold}


def test_index_option_records_the_threshold_and_builds_the_index(tmp_path: Path) -> None:
    index = tmp_path / "index"
    result = CliRunner().invoke(main, ["index", str(SAMPLE), "--index", str(index), "--quiet", "--ann-threshold", "1"])
    assert result.exit_code == 0, result.output
    with IndexStore.open(index) as store:
        assert store.settings.ann_threshold == 1
    assert {path.stem.split(".")[0] for path in (index / str(current_generation(index))).glob("*.faiss")} == set(
        UNIT_ARRAYS)


def test_a_corrupt_ann_file_is_an_unreadable_snapshot(sample_index: Path, tmp_path: Path) -> None:
    index = _with_ann(sample_index, tmp_path, threshold=1)
    next((index / str(current_generation(index))).glob("fact_vectors.*.faiss")).write_bytes(b"not an index")
    with pytest.raises(IndexFormatError, match="graph snapshot unreadable"):
        load_snapshot(index)
