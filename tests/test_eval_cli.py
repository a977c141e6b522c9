"""`hippo eval` and `hippo bench` end to end on the bundled sample corpus (real models)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hippo.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS = DATA / "sample"


@pytest.fixture(scope="module")
def questions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three sample questions plus one whose second gold passage is not in the corpus."""
    lines = (DATA / "sample_questions.jsonl").read_text(encoding="utf-8").splitlines()[:3]
    lines.append(json.dumps({"id": "gone", "question": "Where is Atlantis, home of Ada Brennan?",
                             "answer": "nowhere", "supporting_titles": ["Ada Brennan", "Atlantis"]}))
    path = tmp_path_factory.mktemp("eval") / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def evaluated(
    questions: Path, sample_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict, str]:
    """`hippo eval` over a copy of the session's sample index (so it re-indexes nothing)."""
    root = tmp_path_factory.mktemp("eval-run")
    index, out = root / "index", root / "results.json"
    shutil.copytree(sample_index, index)
    result = CliRunner().invoke(main, [
        "eval", "--dataset", str(questions), "--corpus", str(CORPUS), "--index", str(index),
        "--pipelines", "hipporag2,dense", "--json", str(out), "-q",
    ])
    assert result.exit_code == 0, result.output
    return index, json.loads(out.read_text(encoding="utf-8")), result.output


def test_eval_prints_a_table_per_pipeline(evaluated: tuple[Path, dict, str]) -> None:
    _, _, output = evaluated
    table = [line.split() for line in output.splitlines() if line.startswith(("pipeline", "hipporag2", "dense"))]
    header, *rows = table
    assert header == ["pipeline", "R@1", "R@2", "R@5", "R@10", "EM", "F1"]
    assert [row[0] for row in rows] == ["hipporag2", "dense"]
    assert "1 questions name 1 gold passages that are not in the corpus" in output
    assert "EM/F1 need a reader: pass --llm" in output


def test_eval_json_has_the_documented_shape(evaluated: tuple[Path, dict, str]) -> None:
    _, results, _ = evaluated
    for scores in results["pipelines"].values():
        assert set(scores) == {"recall@1", "recall@2", "recall@5", "recall@10", "em", "f1"}
        assert 0 <= scores["recall@2"] <= scores["recall@5"] <= scores["recall@10"] <= 100
        assert scores["em"] is None and scores["f1"] is None
    assert len(results["questions"]) == 4
    gone = results["questions"][3]
    assert gone["gold"][1] == {"title": "Atlantis", "in_corpus": False}
    assert gone["pipelines"]["dense"]["recall@10"] == 50.0  # Ada Brennan found, Atlantis never can be
    assert results["counts"]["gold_passages_missing_from_corpus"] == 1


def test_bench_reports_latency_rss_and_size(evaluated: tuple[Path, dict, str], tmp_path: Path) -> None:
    index, _, _ = evaluated
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(main, ["bench", "--index", str(index), "--queries", "3", "--pipelines",
                                       "hipporag2,dense", "--json", str(out), "-q"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["passages"] > 20 and report["index_bytes"] > 0 and report["peak_rss_mb"] > 0
    assert report["indexing"] == {}  # the index was up to date: nothing to time
    assert report["latency"]["hipporag2"]["ppr_ms_mean"] is not None
    assert report["latency"]["dense"]["ppr_ms_mean"] is None
    assert "up to date" in result.output
    host = report["host"]  # the same run's reference: igraph on the index's own graph, and the CPU
    assert host["igraph_ppr_ms"] > 0 and host["graph_nodes"] > report["passages"] and host["graph_edges"] > 0
    if Path("/proc/cpuinfo").exists() and "avx2" in Path("/proc/cpuinfo").read_text():
        assert "avx2" in host["cpu_flags"]
    assert f"igraph PRPACK PPR {host['igraph_ppr_ms']:.1f} ms/query" in result.output


def test_a_dataset_in_another_schema_names_the_missing_field(tmp_path: Path) -> None:
    other = tmp_path / "locomo.json"
    other.write_text(json.dumps([{"sample_id": "s", "qa": []}]), encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "--dataset", str(other), "--corpus", str(CORPUS),
                                       "--index", str(tmp_path / "idx")])
    assert result.exit_code == 2
    assert "record 0 has no string `question` field" in result.output
    assert not (tmp_path / "idx").exists()  # rejected before any indexing


def test_an_unknown_pipeline_fails_before_indexing(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["eval", "--dataset", str(DATA / "sample_questions.jsonl"), "--corpus",
                                       str(CORPUS), "--index", str(tmp_path / "idx"), "--pipelines", "nope"])
    assert result.exit_code == 2
    assert "nope" in result.output
    assert not (tmp_path / "idx").exists()
