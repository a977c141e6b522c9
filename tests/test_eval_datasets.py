"""Question files of every supported format, gold matching by title, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hippo.datasets import CorpusGold, GoldPassage, load_corpus, load_questions
from hippo.errors import HippoError

CORPUS = [
    {"title": "Ada", "text": "Ada was born in Dunmore."},
    {"title": "Dunmore", "text": "Dunmore is a harbour town."},
    {"title": "Dunmore", "text": "Dunmore is also a village inland."},
]


def _write(path: Path, records: list[dict], lines: bool = False) -> Path:
    body = "".join(json.dumps(r) + "\n" for r in records) if lines else json.dumps(records)
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> CorpusGold:
    return load_corpus(_write(tmp_path / "corpus.json", CORPUS))


def _ids(corpus: CorpusGold, title: str) -> list[str]:
    return [p.id for p in corpus.passages if p.title == title]


def test_musique_paragraphs_with_string_flags(tmp_path: Path) -> None:
    record = {"id": "m1", "question": "Q?", "answer": "A", "answer_aliases": ["a1"], "paragraphs": [
        {"idx": 0, "title": "Ada", "paragraph_text": "Ada was born in Dunmore.", "is_supporting": "True"},
        {"idx": 1, "title": "Other", "paragraph_text": "x", "is_supporting": "False"},
        {"idx": 2, "title": "Dunmore", "paragraph_text": "Dunmore is a harbour town.", "is_supporting": True},
    ]}
    [q] = load_questions(_write(tmp_path / "musique.json", [record], lines=True))
    assert (q.id, q.answers) == ("m1", ("A", "a1"))
    assert q.gold == (GoldPassage("Ada", "Ada was born in Dunmore."),
                      GoldPassage("Dunmore", "Dunmore is a harbour town."))


def test_hotpot_supporting_facts_take_text_from_context(tmp_path: Path) -> None:
    record = {"_id": "h1", "question": "Q?", "answer": "A",
              "supporting_facts": [["Dunmore", 0], ["Ada", 0], ["Dunmore", 1]],
              "context": [["Dunmore", ["Dunmore is", " a harbour town."]], ["Other", ["x"]]]}
    [q] = load_questions(_write(tmp_path / "hotpot.json", [record], lines=True))
    assert q.id == "h1"
    assert q.gold == (GoldPassage("Dunmore", "Dunmore is  a harbour town."), GoldPassage("Ada", None))


def test_supporting_titles_and_derived_gold(tmp_path: Path) -> None:
    sample = {"id": "q1", "question": "Q?", "answer": "A", "supporting_titles": ["Ada", "Ada", "Dunmore"]}
    derived = {"_id": "d1", "question": "Q?", "answer": "A", "supporting_titles": ["Ada"],
               "paragraphs": [{"idx": "0", "title": "Ada", "text": "Ada was born in Dunmore.",
                               "is_supporting": "True"}]}
    first, second = load_questions(_write(tmp_path / "q.json", [sample, derived]))
    assert first.gold == (GoldPassage("Ada"), GoldPassage("Dunmore"))
    assert second.gold == (GoldPassage("Ada", "Ada was born in Dunmore."),)


def test_a_title_used_twice_resolves_by_text_else_to_both(corpus: CorpusGold) -> None:
    harbour, inland = _ids(corpus, "Dunmore")
    assert corpus.resolve(GoldPassage("Dunmore", "Dunmore is a\nharbour town.")) == {harbour}
    assert corpus.resolve(GoldPassage("Dunmore")) == {harbour, inland}
    assert corpus.resolve(GoldPassage("Dunmore", "text that is not in the corpus")) == {harbour, inland}
    assert corpus.resolve(GoldPassage("Nowhere")) == frozenset()


@pytest.mark.parametrize(("record", "message"), [
    ({"question": "Q?", "answer": "A", "evidence": [["s", "r", "o"]]}, r"record 0 has no gold passages.*derived_gold"),
    ({"answer": "A", "supporting_titles": []}, r"record 0 has no string `question` field"),
    ({"question": "Q?", "supporting_titles": []}, r"record 0 has no string `answer` field"),
    ({"sample_id": "x", "qa": []}, r"no string `question` field"),
])
def test_other_schemas_name_the_missing_field(tmp_path: Path, record: dict, message: str) -> None:
    with pytest.raises(HippoError, match=message):
        load_questions(_write(tmp_path / "q.json", [record]))


def test_unreadable_question_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[{]", encoding="utf-8")
    with pytest.raises(HippoError, match="invalid JSON"):
        load_questions(bad)
    with pytest.raises(HippoError, match="holds no questions"):
        load_questions(_write(tmp_path / "empty.json", []))
    with pytest.raises(HippoError, match="no such file"):
        load_questions(tmp_path / "absent.json")


def test_a_bad_corpus_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HippoError, match='no string "text" field'):
        load_corpus(_write(tmp_path / "c.json", [{"title": "t", "body": "x"}]))


@pytest.mark.parametrize(("questions", "corpus_file", "count"), [
    ("2wikimultihopqa/2wikimultihopqa_derived_gold.json", "2wikimultihopqa/2wikimultihopqa_corpus.json", 697),
    ("2wikimultihopqa/wikihop.json", "2wikimultihopqa/wikihop_dev_corpus.json", 141),
    ("musique/musique.json", "musique/musique_dev_corpus.json", 148),
    ("musique/musique_qa_100.json", "musique/musique_dev_corpus.json", 60),
    ("hotpotqa/hotpot.json", "hotpotqa/hotpot_dev_corpus.json", 140),
    ("hotpotqa/hotpotqa_train.json", "hotpotqa/hotpotqa_train_corpus.json", 100),
])
def test_shared_datasets_load_and_their_gold_resolves(
    shared_data: Path, questions: str, corpus_file: str, count: int
) -> None:
    loaded = load_questions(shared_data / questions)
    corpus = load_corpus(shared_data / corpus_file)
    resolved = [corpus.resolve(g) for q in loaded for g in q.gold]
    assert len(loaded) == count
    assert all(q.gold for q in loaded)
    assert all(len(ids) <= 1 for ids in resolved)  # titles used twice are told apart by text
    if "wikihop" not in questions:  # wikihop records without context name gold outside the corpus
        assert all(resolved)


def test_shared_2wiki_questions_json_points_to_the_derived_gold(shared_data: Path) -> None:
    with pytest.raises(HippoError, match="derived_gold"):
        load_questions(shared_data / "2wikimultihopqa" / "questions.json")
