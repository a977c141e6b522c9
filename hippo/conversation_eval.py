"""Evaluating retrieval over conversations (LoCoMo): session- and turn-level metrics.

Each conversation is indexed on its own (a user's memory holds their conversation only), and
each question retrieves from its conversation's index. Per question, with the gold sessions
from its evidence dialog ids:

* recall_any@k: 1 when any gold session is among the first k sessions;
* recall_all@k: 1 when all of them are;
* ndcg@k: binary-relevance NDCG of the first k sessions (gain 1/log2(rank+1));
* turn recall@k: the share of gold turns among the first k turns of the turn ranking.

Scores are averaged over the questions with evidence: overall (categories 1-4), per
category, and for the adversarial category 5 apart. With a reader, token F1 of the answers.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

from hippo.errors import HippoError
from hippo.locomo import ADVERSARIAL, CATEGORY_NAMES, ConversationQuestion
from hippo.memory.sessions import conversation_view
from hippo.metrics import token_f1

KS = (1, 3, 5, 10)
SESSION_METRICS = ("recall_any", "recall_all", "ndcg")
READER_TOP_K = 5


def recall_any(ranked: Sequence[str], gold: frozenset[str], k: int) -> float:
    """1.0 when any gold item is among the first k ranked ones."""
    return float(bool(gold & set(ranked[:k])))


def recall_all(ranked: Sequence[str], gold: frozenset[str], k: int) -> float:
    """1.0 when every gold item is among the first k ranked ones."""
    return float(gold <= set(ranked[:k]))


def ndcg(ranked: Sequence[str], gold: frozenset[str], k: int) -> float:
    """Binary-relevance NDCG@k: sum of 1/log2(rank+1) over gold items in the first k, over
    the same sum for a ranking with every gold item first."""
    gain = sum(1 / math.log2(rank + 1) for rank, item in enumerate(ranked[:k], 1) if item in gold)
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(k, len(gold)) + 1))
    return gain / ideal if ideal else 0.0


def turn_recall(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Share of the gold turns among the first k ranked turns."""
    top = set(ranked[:k])
    return sum(1 for g in gold if g in top) / len(gold)


def question_scores(sessions: Sequence[str], turns: Sequence[str], question: ConversationQuestion) -> dict[str, float]:
    """Every metric at every k for one question (which must have evidence)."""
    gold = question.gold_sessions
    scores = {f"{name}@{k}": 100 * fn(sessions, gold, k)
              for name, fn in (("recall_any", recall_any), ("recall_all", recall_all), ("ndcg", ndcg)) for k in KS}
    scores.update({f"turn_recall@{k}": 100 * turn_recall(turns, question.evidence, k) for k in KS})
    return scores


@dataclass(frozen=True)
class RankedMemory:
    """What a pipeline retrieved for one question: sessions and turns, best first."""

    sessions: list[str]
    turns: list[str]
    answer: str | None = None


class ConversationRetriever:
    """What the runner needs: rankings (and answers) for one conversation's questions."""

    def rank(self, conversation: str, questions: list[str], pipeline: str, read: bool) -> list[RankedMemory]:
        raise NotImplementedError


