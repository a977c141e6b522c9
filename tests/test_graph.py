"""Synonymy edges: the blocked threshold-first kNN agrees with scikit-learn's exact kNN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from hippo.ann import build_ann
from hippo.graph import SYNONYM_ROW_BLOCK, RowStack, SynonymPairs, add_synonym_pairs, sparse_nonzero, synonym_pairs


def _reference(vectors: np.ndarray, k: int, threshold: float) -> set[tuple[int, int]]:
    search = NearestNeighbors(n_neighbors=k + 1, algorithm="brute", metric="cosine").fit(vectors)
    distances, neighbours = search.kneighbors(vectors)
    pairs = set()
    for i, (row_d, row_n) in enumerate(zip(distances, neighbours, strict=True)):
        for d, j in zip(row_d, row_n, strict=True):
            if j != i and 1.0 - d >= threshold:
                pairs.add((min(i, int(j)), max(i, int(j))))
    return pairs


@pytest.mark.parametrize(("k", "threshold"), [(1, 0.5), (3, 0.6), (10, 0.8)])
def test_synonym_pairs_match_sklearn_knn(k: int, threshold: float) -> None:
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(300, 16))
    # clusters of near-duplicates, spread over more than one row block
    vectors = np.repeat(centres, 4, axis=0) + 0.35 * rng.normal(size=(1200, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert len(vectors) > SYNONYM_ROW_BLOCK
    found = synonym_pairs(vectors.astype(np.float32), k, threshold)
    assert {(i, j) for i, j, _ in found} == _reference(vectors, k, threshold)
    assert all(i < j and s >= threshold - 1e-6 for i, j, s in found)
    assert all(abs(s - float(vectors[i] @ vectors[j])) < 1e-5 for i, j, s in found)


def test_synonym_pairs_degenerate_inputs() -> None:
    one = np.ones((1, 4), dtype=np.float32) / 2
    assert list(synonym_pairs(one, 5, 0.8)) == []
    assert list(synonym_pairs(np.vstack([one, one]), 0, 0.8)) == []
    assert list(synonym_pairs(np.vstack([one, one]), 5, 0.8)) == [(0, 1, pytest.approx(1.0))]


def test_a_passage_links_to_its_own_title_entity_more_strongly(sample_index: Path) -> None:
    from hippo.extract.base import normalize_entity
    from hippo.graph import MENTION_EDGE
    from hippo.snapshot import load_snapshot
    from hippo.store import IndexStore

    snapshot = load_snapshot(sample_index)
    with IndexStore.open(sample_index) as store:
        titles = {p.id: p.title for p in store.passages()}
    offset = len(snapshot.passage_ids)
    mentions = np.flatnonzero(snapshot.edge_kind == MENTION_EDGE)
    own_title = [
        snapshot.entity_names[int(snapshot.edge_dst[e]) - offset]
        == normalize_entity(titles[snapshot.passage_ids[int(snapshot.edge_src[e])]])
        for e in mentions
    ]
    weights = snapshot.edge_weight[mentions]
    assert sum(own_title) == len(snapshot.passage_ids)  # every sample passage has a title
    assert set(weights[own_title]) == {10.0} and set(weights[np.logical_not(own_title)]) == {1.0}


def _clustered(rows: int, seed: int) -> np.ndarray:
    """Unit vectors in clusters of four near-duplicates (entity names and their variants)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(rows // 4, 32))
    vectors = np.repeat(centres, 4, axis=0) + 0.3 * rng.normal(size=(rows, 32))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_synonym_pairs_from_an_hnsw_index_find_the_exact_pairs() -> None:
    vectors = _clustered(2000, seed=11)
    exact = synonym_pairs(vectors, 3, 0.7)
    approximate = synonym_pairs(vectors, 3, 0.7, build_ann(vectors))
    found, wanted = {(i, j) for i, j, _ in approximate}, {(i, j) for i, j, _ in exact}
    assert len(found & wanted) >= 0.95 * len(wanted)
    assert all(i < j and s >= 0.7 and abs(s - float(vectors[i] @ vectors[j])) < 1e-5 for i, j, s in approximate)


def _grow(vectors: np.ndarray, added: np.ndarray, k: int, threshold: float, approximate: bool) -> SynonymPairs:
    """`add_synonym_pairs` after the rows `added` joined the others (the rows kept in order)."""
    kept = np.setdiff1d(np.arange(len(vectors)), added)
    before = synonym_pairs(vectors[kept], k, threshold)
    pairs = SynonymPairs(kept[before.first], kept[before.second], before.cosine)
    index = build_ann(vectors) if approximate else None
    return add_synonym_pairs(vectors, pairs, added, k, threshold, index)


@pytest.mark.parametrize(("k", "threshold"), [(1, 0.5), (3, 0.7), (10, 0.8)])
def test_added_entities_give_the_pairs_of_a_full_search(k: int, threshold: float) -> None:
    vectors = _clustered(1600, seed=3)
    added = np.sort(np.random.default_rng(5).choice(len(vectors), 300, replace=False))  # some in one cluster
    grown, full = _grow(vectors, added, k, threshold, approximate=False), synonym_pairs(vectors, k, threshold)
    assert [(i, j) for i, j, _ in grown] == [(i, j) for i, j, _ in full]
    assert [s for *_, s in grown] == pytest.approx([s for *_, s in full], abs=1e-6)


def test_added_entities_searched_in_the_hnsw_index_find_the_exact_pairs() -> None:
    vectors = _clustered(2000, seed=13)
    added = np.sort(np.random.default_rng(2).choice(len(vectors), 200, replace=False))
    grown, exact = _grow(vectors, added, 3, 0.7, approximate=True), synonym_pairs(vectors, 3, 0.7)
    found, wanted = {(i, j) for i, j, _ in grown}, {(i, j) for i, j, _ in exact}
    assert len(found & wanted) >= 0.95 * len(wanted)


def test_a_row_stack_reads_the_rows_of_the_joined_array() -> None:
    vectors = np.random.default_rng(4).normal(size=(50, 8)).astype(np.float32)
    stack, rows = RowStack(vectors[:30], vectors[30:]), np.array([49, 0, 29, 30, 7, 30])
    assert stack.shape == vectors.shape
    assert np.array_equal(stack[rows], vectors[rows])


def test_added_entities_searched_from_a_row_stack_give_the_joined_arrays_pairs() -> None:
    vectors = _clustered(2000, seed=17)
    index, added = build_ann(vectors), np.arange(1800, 2000)
    before = synonym_pairs(vectors[:1800], 3, 0.7)
    joined = add_synonym_pairs(vectors, before, added, 3, 0.7, index)
    stacked = add_synonym_pairs(RowStack(vectors[:1800], vectors[1800:]), before, added, 3, 0.7, index)
    assert len(joined) > len(before) and list(stacked) == list(joined)


def test_nothing_added_keeps_the_pairs() -> None:
    vectors = _clustered(400, seed=1)
    full = synonym_pairs(vectors, 3, 0.7)
    kept = add_synonym_pairs(vectors, full, np.zeros(0, dtype=np.int64), 3, 0.7)
    assert [(i, j) for i, j, _ in kept] == [(i, j) for i, j, _ in full]


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (7, 13), (64, 257), (300, 4099)])
@pytest.mark.parametrize("density", [0.0, 0.001, 0.3, 1.0])
def test_sparse_nonzero_equals_numpy_nonzero(shape: tuple[int, int], density: float) -> None:
    mask = np.random.default_rng(shape[0] * shape[1]).random(shape) < density
    got = sparse_nonzero(mask)
    expected = np.nonzero(mask)
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])


def test_missing_from_matches_isin() -> None:
    """The pairs one set lacks of another: np.isin's answer, duplicates and an empty set included."""
    rng = np.random.default_rng(3)
    first, second = rng.integers(0, 40, 300), rng.integers(0, 40, 300)
    mine = SynonymPairs(first, second, np.ones(300, dtype=np.float32))
    theirs = SynonymPairs(first[::3] + (first[::3] % 2), second[::3], np.ones(100, dtype=np.float32))
    expected = ~np.isin(mine.keys(40), theirs.keys(40))
    assert 0 < expected.sum() < 300
    assert np.array_equal(mine.missing_from(theirs, 40), expected)
    assert mine.missing_from(SynonymPairs.empty(), 40).all()
    assert not SynonymPairs.empty().missing_from(mine, 40).size
