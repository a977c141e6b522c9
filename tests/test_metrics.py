"""Recall@k, EM and F1 against hand-worked examples."""

from __future__ import annotations

import pytest

from hippo.metrics import distinct, exact_match, normalize_answer, recall_at_k, token_f1, unique_gold

A, B, C = frozenset({"a"}), frozenset({"b"}), frozenset({"c"})


def test_recall_counts_gold_items_found_in_the_first_k() -> None:
    retrieved = ["x", "a", "y", "b", "z"]
    assert recall_at_k(retrieved, [A, B], 1) == 0.0
    assert recall_at_k(retrieved, [A, B], 2) == 0.5
    assert recall_at_k(retrieved, [A, B], 4) == 1.0
    assert recall_at_k(retrieved, [A, B, C], 10) == pytest.approx(2 / 3)


def test_a_passage_retrieved_twice_holds_one_rank() -> None:
    # Without de-duplication "b" would fall outside the top 2.
    assert distinct(["a", "a", "b", "a"]) == ["a", "b"]
    assert recall_at_k(["a", "a", "b"], [A, B], 2) == 1.0


def test_a_gold_passage_listed_twice_counts_once() -> None:
    assert unique_gold([A, B, A]) == [A, B]
    assert recall_at_k(["a"], [A, B, A], 1) == 0.5


def test_gold_missing_from_the_corpus_is_a_miss_not_dropped() -> None:
    missing = frozenset()
    assert unique_gold([A, missing, missing]) == [A, missing, missing]
    assert recall_at_k(["a", "b"], [A, missing], 10) == 0.5


def test_a_title_used_twice_is_satisfied_by_either_passage_once() -> None:
    twice = frozenset({"t1", "t2"})  # a title-only gold item whose title names two passages
    assert recall_at_k(["t2", "x"], [twice, A], 1) == 0.5
    assert recall_at_k(["t1", "t2", "a"], [twice, A], 2) == 0.5
    assert recall_at_k(["t1", "t2", "a"], [twice, A], 3) == 1.0


def test_recall_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="k must be"):
        recall_at_k(["a"], [A], 0)
    with pytest.raises(ValueError, match="gold item"):
        recall_at_k(["a"], [], 5)


@pytest.mark.parametrize(("text", "normal"), [
    ("The Eiffel Tower!", "eiffel tower"),
    ("  an  apple,  a pear ", "apple pear"),
    ("Theatre", "theatre"),  # "the" inside a word stays
    ("U.S.A.", "usa"),
])
def test_squad_normalization(text: str, normal: str) -> None:
    assert normalize_answer(text) == normal


def test_exact_match_takes_the_best_alias() -> None:
    assert exact_match("the Eiffel tower.", ["Eiffel Tower"]) == 1.0
    assert exact_match("Paris", ["London", "paris"]) == 1.0
    assert exact_match("Paris, France", ["Paris"]) == 0.0


def test_token_f1_by_hand() -> None:
    # prediction "barack obama jr" vs "barack obama": common 2, P = 2/3, R = 1, F1 = 0.8
    assert token_f1("Barack Obama Jr.", ["Barack Obama"]) == pytest.approx(0.8)
    # repeated tokens count by multiplicity: "new new york" vs "new york": common 2, P 2/3, R 1
    assert token_f1("new new york", ["New York"]) == pytest.approx(0.8)
    assert token_f1("Tromsø", ["Oslo", "Tromsø"]) == 1.0
    assert token_f1("cat", ["dog"]) == 0.0


def test_empty_answers_follow_squad() -> None:
    assert token_f1("", ["Paris"]) == 0.0
    assert token_f1("the", ["a"]) == 1.0  # both normalize to nothing
    assert exact_match("", ["Paris"]) == 0.0
