"""The loaded index and the lazily created models that all stages of a process share.

Query vectors and similarities are cached in each question's state keyed by query text, so
a query a stage appends is encoded and scored the next time any stage asks, and none is
computed twice. Several queries' scores are combined by `scoring.combine_queries`. A unit set with an ANN index
in the snapshot (`hippo.ann`: passages, entities or facts past the index's `ann_threshold`) is
searched through it; smaller ones exactly. A stage that needs more than the ANN's top scores
(the `ppr` stage's passage prior) asks `approximate` whether a unit set's scores were, and
`exact_scores` for the few units it rescores.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from hippo.corpus import Passage
from hippo.embed import Encoder
from hippo.errors import HippoError
from hippo.models import load_spacy
from hippo.snapshot import GraphSnapshot, current_generation, load_snapshot
from hippo.stages.scoring import combine_queries
from hippo.stages.state import RetrievalState
from hippo.store import IndexStore, writable

log = logging.getLogger("hippo.stages")

UNIT_VECTORS = {"passages": "passage_vectors", "facts": "fact_vectors", "entities": "entity_vectors"}
_MODELS = ("encoder", "nlp", "llm")


class RetrievalContext:
    """The loaded index and lazily created models shared by all stages of a process.

    `generation` names the snapshot loaded (it may be older than the one loaded if a writer
    replaced it meanwhile; then the next `stale()` says so). `models_from` hands over the
    models another context of the same index already loaded, so a reload does not redo them.
    `encoder` is the runtime that encodes queries (None: the one the index was built with).
    """

    def __init__(
        self, index_dir: Path, llm_spec: str | None = None, llm_model: str | None = None,
        models_from: RetrievalContext | None = None, encoder: str | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.llm_spec = llm_spec
        self.llm_model = llm_model
        with IndexStore.open(self.index_dir) as store:
            self.settings = store.settings
        self.runtime = encoder or self.settings.encoder
        self.generation = current_generation(self.index_dir)
        self.snapshot: GraphSnapshot = load_snapshot(self.index_dir)
        if models_from is not None and (models_from.settings, models_from.runtime) == (self.settings, self.runtime):
            self.__dict__.update({k: v for k, v in vars(models_from).items() if k in _MODELS})
        self._warned: set[str] = set()
        if not self.snapshot.passage_ids:
            raise HippoError(f"the index has no passages; index some documents first: "
                             f"`hippo index CORPUS --index {self.index_dir}`")

    def stale(self) -> bool:
        """Whether the index's current snapshot is another than the one loaded."""
        return current_generation(self.index_dir) != self.generation

    @cached_property
    def encoder(self) -> Encoder:
        return Encoder(self.settings.embedding_model, runtime=self.runtime)

    @cached_property
    def nlp(self) -> Any:
        return load_spacy()

    @cached_property
    def llm(self) -> Any:
        """The configured LLM client (raises hippo.llm.LLMUnavailable when it cannot be reached)."""
        from hippo.llm import default_cache_path, make_llm

        cache = default_cache_path(self.index_dir) if writable(self.index_dir) else None  # read-only: no cache
        return make_llm(self.llm_spec, self.llm_model, cache_path=cache)

    def warn_once(self, key: str, message: str) -> None:
        """Logs `message` as a warning the first time `key` comes up in this process's context."""
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)

    def passages(self, indices: Sequence[int]) -> list[Passage]:
        """Passages by snapshot index, as the loaded snapshot holds them (records the index
        changed or deleted since then still read as they were)."""
        return [self.snapshot.passage(i) for i in indices]

    def ranked_passages(self, state: RetrievalState) -> list[tuple[Passage, float]]:
        """The first `state.top_k` ranked passages with their scores (deleted ones left out):
        what the caller returns and the reader reads. On a conversation index they are the
        first `top_k` sessions of the ranking, each one passage of its turns."""
        from hippo.memory.sessions import conversation_sessions

        if (sessions := conversation_sessions(self, state)) is not None:
            return sessions
        ranked = state.ranking[:state.top_k]
        return list(zip(self.passages([i for i, _ in ranked]), [score for _, score in ranked], strict=True))

    def query_vectors(self, state: RetrievalState) -> np.ndarray:
        """(queries, dim) embeddings of the state's queries; new query texts are encoded together."""
        missing = list(dict.fromkeys(q.text for q in state.queries if ("vector", q.text) not in state.cache))
        if missing:
            for text, vector in zip(missing, self.encoder.encode(missing), strict=True):
                state.cache["vector", text] = vector
        return np.stack([state.cache["vector", q.text] for q in state.queries])

    def similarities(self, state: RetrievalState, units: str) -> list[np.ndarray]:
        """Per query, the cosine of every unit ("passages", "facts" or "entities") to it."""
        missing = list(dict.fromkeys(q.text for q in state.queries if (units, q.text) not in state.cache))
        if missing:
            self.query_vectors(state)
            scores = self.search(units, np.stack([state.cache["vector", text] for text in missing]))
            for column, text in enumerate(missing):
                state.cache[units, text] = scores[:, column]
        return [state.cache[units, q.text] for q in state.queries]

    def search(self, units: str, queries: np.ndarray) -> np.ndarray:
        """(units, queries) cosines of every unit ("passages", "facts" or "entities") to each query
        vector: exact, or through the unit set's ANN index when the snapshot has one."""
        array = UNIT_VECTORS[units]
        vectors = getattr(self.snapshot, array)
        if (index := self.snapshot.ann.get(array)) is not None:
            return index.similarities(vectors, queries)
        return np.asarray(vectors @ queries.T)

    def approximate(self, units: str) -> bool:
        """Whether `search` scores the units ("passages", "facts" or "entities") through an ANN
        index, so that only the nearest ones get their exact cosine (see `hippo.ann`)."""
        return UNIT_VECTORS[units] in self.snapshot.ann

    def exact_scores(self, state: RetrievalState, units: str, rows: np.ndarray) -> np.ndarray:
        """The exact scores of the units ("passages", "facts" or "entities") at `rows` against all
        the state's queries, combined as `scores` combines them: one read of those rows of the
        (memory-mapped) float32 vectors, in row order, whatever `search` does."""
        order = np.argsort(rows)
        vectors = np.asarray(getattr(self.snapshot, UNIT_VECTORS[units])[rows[order]])
        combined = combine_queries(list((vectors @ self.query_vectors(state).T).T), [q.weight for q in state.queries])
        scores = np.empty_like(combined)
        scores[order] = combined
        return scores

    def scores(self, state: RetrievalState, units: str) -> np.ndarray:
        """Every unit's score against all the state's queries (weighted max, see `scoring`)."""
        return combine_queries(self.similarities(state, units), [q.weight for q in state.queries])

    def dense_scores(self, state: RetrievalState) -> np.ndarray:
        """Every passage's dense score against the state's queries."""
        return self.scores(state, "passages")
