"""`clues`: MemoRAG's clue generation — extra weighted queries that cue retrieval.

Each clue becomes a query in `state.queries` (weight `weight`, source saying where it came
from), so the `link`, `ppr` and `dense` stages after it use it like the question: a clue's
similarity to a passage, fact or entity counts `weight` times, combined with the question's
by `hippo.stages.scoring.combine_queries`, and the entities a clue names are linked with
`weight` as their seed score.

Generators:

* ``graph`` (no LLM) needs a first retrieval round before it (`link` and a ranking stage):
  in the top `from_passages` passages it finds the facts that join an entity the question
  is linked to (the anchor) to one it does not name (the bridge, see `hippo.bridges`); each
  of the `max_clues` best bridges gives the clue "the question with the anchor's words
  replaced by the bridge's name" — the question as its next hop would ask it.
* ``llm``: MemoRAG's three clue kinds from the index's global memory (`hippo index
  --memory`): recalled spans and surrogate questions become queries (those of fewer than
  `min_words` words are dropped, as MemoRAG drops clues of three words or fewer), and the
  draft answer reaches the reader as the hint "The answer might be ..." (`hint`). The prompt
  holds the memory parts most similar to the question, `memory_words` words at most.

The trace lists each clue, its source and the `show` passages it retrieves on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from hippo.bridges import BridgeFinder
from hippo.errors import HippoError
from hippo.stages.context import RetrievalContext
from hippo.stages.registry import register_stage
from hippo.stages.scoring import rank_by_scores
from hippo.stages.stage import Stage, setting
from hippo.stages.state import Query, RetrievalState


@register_stage
@dataclass
class CluesStage(Stage):
    """Adds clue queries to the state (see the module doc)."""

    name = "clues"
    generator: Literal["graph", "llm"] = "graph"
    weight: float = setting(1.0, ge=0)  # each clue query's weight; the question's is 1.0
    max_clues: int = setting(1, ge=0)  # graph: bridges turned into clues; llm: span and question clues kept
    from_passages: int = setting(3, ge=1)  # graph: top passages of the first round searched for bridges
    min_words: int = setting(4, ge=1)  # llm: clues with fewer words are dropped
    memory_words: int = setting(1200, ge=50)  # llm: memory words the prompt holds at most
    hint: bool = True  # llm: the draft answer reaches the reader as a hint
    show: int = setting(3, ge=0)  # passages each clue retrieves on its own, shown in the trace

    def __post_init__(self) -> None:
        super().__post_init__()
        self._bridges: tuple[int, BridgeFinder] | None = None

    def apply(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        return self._apply_batch([state], ctx)[0]

    def run_batch(self, states: list[RetrievalState], ctx: RetrievalContext) -> list[RetrievalState]:
        """One LLM request per question, sent as one batch; graph clues question by question."""
        started = time.perf_counter()
        details = self._apply_batch(states, ctx)
        share = (time.perf_counter() - started) / max(1, len(states))
        for state, detail in zip(states, details, strict=True):
            self.record(state, detail, share)
        return states

    def _apply_batch(self, states: list[RetrievalState], ctx: RetrievalContext) -> list[dict[str, Any]]:
        if self.generator == "graph":
            notes = [self._graph_clues(state, ctx) for state in states]
        else:
            notes = self._llm_clues(states, ctx)
        return [{**note, "clues": self._shown(state, ctx)} for state, note in zip(states, notes, strict=True)]

    # -- graph ------------------------------------------------------------------------------

    def _graph_clues(self, state: RetrievalState, ctx: RetrievalContext) -> dict[str, Any]:
        if not state.ranking:
            ctx.warn_once("clues-graph", "stage 'clues' (graph): no ranking before it, so no clues; put `link` "
                                         "and `ppr` (or `dense`) before it in the pipeline")
            return {"note": "no first-round ranking"}
        snapshot = ctx.snapshot
        anchors = {e.entity: e for e in state.linked_entities if e.query == state.question}
        fact_ends = {int(end) for f in state.linked_facts if f.query == state.question
                     for end in (snapshot.fact_subject[f.fact], snapshot.fact_object[f.fact])}
        top = [p for p, _ in state.ranking[:self.from_passages]]
        question_vector = ctx.query_vectors(state)[0]
        for bridge in self._finder(ctx).find(question_vector, {*anchors, *fact_ends}, top, self.max_clues):
            anchor = anchors.get(bridge.anchor)
            mention = anchor.mention if anchor is not None and anchor.mention in state.question else ""
            text = (state.question.replace(mention, bridge.name, 1) if mention
                    else f"{state.question} {bridge.name}")
            state.add_query(text, self.weight, f"graph: {snapshot.fact_text(bridge.fact)} "
                                                f"(passage {snapshot.passage_ids[bridge.passage]})")
        return {}

    def _finder(self, ctx: RetrievalContext) -> BridgeFinder:
        """The bridge finder of the context's snapshot, loaded once per snapshot."""
        if self._bridges is None or self._bridges[0] != id(ctx.snapshot):
            self._bridges = (id(ctx.snapshot), BridgeFinder.load(ctx.index_dir, ctx.snapshot))
        return self._bridges[1]

    # -- llm --------------------------------------------------------------------------------

    def _llm_clues(self, states: list[RetrievalState], ctx: RetrievalContext) -> list[dict[str, Any]]:
        from hippo.llm.base import LLMRequestError
        from hippo.llm.clues import write_clues
        from hippo.memory.global_memory import load_memory

        memory = load_memory(ctx.index_dir)
        if memory is None:
            raise HippoError(f"stage 'clues' (llm): the index {ctx.index_dir} has no global memory; re-index "
                             "with `hippo index --memory extractive` (or gist), or use generator = \"graph\"")
        memories = ["\n\n".join(p.text for p in memory.select(ctx.query_vectors(state)[0], self.memory_words))
                    for state in states]
        try:
            results = write_clues(ctx.llm, [s.question for s in states], memories)
        except HippoError as err:
            ctx.warn_once("clues-llm", f"stage 'clues' (llm): no clues ({err})")
            return [{"note": f"no clues: {err}"} for _ in states]
        notes: list[dict[str, Any]] = []
        for state, result in zip(states, results, strict=True):
            if isinstance(result, LLMRequestError):
                notes.append({"note": f"no clues: {result}"})
                continue
            texts = [("llm: span", t) for t in result.spans] + [("llm: question", t) for t in result.questions]
            kept = [(source, t) for source, t in texts if len(t.split()) >= self.min_words][:self.max_clues]
            for source, text in kept:
                state.add_query(text, self.weight, source)
            if self.hint and result.answer:
                state.hints.append(f"The answer might be {result.answer}.")
            notes.append({"draft_answer": result.answer, "dropped": len(texts) - len(kept)})
        return notes

    # -- trace ------------------------------------------------------------------------------

    def _shown(self, state: RetrievalState, ctx: RetrievalContext) -> list[dict[str, Any]]:
        """Each clue query with the passages it retrieves on its own."""
        clues = [q for q in state.queries if q.source != "question"]
        if not clues or self.show == 0:
            return [_clue(q, []) for q in clues]
        columns = ctx.similarities(state, "passages")
        by_text = {q.text: column for q, column in zip(state.queries, columns, strict=True)}
        shown = []
        for query in clues:
            ranked = rank_by_scores(by_text[query.text], self.show)
            passages = ctx.passages([i for i, _ in ranked])
            shown.append(_clue(query, [
                {"title": p.title, "id": p.id, "score": round(s, 4)}
                for p, (_, s) in zip(passages, ranked, strict=True) if p is not None
            ]))
        return shown


def _clue(query: Query, retrieved: list[dict[str, Any]]) -> dict[str, Any]:
    return {"text": query.text, "weight": query.weight, "source": query.source, "retrieved": retrieved}
