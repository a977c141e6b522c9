"""Lexical (BM25) scores of memory units: the names, places and objects a question asks about,
which a small encoder blurs ("Caroline's LGBTQ support group" and any other support group
embed alike), count here word for word. bm25s scores the units' stored texts (lowercased,
English stop words dropped, no stemming)."""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np


class LexicalIndex:
    """BM25 over a fixed list of texts."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.size = len(texts)
        self._bm25 = bm25s.BM25()
        self._bm25.index(bm25s.tokenize(list(texts), stopwords="en", show_progress=False), show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """Each text's BM25 score for `query` (all 0 when it has no indexed word)."""
        tokens = bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)[0]
        if not tokens:
            return np.zeros(self.size)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float64)
