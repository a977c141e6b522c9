"""Retrieval and answer metrics as in the HippoRAG papers: passage Recall@k, exact match and
token F1 under the SQuAD answer normalization.

Gold for one question is a list of *gold items*, each the set of passage ids that satisfy it
(usually one id; several when a gold passage is known only by a title the corpus uses twice,
empty when the gold passage is absent from the corpus). An item is recalled at k when any of
its ids is among the first k distinct retrieved ids; an empty item is never recalled.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def distinct(ids: Iterable[str]) -> list[str]:
    """`ids` in order with repeats removed (a passage retrieved twice holds one rank)."""
    return list(dict.fromkeys(ids))


def unique_gold(gold: Iterable[frozenset[str]]) -> list[frozenset[str]]:
    """Gold items with repeats removed; empty items (missing from the corpus) are all kept."""
    seen: set[frozenset[str]] = set()
    items = []
    for item in gold:
        if item and item in seen:
            continue
        seen.add(item)
        items.append(item)
    return items


def recall_at_k(retrieved: Sequence[str], gold: Sequence[frozenset[str]], k: int) -> float:
    """Fraction of distinct gold items with a passage among the first k distinct retrieved ids.

    Raises ValueError for k < 1 or when there is no gold item at all.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    items = unique_gold(gold)
    if not items:
        raise ValueError("recall needs at least one gold item")
    top = set(distinct(retrieved)[:k])
    return sum(1 for item in items if item & top) / len(items)


def normalize_answer(text: str) -> str:
    """SQuAD normalization: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the normalized prediction equals any normalized gold answer, else 0.0."""
    guess = normalize_answer(prediction)
    return float(any(guess == normalize_answer(a) for a in answers))


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """Best SQuAD token F1 of the prediction against any gold answer."""
    return max((_f1(normalize_answer(prediction).split(), normalize_answer(a).split()) for a in answers),
               default=0.0)


def _f1(guess: list[str], truth: list[str]) -> float:
    if not guess or not truth:
        return float(guess == truth)
    common = sum((Counter(guess) & Counter(truth)).values())
    if not common:
        return 0.0
    precision, recall = common / len(guess), common / len(truth)
    return 2 * precision * recall / (precision + recall)
