"""`link`: connects the queries (the question and any a stage added) to the graph.

Facts are linked by embedding similarity to the queries. With an LLM, the
`recognition_candidates` most similar go through HippoRAG 2's recognition-memory filter; without
one (or when the filter fails) only the `top_facts` most similar are kept: dependency-parse
facts past the best few mostly add noise. Entities are linked two ways: query spans that
spell a known entity name or passage title exactly (longest first; spaCy's small model cuts
or misses long titles), and named-entity mentions whose nearest entity embedding clears a
similarity floor (linking with no floor maps unrelated words onto random entities).
`mentions = "names"` (the default) runs no parser: the exact names come from the index's
Aho-Corasick automaton (`hippo.names`) and the mentions are the runs of capitalized words no
name covers; `"spacy"` parses each query with spaCy for both (its named entities as mentions).

The stage writes two memory levels of entity seeds: "facts" (each entity of a linked fact
gets the mean score of its linked facts: their cosine to the query, see `fact_seed`) and
"entities" (each linked entity its link score), each scaled by the weight of the query it
came from.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from hippo.errors import HippoError
from hippo.extract.base import normalize_entity
from hippo.names import UNSPACED, capitalized_spans, find_names
from hippo.stages.context import RetrievalContext
from hippo.stages.registry import register_stage
from hippo.stages.scoring import min_max, rank_by_scores
from hippo.stages.stage import Stage, setting
from hippo.stages.state import Level, LinkedEntity, LinkedFact, Query, RetrievalState

log = logging.getLogger(__name__)

_SKIPPED_LABELS = {"CARDINAL", "ORDINAL", "PERCENT", "QUANTITY", "MONEY"}
MAX_SPAN_TOKENS = 12
MAX_NAME_CHARS = 24


@register_stage
@dataclass
class LinkStage(Stage):
    """Finds the queries' facts and entities in the graph."""

    name = "link"
    top_facts: int = setting(1, ge=0)  # facts that seed PPR when no LLM filters them
    recognition_candidates: int = setting(5, ge=1)  # facts shown to the LLM recognition filter (HippoRAG 2: 5)
    entity_threshold: float = setting(0.8, ge=0)  # cosine a mention needs to link to an entity (> 1: never)
    match_names: bool = True
    # "names": exact names through the index's automaton and capitalized runs as mentions, no parser;
    # "spacy": spaCy parses each query, for exact names and named-entity mentions
    mentions: Literal["names", "spacy"] = "names"
    recognition: Literal["auto", "on", "off"] = "auto"  # "auto": filter with the LLM when one is configured
    # "cosine": a linked fact seeds its entities with its cosine to the query, so a weak best fact
    # (a question the facts do not cover, or in a script the parser cannot read) does not outweigh
    # an exactly named entity (1.0); "min_max": rescaled over all facts as HippoRAG 2 does (the
    # best fact is always 1.0)
    fact_seed: Literal["cosine", "min_max"] = "cosine"
    # cosine the best facts need to link at all: a question no fact covers (or one in a script
    # the parser cannot read) links none, and with no entity named either `ppr` ranks densely
    fact_threshold: float = setting(0.35, ge=0)

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        recognize = self.recognition == "on" or (self.recognition == "auto" and ctx.llm_spec is not None)
        candidates = self._link_facts(state, ctx, self.recognition_candidates if recognize else self.top_facts)
        details: dict[str, Any] = {}
        state.linked_facts = candidates
        if recognize and candidates:
            try:
                state.linked_facts = self._recognize(state, ctx, candidates)
            except HippoError as err:
                ctx.warn_once("recognition", f"recognition filter failed ({err}); linking the top_facts most "
                                             "similar facts, as without an LLM")
                state.linked_facts = self._link_facts(state, ctx, self.top_facts)
                details["recognition"] = f"failed, top_facts kept: {err}"
        state.linked_entities = self._link_entities(state, ctx)
        state.levels["facts"] = Level.from_mapping("entity", _fact_entity_seeds(ctx, state.linked_facts))
        state.levels["entities"] = Level.from_mapping(
            "entity", {e.entity: e.score for e in state.linked_entities})
        snapshot = ctx.snapshot
        return {
            "queries": [q._asdict() for q in state.queries],
            "facts": [{"fact": snapshot.fact_text(f.fact), "score": round(f.score, 4), "query": f.query}
                      for f in state.linked_facts],
            "dropped_by_recognition": len(candidates) - len(state.linked_facts) if recognize else 0,
            **details,
            "entities": [
                {"mention": e.mention, "entity": snapshot.entity_names[e.entity], "score": round(e.score, 4),
                 "query": e.query}
                for e in state.linked_entities
            ],
        }

    def _link_facts(self, state: RetrievalState, ctx: RetrievalContext, count: int) -> list[LinkedFact]:
        if not ctx.snapshot.fact_ids or count <= 0:
            return []
        scores = ctx.scores(state, "facts")
        seeds = scores if self.fact_seed == "cosine" else min_max(scores)
        columns = ctx.similarities(state, "facts")
        return [LinkedFact(i, float(seeds[i]), _best_query(state.queries, columns, i).text)
                for i, score in rank_by_scores(scores, count) if score >= self.fact_threshold]

    def _recognize(self, state: RetrievalState, ctx: RetrievalContext, facts: list[LinkedFact]) -> list[LinkedFact]:
        """The facts the LLM keeps for the question; HippoError when the filter fails."""
        from hippo.llm.recognition import filter_facts

        snapshot = ctx.snapshot
        triples = [
            (snapshot.entity_names[snapshot.fact_subject[f.fact]], snapshot.fact_relations[f.fact],
             snapshot.entity_names[snapshot.fact_object[f.fact]])
            for f in facts
        ]
        kept = filter_facts(ctx.llm, state.question, triples)
        return [facts[k] for k in kept if 0 <= k < len(facts)]

    def _link_entities(self, state: RetrievalState, ctx: RetrievalContext) -> list[LinkedEntity]:
        linked: dict[int, LinkedEntity] = {}
        for query in state.queries:
            self._link_query_entities(query, ctx, linked)
        return sorted(linked.values(), key=lambda e: -e.score)

    def _link_query_entities(self, query: Query, ctx: RetrievalContext, linked: dict[int, LinkedEntity]) -> None:
        """Adds the entities one query names (keeping, per entity, the best-scoring link)."""
        snapshot = ctx.snapshot
        if self.mentions == "names":
            found = find_names(query.text, snapshot.names, snapshot.entity_names) if self.match_names else []
            for start, end, entity in found:
                _link_name(query, start, end, entity, linked)
            spans = capitalized_spans(query.text, [(start, end) for start, end, _ in found])
            self._link_mentions(query, ctx, linked, [query.text[start:end] for start, end in spans])
            return
        doc = ctx.nlp(query.text)
        covered = []
        if self.match_names:
            for start, end, entity in exact_name_matches(doc, snapshot.entity_index):
                _link_name(query, start, end, entity, linked)
                covered.append((start, end))
        self._link_mentions(query, ctx, linked, [
            ent.text for ent in doc.ents
            if ent.label_ not in _SKIPPED_LABELS
            and not any(ent.start_char < end and start < ent.end_char for start, end in covered)
        ])

    def _link_mentions(
        self, query: Query, ctx: RetrievalContext, linked: dict[int, LinkedEntity], mentions: list[str]
    ) -> None:
        """Links each mention to its nearest entity by embedding, when that clears `entity_threshold`."""
        names_and_text = [(n, text) for n, text in ((normalize_entity(m), m) for m in mentions) if n]
        if not names_and_text or not ctx.snapshot.entity_ids:
            return
        vectors = ctx.encoder.encode([n for n, _ in names_and_text])
        similarity = ctx.search("entities", vectors)
        for column, (_, text) in enumerate(names_and_text):
            best = int(np.argmax(similarity[:, column]))
            score = float(similarity[best, column])
            if score >= self.entity_threshold and score * query.weight > linked.get(best, _NONE).score:
                linked[best] = LinkedEntity(best, score * query.weight, text, query.text)


