"""The name automaton (hippo.names) links the same entities as the spaCy token path, on real
small indexes (data/sample, data/multilingual), and follows the index's entity set."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hippo import Hippo
from hippo.indexer import Indexer
from hippo.models import load_spacy
from hippo.names import capitalized_spans, find_names, name_segments
from hippo.snapshot import current_generation, load_snapshot
from hippo.stages.link import exact_name_matches
from tests.conftest import REPO, SAMPLE_QUESTIONS

MULTILINGUAL_QUESTIONS = [
    "Wer hat die Mühlbachbrücke entworfen?", "谁设计了青石桥？", "青石桥是谁设计的", "من صمم جسر الوادي؟",
    "谁设计了柳州镇的石拱桥？", "Who designed the Mühlbachbrücke in Falkenau?",
]


@pytest.fixture(scope="module")
def multilingual_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("names") / "index"
    Indexer(index, quiet=True).run([REPO / "data" / "multilingual"])
    return index


def _sample_questions() -> list[str]:
    return [json.loads(line)["question"] for line in SAMPLE_QUESTIONS.read_text(encoding="utf-8").splitlines()]


def _same_entities(index: Path, questions: list[str]) -> None:
    snapshot = load_snapshot(index)
    nlp = load_spacy()
    for question in questions:
        automaton = {e for _, _, e in find_names(question, snapshot.names, snapshot.entity_names)}
        spacy = {e for _, _, e in exact_name_matches(nlp(question), snapshot.entity_index)}
        assert automaton == spacy, question


def test_automaton_finds_the_names_spacy_finds_on_the_sample(sample_index: Path) -> None:
    _same_entities(sample_index, _sample_questions())


def test_automaton_finds_the_names_spacy_finds_in_any_script(multilingual_index: Path) -> None:
    _same_entities(multilingual_index, MULTILINGUAL_QUESTIONS)


def test_link_stage_links_the_same_entities_without_spacy(sample_index: Path, tmp_path: Path) -> None:
    """On the sample questions the spaCy path's named-entity mentions add nothing to the names."""
    spacy = tmp_path / "spacy.toml"
    spacy.write_text((REPO / "pipelines" / "hipporag2.toml").read_text(encoding="utf-8").replace(
        'mentions = "names"', 'mentions = "spacy"'), encoding="utf-8")
    hippo = Hippo(sample_index)
    for question in _sample_questions():
        linked = [{e["entity"] for e in hippo.retrieve(question, pipeline=p).trace[0]["entities"]}
                  for p in ("hipporag2", str(spacy))]
        assert linked[0] == linked[1], question


def test_snapshot_saves_the_automaton_and_rebuilds_it_with_the_entities(sample_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "data" / "sample", corpus)
    assert list((index / str(current_generation(index))).glob("names-*.pickle"))
    question = "Who built the Quillon Aqueduct?"
    assert find_names(question, *_names(index)) == []
    (corpus / "quillon.md").write_text("# Quillon Aqueduct\n\nThe Quillon Aqueduct was built by Mara Tess.\n",
                                       encoding="utf-8")
    Indexer(index, quiet=True).run([corpus])
    assert [question[s:e] for s, e, _ in find_names(question, *_names(index))] == ["Quillon Aqueduct"]
    (corpus / "quillon.md").unlink()
    Indexer(index, quiet=True).run([corpus])
    assert find_names(question, *_names(index)) == []


def _names(index: Path) -> tuple[object, list[str]]:
    snapshot = load_snapshot(index)
    return snapshot.names, snapshot.entity_names


def test_substrings_in_unspaced_scripts_and_lower_case_words() -> None:
    names = ["桥", "青石桥", "石桥", "白河", "viaduct", "marlow viaduct", "the who", "who"]
    automaton = name_segments(names)
    assert find_names("青石桥在白河上", automaton, names) == [(0, 3, 1), (4, 6, 3)]
    assert find_names("这座桥", automaton, names) == []
    assert find_names("who built the viaduct?", automaton, names) == []
    assert find_names("Who built the Marlow Viaduct's arches?", automaton, names) == [(14, 28, 5)]
    assert find_names("Who  built the MARLOW   viaduct?", automaton, names) == [(15, 31, 5)]


def test_capitalized_runs_stand_in_for_named_entity_mentions() -> None:
    question = "For which Thomas Rickman film did Sissy Spacek win an Academy Award? And is Virgilia found in Africa?"
    spans = capitalized_spans(question, covered=[(34, 46)])  # "Sissy Spacek" linked by name
    assert [question[s:e] for s, e in spans] == ["Thomas Rickman", "Academy Award", "Virgilia", "Africa"]
    assert capitalized_spans("What did I say?", []) == []


def test_stop_words_are_spacys_read_without_importing_spacy() -> None:
    from spacy.lang.en.stop_words import STOP_WORDS

    from hippo.names import stop_words

    assert stop_words() == frozenset(STOP_WORDS)
    code = "import sys; from hippo.names import stop_words; stop_words(); assert 'spacy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
