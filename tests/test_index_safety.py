"""Read-only, foreign, incomplete and tampered indexes: queried without writing, or refused in one line."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hippo.api import Hippo
from hippo.cli import main
from hippo.errors import IndexFormatError
from hippo.indexer import Indexer
from hippo.memory.store import MemoryStore
from hippo.snapshot import CURRENT_FILE
from hippo.store import DB_NAME, IndexStore
from tests.conftest import REPO, SAMPLE

QUESTION = "Where was the director of The Silent Tide born?"


def _copy(index: Path, tmp_path: Path, name: str = "index") -> Path:
    target = tmp_path / name
    shutil.copytree(index, target)
    return target


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` with its size and mtime."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in line, line


# -- item 7: read-only indexes -------------------------------------------------------------------


def test_a_read_only_index_is_queried_and_nothing_in_it_is_written(
    sample_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = _copy(sample_index, tmp_path)
    IndexStore.open(index, write=True).close()  # a writer's close folds in and removes -wal/-shm (readers leave them)
    with MemoryStore(index):  # the same for the MemGAS memory database beside it
        pass
    (index / ".lock").unlink()
    before = _files(index)
    assert not any(name.endswith(("-wal", "-shm", ".lock")) for name in before)
    real_access = os.access
    monkeypatch.setattr(  # as on a read-only mount (root ignores chmod, so permissions cannot show it)
        os, "access", lambda path, mode, **kw: mode != os.W_OK and real_access(path, mode, **kw)
    )
    stats = _cli("stats", "--index", str(index), "--json")
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout)["passages"] >= 22
    ask = _cli("ask", QUESTION, "--index", str(index), "--json")  # the local reader's cache stays out too
    assert ask.exit_code == 0, ask.output
    assert len(json.loads(ask.stdout)["passages"]) == 5
    assert _files(index) == before  # no -wal/-shm/lock/cache file, no byte or mtime changed


def _can_mount_read_only() -> bool:
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False) if shutil.which(
        "unshare") else None
    return probe is not None and probe.returncode == 0


@pytest.mark.skipif(not _can_mount_read_only(), reason="needs `unshare -m` (root) for a real read-only bind mount")
def test_an_index_on_a_read_only_mount_answers_stats_and_questions(sample_index: Path, tmp_path: Path) -> None:
    index = _copy(sample_index, tmp_path)
    mount = tmp_path / "mounted"
    mount.mkdir()
    hippo = f"{sys.executable} -m hippo"
    script = (
        f"mount --bind {index} {mount} && mount -o remount,ro,bind {mount} && "
        f"touch {mount}/probe 2>/dev/null && echo WRITABLE; "
        f"{hippo} stats --index {mount} --json && "
        f"{hippo} ask '{QUESTION}' --index {mount} --json"
    )
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                            cwd=REPO, check=False, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "WRITABLE" not in result.stdout and "Traceback" not in result.stderr
    decoder = json.JSONDecoder()
    stats, end = decoder.raw_decode(result.stdout)
    answer = json.loads(result.stdout[end:].strip())
    assert stats["up_to_date"] is True
    assert len(answer["passages"]) == 5


# -- item 7: foreign and incomplete databases --------------------------------------------------


def test_a_foreign_sqlite_file_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "foreign"
    folder.mkdir()
    with sqlite3.connect(folder / DB_NAME) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.close()
    before = _files(folder)
    for write in (False, True):
        with pytest.raises(IndexFormatError, match="not a hippo index"):
            IndexStore.open(folder, create=write, write=write)
    _one_line_error(_cli("index", str(SAMPLE), "--index", str(folder), "--quiet"), "not a hippo index")
    with sqlite3.connect(folder / DB_NAME) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # never switched to WAL
    conn.close()
    assert _files(folder) == before


@pytest.mark.parametrize("meta", [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",  # a key-value table of another tool
    "CREATE TABLE meta (name TEXT, created TEXT)",
])
def test_a_foreign_database_with_a_meta_table_is_refused_in_one_line(tmp_path: Path, meta: str) -> None:
    folder = tmp_path / "foreign"
    folder.mkdir()
    with sqlite3.connect(folder / DB_NAME) as conn:
        conn.execute(meta)
        conn.execute("INSERT INTO meta VALUES ('schema', '3')")
    conn.close()
    _one_line_error(_cli("stats", "--index", str(folder)), "not a hippo index")
    _one_line_error(_cli("index", str(SAMPLE), "--index", str(folder), "--quiet"), "not a hippo index")
    _one_line_error(_cli("ask", QUESTION, "--index", str(folder), "--retrieve-only"), "not a hippo index")


def test_a_hippo_index_with_damaged_settings_is_refused_in_one_line(sample_index: Path, tmp_path: Path) -> None:
    index = _copy(sample_index, tmp_path)
    with sqlite3.connect(index / DB_NAME) as conn:
        conn.execute("UPDATE meta SET value='{\"chunk_words\": \"many\"}' WHERE key='settings'")
    conn.close()
    _one_line_error(_cli("stats", "--index", str(index)), "damaged hippo index")


@pytest.mark.parametrize("leftover", ["lock file only", "empty database"])
def test_an_index_killed_in_its_first_seconds_is_called_incomplete_and_resumes(
    tmp_path: Path, corpus_copy: Path, leftover: str
) -> None:
    index = tmp_path / "index"
    index.mkdir()
    (index / ".lock").touch()
    if leftover == "empty database":
        (index / DB_NAME).touch()
    for command in (["stats"], ["ask", QUESTION, "--retrieve-only"]):
        _one_line_error(_cli(*command, "--index", str(index)), "incomplete hippo index",
                        f"hippo index CORPUS --index {index}")
    assert _cli("index", str(corpus_copy), "--index", str(index), "--quiet").exit_code == 0
    assert json.loads(_cli("stats", "--index", str(index), "--json").stdout)["documents"] == 3


def test_an_index_stopped_before_its_first_graph_says_how_to_finish(tmp_path: Path) -> None:
    index = tmp_path / "index"
    IndexStore.open(index, create=True, write=True).close()
    _one_line_error(_cli("ask", QUESTION, "--index", str(index), "--retrieve-only"),
                    "incomplete index", f"hippo index CORPUS --index {index}")
    stats = json.loads(_cli("stats", "--index", str(index), "--json").stdout)
    assert stats["up_to_date"] is False and stats["state"].startswith("incomplete")


# -- item 9: the snapshot pointer and the recorded embedding model -------------------------------


def test_a_snapshot_pointer_outside_the_index_is_refused_and_reindexing_repairs_it(
    sample_index: Path, tmp_path: Path
) -> None:
    other = _copy(sample_index, tmp_path, "other")
    index = _copy(sample_index, tmp_path)
    elsewhere = (other / CURRENT_FILE).read_text().strip()
    for pointer in (f"../other/{elsewhere}", "/etc", "snapshot-1/../../other"):
        (index / CURRENT_FILE).write_text(pointer)
        _one_line_error(_cli("ask", QUESTION, "--index", str(index), "--retrieve-only"),
                        "corrupt snapshot pointer", "expected snapshot-<digits>")
        stats = json.loads(_cli("stats", "--index", str(index), "--json").stdout)
        assert stats["up_to_date"] is False and "corrupt snapshot pointer" in stats["state"]
        assert "edges" not in stats  # nothing was read from the other index
    report = Indexer(index, quiet=True).run([SAMPLE])
    assert report.graph_rebuilt
    assert len(Hippo(index).retrieve(QUESTION, top_k=5).passages) == 5


@pytest.mark.parametrize("recorded", ["someone/evil-model", "/no/such/model/folder"])
def test_an_index_naming_a_foreign_embedding_model_does_not_load_it(
    sample_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: str
) -> None:
    index = _copy(sample_index, tmp_path)
    with sqlite3.connect(index / DB_NAME) as conn:
        settings = json.loads(conn.execute("SELECT value FROM meta WHERE key='settings'").fetchone()[0])
        conn.execute("UPDATE meta SET value=? WHERE key='settings'",
                     (json.dumps({**settings, "embedding_model": recorded}),))
    conn.close()
    loaded: list[str] = []
    monkeypatch.setattr("sentence_transformers.SentenceTransformer",
                        lambda name, *a, **kw: loaded.append(name) or pytest.fail(f"loaded {name}"))
    result = _cli("ask", QUESTION, "--index", str(index), "--retrieve-only")
    _one_line_error(result, repr(recorded), "bundled", "local")
    assert loaded == []


# -- issue 11 item 5: igraph off the query path ---------------------------------------------------


def test_a_query_does_not_import_igraph(sample_index: Path) -> None:
    script = (
        "import sys\nfrom hippo.api import Hippo\n"
        f"assert len(Hippo({str(sample_index)!r}).retrieve({QUESTION!r}, top_k=5).passages) == 5\n"
        "print('igraph' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO,
                            check=True, timeout=600)
    assert result.stdout.strip() == "False"
