"""The stage framework: stages from outside hippo, settings checked at load, queries and
memory levels in the state, one top_k, and an index without passages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hippo.api import Hippo
from hippo.cli import main
from hippo.errors import HippoError
from hippo.indexer import Indexer
from hippo.pipeline import load_pipeline
from hippo.stages import Level, Query, RetrievalContext, RetrievalState, known_stages
from hippo.stages.link import LinkStage
from hippo.stages.ppr import PPRStage
from hippo.stages.scoring import min_max

QUESTION = "Who trained the engineer who designed the Marlow Viaduct?"

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The README's stage written outside hippo as `my_stages.py`, importable, and its
    pipeline file `my.toml`."""
    section = README.read_text(encoding="utf-8").split("\n### Writing a stage\n", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    spec = re.search(r"```toml\n(.*?)```", section, re.S)
    assert code and spec, "README: the stage example is missing"
    (tmp_path / "my_stages.py").write_text(code.group(1))
    (tmp_path / "my.toml").write_text(spec.group(1))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path / "my.toml"


def test_a_stage_outside_hippo_runs_from_a_toml_file_through_the_api(sample_index: Path, plugin: Path) -> None:
    result = Hippo(sample_index).retrieve("Who trained Thomas Keel?", pipeline=str(plugin), top_k=3)
    added, link, _ = result.trace
    assert added == {"stage": "expand", "seconds": added["seconds"], "added": "Samuel Pike"}
    assert link["queries"][1] == {"text": "Samuel Pike", "weight": 0.5, "source": "expand"}
    pike = next(e for e in link["entities"] if e["entity"] == "samuel pike")
    assert pike["query"] == "Samuel Pike" and pike["score"] == pytest.approx(0.5)
    assert "Samuel Pike" in [p.title for p in result.passages]


def test_a_stage_outside_hippo_runs_from_the_cli(sample_index: Path, plugin: Path) -> None:
    result = CliRunner().invoke(main, ["ask", "Who trained Thomas Keel?", "--index", str(sample_index),
                                       "--pipeline", str(plugin), "--retrieve-only", "--explain"])
    assert result.exit_code == 0, result.output
    assert "  expand (" in result.stdout and "added: Samuel Pike" in result.stdout
    assert "entity=samuel pike, score=0.5, query=Samuel Pike" in result.stdout


def test_installed_packages_register_stages_by_entry_point(
    sample_index: Path, plugin: Path, tmp_path: Path
) -> None:
    info = tmp_path / "my_stages-0.1.dist-info"  # what installing a package with the entry point leaves
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-stages\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[hippo.stages]\nexpand = my_stages:Expand\n")
    assert "expand" in known_stages()
    spec = tmp_path / "by_name.toml"
    spec.write_text(plugin.read_text().replace('"my_stages:Expand"', '"expand"'))
    result = Hippo(sample_index).retrieve("Who trained Thomas Keel?", pipeline=str(spec), top_k=3)
    assert result.trace[0]["stage"] == "expand"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('type = "link"\nrecognition = "of"',
         "stage 2 (link): setting recognition = 'of': must be one of 'auto', 'on', 'off'"),
        ('type = "rerank"\nmethod = "cross_encoder"',
         "stage 2 (rerank): setting method = 'cross_encoder': must be one of 'none', 'cross-encoder'"),
        ('type = "link"\ntop_facts = -3', "stage 2 (link): setting top_facts = -3: must be >= 0"),
        ('type = "ppr"\ndamping = 5', "stage 2 (ppr): setting damping = 5: must be > 0 and < 1"),
        ('type = "ppr"\ndamping = true', "stage 2 (ppr): setting damping = True: must be a number"),
        ('type = "ppr"\nspecificity = "yes"', "stage 2 (ppr): setting specificity = 'yes': must be true or false"),
        ('type = "link"\ntop_facts = 1.5', "stage 2 (link): setting top_facts = 1.5: must be an integer"),
        ('type = "read"\ntop_k = 5', "stage 2 (read): unknown setting(s) top_k; known: none"),
        ('type = "fuse"\nkk = 5', "stage 2 (fuse): unknown setting(s) kk; known: k, graph_weight, candidates"),
        ('type = "my_missing_module:Stage"',
         "stage 2 (my_missing_module:Stage): stage type 'my_missing_module:Stage': cannot import my_missing_module"),
        ('type = "hippo.errors:HippoError"', "stage 2 (hippo.errors:HippoError): stage hippo.errors:HippoError: "
                                             "not a subclass of hippo.stages.Stage"),
        ('type = "teleport"', "stage 2 (teleport): unknown stage 'teleport'; known stages: clues, dense, filter, "
                              "fuse, link, ppr, read, rerank, route"),
    ],
)
def test_bad_settings_are_load_time_errors_naming_file_stage_setting_and_allowed_values(
    tmp_path: Path, table: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'[[stages]]\ntype = "dense"\n[[stages]]\n{table}\n')
    with pytest.raises(HippoError) as err:
        load_pipeline(str(path))
    assert str(err.value).startswith(f"{path}: {message}")


