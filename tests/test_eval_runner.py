"""The eval runner, its table and counts, and the bench pieces, over a scripted retriever."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from hippo.bench import indexing_throughput, query_latency
from hippo.corpus import Passage
from hippo.datasets import CorpusGold, GoldPassage, Question
from hippo.evaluate import describe_counts, evaluate, format_table
from hippo.indexer import IndexReport

CORPUS = CorpusGold([Passage("p1", "Ada", "Ada text"), Passage("p2", "Dunmore", "Dunmore text"),
                     Passage("p3", "Keel", "Keel text")])
QUESTIONS = [
    Question("q1", "Who?", ("Thomas Keel",), (GoldPassage("Ada"), GoldPassage("Dunmore"))),
    Question("q2", "Where?", ("Dunmore",), (GoldPassage("Keel"), GoldPassage("Atlantis"))),
    Question("q3", "What?", ("x",), ()),
]


@dataclass
class _Passage:
    id: str
    title: str


@dataclass
class _Run:
    passages: list[_Passage]
    trace: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Answer:
    answer: str | None
    note: str | None = None


RANKINGS = {
    "good": {"Who?": ["p1", "p1", "p2"], "Where?": ["p3"], "What?": ["p2"]},
    "bad": {"Who?": ["p3", "p2", "p1"], "Where?": ["p1", "p2"], "What?": []},
}
ANSWERS = {"Who?": "Thomas Keel [1][2].", "Where?": "the town of Dunmore", "What?": None}


class ScriptedRetriever:
    """Returns fixed rankings per pipeline and question (RANKINGS); answers from ANSWERS."""

    def retrieve_many(self, questions: list[str], pipeline: str = "good", top_k: int = 10) -> list[_Run]:
        titles = {p.id: p.title for p in CORPUS.passages}
        return [_Run([_Passage(i, titles[i]) for i in RANKINGS[pipeline][q][:top_k]],
                     [{"stage": "ppr", "seconds": 0.002}]) for q in questions]

    def retrieve(self, question: str, pipeline: str = "good", top_k: int = 10) -> _Run:
        return self.retrieve_many([question], pipeline, top_k)[0]

    def ask_many(self, questions: list[str], pipeline: str = "good", top_k: int = 5) -> list[_Answer]:
        return [_Answer(ANSWERS[q], None if ANSWERS[q] else "no LLM") for q in questions]


def test_recall_per_pipeline_in_percent_and_counts() -> None:
    report = evaluate(ScriptedRetriever(), QUESTIONS, CORPUS, ["good", "bad"])
    good, bad = report.pipelines["good"], report.pipelines["bad"]
    # q1: gold {p1, p2}; "p1" twice holds one rank -> R@1 1/2, R@2 2/2. q2: p3 found, Atlantis missing -> 1/2.
    assert good == {"recall@1": pytest.approx(50.0), "recall@2": pytest.approx(75.0),
                    "recall@5": pytest.approx(75.0), "recall@10": pytest.approx(75.0), "em": None, "f1": None}
    # q1: p3,p2,p1 -> R@1 0, R@2 1/2, R@5 1. q2: p1,p2 -> 0.
    assert bad["recall@1"] == 0.0 and bad["recall@2"] == pytest.approx(25.0) and bad["recall@5"] == 50.0
    assert report.counts == {"questions": 3, "scored": 2, "without_gold": 1,
                             "with_gold_missing_from_corpus": 1, "gold_passages_missing_from_corpus": 1}


def test_per_question_rows_show_gold_and_ranking() -> None:
    report = evaluate(ScriptedRetriever(), QUESTIONS, CORPUS, ["good"])
    q1, q2, q3 = report.questions
    assert q1["pipelines"]["good"]["retrieved"] == [{"title": "Ada", "gold": True}, {"title": "Dunmore", "gold": True}]
    assert q2["gold"] == [{"title": "Keel", "in_corpus": True}, {"title": "Atlantis", "in_corpus": False}]
    assert q3["pipelines"]["good"]["recall@5"] is None
    assert set(report.to_json()) == {"pipelines", "questions", "counts"}


def test_reader_scores_em_and_f1() -> None:
    report = evaluate(ScriptedRetriever(), QUESTIONS, CORPUS, ["good"], read=True)
    # q1 exact once its citations are stripped and it is normalized;
    # q2 "town of dunmore" vs "dunmore": F1 2*(1/3)/(4/3) = 0.5; q3 no answer.
    assert report.pipelines["good"]["em"] == pytest.approx(100 / 3)
    assert report.pipelines["good"]["f1"] == pytest.approx(50.0)
    assert report.questions[2]["pipelines"]["good"]["note"] == "no LLM"


def test_table_and_notes() -> None:
    report = evaluate(ScriptedRetriever(), QUESTIONS, CORPUS, ["good", "bad"])
    lines = format_table(report).splitlines()
    assert lines[0].split() == ["pipeline", "R@1", "R@2", "R@5", "R@10", "EM", "F1"]
    assert lines[1].split() == ["good", "50.0", "75.0", "75.0", "75.0", "-", "-"]
    assert describe_counts(report.counts) == [
        "1 questions have no gold passages and are left out of recall",
        "1 questions name 1 gold passages that are not in the corpus; recall counts them as not retrieved",
    ]


def test_progress_is_reported_per_batch() -> None:
    seen: list[int] = []
    evaluate(ScriptedRetriever(), QUESTIONS, CORPUS, ["good", "bad"], progress=seen.append)
    assert seen == [3, 3]


def test_query_latency_reads_ppr_time_from_the_trace() -> None:
    stats = query_latency(ScriptedRetriever(), ["Who?", "Where?"], "good")
    assert stats.queries == 2
    assert stats.ppr_ms_mean == pytest.approx(2.0)
    assert stats.stage_ms_mean == {"ppr": pytest.approx(2.0)}
    assert 0 <= stats.p50_ms <= stats.p95_ms


def test_indexing_throughput_only_for_stages_that_worked() -> None:
    report = IndexReport(files_changed=1, passages_extracted=0, strings_embedded=40, graph_rebuilt=True,
                         seconds={"read": 0.5, "extract": 0.01, "embed": 2.0, "graph": 1.0})
    assert indexing_throughput(report, 100) == {
        "read": {"seconds": 0.5, "passages_per_s": 200.0},
        "embed": {"seconds": 2.0, "passages_per_s": 50.0},
        "graph": {"seconds": 1.0, "passages_per_s": 100.0},
        "total": {"seconds": pytest.approx(3.51), "passages_per_s": pytest.approx(100 / 3.51)},
    }
