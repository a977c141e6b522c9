"""The SQLite response cache: round trip, concurrent writer processes, `hippo cache stats|clear`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hippo.cli.cache import cache_group
from hippo.errors import HippoError
from hippo.llm.cache import ResponseCache, default_cache_path

WRITER = """
import sys
from hippo.llm.cache import ResponseCache
cache = ResponseCache(sys.argv[1])
for i in range(50):
    cache.put_many("openai", "m" + sys.argv[2], [(f"{sys.argv[2]}-{i}", "x" * 200)])
    assert cache.get_many([f"{sys.argv[2]}-{i}"])
"""


def test_round_trip_and_clear(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put_many("openai", "m", [("k1", "één"), ("k2", '{"a": 1}')])
    assert cache.get_many(["k1", "k2", "k3"]) == {"k1": "één", "k2": '{"a": 1}'}
    assert cache.stats().entries == 2
    assert cache.clear() == 2
    assert cache.get_many(["k1"]) == {}


def test_concurrent_processes_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    ResponseCache(path).close()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(n)]) for n in range(3)]
    assert [w.wait(timeout=60) for w in writers] == [0, 0, 0]
    stats = ResponseCache(path).stats()
    assert stats.entries == 150
    assert stats.models == {"openai:m0": 50, "openai:m1": 50, "openai:m2": 50}


def test_cache_commands(tmp_path: Path) -> None:
    cache = ResponseCache(default_cache_path(tmp_path))
    cache.put_many("llama-cpp", "SmolLM2", [("a", "1"), ("b", "2")])
    runner = CliRunner()
    result = runner.invoke(cache_group, ["stats", "--index", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["models"] == {"llama-cpp:SmolLM2": 2}
    result = runner.invoke(cache_group, ["clear", "--index", str(tmp_path)])
    assert result.exit_code == 0 and "removed 2 cached responses" in result.output
    assert "entries  0" in runner.invoke(cache_group, ["stats", "--index", str(tmp_path)]).output


def test_cache_command_without_cache_says_where_it_looked(tmp_path: Path) -> None:
    result = CliRunner().invoke(cache_group, ["stats", "--index", str(tmp_path / "none")])
    assert isinstance(result.exception, HippoError)
    assert "no LLM cache here" in str(result.exception)
    assert not (tmp_path / "none").exists()


def test_unwritable_cache_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(HippoError, match=r"LLM cache .* cannot open it"):
        ResponseCache(blocker / "cache.sqlite")
