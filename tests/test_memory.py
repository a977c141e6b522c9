"""MemGAS memory: units per granularity, GMM association edges, incremental sessions, routing."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from hippo import Hippo
from hippo.config import IndexSettings
from hippo.memory.associate import gmm_select
from hippo.memory.lexical import LexicalIndex
from hippo.memory.route import entropy_weights
from hippo.memory.store import memory_counts
from hippo.memory.view import MemoryView
from hippo.stats import index_stats

ROOT = Path(__file__).resolve().parent.parent
CONVERSATION = ROOT / "data" / "conversation"


@pytest.fixture(scope="module")
def conversation_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/conversation (3 sessions x 6 turns) indexed once; copy it before changing it."""
    index_dir = tmp_path_factory.mktemp("conversation") / "index"
    Hippo(index_dir).index([CONVERSATION])
    return index_dir


def test_gmm_links_the_higher_component_and_a_lone_candidate() -> None:
    similarities = np.array([0.2, 0.9, 0.25, 0.85, 0.22, 0.3, 0.88, 0.21])
    assert sorted(gmm_select(similarities).tolist()) == [1, 3, 6]
    assert gmm_select(np.array([0.4])).tolist() == [0]
    assert gmm_select(np.array([0.1, 0.7])).tolist() == [1]
    assert gmm_select(np.zeros(0)).size == 0


def test_gmm_keeps_only_the_top_candidates() -> None:
    similarities = np.linspace(0.0, 0.99, 100)
    chosen = gmm_select(similarities, top=30)
    assert chosen.size and chosen.min() >= 70


def test_route_weight_by_hand() -> None:
    # granularity "a": two units, similarities 0.2 and 0.0 at T = 0.2 -> p = softmax([1, 0])
    p = np.exp([1.0, 0.0]) / np.exp([1.0, 0.0]).sum()
    entropy = -(p * np.log(p)).sum()
    raw_a = 1 - entropy / math.log(2)
    # granularity "b": four identical similarities -> uniform p, entropy log 4, raw weight 0
    weights = entropy_weights({"a": np.array([0.2, 0.0]), "b": np.full(4, 0.5)}, temperature=0.2)
    assert [w.granularity for w in weights] == ["a", "b"]
    assert weights[0].entropy == pytest.approx(entropy)
    assert raw_a > 0
    assert weights[0].weight == pytest.approx(1.0) and weights[1].weight == pytest.approx(0.0)
    assert weights[1].entropy == pytest.approx(math.log(4))


def test_route_weights_are_normalized_and_a_single_unit_weighs_nothing() -> None:
    weights = entropy_weights({"a": np.array([0.9, 0.1, 0.0]), "b": np.array([0.5, 0.4, 0.1]),
                               "one": np.array([0.9])})
    assert sum(w.weight for w in weights) == pytest.approx(1.0)
    assert weights[0].weight > weights[1].weight > 0
    assert weights[2].weight == 0.0


def test_conversation_units_at_four_granularities(conversation_index: Path) -> None:
    counts = memory_counts(conversation_index)
    assert counts["session_units"] == 3 and counts["turn_units"] == 18
    assert counts["summary_units"] == 3 and counts["keywords_units"] == 3
    assert counts["sessions"] == 3
    view = MemoryView.load(conversation_index)
    assert view is not None and view.is_conversation
    assert view.sessions["ann-ben/session_2"].date == "17 April 2024"
    assert [t[0] for t in view.sessions["ann-ben/session_2"].turns] == [f"D2:{i}" for i in range(1, 7)]
    keywords = [t for t, g in zip(view.units.texts, view.units.granularities, strict=True) if g == "keywords"]
    assert any("pepper" in k.lower() for k in keywords)
    assert not any("session_" in k for k in keywords)


def test_association_edges_from_the_first_session_on(conversation_index: Path) -> None:
    view = MemoryView.load(conversation_index)
    assert view is not None
    session_of = [targets[0] for targets in view.units.targets]
    first = {i for i, s in enumerate(session_of) if s == "ann-ben/session_1"}
    assert any(int(a) in first for a in view.units.edge_src)  # session 1 links within itself
    for a, b in zip(view.units.edge_src, view.units.edge_dst, strict=True):
        assert view.units.seqs[b] < view.units.seqs[a]  # a new unit links to earlier units only
    assert index_stats(conversation_index)["association_edges"] == view.units.edge_src.size > 0