@dataclass
class ConversationReport:
    """Scores per pipeline and group ("overall" = categories 1-4, "category_N", "adversarial"),
    and one row per question."""

    pipelines: dict[str, dict[str, dict[str, float | None]]]
    questions: list[dict[str, Any]]
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The `--json` document."""
        return {"pipelines": self.pipelines, "questions": self.questions, "counts": self.counts}


def evaluate_conversations(
    retriever: ConversationRetriever, questions: Sequence[ConversationQuestion], pipelines: Sequence[str],
    *, read: bool = False, progress: Callable[[int], None] | None = None,
) -> ConversationReport:
    """Scores every question on every pipeline, conversation by conversation."""
    rows = [{"id": q.id, "conversation": q.conversation, "category": q.category, "question": q.question,
             "answers": list(q.answers), "evidence": list(q.evidence), "pipelines": {}} for q in questions]
    by_conversation: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        by_conversation.setdefault(q.conversation, []).append(i)
    for name in pipelines:
        for conversation, members in by_conversation.items():
            ranked = retriever.rank(conversation, [questions[i].question for i in members], name, read)
            for i, memory in zip(members, ranked, strict=True):
                rows[i]["pipelines"][name] = _row(questions[i], memory, read)
            if progress:
                progress(len(members))
    report = {name: _groups([(q, r["pipelines"][name]) for q, r in zip(questions, rows, strict=True)], read)
              for name in pipelines}
    counts = {"questions": len(questions), "with_evidence": sum(1 for q in questions if q.evidence),
              "adversarial": sum(1 for q in questions if q.category == ADVERSARIAL)}
    return ConversationReport(report, rows, counts)


def _row(question: ConversationQuestion, memory: RankedMemory, read: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"sessions": memory.sessions[:max(KS)], "turns": memory.turns[:max(KS)]}
    if question.evidence:
        row.update(question_scores(memory.sessions, memory.turns, question))
    if read:
        row["prediction"] = memory.answer
        row["f1"] = 100 * token_f1(memory.answer or "", question.answers)
    return row


def metric_names() -> list[str]:
    """Every metric a row holds, in table order."""
    return [f"{m}@{k}" for m in (*SESSION_METRICS, "turn_recall") for k in KS]


def _groups(pairs: list[tuple[ConversationQuestion, dict[str, Any]]], read: bool) -> dict[str, dict[str, float | None]]:
    groups: dict[str, list[dict[str, Any]]] = {"overall": []}
    for question, row in pairs:
        if question.category != ADVERSARIAL:
            groups["overall"].append(row)
        name = "adversarial" if question.category == ADVERSARIAL else f"category_{question.category}"
        groups.setdefault(name, []).append(row)
    ordered = ["overall", *sorted(g for g in groups if g.startswith("category_")), "adversarial"]
    return {g: _aggregate(groups[g], read) for g in ordered if g in groups}


def _aggregate(rows: list[dict[str, Any]], read: bool) -> dict[str, float | None]:
    scored = [r for r in rows if "recall_any@1" in r]
    out: dict[str, float | None] = {"questions": float(len(rows)), "scored": float(len(scored))}
    out.update({m: fmean(r[m] for r in scored) if scored else None for m in metric_names()})
    out["f1"] = fmean(r["f1"] for r in rows) if read and rows else None
    return out


TABLE_COLUMNS = ("recall_any@1", "recall_any@3", "recall_any@5", "recall_any@10", "recall_all@5", "ndcg@5",
                 "ndcg@10", "turn_recall@5", "turn_recall@10", "f1")
_HEADERS = ("any@1", "any@3", "any@5", "any@10", "all@5", "ndcg@5", "ndcg@10", "turn@5", "turn@10", "F1")


def format_conversation_table(report: ConversationReport) -> str:
    """One block per pipeline: a row per question group, session/turn metrics and F1."""
    lines = []
    for name, groups in report.pipelines.items():
        table = [[name, "n", *_HEADERS]]
        for group, scores in groups.items():
            label = _group_label(group)
            table.append([label, str(int(scores["scored"] or 0)),
                          *("-" if scores[c] is None else f"{scores[c]:.1f}" for c in TABLE_COLUMNS)])
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        lines += ["  ".join([row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))])
                  for row in table]
        lines.append("")
    return "\n".join(lines).rstrip()


def _group_label(group: str) -> str:
    if group.startswith("category_"):
        number = int(group.removeprefix("category_"))
        return f"  {number} {CATEGORY_NAMES.get(number, '')}".rstrip()
    return f"  {group}" if group == "adversarial" else f"  {group} (1-4)"


def index_root_default(dataset: Path) -> Path:
    """Where `hippo eval` keeps one index per conversation of `dataset`."""
    return Path(".hippo-eval") / dataset.stem


class PerConversationIndexes(ConversationRetriever):
    """One hippo index per conversation under `root` (`<root>/<sample_id>/`), each built from
    a file holding that conversation alone (`<root>/<sample_id>.json`)."""

    def __init__(self, root: Path, samples: Sequence[dict[str, Any]], *, llm: str | None = None,
                 llm_model: str | None = None, quiet: bool = True, encoder: str | None = None) -> None:
        from hippo.api import Hippo

        self.root = root
        self.samples = {str(s["sample_id"]): s for s in samples}
        self.hippos = {name: Hippo(root / name, llm=llm, llm_model=llm_model, quiet=quiet, encoder=encoder)
                       for name in self.samples}

    def index(self, progress: Callable[[str], None] | None = None) -> dict[str, float]:
        """Indexes every conversation (incrementally); seconds per session of each."""
        from hippo.locomo import conversation_only

        self.root.mkdir(parents=True, exist_ok=True)
        seconds = {}
        for name, hippo in self.hippos.items():
            path = self.root / f"{name}.json"
            body = json.dumps(conversation_only(self.samples[name]), ensure_ascii=False)
            if not path.exists() or path.read_text(encoding="utf-8") != body:
                path.write_text(body, encoding="utf-8")
            if progress:
                progress(name)
            started = time.perf_counter()
            hippo.index([path])
            view = conversation_view(hippo.context)
            seconds[name] = (time.perf_counter() - started) / max(1, len(view.sessions) if view else 1)
        return seconds

    def rank(self, conversation: str, questions: list[str], pipeline: str, read: bool) -> list[RankedMemory]:
        from hippo.pipeline import load_pipeline

        hippo = self.hippos[conversation]
        view = conversation_view(hippo.context)
        if view is None:
            raise HippoError(f"{hippo.index_dir}: holds no conversation; delete it and re-run `hippo eval`")
        states = load_pipeline(pipeline).run_batch(questions, hippo.context, retrieve_only=True, top_k=max(KS))
        answers: list[str | None] = [a.answer for a in hippo.ask_many(questions, pipeline, READER_TOP_K)] if read \
            else [None] * len(questions)
        ids = hippo.context.snapshot.passage_ids
        ranked = []
        for state, answer in zip(states, answers, strict=True):
            ranking = [(ids[i], score) for i, score in state.ranking]
            sessions = [h.key for h in view.sessions_from_passages(ranking, len(view.sessions))]
            ranked.append(RankedMemory(sessions, view.turn_ranking(ranking), answer))
        return ranked
