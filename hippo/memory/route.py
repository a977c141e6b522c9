"""The MemGAS router: how much each granularity of memory should count for a query.

For granularity g with units E_g, p_g = softmax(q . E_g / T): a query that one unit (or a
few) answers gives a peaked distribution, one that nothing in g singles out a flat one. Its
entropy H_g, normalized by its maximum log N_g, says how flat; the weight of g is
w_g = (1 - H_g / log N_g), normalized over the granularities so the weights sum to 1 (MemGAS
itself uses 1 - H_g, which is negative for any granularity with more than e units at high
entropy; normalizing by log N_g keeps every weight in [0, 1] and granularities of different
sizes comparable). A granularity with one unit cannot single anything out: its weight is 0.

Each unit scores its granularity's weight times its similarity; with `graph`, the `seeds`
best of those seed Personalized PageRank over the association graph and the units score
their PageRank. A retrieval unit (session, or passage) then scores, with `aggregate = "sum"`,
the sum of its units' scores, or with `"max"`, the sum over granularities of its best unit's
score (so a session is not favoured for having many turns).

With `lexical` granularities and a `lexical_weight` m > 0, a retrieval unit's final score is
(1 - m) times that routed score, divided by the best one, plus m times the mean over the
lexical granularities of its best unit's BM25 score, divided by the best one
(`hippo.memory.lexical`): m = 0 is the router alone, m = 1 lexical retrieval alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import hippo_kernels as kernels
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


AGGREGATES = ("max", "sum")


@dataclass
class RoutedScores:
    """Scores of the retrieval units (`keys`, aligned with `scores`), every memory unit's
    similarity to the query and final score, and the routing weights."""

    keys: list[str]
    scores: np.ndarray
    similarities: np.ndarray
    unit_scores: np.ndarray
    weights: list[GranularityWeight]


def route(
    view: MemoryView, query: np.ndarray, granularities: Sequence[str] = (), *, temperature: float = TEMPERATURE,
    graph: bool = False, seeds: int = 15, damping: float = 0.1, aggregate: str = "max", question: str = "",
    lexical: Sequence[str] = (), lexical_weight: float = 0.0,
) -> RoutedScores:
    """Routes one (unit-length) query vector over `granularities` (empty: all the index has);
    with `lexical` and `lexical_weight`, mixes in the BM25 scores of `question` (see the module doc)."""
    available = view.granularities
    chosen = [g for g in (granularities or available) if g in available]
    similarities = np.asarray(view.units.vectors @ query, dtype=np.float64)
    weights = entropy_weights({g: similarities[available[g]] for g in chosen}, temperature)
    scores = np.zeros_like(similarities)
    for item in weights:
        positions = available[item.granularity]
        scores[positions] = item.weight * np.clip(similarities[positions], 0.0, None)
    if graph and scores.any() and view.adjacency.nnz:
        if 0 < seeds < np.count_nonzero(scores):
            scores[scores < np.partition(scores, -seeds)[-seeds]] = 0.0
        scores = np.asarray(kernels.ppr(view.adjacency, scores, damping=damping, backend="cpu"))
    if aggregate == "sum":
        totals = np.asarray(view.membership.T @ scores).ravel()
    else:
        totals = sum((_best_per_target(view, available[g], scores[available[g]]) for g in chosen),
                     np.zeros(len(view.target_keys)))
    lexical = [g for g in lexical if g in available]
    if lexical and lexical_weight > 0:
        matches = [_scaled(_best_per_target(view, available[g], view.lexical(g).scores(question))) for g in lexical]
        totals = (1 - lexical_weight) * _scaled(totals) + lexical_weight * np.mean(matches, axis=0)
    return RoutedScores(view.target_keys, totals, similarities, scores, weights)


def _best_per_target(view: MemoryView, positions: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per retrieval unit, the best of `values` (scores of the units at `positions`, at least 0)."""
    rows = view.membership[positions]
    return np.asarray(rows.multiply(np.clip(values, 0.0, None)[:, None]).max(axis=0).todense()).ravel()


def _scaled(values: np.ndarray) -> np.ndarray:
    """`values` divided by their maximum (unchanged when none is positive)."""
    top = float(values.max(initial=0.0))
    return values / top if top > 0 else values


def passage_ranking(
    view: MemoryView, routed: RoutedScores, passage_ids: Sequence[str], limit: int
) -> list[tuple[int, float]]:
    """(passage index in `passage_ids`, score) best first. For conversations every passage of
    each session in session order, scored by its session, a session's turns ordered by their
    similarity to the query; for documents the `limit` best passages by their own score."""
    index = {pid: i for i, pid in enumerate(passage_ids)}
    order = np.argsort(-routed.scores, kind="stable")
    if not view.is_conversation:
        return [(index[routed.keys[t]], float(routed.scores[t])) for t in order[:limit] if routed.keys[t] in index]
    ranking = []
    for t in order:
        turns = dict.fromkeys(pid for _, _, pid in view.sessions[routed.keys[t]].turns)
        closeness = {pid: routed.similarities[view.turn_units[pid]] if pid in view.turn_units else -1.0
                     for pid in turns}
        ranking += [(index[pid], float(routed.scores[t])) for pid in sorted(turns, key=lambda p: -closeness[p])
                    if pid in index]
    return ranking