def test_add_session_is_incremental(conversation_index: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(conversation_index, index_dir)
    before = sqlite3.connect(index_dir / "memory.sqlite").execute("SELECT seq, src FROM units, edges "
                                                                  "WHERE seq = src").fetchall()
    h = Hippo(index_dir)
    report = h.add_session("ann-ben", 4, [("Ann", "Pepper ate my cello bow this morning."),
                                          {"speaker": "Ben", "text": "Oh no! Was the bow expensive?"}],
                           date="2 June 2024")
    assert report.files_changed == 1
    counts = memory_counts(index_dir)
    assert counts["sessions"] == 4 and counts["turn_units"] == 20
    after = sqlite3.connect(index_dir / "memory.sqlite").execute("SELECT seq, src FROM units, edges "
                                                                 "WHERE seq = src").fetchall()
    assert set(before) <= set(after)  # earlier units and their edges are kept
    view = MemoryView.load(index_dir)
    assert view is not None
    new = [i for i, t in enumerate(view.units.targets) if t == ("ann-ben/session_4",)]
    linked = {int(b) for a, b in zip(view.units.edge_src, view.units.edge_dst, strict=True) if a in new}
    assert any(view.units.targets[b] != ("ann-ben/session_4",) for b in linked)  # to earlier sessions
    hits = h.retrieve("Pepper ate the cello bow", pipeline="dense", top_k=1).passages
    assert hits[0].session == "ann-ben/session_4" and hits[0].turns[0] == "D4:1"
    assert hits[0].date == "2 June 2024" and "Ann: Pepper ate my cello bow" in hits[0].text


def test_add_session_rejects_bad_turns(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="turn 1"):
        Hippo(tmp_path / "index").add_session("c", 1, [{"speaker": "A"}])


def test_documents_given_as_dicts_are_indexed(tmp_path: Path) -> None:
    h = Hippo(tmp_path / "index", settings=IndexSettings(document_memory=True))
    report = h.index([{"title": "Pepper", "text": "Pepper is a beagle. She howls at cellos."}])
    assert report.files_changed == 1
    counts = memory_counts(tmp_path / "index")
    assert counts["passage_units"] == 1 and counts["sentence_units"] == 2
    assert h.retrieve("Which dog howls?", pipeline="dense").passages[0].title == "Pepper"


def test_document_units_are_opt_in(tmp_path: Path) -> None:
    h = Hippo(tmp_path / "index")
    h.index([{"title": "Pepper", "text": "Pepper is a beagle. She howls at cellos."}])
    assert memory_counts(tmp_path / "index").get("passage_units", 0) == 0
    result = h.retrieve("Which dog howls?", pipeline="memgas", top_k=1)
    assert result.passages[0].title == "Pepper"  # ranked densely, and the trace says why
    route = next(t for t in result.trace if t["stage"] == "route")
    assert "--document-memory" in route["fallback"]


def test_ask_json_on_a_conversation_index_gives_sessions_and_turns(conversation_index: Path) -> None:
    hits = Hippo(conversation_index).retrieve("Who coached Ben for the half marathon?", pipeline="dense",
                                              top_k=3).passages
    assert len(hits) == 3 and len({h.session for h in hits}) == 3
    payload = json.loads(json.dumps([vars(h) for h in hits]))
    assert payload[0]["session"].startswith("ann-ben/session_") and payload[0]["turns"][0].startswith("D")
    assert payload[0]["session"] in ("ann-ben/session_1", "ann-ben/session_3")


def test_memgas_ranks_sessions_and_explains_its_routing(conversation_index: Path) -> None:
    result = Hippo(conversation_index).retrieve("Where did Ben run a half marathon?", pipeline="memgas", top_k=3)
    assert [p.session for p in result.passages][:1] == ["ann-ben/session_3"]
    assert result.passages[0].turns[0] == "D3:1"
    route = next(t for t in result.trace if t["stage"] == "route")
    weights = {g["granularity"]: g for g in route["granularities"]}
    assert set(weights) == {"session", "turn", "sentence", "exchange"}
    assert sum(g["weight"] for g in weights.values()) == pytest.approx(1.0, abs=1e-3)
    assert weights["turn"]["units"] == 18 and weights["session"]["units"] == 3
    assert all(0 <= g["entropy"] <= math.log(g["units"]) + 1e-6 for g in weights.values())
    assert route["lexical"] == {"granularities": ["session", "exchange"], "weight": 0.3}


def test_lexical_index_scores_words_not_stop_words() -> None:
    index = LexicalIndex(["Ann adopted a beagle named Pepper.", "Ben ran the half marathon in Lisbon."])
    assert int(np.argmax(index.scores("Where did Ben run in Lisbon?"))) == 1
    assert int(np.argmax(index.scores("Who adopts beagles?"))) == 0  # stemmed
    assert not index.scores("What did she do there?").any() and not index.scores("zeppelin").any()


@pytest.mark.parametrize("granularity", ["exchange", "session"])
def test_lexical_granularity_alone_ranks_sessions_by_bm25(conversation_index: Path, granularity: str) -> None:
    pipeline = str(ROOT / "bench" / "locomo-pipelines" / f"only-lexical-{granularity}.toml")
    result = Hippo(conversation_index).retrieve("Who is Marta Silva?", pipeline=pipeline, top_k=3)
    assert result.passages[0].session == "ann-ben/session_1"


def test_a_session_is_scored_lexically_on_its_turns_words(conversation_index: Path) -> None:
    view = MemoryView.load(conversation_index)
    assert view is not None
    scores = view.lexical("session").scores("robotics gripper Toronto")
    sessions = [view.units.targets[i][0] for i in view.granularities["session"]]
    assert sessions[int(np.argmax(scores))] == "ann-ben/session_2" and np.count_nonzero(scores) == 1


def test_route_over_a_document_index_ranks_passages(tmp_path: Path) -> None:
    h = Hippo(tmp_path / "index", settings=IndexSettings(document_memory=True))
    h.index([{"title": "Pepper", "text": "Pepper is a beagle. She howls at cellos."},
             {"title": "Miso", "text": "Miso is a cat. He sleeps all day."}])
    passages = h.retrieve("Which animal sleeps all day?", pipeline="memgas", top_k=2).passages
    assert [p.title for p in passages] == ["Miso", "Pepper"]


class _ScriptedLLM:
    """Answers every request with one fixed text (the filter's plumbing, not a model's judgement)."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.requests = 0

    def generate_each(self, batch: list, schema: object = None, **_: object) -> list[str]:
        self.requests += len(batch)
        return [self.answer for _ in batch]


def test_filter_without_an_llm_keeps_sessions_whole_and_says_so(conversation_index: Path) -> None:
    result = Hippo(conversation_index).retrieve("Where did Ben run a half marathon?", pipeline="memgas", top_k=1)
    entry = next(t for t in result.trace if t["stage"] == "filter")
    assert "no LLM" in entry["skipped"]
    assert len(result.passages[0].text.splitlines()) == 6


def test_filter_keeps_the_turns_the_llm_names_in_their_own_words(conversation_index: Path) -> None:
    h = Hippo(conversation_index, llm="http://127.0.0.1:9/v1")
    h.context.llm = _ScriptedLLM('{"relevant": [1, 99]}')
    result = h.retrieve("Where did Ben run a half marathon?", pipeline="memgas", top_k=2)
    assert h.context.llm.requests == 2  # one request per top session
    assert result.passages[0].text == "Ben: I ran the Lisbon half marathon on Sunday in 1 hour 52 minutes."
    assert all(len(p.text.splitlines()) == 1 for p in result.passages)


def test_neo4j_mirror_holds_memory_units_and_associated_edges(conversation_index: Path) -> None:
    from hippo.neo4j.push import REL_KINDS, index_graph

    graph = index_graph(conversation_index)
    view = MemoryView.load(conversation_index)
    assert view is not None
    assert len(graph["Memory"]) == view.units.seqs.size
    assert len(graph["ASSOCIATED"]) == view.units.edge_src.size > 0
    src, dst, _ = next(iter(graph["ASSOCIATED"]))
    assert src in graph["Memory"] and dst in graph["Memory"]
    assert any(kind.type == "ASSOCIATED" and kind.start == kind.end == "Memory" for kind in REL_KINDS)
