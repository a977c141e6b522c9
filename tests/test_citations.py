"""Reader citations: each `[n]` refers to a printed passage that holds what it cites for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hippo.cli import main
from hippo.llm.reader import ReaderAnswer, check_citations

PASSAGES = [
    ("Marlow Viaduct", "The Marlow Viaduct was designed by Thomas Keel and completed in 1845."),
    ("Thomas Keel", "Thomas Keel was an English civil engineer. He trained under the bridge builder Samuel Pike."),
    ("Travel notes", "We reached Dunmore on the second day of the trip."),
    ("Samuel Pike", "Samuel Pike was an English bridge builder from York."),
    ("Dunmore", "Dunmore is a small fishing town. Its lighthouse was designed by Thomas Keel."),
]


def test_a_citation_of_a_passage_without_the_answer_moves_to_the_first_that_holds_it() -> None:
    assert check_citations("Samuel Pike [5]", PASSAGES) == ReaderAnswer("Samuel Pike [2]", [2])
    assert check_citations("Samuel Pike [3]", PASSAGES[2:]) == ReaderAnswer("Samuel Pike [2]", [2])


def test_a_citation_of_a_passage_that_holds_the_answer_stays() -> None:
    assert check_citations("Samuel Pike [4]", PASSAGES) == ReaderAnswer("Samuel Pike [4]", [4])
    # a run may cite a bridge passage beside the one holding the answer
    assert check_citations("Samuel Pike [1][4]", PASSAGES) == ReaderAnswer("Samuel Pike [1][4]", [1, 4])
    assert check_citations("Samuel Pike [1, 4].", PASSAGES) == ReaderAnswer("Samuel Pike [1][4].", [1, 4])


def test_each_claim_is_checked_against_its_own_citations() -> None:
    text = "Thomas Keel designed it [1], and he trained under Samuel Pike [3]."
    assert check_citations(text, PASSAGES) == ReaderAnswer(
        "Thomas Keel designed it [1], and he trained under Samuel Pike [2].", [1, 2])


def test_out_of_range_and_unsupported_citations_are_dropped() -> None:
    assert check_citations("Samuel Pike [9]", PASSAGES) == ReaderAnswer("Samuel Pike", [])
    assert check_citations("Samuel Pike [4][0][12]", PASSAGES) == ReaderAnswer("Samuel Pike [4]", [4])
    assert check_citations("Ouagadougou [1]", PASSAGES) == ReaderAnswer("Ouagadougou", [])


def test_answers_with_nothing_to_check_keep_their_citations() -> None:
    assert check_citations("Yes [1][2]", PASSAGES) == ReaderAnswer("Yes [1][2]", [1, 2])
    assert check_citations("no markers here", PASSAGES) == ReaderAnswer("no markers here", [])


@pytest.mark.slow
def test_the_readme_quickstart_cites_a_passage_that_names_the_answer(sample_index: Path) -> None:
    """`hippo ask` with the bundled reader: it writes "Samuel Pike [5]" with [5] the Dunmore
    passage; the check moves the citation to a printed passage naming Samuel Pike."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    result = CliRunner().invoke(main, ["ask", "Who trained the engineer who designed the Marlow Viaduct?",
                                       "--index", str(sample_index), "--llm", "local", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["answer"].startswith("Samuel Pike [") and payload["citations"]
    assert payload["answer"] == f"Samuel Pike [{payload['citations'][0]}]"
    for number in payload["citations"]:
        assert "Samuel Pike" in payload["passages"][number - 1]["text"]
