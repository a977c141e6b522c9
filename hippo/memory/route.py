"""The MemGAS router: how much each granularity of memory should count for a query.

For granularity g with units E_g, p_g = softmax(q . E_g / T): a query that one unit (or a
few) answers gives a peaked distribution, one that nothing in g singles out a flat one. Its
entropy H_g, normalized by its maximum log N_g, says how flat; the weight of g is
w_g = (1 - H_g / log N_g), normalized over the granularities so the weights sum to 1 (MemGAS
itself uses 1 - H_g, which is negative for any granularity with more than e units at high
entropy; normalizing by log N_g keeps every weight in [0, 1] and granularities of different
sizes comparable). A granularity with one unit cannot single anything out: its weight is 0.

The weighted similarities of the `seeds` best units seed Personalized PageRank over the
association graph; each retrieval unit (session, or passage) scores the sum of its units'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import kernels
from hippo.memory.view import MemoryView

TEMPERATURE = 0.2


@dataclass(frozen=True)
class GranularityWeight:
    """One granularity's routing figures for one query."""

    granularity: str
    units: int
    entropy: float
    weight: float


def entropy_weights(similarities: dict[str, np.ndarray], temperature: float = TEMPERATURE) -> list[GranularityWeight]:
    """Each granularity's entropy and normalized weight from its units' similarities to the query."""
    raw = {}
    entropies = {}
    for granularity, values in similarities.items():
        logits = np.asarray(values, dtype=np.float64) / temperature
        logits -= logits.max(initial=0.0) if logits.size else 0.0
        p = np.exp(logits)
        p /= p.sum() if p.size else 1.0
        entropy = float(-(p * np.log(np.clip(p, 1e-300, None))).sum())
        entropies[granularity] = entropy
        raw[granularity] = max(0.0, 1.0 - entropy / np.log(values.size)) if values.size > 1 else 0.0
    total = sum(raw.values())
    return [GranularityWeight(g, int(similarities[g].size), entropies[g],
                              raw[g] / total if total > 0 else 1.0 / len(raw)) for g in similarities]


@dataclass
class RoutedScores:
    """Scores of the retrieval units (`keys`, aligned with `scores`), of every memory unit,
    and the routing weights that produced them."""

    keys: list[str]
    scores: np.ndarray
    unit_scores: np.ndarray
    weights: list[GranularityWeight]


def route(
    view: MemoryView, query: np.ndarray, granularities: Sequence[str] | None = None, *,
    temperature: float = TEMPERATURE, seeds: int = 15, damping: float = 0.1, use_graph: bool = True,
) -> RoutedScores:
    """Routes one (unit-length) query vector over `granularities` (default: all the index has)."""
    available = view.granularities
    chosen = [g for g in (granularities or available) if g in available]
    similarities = np.asarray(view.units.vectors @ query, dtype=np.float64)
    weights = entropy_weights({g: similarities[available[g]] for g in chosen}, temperature)
    seed = np.zeros_like(similarities)
    for item in weights:
        positions = available[item.granularity]
        seed[positions] = item.weight * np.clip(similarities[positions], 0.0, None)
    if 0 < seeds < np.count_nonzero(seed):
        seed[seed < np.partition(seed, -seeds)[-seeds]] = 0.0
    scores = seed
    if use_graph and seed.any() and view.adjacency.nnz:
        scores = np.asarray(kernels.ppr(view.adjacency, seed, damping=damping, backend="cpu"))
    return RoutedScores(view.target_keys, np.asarray(view.membership.T @ scores), scores, weights)
