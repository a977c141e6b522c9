"""The scale corpus generator: deterministic, and every question's gold pages exist and answer it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hippo.datasets import load_corpus, load_questions
from tests.conftest import REPO


def _generate(out: Path, passages: int, *extra: str) -> None:
    subprocess.run([sys.executable, str(REPO / "bench" / "scale_corpus.py"), "--passages", str(passages),
                    "--questions", "40", "--out", str(out), *extra], check=True, capture_output=True, timeout=120)


def test_same_seed_same_files_and_gold_pages_hold_the_chain(tmp_path: Path) -> None:
    _generate(tmp_path / "a", 600)
    _generate(tmp_path / "b", 600)
    _generate(tmp_path / "c", 600, "--seed", "1")
    for name in ("corpus.json", "questions.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()
    pages = {p["title"]: p["text"] for p in json.loads((tmp_path / "a" / "corpus.json").read_text())}
    assert len(pages) == 600  # titles are unique
    corpus = load_corpus(tmp_path / "a" / "corpus.json")
    questions = load_questions(tmp_path / "a" / "questions.json")
    assert len(questions) == 40
    for question in questions:
        gold = [g.title for g in question.gold]
        assert len(gold) in (2, 3) and all(corpus.resolve(g) for g in question.gold)
        assert gold[0] in question.question  # the first hop is named ...
        assert question.answers[0] in pages[gold[-1]]  # ... and the last one holds the answer
        assert question.answers[0] not in question.question
