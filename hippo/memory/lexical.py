"""Lexical (BM25) scores of memory units: the names, places and objects a question asks about,
which a small encoder blurs ("Marta Silva" embeds close to any other coach), count here word
for word. bm25s scores the units' texts: lowercased words, scikit-learn's English stop words
(and the question auxiliaries "did" and "does", which it lacks) dropped, Snowball-stemmed
("chewed" matches "chew")."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import bm25s
import numpy as np
import Stemmer

_STEMMER = Stemmer.Stemmer("english")


@cache
def stop_words() -> list[str]:
    """scikit-learn's English stop words and "did", "does" (imported here, when first needed:
    scikit-learn takes ~1 s to import, which every `hippo ask` paid)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(ENGLISH_STOP_WORDS | {"did", "does"})


def _tokens(texts: list[str], **options: bool) -> Any:
    """bm25s tokens of `texts` (ids, or with return_ids=False the words)."""
    return bm25s.tokenize(texts, stopwords=stop_words(), stemmer=_STEMMER, show_progress=False, **options)


class LexicalIndex:
    """BM25 over a fixed list of texts."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.size = len(texts)
        self._bm25 = bm25s.BM25()
        self._bm25.index(_tokens(list(texts)), show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """Each text's BM25 score for `query` (all 0 when it has no indexed word)."""
        tokens = _tokens([query], return_ids=False)[0]
        if not tokens:
            return np.zeros(self.size)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float64)
