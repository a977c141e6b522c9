"""`hippo index` end to end on the sample corpus: counts, incremental runs, bad input."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hippo.cli import main
from hippo.config import IndexSettings
from hippo.errors import HippoError, IndexFormatError
from hippo.indexer import Indexer
from hippo.snapshot import load_snapshot
from hippo.stats import index_stats
from hippo.store import DB_NAME, IndexStore
from tests.conftest import SAMPLE


def _copy_index(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(source, target)
    return target


def test_sample_index_counts_and_graph(sample_index: Path) -> None:
    stats = index_stats(sample_index)
    assert stats["documents"] == 3
    assert stats["passages"] >= 22
    assert stats["entities"] > 40 and stats["facts"] > 20
    assert stats["embedding_model"] == "all-MiniLM-L6-v2"
    assert stats["edges"] == stats["fact_edges"] + stats["mention_edges"] + stats["synonymy_edges"]
    snapshot = load_snapshot(sample_index)
    assert snapshot.passage_vectors.shape == (stats["passages"], 384)
    assert np.allclose(np.linalg.norm(snapshot.entity_vectors, axis=1), 1.0, atol=1e-4)
    # every titled passage mentions its title entity: the anchor of multi-hop questions
    names = set(snapshot.entity_names)
    assert {"ada brennan", "dunmore", "thomas keel", "marco ferrante"} <= names
    assert snapshot.adjacency.shape == (snapshot.node_count, snapshot.node_count)
    assert (snapshot.adjacency != snapshot.adjacency.T).nnz == 0


def test_facts_link_across_documents(sample_index: Path) -> None:
    with IndexStore.open(sample_index) as store:
        entities = store.entities()
        facts = {(entities[s], r, entities[o]) for s, r, o in store.facts().values()}
    assert ("ada brennan", "bear in", "dunmore") in facts
    assert ("erik halvorsen", "bear in", "tromsø") in facts  # non-ASCII letters kept


def test_rerun_with_nothing_changed_does_no_work(sample_index: Path, tmp_path: Path) -> None:
    index = _copy_index(sample_index, tmp_path)
    report = Indexer(index, quiet=True).run([SAMPLE])
    assert report.files_unchanged == 3 and report.files_changed == 0
    assert report.passages_extracted == 0 and report.strings_embedded == 0
    assert not report.graph_rebuilt


def test_edit_and_delete_are_incremental(sample_index: Path, corpus_copy: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    Indexer(index, quiet=True).run([corpus_copy])
    before = index_stats(index)
    notes = corpus_copy / "travel-notes.md"
    notes.write_text(notes.read_text() + "\nWe also met Ingrid Solberg's grandson, a baker in Dunmore.\n")
    report = Indexer(index, quiet=True).run([corpus_copy])
    assert report.files_changed == 1 and report.files_unchanged == 2
    assert 0 < report.passages_extracted <= 3  # only the changed file's new passages
    assert report.graph_rebuilt

    (corpus_copy / "korvan-history.txt").unlink()
    report = Indexer(index, quiet=True).run([corpus_copy])
    assert report.files_removed == 1
    after = index_stats(index)
    assert after["documents"] == before["documents"] - 1
    with IndexStore.open(index) as store:
        assert not any("Ulm" in p.text for p in store.passages())
    assert len(load_snapshot(index).passage_ids) == after["passages"]


def test_bad_files_are_skipped_with_a_warning_and_good_ones_indexed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Marie Curie was born in Warsaw. She won two Nobel Prizes.")
    (corpus / "empty.txt").write_text("")
    (corpus / "binary.txt").write_bytes(b"\x00\xff\x00")
    (corpus / "latin1.txt").write_bytes("Zoë lived in Orléans.".encode("latin-1"))
    result = CliRunner().invoke(main, ["index", str(corpus), "--index", str(tmp_path / "idx"), "--quiet"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 3
    assert any("latin1.txt" in w and "UTF-8" in w for w in warnings)
    assert index_stats(tmp_path / "idx")["documents"] == 1


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["index", str(tmp_path / "nope"), "--index", str(tmp_path / "i")])
    assert missing.exit_code == 2
    assert missing.stderr.strip().count("\n") == 0 and "no such file or folder" in missing.stderr
    no_index = runner.invoke(main, ["stats", "--index", str(tmp_path / "none")])
    assert no_index.exit_code == 2 and "run `hippo index" in no_index.stderr


def test_foreign_newer_and_other_model_indexes_are_refused(sample_index: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(IndexFormatError, match="not empty and not a hippo index"):
        IndexStore.open(foreign, create=True)

    not_sqlite = tmp_path / "garbage"
    not_sqlite.mkdir()
    (not_sqlite / DB_NAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexFormatError, match="not a readable hippo index"):
        IndexStore.open(not_sqlite)

    newer = _copy_index(sample_index, tmp_path)
    with sqlite3.connect(newer / DB_NAME) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='format_version'")
    with pytest.raises(IndexFormatError, match="newer hippo"):
        IndexStore.open(newer)

    with pytest.raises(IndexFormatError, match="built with embedding model 'all-MiniLM-L6-v2'"):
        IndexStore.open(sample_index, settings=IndexSettings(embedding_model="other-model"))


def test_read_only_index_is_refused(sample_index: Path, tmp_path: Path, monkeypatch) -> None:
    index = _copy_index(sample_index, tmp_path)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.W_OK else real_access(p, mode))
    with pytest.raises(HippoError, match="read-only"):
        IndexStore.open(index, write=True)


def test_second_writer_is_refused(sample_index: Path, tmp_path: Path) -> None:
    index = _copy_index(sample_index, tmp_path)
    with IndexStore.open(index, write=True), pytest.raises(HippoError, match="another hippo process"):
        IndexStore.open(index, write=True)


def _extracted(db: Path) -> int:
    """Passages with a committed extraction (0 while the database is not there yet)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT COUNT(*) FROM extractions").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_kill_9_mid_run_leaves_a_usable_index_and_rerun_resumes(tmp_path: Path) -> None:
    total = 400  # OpenIE commits every 128 passages: the kill lands between two commits
    corpus = tmp_path / "corpus.jsonl"
    records = [{"title": f"Person {i}", "text": f"Person {i} was born in Town {i % 7}. "
                f"Person {i} worked for Company {i % 5} in City {i % 3}."} for i in range(total)]
    corpus.write_text("\n".join(json.dumps(r) for r in records))
    index = tmp_path / "index"
    command = [sys.executable, "-m", "hippo", "index", str(corpus), "--index", str(index), "--quiet",
               "--workers", "1"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while process.poll() is None and _extracted(index / DB_NAME) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)  # kill -9 as soon as the first OpenIE batch is committed
    process.kill()
    process.wait()
    extracted = _extracted(index / DB_NAME)
    assert 0 < extracted < total, f"the kill came {'before' if not extracted else 'after'} OpenIE"
    with IndexStore.open(index) as store:  # the committed state opens cleanly
        assert store.counts()["passages"] == total
    report = Indexer(index, quiet=True).run([corpus])
    assert report.files_unchanged == 1
    assert report.passages_extracted == total - extracted  # resumed, not restarted
    assert index_stats(index)["passages"] == total
    assert len(load_snapshot(index).passage_ids) == total


def test_an_index_inside_the_corpus_folder_is_not_indexed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE, corpus)
    index = corpus / "my-index"
    Indexer(index, quiet=True).run([corpus])
    (index / "documents").mkdir()
    (index / "documents" / "notes.jsonl").write_text('{"title": "Stray", "text": "Not corpus text."}\n')
    report = Indexer(index, quiet=True).run([corpus])
    assert report.files_seen == 3 and report.files_changed == 0
    assert index_stats(index)["documents"] == 3


def test_graph_options_on_an_existing_index_warn_and_keep_its_settings(sample_index: Path, tmp_path: Path) -> None:
    index = _copy_index(sample_index, tmp_path)
    args = ["index", str(SAMPLE), "--index", str(index), "--quiet"]
    result = CliRunner().invoke(main, [*args, "--synonymy-k", "3", "--title-edge-weight", "10"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"warning: --synonymy-k 3 applies to a new index; {index} keeps 10 (use a new --index to change it)"
    ]
    other = CliRunner().invoke(main, [*args, "--extractor", "llm"])
    assert other.exit_code == 2 and "built with extractor 'spacy', not 'llm'" in other.stderr