def test_a_bad_setting_is_a_one_line_cli_error(sample_index: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[stages]]\ntype = "ppr"\ndamping = 5\n')
    result = CliRunner().invoke(main, ["ask", "hello", "--index", str(sample_index), "--pipeline", str(path)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}: stage 1 (ppr): setting damping = 5: must be > 0 and < 1\n"


def test_queries_added_later_are_encoded_and_scored_by_weighted_max(sample_index: Path) -> None:
    ctx = RetrievalContext(sample_index)
    state = RetrievalState(question=QUESTION)
    assert state.queries == [Query(QUESTION, 1.0, "question")]
    question_only = ctx.dense_scores(state).copy()
    state.add_query("Samuel Pike", 0.5, "test")
    combined = ctx.dense_scores(state)
    # each text encoded as the context does, one call per new query: the int8 encoder's
    # activation scales are per call, so a text's vector depends a little on its batch mates
    vectors = np.vstack([ctx.encoder.encode([QUESTION]), ctx.encoder.encode(["Samuel Pike"])])
    cosines = ctx.snapshot.passage_vectors @ vectors.T
    assert np.allclose(question_only, cosines[:, 0], atol=1e-5)
    assert np.allclose(combined, np.maximum(cosines[:, 0], 0.5 * cosines[:, 1]), atol=1e-5)
    assert not np.allclose(combined, question_only)
    facts = ctx.scores(state, "facts")
    fact_cosines = ctx.snapshot.fact_vectors @ vectors.T
    assert np.allclose(facts, np.maximum(fact_cosines[:, 0], 0.5 * fact_cosines[:, 1]), atol=1e-5)


def test_personalization_sums_every_level_times_its_weight(sample_index: Path) -> None:
    """The PPR reset vector by hand: link's "facts" and "entities" levels on entity nodes, a
    level a stage adds, level weights, and the dense "passages" level."""
    ctx = RetrievalContext(sample_index)
    snapshot = ctx.snapshot
    passages = len(snapshot.passage_ids)
    state = LinkStage().run(RetrievalState(question=QUESTION), ctx)
    ada = snapshot.entity_index["ada brennan"]
    state.levels["bonus"] = Level.from_mapping("entity", {ada: 0.4})
    state.level_weights["entities"] = 0.5
    expected = np.zeros(snapshot.node_count)
    (fact,) = state.linked_facts
    question_vector = ctx.encoder.encode([QUESTION])[0]
    assert fact.score == pytest.approx(float(snapshot.fact_vectors[fact.fact] @ question_vector), abs=1e-5)
    for entity in {int(snapshot.fact_subject[fact.fact]), int(snapshot.fact_object[fact.fact])}:
        expected[passages + entity] += fact.score
    for linked in state.linked_entities:
        expected[passages + linked.entity] += 0.5 * linked.score
    expected[passages + ada] += 0.4
    expected[:passages] = 0.05 * min_max(ctx.dense_scores(state))
    reset = PPRStage().personalization(state, ctx)
    assert reset is not None and np.allclose(reset.dense(), expected, atol=1e-7)
    assert set(state.levels) == {"facts", "entities", "bonus", "passages"}
    trace = PPRStage().run(state, ctx).trace[-1]
    assert trace["levels"]["bonus"] == {"kind": "entity", "weight": 1.0, "seeds": 1, "top": {"ada brennan": 0.4}}
    assert trace["levels"]["entities"]["weight"] == 0.5


def test_a_level_of_a_node_kind_the_index_lacks_is_an_error(sample_index: Path) -> None:
    ctx = RetrievalContext(sample_index)
    state = RetrievalState(question=QUESTION)
    state.levels["sentences"] = Level.from_mapping("sentence", {0: 1.0})
    with pytest.raises(HippoError, match="this index has no 'sentence' nodes"):
        PPRStage().personalization(state, ctx)


def test_specificity_divides_seeds_by_the_passages_mentioning_them(sample_index: Path) -> None:
    ctx = RetrievalContext(sample_index)
    state = RetrievalState(question=QUESTION)
    keel = ctx.snapshot.entity_index["thomas keel"]
    state.levels["test"] = Level.from_mapping("entity", {keel: 1.0})
    mentions = int(ctx.snapshot.mention_counts[len(ctx.snapshot.passage_ids) + keel])
    assert mentions > 1
    reset = PPRStage(specificity=True).personalization(state, ctx)
    assert reset is not None and reset.dense()[len(ctx.snapshot.passage_ids) + keel] == pytest.approx(1.0 / mentions)


@pytest.fixture(scope="module")
def many_passages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of 260 short passages (more than any ranking stage's default candidates)."""
    root = tmp_path_factory.mktemp("many")
    towns = [{"title": f"Town {i}", "text": f"Town {i} is a village on river {i % 7} founded by Mayor {i}."}
             for i in range(260)]
    (root / "towns.json").write_text(json.dumps(towns))
    Indexer(root / "index", quiet=True).run([root / "towns.json"])
    return root / "index"


@pytest.mark.parametrize("pipeline", ["hipporag2", "hybrid", "dense"])
def test_top_k_beyond_the_candidates_default_returns_top_k(many_passages: Path, pipeline: str) -> None:
    result = CliRunner().invoke(main, ["ask", "Which village was founded by Mayor 12?", "--index",
                                       str(many_passages), "--pipeline", pipeline, "--top-k", "250",
                                       "--retrieve-only", "--json"])
    assert result.exit_code == 0, result.output
    passages = json.loads(result.stdout)["passages"]
    assert len(passages) == 250 and len({p["id"] for p in passages}) == 250


class _RecordingReader:
    """Stands in for the reader LLM: records the prompt, answers from passage 2."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def generate(self, batch: list[list[dict[str, str]]], **_: object) -> list[str]:
        self.prompts.append(batch[0][-1]["content"])
        return ["Thomas Keel [2]"]


@pytest.mark.parametrize("top_k", [2, 3, 7])
def test_the_reader_reads_exactly_the_passages_returned(sample_index: Path, top_k: int) -> None:
    hippo = Hippo(sample_index)
    reader = _RecordingReader()
    hippo.context.__dict__["llm"] = reader
    answer = hippo.ask(QUESTION, top_k=top_k)
    assert len(answer.passages) == top_k
    prompt = reader.prompts[0]
    assert f"[{top_k}] {answer.passages[-1].title}" in prompt and f"[{top_k + 1}]" not in prompt
    assert next(t for t in answer.trace if t["stage"] == "read")["passages"] == top_k


def test_ask_on_an_index_without_passages_is_a_one_line_error(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "empty.txt").write_text("")
    Indexer(tmp_path / "index", quiet=True).run([corpus])
    result = CliRunner().invoke(main, ["ask", "Who?", "--index", str(tmp_path / "index")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the index has no passages; ") and result.stderr.count("\n") == 1
