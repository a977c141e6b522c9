"""Environment variables are read in one place (hippo.config), and the README lists each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hippo.config import ENVIRONMENT, HIPPO_INDEX, default_index_dir
from hippo.llm.factory import make_llm
from hippo.neo4j.connection import Neo4jConfig
from hippo.pipeline import pipeline_dirs

REPO = Path(__file__).resolve().parent.parent


def test_only_config_reads_the_environment() -> None:
    readers = re.compile(r"os\.environ(?!\.setdefault)|os\.getenv|envvar=\"")
    offenders = [str(p.relative_to(REPO)) for p in sorted((REPO / "hippo").rglob("*.py"))
                 if p.name != "config.py" and readers.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_readme_lists_every_variable() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    assert [v.name for v in ENVIRONMENT if f"`{v.name}`" not in section] == []


def test_variables_reach_their_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HIPPO_INDEX.name, str(tmp_path / "i"))
    monkeypatch.setenv("HIPPO_PIPELINES", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    monkeypatch.setenv("NEO4J_URI", "bolt://example:7687")
    monkeypatch.setenv("NEO4J_PASSWORD", "")
    monkeypatch.setenv("HIPPO_LLM", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("HIPPO_LLM_MODEL", "m1")
    monkeypatch.setenv("OPENAI_API_KEY", "k1")
    assert default_index_dir() == tmp_path / "i"
    assert pipeline_dirs()[:2] == [tmp_path / "a", tmp_path / "b"]
    config = Neo4jConfig.from_env()
    assert (config.uri, config.password) == ("bolt://example:7687", None)
    backend = make_llm().backend
    assert (backend.base_url, backend.model) == ("http://127.0.0.1:9/v1", "m1")
    assert backend._client.headers["authorization"] == "Bearer k1"
