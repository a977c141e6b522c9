"""The `clues` stage (MemoRAG): graph clues without an LLM, LLM clues from the global memory,
their settings checked at load, and the `memorag` pipelines end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hippo.api import Hippo
from hippo.errors import HippoError
from hippo.pipeline import load_pipeline
from tests.llm_server import ScriptedAPI

TWO_HOP = "Who designed the lighthouse in the town where Ada Brennan was born?"


@pytest.fixture(scope="module")
def hippo(sample_index: Path) -> Hippo:
    return Hippo(sample_index)


def _clues(trace: list[dict[str, object]]) -> list[dict[str, object]]:
    entries = [entry for entry in trace if entry["stage"] == "clues"]
    assert len(entries) == 1
    return entries[0]["clues"]  # type: ignore[return-value]


def test_graph_clue_names_the_bridge_and_its_passage_joins_the_top_4(hippo: Hippo) -> None:
    result = hippo.retrieve(TWO_HOP, pipeline="memorag", top_k=5)
    (clue,) = _clues(result.trace)  # memorag keeps the best bridge
    assert clue["text"] == "Who designed the lighthouse in the town where Dunmore was born?"
    assert str(clue["source"]).startswith("graph: ada brennan ") and "dunmore" in str(clue["source"])
    own = [hit["title"] for hit in clue["retrieved"]]  # type: ignore[union-attr]
    assert own[:2] == ["Dunmore", "Thomas Keel"]  # the bridge's page, then the lighthouse's designer
    question_only = [p.title for p in hippo.retrieve(TWO_HOP, pipeline="hipporag2", top_k=5).passages]
    titles = [p.title for p in result.passages]
    assert "Dunmore" in question_only[:4] and "Thomas Keel" not in question_only
    # union: hipporag2's top 4 stay, the clue's best passage not among them takes the fifth place
    assert titles == [*question_only[:4], "Thomas Keel"]
    (union,) = [e for e in result.trace if e["stage"] == "union"]
    (added,) = union["added"]
    assert (added["rank"], added["id"], added["title"]) == (5, result.passages[4].id, "Thomas Keel")
    assert added["cosine"] == pytest.approx(clue["retrieved"][1]["score"], abs=1e-4)  # type: ignore[index]
    scores = [p.score for p in result.passages]
    assert scores == sorted(scores, reverse=True)  # each place keeps hipporag2's score for it


def test_union_leaves_a_ranking_without_clues_alone(hippo: Hippo, tmp_path: Path) -> None:
    spec = tmp_path / "union-only.toml"
    spec.write_text('[[stages]]\ntype = "link"\n[[stages]]\ntype = "ppr"\n[[stages]]\ntype = "union"\nkeep = 0\n')
    plain = hippo.retrieve(TWO_HOP, pipeline="hipporag2", top_k=5)
    unioned = hippo.retrieve(TWO_HOP, pipeline=str(spec), top_k=5)
    assert [p.id for p in unioned.passages] == [p.id for p in plain.passages]


def test_graph_clues_never_repeat_the_question_or_a_number(hippo: Hippo) -> None:
    result = hippo.retrieve("What is the best known painting of the wife of the founder of Halvorsen Laboratories?",
                            pipeline="memorag")
    for clue in _clues(result.trace):
        assert not any(year in str(clue["text"]) for year in ("1948",))


def test_memorag_dense_unions_each_querys_top_passages(hippo: Hippo) -> None:
    result = hippo.retrieve(TWO_HOP, pipeline="memorag-dense", top_k=10)
    (clue,) = _clues(result.trace)
    titles = [p.title for p in result.passages]
    own = [hit["title"] for hit in clue["retrieved"]]  # type: ignore[union-attr]
    assert set(own) <= set(titles[:6])  # question's 3, then the clue's 3 best not among them


def test_graph_clues_need_a_first_round(sample_index: Path, tmp_path: Path) -> None:
    spec = tmp_path / "clues-first.toml"
    spec.write_text('[[stages]]\ntype = "clues"\n[[stages]]\ntype = "link"\n[[stages]]\ntype = "ppr"\n')
    result = Hippo(sample_index).retrieve(TWO_HOP, pipeline=str(spec))
    assert _clues(result.trace) == []
    assert result.passages  # the question still retrieves


@pytest.mark.parametrize(("line", "message"), [
    ('generator = "gpt"', "setting generator = 'gpt': must be one of 'graph', 'llm'"),
    ("weight = -1", "setting weight = -1: must be >= 0"),
    ("from_passages = 0", "setting from_passages = 0: must be >= 1"),
    ("bridges = 2", "unknown setting(s) bridges"),
])
def test_clue_settings_are_checked_when_the_pipeline_loads(tmp_path: Path, line: str, message: str) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(f'[[stages]]\ntype = "clues"\n{line}\n')
    with pytest.raises(HippoError) as err:
        load_pipeline(str(spec))
    assert str(err.value).startswith(f"{spec}: stage 1 (clues): {message}")


def _llm_pipeline(tmp_path: Path) -> Path:
    spec = tmp_path / "memorag-llm.toml"
    spec.write_text('[[stages]]\ntype = "clues"\ngenerator = "llm"\nmax_clues = 3\n'
                    '[[stages]]\ntype = "link"\nrecognition = "off"\n'
                    '[[stages]]\ntype = "ppr"\n[[stages]]\ntype = "read"\n')
    return spec


def test_llm_clues_become_queries_and_the_draft_answer_a_reader_hint(sample_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    api = ScriptedAPI()
    try:
        api.reply(json.dumps({"spans": ["Ada Brennan was born in Dunmore", "Dunmore"],
                              "questions": ["Who built the lighthouse of Dunmore?"], "answer": "Thomas Keel"}))
        api.reply("Thomas Keel [1]")
        answer = Hippo(index, llm=api.url).ask(TWO_HOP, pipeline=str(_llm_pipeline(tmp_path)), top_k=3)
    finally:
        api.close()
    clues = _clues(answer.trace)
    assert [(c["text"], c["source"]) for c in clues] == [
        ("Ada Brennan was born in Dunmore", "llm: span"), ("Who built the lighthouse of Dunmore?", "llm: question")]
    entry = next(e for e in answer.trace if e["stage"] == "clues")
    assert entry["draft_answer"] == "Thomas Keel" and entry["dropped"] == 1  # "Dunmore": too short a clue
    clue_prompt = json.dumps(api.requests[0]["messages"])
    assert "Memory:" in clue_prompt and "Ada Brennan" in clue_prompt and TWO_HOP in clue_prompt
    assert "The answer might be Thomas Keel." in json.dumps(api.requests[1]["messages"])
    assert "Dunmore" in [p.title for p in answer.passages]


def test_llm_clues_need_a_global_memory(sample_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    Hippo(index).index([], global_memory="none")
    with pytest.raises(HippoError, match="has no global memory; re-index with `hippo index --memory extractive`"):
        Hippo(index, llm="http://127.0.0.1:9/v1").retrieve(TWO_HOP, pipeline=str(_llm_pipeline(tmp_path)))


def test_llm_clues_with_the_bundled_model_run_end_to_end(sample_index: Path, tmp_path: Path) -> None:
    """Plumbing only: SmolLM2-135M writes JSON clues of no particular quality."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)  # the LLM cache is written inside the index
    result = Hippo(index, llm="local").retrieve(TWO_HOP, pipeline=str(_llm_pipeline(tmp_path)), top_k=3)
    entry = next(e for e in result.trace if e["stage"] == "clues")
    assert "draft_answer" in entry or "note" in entry
    for clue in entry["clues"]:
        assert len(clue["text"].split()) >= 4 and clue["source"] in ("llm: span", "llm: question")
    assert len(result.passages) == 3


@pytest.mark.parametrize(("name", "titled", "leads"), [
    ("dunmore", False, True), ("1948", False, False), ("4 april 1975", False, False), ("march 2001", False, False),
    ("2017 conservative party of canada leadership election", True, True), ("2005–06 season", False, True),
])
def test_bridges_are_named_things_not_dates(name: str, titled: bool, leads: bool) -> None:
    from hippo.bridges import _leads_somewhere

    assert _leads_somewhere(name, titled) is leads
