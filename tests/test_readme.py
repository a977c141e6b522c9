"""The README's Python examples run as written: the API example finds the multi-hop
question's passages and the bundled reader answers citing them, the export example walks the
graph in networkx, the kernels example returns probability vectors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def _run_example(heading: str) -> dict[str, Any]:
    """Executes the first ```python block after the README line `heading`; returns its globals."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split(f"\n{heading}\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python example under {heading}"
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), "README.md", "exec"), namespace)
    return namespace


def test_readme_api_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for variable in ("HIPPO_LLM", "HIPPO_LLM_MODEL"):  # the example's reader is the bundled one
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "data").symlink_to(REPO / "data")
    example = _run_example("## Python API")
    assert {"Marlow Viaduct", "Thomas Keel"} <= {p.title for p in example["hits"].passages}
    answer = example["answer"]  # the bundled reader is installed wherever the tests run (CI too)
    assert answer.answer and answer.answer.strip(), f"the reader gave no answer: {answer.note}"
    assert answer.citations and all(1 <= n <= len(answer.passages) for n in answer.citations), answer
    printed = capsys.readouterr().out
    assert "22 passages extracted" in printed and "Thomas Keel" in printed
    assert "1 file (1 new/changed, 0 unchanged, 0 removed); 1 passages extracted" in printed
    assert "Who designed the lighthouse in the town where Dunmore was born? <- graph: " in printed  # a clue
    assert printed.splitlines()[-1] == "Ivy Marsh"  # the in-memory document is retrievable
    assert (tmp_path / "example-index" / "index.sqlite").is_file()

    export = _run_example("### `hippo export [--index DIR] [--format graphml|gexf] [-o FILE]`")  # same index
    names = [export["graph"].nodes[node]["name"] for node in export["path"]]
    assert names[0] == "samuel pike" and names[-1] == "marlow viaduct" and len(names) >= 3
    assert " -> ".join(names) in capsys.readouterr().out


def test_readme_kernels_example() -> None:
    example = _run_example("### PPR kernels")
    assert example["scores"].shape == (3,)
    assert abs(float(example["scores"].sum()) - 1.0) < 1e-9
    assert example["batch"].shape == (3, 3)
    assert abs(example["batch"].sum(axis=0) - 1.0).max() < 1e-9


def test_readme_conversation_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").symlink_to(REPO / "data")
    example = _run_example("### Conversations")
    sessions = {s.session: s for s in example["hits"].passages}
    assert len(sessions) == 2 and "ann-ben/session_4" in sessions  # the added session, among both chewing ones
    assert sessions["ann-ben/session_4"].date == "2 June 2024" and sessions["ann-ben/session_4"].turns[0] == "D4:1"
    assert "ann-ben/session_4 2 June 2024 ('D4:1', 'D4:2')" in capsys.readouterr().out.splitlines()
