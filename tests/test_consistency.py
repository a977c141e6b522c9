"""Readers see one complete index version while it is re-indexed, killed, or created twice at once."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hippo.api import Hippo
from hippo.errors import HippoError
from hippo.indexer import Indexer
from hippo.snapshot import MANIFEST, load_snapshot, save_snapshot
from hippo.stats import index_stats
from hippo.store import DB_NAME, IndexStore

QUESTION = "Who became chief executive of Korvan Motors in 1960?"
CONVERSATION = Path(__file__).resolve().parent.parent / "data" / "conversation"


def _ranked(hippo: Hippo, top_k: int = 5) -> list[tuple[str, str]]:
    return [(p.id, p.text) for p in hippo.retrieve(QUESTION, top_k=top_k).passages]


def _bulk_file(path: Path, count: int) -> None:
    """A JSONL corpus file of `count` short passages: enough OpenIE work to kill a run in."""
    records = [{"title": f"Person {i}", "text": f"Person {i} was born in Town {i % 7}. "
                f"Person {i} worked for Company {i % 5} in City {i % 3}."} for i in range(count)]
    path.write_text("\n".join(json.dumps(r) for r in records))


def test_a_reader_keeps_complete_passages_while_files_are_deleted_and_changed(
    corpus_copy: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    Indexer(index, quiet=True).run([corpus_copy])
    reader = Hippo(index)
    before = _ranked(reader)
    assert any("Korvan" in text for _, text in before)

    (corpus_copy / "korvan-history.txt").unlink()
    notes = corpus_copy / "travel-notes.md"
    notes.write_text(notes.read_text().replace("Dunmore", "Dunmoore"))
    Indexer(index, quiet=True).run([corpus_copy])

    assert _ranked(reader) == before  # the reader's snapshot still has every passage it ranks
    fresh = _ranked(Hippo(index))
    assert len(fresh) == 5 and not any("Korvan Motors became" in text for _, text in fresh)


def test_a_reader_keeps_whole_sessions_while_a_conversation_is_re_indexed(tmp_path: Path) -> None:
    corpus = tmp_path / "conversation"
    shutil.copytree(CONVERSATION, corpus)
    index = tmp_path / "index"
    Hippo(index).index([corpus])
    reader = Hippo(index)
    question = "Who coached Ben for the half marathon?"
    before = [(p.id, p.text) for p in reader.retrieve(question, pipeline="dense", top_k=3).passages]
    turns = [json.loads(line) for line in (corpus / "friends.jsonl").read_text().splitlines()]
    (corpus / "friends.jsonl").write_text("".join(json.dumps({**t, "text": t["text"] + " (edited)"}) + "\n"
                                                  for t in turns))
    Hippo(index).index([corpus])  # every turn passage is replaced
    assert [(p.id, p.text) for p in reader.retrieve(question, pipeline="dense", top_k=3).passages] == before


def test_a_reader_loading_while_a_new_snapshot_replaces_the_old_one_retries(
    sample_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    snapshot = load_snapshot(index)
    real_open = open
    swapped = []

    def open_after_a_swap(path: object, *args: object, **kwargs: object) -> object:
        if str(path).endswith(MANIFEST) and not swapped:
            swapped.append(path)
            save_snapshot(index, snapshot)  # a writer commits between reading CURRENT and this read
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", open_after_a_swap)
    loaded = load_snapshot(index)
    assert swapped and loaded.passage_ids == snapshot.passage_ids


def test_b_kill_9_mid_reindex_leaves_the_last_complete_version_queryable(
    corpus_copy: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    Indexer(index, quiet=True).run([corpus_copy])
    before = _ranked(Hippo(index))
    with IndexStore.open(index) as store:
        extracted = store.counts()["passages"]

    (corpus_copy / "korvan-history.txt").unlink()
    _bulk_file(corpus_copy / "people.jsonl", 1500)
    command = [sys.executable, "-m", "hippo", "index", str(corpus_copy), "--index", str(index), "--quiet"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):  # until the re-index deleted the file's records and extracts the new ones
            if process.poll() is not None:
                break
            with sqlite3.connect(f"file:{index / DB_NAME}?mode=ro", uri=True, timeout=5) as conn:
                if conn.execute("SELECT COUNT(*) FROM extractions").fetchone()[0] > extracted:
                    break
            time.sleep(0.1)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -9, "the re-index finished before it could be killed"

    assert _ranked(Hippo(index)) == before  # full top-k of the last complete snapshot
    stats = index_stats(index)
    assert stats["up_to_date"] is False and "update interrupted" in str(stats["state"])

    Indexer(index, quiet=True).run([corpus_copy])
    after = _ranked(Hippo(index))
    assert len(after) == 5 and not any("Korvan Motors became" in text for _, text in after)
    assert index_stats(index)["up_to_date"] is True


def test_stats_says_when_another_process_is_indexing(sample_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    assert index_stats(index)["state"] == "up to date"
    with IndexStore.open(index, write=True):
        stats = index_stats(index)
    assert stats["up_to_date"] is False and "being indexed" in str(stats["state"])


def test_c_concurrent_first_runs_on_an_empty_folder_one_wins_the_other_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hippo.store.LOCK_GRACE_SECONDS", 0.0)  # the loser need not wait for a stats probe
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # interleave the two threads as finely as the interpreter allows
    try:
        for attempt in range(40):
            root = tmp_path / f"index{attempt}"
            started, done = threading.Barrier(2), threading.Barrier(2)
            outcomes: list[str] = []

            def first_run(root: Path = root, outcomes: list[str] = outcomes,
                          started: threading.Barrier = started, done: threading.Barrier = done) -> None:
                started.wait()
                try:
                    store = IndexStore.open(root, create=True, write=True)
                except HippoError as err:
                    outcomes.append(str(err))
                    done.wait()
                    return
                outcomes.append("won")
                done.wait()  # hold the index until both runs have tried
                store.close()

            threads = [threading.Thread(target=first_run) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            refusals = [o for o in outcomes if o != "won"]
            assert outcomes.count("won") == 1 and len(refusals) == 1, outcomes
            assert "another hippo process is writing" in refusals[0], outcomes
            with IndexStore.open(root) as store:
                assert store.counts()["documents"] == 0
    finally:
        sys.setswitchinterval(interval)
