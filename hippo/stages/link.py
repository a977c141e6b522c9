"""`link`: connects the question to the graph.

Facts are linked by embedding similarity to the question. With an LLM, the
`recognition_candidates` most similar go through HippoRAG 2's recognition-memory filter; without
one, only the `top_facts` most similar seed PPR: dependency-parse facts past the best one mostly
add noise (hipporag2 R@2 on 2Wiki / MuSiQue / HotpotQA: 57.0 / 34.8 / 50.7 with 5 facts, 69.2 /
41.1 / 64.3 with 1). Entities are linked two ways: question spans that spell a
known entity name or passage title exactly (longest first; spaCy's small model cuts or misses
long titles), and named-entity mentions whose nearest entity embedding clears a similarity
floor (linking with no floor maps unrelated words onto random entities).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from hippo.errors import HippoError
from hippo.extract.base import normalize_entity
from hippo.stages.base import RetrievalContext, RetrievalState, Stage, register_stage
from hippo.stages.dense import rank_by_scores

log = logging.getLogger(__name__)

_SKIPPED_LABELS = {"CARDINAL", "ORDINAL", "PERCENT", "QUANTITY", "MONEY"}
MAX_SPAN_TOKENS = 12


def min_max(scores: np.ndarray) -> np.ndarray:
    """Scores rescaled to [0, 1] (all ones when they are all equal)."""
    low, high = float(scores.min()), float(scores.max())
    return np.ones_like(scores) if high - low < 1e-12 else (scores - low) / (high - low)


@register_stage
class LinkStage(Stage):
    """Finds the question's facts and entities in the graph."""

    name = "link"
    top_facts: int = 1  # facts that seed PPR when no LLM filters them
    recognition_candidates: int = 5  # facts shown to the LLM recognition filter (HippoRAG 2: 5)
    entity_threshold: float = 0.8
    match_names: bool = True
    recognition: str = "auto"  # "auto": filter facts with the LLM when one is configured; "on"; "off"

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        recognize = self.recognition == "on" or (self.recognition == "auto" and ctx.llm_spec is not None)
        facts = self._link_facts(state, ctx, self.recognition_candidates if recognize else self.top_facts)
        state.linked_facts = self._recognize(state, ctx, facts) if recognize else facts
        state.linked_entities = self._link_entities(state, ctx)
        snapshot = ctx.snapshot
        return {
            "facts": [{"fact": snapshot.fact_text(i), "score": round(s, 4)} for i, s in state.linked_facts],
            "dropped_by_recognition": len(facts) - len(state.linked_facts),
            "entities": [
                {"mention": m, "entity": snapshot.entity_names[e], "score": round(s, 4)}
                for e, s, m in state.linked_entities
            ],
        }

    def _link_facts(self, state: RetrievalState, ctx: RetrievalContext, count: int) -> list[tuple[int, float]]:
        snapshot = ctx.snapshot
        if not snapshot.fact_ids or count <= 0:
            return []
        scores = np.asarray(snapshot.fact_vectors @ ctx.encode_queries(state).T).max(axis=1)
        normalized = min_max(scores)
        return [(i, float(normalized[i])) for i, _ in rank_by_scores(scores, count)]

    def _recognize(
        self, state: RetrievalState, ctx: RetrievalContext, facts: list[tuple[int, float]]
    ) -> list[tuple[int, float]]:
        if not facts:
            return facts
        from hippo.llm.recognition import filter_facts

        snapshot = ctx.snapshot
        triples = [
            (snapshot.entity_names[snapshot.fact_subject[i]], snapshot.fact_relations[i],
             snapshot.entity_names[snapshot.fact_object[i]])
            for i, _ in facts
        ]
        try:
            kept = filter_facts(ctx.llm, state.question, triples)
        except HippoError as err:
            log.warning("recognition filter skipped: %s", err)
            return facts
        return [facts[k] for k in kept if 0 <= k < len(facts)]

    def _link_entities(self, state: RetrievalState, ctx: RetrievalContext) -> list[tuple[int, float, str]]:
        doc = ctx.nlp(state.question)
        linked: dict[int, tuple[float, str]] = {}
        covered: set[int] = set()
        if self.match_names:
            for start, end, entity in _exact_name_matches(doc, ctx.snapshot.entity_index):
                linked[entity] = (1.0, doc[start:end].text)
                covered.update(range(start, end))
        mentions = [
            ent for ent in doc.ents
            if ent.label_ not in _SKIPPED_LABELS and not covered.intersection(range(ent.start, ent.end))
        ]
        names = [normalize_entity(ent.text) for ent in mentions]
        names_and_text = [(n, ent.text) for n, ent in zip(names, mentions, strict=True) if n]
        if names_and_text and ctx.snapshot.entity_ids:
            vectors = ctx.encoder.encode([n for n, _ in names_and_text])
            similarity = np.asarray(ctx.snapshot.entity_vectors @ vectors.T)
            for column, (_, text) in enumerate(names_and_text):
                best = int(np.argmax(similarity[:, column]))
                score = float(similarity[best, column])
                if score >= self.entity_threshold and score > linked.get(best, (0.0, ""))[0]:
                    linked[best] = (score, text)
        return [(e, s, m) for e, (s, m) in sorted(linked.items(), key=lambda item: -item[1][0])]


def _exact_name_matches(doc: Any, entity_index: dict[str, int]) -> list[tuple[int, int, int]]:
    """Non-overlapping (start, end, entity) token spans of `doc` that spell an entity name,
    longest first; a span must hold a capitalized word or a number to count as a name."""
    found: list[tuple[int, int, int]] = []
    taken: set[int] = set()
    n = len(doc)
    for length in range(min(MAX_SPAN_TOKENS, n), 0, -1):
        for start in range(0, n - length + 1):
            end = start + length
            if taken.intersection(range(start, end)):
                continue
            span = doc[start:end]
            if any(t.is_punct and not t.is_bracket for t in (span[0], span[-1])):
                continue  # "Ada Brennan?" — the shorter span names the same entity
            if not any(_looks_like_name(t) for t in span):
                continue
            if all(t.is_stop or t.is_punct for t in span):
                continue
            entity = entity_index.get(normalize_entity(span.text))
            if entity is not None:
                found.append((start, end, entity))
                taken.update(range(start, end))
    return found


def _looks_like_name(token: Any) -> bool:
    """Capitalized (beyond sentence-initial capitals of ordinary words) or a number."""
    capitalized = token.text[:1].isupper() and (not token.is_sent_start or token.pos_ == "PROPN")
    return capitalized or token.like_num