_NONE = LinkedEntity(-1, 0.0, "", "")


def _link_name(query: Query, start: int, end: int, entity: int, linked: dict[int, LinkedEntity]) -> None:
    """Links `entity`, named by query.text[start:end], with the query's weight unless it has a better link."""
    if query.weight >= linked.get(entity, _NONE).score:
        linked[entity] = LinkedEntity(entity, query.weight, query.text[start:end], query.text)


def _best_query(queries: list[Query], columns: list[np.ndarray], index: int) -> Query:
    """The query whose weighted score decides item `index`'s combined score."""
    return max(zip(queries, columns, strict=True), key=lambda pair: pair[0].weight * pair[1][index])[0]


def _fact_entity_seeds(ctx: RetrievalContext, facts: list[LinkedFact]) -> dict[int, float]:
    """Each entity of a linked fact, with the mean score of the linked facts it is part of."""
    snapshot = ctx.snapshot
    scores: dict[int, list[float]] = defaultdict(list)
    for fact in facts:
        for entity in (int(snapshot.fact_subject[fact.fact]), int(snapshot.fact_object[fact.fact])):
            scores[entity].append(fact.score)
    return {entity: float(np.mean(values)) for entity, values in scores.items()}


def exact_name_matches(doc: Any, entity_index: dict[str, int]) -> list[tuple[int, int, int]]:
    """Non-overlapping (start char, end char, entity) spans of a parsed query that spell a
    known entity name, in any script: token spans first (longest first), then, in runs of
    a script written without spaces (Chinese, Japanese, Thai...), substrings (longest first)."""
    found = _token_name_matches(doc, entity_index)
    taken = [False] * len(doc.text)
    for start, end, _ in found:
        taken[start:end] = [True] * (end - start)
    for run in UNSPACED.finditer(doc.text):
        found.extend(_substring_name_matches(doc.text, run.start(), run.end(), entity_index, taken))
    return found


def _token_name_matches(doc: Any, entity_index: dict[str, int]) -> list[tuple[int, int, int]]:
    """Token spans that spell an entity name; a span must hold a word that looks like a name."""
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
                found.append((span.start_char, span.end_char, entity))
                taken.update(range(start, end))
    return found


def _substring_name_matches(
    text: str, start: int, end: int, entity_index: dict[str, int], taken: list[bool]
) -> list[tuple[int, int, int]]:
    """Substrings of text[start:end] (two characters or more) that are entity names, longest
    first, skipping and then marking characters in `taken`."""
    found: list[tuple[int, int, int]] = []
    for length in range(min(MAX_NAME_CHARS, end - start), 1, -1):
        for left in range(start, end - length + 1):
            right = left + length
            if any(taken[left:right]):
                continue
            entity = entity_index.get(normalize_entity(text[left:right]))
            if entity is not None:
                found.append((left, right, entity))
                taken[left:right] = [True] * length
    return found


def _looks_like_name(token: Any) -> bool:
    """Capitalized (beyond sentence-initial capitals of ordinary words), a number, or a
    word of a script without capitals (Arabic, Hebrew, Devanagari, CJK...)."""
    capitalized = token.text[:1].isupper() and (not token.is_sent_start or token.pos_ == "PROPN")
    return capitalized or token.like_num or _caseless_word(token.text)


def _caseless_word(text: str) -> bool:
    return any(c.isalpha() for c in text) and not any(c.isupper() or c.islower() for c in text)
