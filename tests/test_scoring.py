"""rank_by_scores: the block-maxima shortcut ranks exactly as a full sort does."""

from __future__ import annotations

import numpy as np
import pytest

from hippo.stages.scoring import rank_by_scores


def full_sort(scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
    order = np.lexsort((np.arange(scores.size), -scores))[:limit]
    return [(int(i), float(scores[i])) for i in order]


@pytest.mark.parametrize(("size", "limit"), [(47_062, 10), (47_062, 100), (6_119, 100), (1_000, 5), (65, 64), (3, 10)])
def test_top_scores_equal_a_full_sort(size: int, limit: int) -> None:
    scores = np.random.default_rng(size + limit).random(size).astype(np.float32)
    assert rank_by_scores(scores, limit) == full_sort(scores, limit)


def test_ties_go_to_the_lower_index() -> None:
    rng = np.random.default_rng(1)
    tied = (np.round(rng.random(20_000) * 4) / 4).astype(np.float32)  # five values, thousands of each
    assert rank_by_scores(tied, 50) == full_sort(tied, 50)
    assert rank_by_scores(np.zeros(10_000), 3) == [(0, 0.0), (1, 0.0), (2, 0.0)]
    assert rank_by_scores(np.zeros(10_000), 0) == []
