"""The evaluation runner: every question through every pipeline, scored against gold passages
(Recall@1/2/5/10) and, when a reader LLM is configured, against gold answers (EM, token F1).

It depends only on a small retriever protocol, which `hippo.api.Hippo` satisfies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any, Protocol

from hippo.datasets import CorpusGold, Question
from hippo.llm.reader import strip_citations
from hippo.metrics import distinct, exact_match, recall_at_k, token_f1, unique_gold

KS = (1, 2, 5, 10)
READER_TOP_K = 5
BATCH = 32


class _Passage(Protocol):
    id: str
    title: str


class _Retrieval(Protocol):
    passages: Sequence[_Passage]


class _Answer(Protocol):
    answer: str | None
    note: str | None


class Retriever(Protocol):
    """What the runner needs from `hippo.api.Hippo`."""

    def retrieve_many(self, questions: list[str], pipeline: str = ..., top_k: int = ...) -> Sequence[_Retrieval]:
        ...

    def ask_many(self, questions: list[str], pipeline: str = ..., top_k: int = ...) -> Sequence[_Answer]:
        ...


@dataclass
class EvalReport:
    """Aggregate scores per pipeline (recalls in percent, EM/F1 in percent or None) and one
    row per question."""

    pipelines: dict[str, dict[str, float | None]]
    questions: list[dict[str, Any]]
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The `--json` document: {"pipelines": ..., "questions": [...], "counts": ...}."""
        return {"pipelines": self.pipelines, "questions": self.questions, "counts": self.counts}


def evaluate(
    retriever: Retriever, questions: Sequence[Question], corpus: CorpusGold, pipelines: Sequence[str],
    *, read: bool = False, progress: Callable[[int], None] | None = None,
) -> EvalReport:
    """Scores `questions` on each pipeline. Questions without any gold item are kept in the
    rows but left out of recall; gold items absent from the corpus count as misses.

    `read` also asks the reader for each question (EM/F1); `progress(n)` is called as
    questions finish, once per pipeline.
    """
    resolved = [[corpus.resolve(g) for g in q.gold] for q in questions]
    gold = [unique_gold(ids) for ids in resolved]
    rows = [_question_row(q, ids, len(items)) for q, ids, items in zip(questions, resolved, gold, strict=True)]
    scores = {}
    for name in pipelines:
        for start in range(0, len(questions), BATCH):
            end = start + BATCH
            scored = _score_batch(retriever, name, questions[start:end], gold[start:end], read)
            for row, result in zip(rows[start:end], scored, strict=True):
                row["pipelines"][name] = result
            if progress:
                progress(len(scored))
        scores[name] = _aggregate([row["pipelines"][name] for row in rows], read)
    return EvalReport(scores, rows, _counts(rows))


def _score_batch(
    retriever: Retriever, pipeline: str, questions: Sequence[Question], gold: list[list[frozenset[str]]], read: bool
) -> list[dict[str, Any]]:
    texts = [q.question for q in questions]
    rows = [_pipeline_row(run, items) for run, items in
            zip(retriever.retrieve_many(texts, pipeline=pipeline, top_k=max(KS)), gold, strict=True)]
    if read:
        answers = retriever.ask_many(texts, pipeline=pipeline, top_k=READER_TOP_K)
        for row, answer, question in zip(rows, answers, questions, strict=True):
            row.update(_answer_row(answer, question))
    return rows


def _question_row(question: Question, resolved: list[frozenset[str]], items: int) -> dict[str, Any]:
    return {
        "id": question.id,
        "question": question.question,
        "answers": list(question.answers),
        "gold": [{"title": g.title, "in_corpus": bool(ids)} for g, ids in zip(question.gold, resolved, strict=True)],
        "gold_items": items,
        "pipelines": {},
    }


def _pipeline_row(run: _Retrieval, items: list[frozenset[str]]) -> dict[str, Any]:
    ids = distinct(p.id for p in run.passages)
    titles = {p.id: p.title for p in run.passages}
    row: dict[str, Any] = {f"recall@{k}": (100 * recall_at_k(ids, items, k) if items else None) for k in KS}
    row["retrieved"] = [{"title": titles[i], "gold": any(i in item for item in items)} for i in ids[:max(KS)]]
    return row


def _answer_row(answer: _Answer, question: Question) -> dict[str, Any]:
    prediction = strip_citations(answer.answer or "")
    return {
        "prediction": answer.answer,
        "note": answer.note,
        "em": 100 * exact_match(prediction, question.answers),
        "f1": 100 * token_f1(prediction, question.answers),
    }


def _aggregate(rows: list[dict[str, Any]], read: bool) -> dict[str, float | None]:
    scores: dict[str, float | None] = {}
    for k in KS:
        values = [r[f"recall@{k}"] for r in rows if r[f"recall@{k}"] is not None]
        scores[f"recall@{k}"] = fmean(values) if values else None
    for metric in ("em", "f1"):
        scores[metric] = fmean(r[metric] for r in rows) if read and rows else None
    return scores


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    missing = [sum(not g["in_corpus"] for g in r["gold"]) for r in rows]
    return {
        "questions": len(rows),
        "scored": sum(1 for r in rows if r["gold_items"]),
        "without_gold": sum(1 for r in rows if not r["gold_items"]),
        "with_gold_missing_from_corpus": sum(1 for m in missing if m),
        "gold_passages_missing_from_corpus": sum(missing),
    }


def format_table(report: EvalReport) -> str:
    """A side-by-side table: one row per pipeline, Recall@k then EM/F1 ("-" without a reader)."""
    headers = ["pipeline", *(f"R@{k}" for k in KS), "EM", "F1"]
    keys = [*(f"recall@{k}" for k in KS), "em", "f1"]
    body = [[name, *(_cell(scores[key]) for key in keys)] for name, scores in report.pipelines.items()]
    table = [headers, *body]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    return "\n".join(
        "  ".join([row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))])
        for row in table
    )


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def describe_counts(counts: dict[str, int]) -> list[str]:
    """Human lines about questions that could not be scored fully (empty when all are fine)."""
    lines = []
    if counts.get("without_gold"):
        lines.append(f"{counts['without_gold']} questions have no gold passages and are left out of recall")
    if counts.get("with_gold_missing_from_corpus"):
        lines.append(
            f"{counts['with_gold_missing_from_corpus']} questions name {counts['gold_passages_missing_from_corpus']} "
            "gold passages that are not in the corpus; recall counts them as not retrieved"
        )
    return lines
