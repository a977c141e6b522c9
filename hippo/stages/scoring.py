"""Scoring helpers every stage shares: ranking, normalizing, combining queries, fusing rankings.

Several weighted queries are combined by **weighted max**: an item's score is
`max over queries q of weight(q) * cosine(q, item)`. A passage (or fact) that matches any one
query well scores high, as clue queries aimed at different hops of a question should; with
the question alone (weight 1.0) the score is its plain cosine. `combine_queries` is the only
place this formula lives.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

TOP_BLOCK = 64  # scores per block whose maximum `rank_by_scores` reads first


def rank_by_scores(scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
    """(index, score) of the `limit` highest scores, best first (ties by lower index)."""
    limit = min(limit, scores.shape[0])
    if limit <= 0:
        return []
    candidates = _top_candidates(scores, limit)  # ascending
    values = scores[candidates]
    kth = -np.partition(-values, limit - 1)[limit - 1]
    above = candidates[values > kth]
    best = np.concatenate([above, candidates[values == kth][:limit - above.size]])
    order = best[np.lexsort((best, -scores[best]))]
    return [(int(i), float(scores[i])) for i in order]


def _top_candidates(scores: np.ndarray, limit: int) -> np.ndarray:
    """Indices of a subset of `scores` that holds its `limit` highest: those at least the
    `limit`-th highest maximum of the blocks of TOP_BLOCK scores (each of the `limit` best
    blocks has a score at least that high, so the `limit`-th highest score is too). On the
    2Wiki graph's 47,062 nodes, the top 10 in 0.07 ms against 0.68 ms for a partition of all."""
    blocks = scores.shape[0] // TOP_BLOCK
    if blocks <= 4 * limit:
        return np.arange(scores.shape[0])
    maxima = np.asarray(scores[:blocks * TOP_BLOCK]).reshape(blocks, TOP_BLOCK).max(axis=1)
    if blocks * TOP_BLOCK < scores.shape[0]:
        maxima = np.append(maxima, scores[blocks * TOP_BLOCK:].max())
    floor = np.partition(maxima, maxima.size - limit)[maxima.size - limit]
    return np.flatnonzero(scores >= floor)


def min_max(scores: np.ndarray) -> np.ndarray:
    """Scores rescaled to [0, 1] (all ones when they are all equal)."""
    low, high = float(scores.min()), float(scores.max())
    return np.ones_like(scores) if high - low < 1e-12 else (scores - low) / (high - low)


def combine_queries(columns: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """One score per item from per-query score columns: the weighted max (see the module doc)."""
    combined = columns[0] * weights[0] if weights[0] != 1.0 else columns[0]
    for column, weight in zip(columns[1:], weights[1:], strict=True):
        combined = np.maximum(combined, column * weight)
    return combined


def reciprocal_rank_fusion(
    rankings: Iterable[tuple[float, Sequence[tuple[int, float]]]], k: int
) -> list[tuple[int, float]]:
    """Fuses (weight, ranking) pairs: each item gets `weight / (k + rank)` from every ranking
    it is in (Cormack et al., 2009); all fused items, best first, ties by lower index."""
    fused: dict[int, float] = defaultdict(float)
    for weight, ranking in rankings:
        for rank, (item, _) in enumerate(ranking, 1):
            fused[item] += weight / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
