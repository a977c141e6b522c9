"""Exact-name linking of query spans in any script: Chinese (no spaces, no capitals),
German, Arabic (no capitals), on a small real index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hippo.api import Hippo
from hippo.indexer import Indexer
from hippo.models import load_spacy
from hippo.snapshot import load_snapshot
from hippo.stages.link import exact_name_matches

CORPUS = [
    {"title": "青石桥", "text": "青石桥是一座石拱桥，位于白河上。它由工程师李明设计，建于1890年。"},
    {"title": "白河", "text": "白河是一条河流，流经青山县，最后注入东海。"},
    {"title": "李明", "text": "李明是一位中国工程师，出生于苏州。他设计了许多桥梁。"},
    {"title": "Kölner Brücke", "text": "Die Kölner Brücke ist eine Stahlbrücke über den Rhein. Sie wurde von dem "
                                       "Ingenieur Karl Weber entworfen und 1911 eröffnet."},
    {"title": "Karl Weber", "text": "Karl Weber war ein deutscher Bauingenieur aus Bonn. Er entwarf mehrere Brücken "
                                    "am Rhein."},
    {"title": "Hamburger Hafen", "text": "Der Hamburger Hafen ist der größte Seehafen Deutschlands."},
    {"title": "جسر الحجر", "text": "جسر الحجر هو جسر قديم في مدينة حلب. صممه المهندس أحمد سليم في عام 1850."},
    {"title": "نهر العاصي", "text": "نهر العاصي نهر يجري في سوريا ولبنان وتركيا."},
    {"title": "Marlow Viaduct", "text": "The Marlow Viaduct is a railway viaduct of brick arches designed by "
                                        "Thomas Keel."},
]

CASES = [
    ("谁设计了青石桥", "青石桥"),
    ("青石桥是谁设计的？", "青石桥"),
    ("Wer hat die Kölner Brücke entworfen?", "kölner brücke"),
    ("من صمم جسر الحجر؟", "جسر الحجر"),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scripts")
    (root / "corpus.json").write_text(json.dumps(CORPUS, ensure_ascii=False), encoding="utf-8")
    Indexer(root / "index", quiet=True).run([root / "corpus.json"])
    return root / "index"


@pytest.mark.parametrize(("question", "name"), CASES)
def test_exact_names_match_in_any_script(index: Path, question: str, name: str) -> None:
    snapshot = load_snapshot(index)
    doc = load_spacy()(question)
    matches = exact_name_matches(doc, snapshot.entity_index)
    assert [(question[s:e].casefold(), snapshot.entity_names[entity]) for s, e, entity in matches] == [(name, name)]


@pytest.mark.parametrize(("question", "name"), CASES)
def test_the_named_passage_ranks_first(index: Path, question: str, name: str) -> None:
    result = Hippo(index).retrieve(question, top_k=3)
    assert result.passages[0].title.casefold() == name
    link = result.trace[0]
    assert [e["entity"] for e in link["entities"]] == [name]


def test_substring_names_need_two_characters_and_skip_taken_text() -> None:
    nlp = load_spacy()
    names = {"桥": 0, "青石桥": 1, "石桥": 2, "白河": 3}
    assert [(s, e, n) for s, e, n in exact_name_matches(nlp("青石桥在白河上"), names)] == [(0, 3, 1), (4, 6, 3)]
    assert exact_name_matches(nlp("这座桥"), names) == []


def test_lower_case_english_words_still_do_not_count_as_names() -> None:
    nlp = load_spacy()
    names = {"viaduct": 0, "marlow viaduct": 1}
    assert exact_name_matches(nlp("who built the viaduct?"), names) == []
    # "the Marlow Viaduct" spells the name too: names are compared without leading articles
    assert exact_name_matches(nlp("Who built the Marlow Viaduct?"), names) == [(10, 28, 1)]
