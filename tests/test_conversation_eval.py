"""LoCoMo evaluation: evidence dialog ids to gold sessions, and the session/turn metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from hippo.cli import main
from hippo.conversation_eval import (
    ConversationRetriever,
    RankedMemory,
    evaluate_conversations,
    format_conversation_table,
    ndcg,
    recall_all,
    recall_any,
    turn_recall,
)
from hippo.locomo import evidence_ids, locomo_questions


def test_evidence_ids_split_packed_entries_and_map_to_sessions() -> None:
    assert evidence_ids(["D1:3", "D8:6; D9:17", "D1:3", "not an id", "D10:2"]) == (
        "D1:3", "D8:6", "D9:17", "D10:2")
    samples = [{"sample_id": "conv-1", "conversation": {}, "qa": [
        {"question": "Q?", "answer": 2022, "evidence": ["D2:1", "D10:4"], "category": 2},
        {"question": "Trick?", "adversarial_answer": "no", "evidence": [], "category": 5}]}]
    first, adversarial = locomo_questions(samples)
    assert first.gold_sessions == {"conv-1/session_2", "conv-1/session_10"}
    assert first.answers == ("2022",) and first.id == "conv-1:0"
    assert adversarial.answers == ("no",) and adversarial.category == 5 and not adversarial.evidence


def test_session_metrics_by_hand() -> None:
    ranked = ["s3", "s1", "s2", "s4"]
    gold = frozenset({"s1", "s4"})
    assert recall_any(ranked, gold, 1) == 0.0 and recall_any(ranked, gold, 2) == 1.0
    assert recall_all(ranked, gold, 3) == 0.0 and recall_all(ranked, gold, 4) == 1.0
    # gains at ranks 2 and 4; the ideal puts them at ranks 1 and 2
    assert ndcg(ranked, gold, 4) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))
    assert ndcg(ranked, frozenset({"s3"}), 10) == 1.0
    assert turn_recall(["D1:1", "D2:5", "D1:2"], ["D2:5", "D3:1"], 2) == 0.5


class _Fixed(ConversationRetriever):
    def rank(self, conversation: str, questions: list[str], pipeline: str, read: bool) -> list[RankedMemory]:
        return [RankedMemory([f"{conversation}/session_2", f"{conversation}/session_1"], ["D2:1", "D1:1"])
                for _ in questions]


def test_report_groups_categories_and_sets_adversarial_apart() -> None:
    samples = [{"sample_id": "c", "conversation": {}, "qa": [
        {"question": "a", "answer": "x", "evidence": ["D1:1"], "category": 4},
        {"question": "b", "answer": "x", "evidence": ["D2:1"], "category": 2},
        {"question": "c", "adversarial_answer": "x", "evidence": ["D1:1"], "category": 5}]}]
    report = evaluate_conversations(_Fixed(), locomo_questions(samples), ["p"])
    groups = report.pipelines["p"]
    assert list(groups) == ["overall", "category_2", "category_4", "adversarial"]
    assert groups["overall"]["recall_any@1"] == 50.0 and groups["overall"]["recall_any@3"] == 100.0
    assert groups["adversarial"]["scored"] == 1 and groups["adversarial"]["recall_any@1"] == 0.0
    assert groups["category_4"]["turn_recall@1"] == 0.0 and groups["category_4"]["turn_recall@3"] == 100.0
    assert "adversarial" in format_conversation_table(report)


def test_hippo_eval_on_a_locomo_file(tmp_path: Path) -> None:
    turns = [{"speaker": "Ann", "dia_id": f"D1:{i}", "text": t} for i, t in enumerate(
        ["I adopted a beagle named Pepper.", "My sister lives in Toronto."], 1)]
    later = [{"speaker": "Ben", "dia_id": "D2:1", "text": "I ran the Lisbon half marathon."}]
    dataset = tmp_path / "mini_locomo.json"
    dataset.write_text(json.dumps([{"sample_id": "c1", "conversation": {
        "session_1": turns, "session_1_date_time": "8 May 2023", "session_2": later,
        "session_2_date_time": "9 June 2023"}, "qa": [
        {"question": "Which race did Ben run?", "answer": "Lisbon half marathon", "evidence": ["D2:1"],
         "category": 4}]}]))
    out = tmp_path / "out.json"
    result = CliRunner().invoke(main, ["eval", "--dataset", str(dataset), "--index", str(tmp_path / "idx"),
                                       "--pipelines", "dense,memgas", "--json", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "any@5" in result.output and "overall (1-4)" in result.output
    report = json.loads(out.read_text())
    assert report["pipelines"]["memgas"]["overall"]["recall_any@1"] == 100.0
    assert report["questions"][0]["pipelines"]["dense"]["sessions"][0] == "c1/session_2"
    assert (tmp_path / "idx" / "c1").is_dir()


def test_eval_without_corpus_on_a_question_file_is_an_error(tmp_path: Path) -> None:
    dataset = tmp_path / "q.json"
    dataset.write_text(json.dumps([{"question": "q", "answer": "a", "supporting_titles": ["A"]}]))
    result = CliRunner().invoke(main, ["eval", "--dataset", str(dataset)])
    assert result.exit_code == 2 and "--corpus is required" in result.output
