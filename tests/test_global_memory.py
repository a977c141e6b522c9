"""The global memory (MemoRAG): built from the index, kept in it, updated incrementally."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from hippo.corpus import Passage
from hippo.embed import Encoder
from hippo.errors import HippoError
from hippo.memory.global_memory import (
    MEMORY_FILE,
    cut_pieces,
    load_memory,
    refresh_memory,
    stored_mode,
)
from hippo.store import IndexStore


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder("all-MiniLM-L6-v2")


@pytest.fixture
def index_copy(sample_index: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(sample_index, target)
    (target / MEMORY_FILE).unlink(missing_ok=True)
    return target


def _refresh(index: Path, mode: str | None, **kwargs: object):
    with IndexStore.open(index, write=True) as store:
        return refresh_memory(index, store, mode, **kwargs)  # type: ignore[arg-type]


def test_extractive_memory_names_central_entities_facts_and_sentences(index_copy: Path) -> None:
    report = _refresh(index_copy, None)
    memory = load_memory(index_copy)
    assert memory is not None and memory.mode == "extractive" == report.mode
    assert report.pieces == report.written == len(memory.pieces) >= 3  # one or more per sample file
    text = "\n".join(p.text for p in memory.pieces)
    assert "Entities: " in text and "Facts: " in text
    assert "Ada Brennan" in text and "thomas keel" in text  # a title, a central entity
    with IndexStore.open(index_copy) as store:
        pieces = cut_pieces(store)
        means = np.stack([store.passage_vectors(piece).mean(axis=0) for piece in pieces])
    assert {pid for piece in memory.pieces for pid in piece.passage_ids} == {p.id for piece in pieces for p in piece}
    assert memory.vectors.shape == (len(memory.pieces), 384)  # each piece's passages' mean direction
    assert np.allclose(memory.vectors, means / np.linalg.norm(means, axis=1, keepdims=True), atol=1e-6)


def test_indexing_updates_only_memory_pieces_that_changed(corpus_copy: Path, tmp_path: Path) -> None:
    from hippo.indexer import Indexer

    index = tmp_path / "edited"
    first = Indexer(index, quiet=True).run([corpus_copy])
    assert first.global_memory == "extractive memory of 3 pieces (3 written)"  # one per sample file
    assert first.summary().endswith("; extractive memory of 3 pieces (3 written)")
    before = load_memory(index)
    assert Indexer(index, quiet=True).run([corpus_copy]).global_memory.endswith("(0 written)")
    notes = corpus_copy / "travel-notes.md"
    notes.write_text(notes.read_text(encoding="utf-8") + "\n\nThe ferry to Dunmore leaves at dawn.\n", encoding="utf-8")
    assert Indexer(index, quiet=True).run([corpus_copy]).global_memory.endswith("(1 written)")
    after = load_memory(index)
    assert before is not None and after is not None
    changed = [p for p in after.pieces if p.id not in {old.id for old in before.pieces}]
    assert len(changed) == 1 and changed[0].text.startswith("Topics: Travel notes from the east coast")


def test_an_added_file_is_the_only_document_cut_into_pieces(
    corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hippo.indexer import Indexer

    index, added = tmp_path / "grown", corpus_copy / "ferry.md"
    Indexer(index, quiet=True).run([corpus_copy])
    read: list[list[str]] = []
    passages = IndexStore.passages

    def reading(store: IndexStore, ids: list[str] | None = None) -> list[Passage]:
        read.append(list(ids) if ids is not None else ["every passage"])
        return passages(store, ids)

    monkeypatch.setattr(IndexStore, "passages", reading)
    assert Indexer(index, quiet=True).run([corpus_copy]).global_memory.endswith("(0 written)")
    assert read == []  # nothing changed: no passage read
    added.write_text("# Ferry\n\nThe ferry to Dunmore leaves at dawn.\n", encoding="utf-8")
    assert Indexer(index, quiet=True).run([corpus_copy]).global_memory.endswith("(1 written)")
    with IndexStore.open(index) as store:
        new = {pid for doc, pid in store.document_passages() if doc == str(added)}
    assert new and all(set(ids) <= new for ids in read)  # the snapshot's and the memory's reads: the new file's
    memory = load_memory(index)
    assert memory is not None and [d for d, _, _ in memory.documents] == sorted(d for d, _, _ in memory.documents)
    with IndexStore.open(index) as store:
        assert [p.passage_ids for p in memory.pieces] == [tuple(p.id for p in c) for c in cut_pieces(store)]


def test_index_memory_option_switches_modes(corpus_copy: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hippo.cli import main

    index = tmp_path / "cli"
    none = CliRunner().invoke(main, ["index", str(corpus_copy), "--index", str(index), "--memory", "none", "-q"])
    assert none.exit_code == 0, none.output
    assert none.output.strip().endswith("; no global memory") and stored_mode(index) == "none"
    again = CliRunner().invoke(main, ["index", str(corpus_copy), "--index", str(index), "--memory", "extractive"])
    assert again.output.strip().endswith("; extractive memory of 3 pieces (3 written)")
    bad = CliRunner().invoke(main, ["index", str(corpus_copy), "--index", str(index), "--memory", "gists"])
    assert bad.exit_code == 2 and "'gists' is not one of 'gist', 'extractive', 'none'" in bad.output


def test_memory_none_is_kept_until_asked_otherwise(index_copy: Path) -> None:
    _refresh(index_copy, "extractive")
    assert _refresh(index_copy, "none").summary() == "no global memory"
    assert load_memory(index_copy) is None and stored_mode(index_copy) == "none"
    assert _refresh(index_copy, None).mode == "none"
    assert _refresh(index_copy, "extractive").written > 0


def test_gist_memory_needs_an_llm_and_bad_modes_are_named(index_copy: Path) -> None:
    with pytest.raises(HippoError, match=r"--memory gist .*--llm"):
        _refresh(index_copy, "gist")
    with pytest.raises(HippoError, match="--memory 'gists' is not a memory mode; use one of gist, extractive, none"):
        _refresh(index_copy, "gists")
    assert stored_mode(index_copy) is None  # nothing was written


def test_select_keeps_the_pieces_most_similar_to_the_question(index_copy: Path, encoder: Encoder) -> None:
    _refresh(index_copy, "extractive")
    memory = load_memory(index_copy)
    assert memory is not None
    assert memory.select(encoder.encode(["anything"])[0], memory.words()) == memory.pieces
    for target in memory.pieces:  # a question about one piece's text finds that piece
        chosen = memory.select(encoder.encode([target.text])[0], len(target.text.split()))
        assert chosen == [target]


def test_unreadable_memory_is_a_one_line_error(index_copy: Path) -> None:
    (index_copy / MEMORY_FILE).write_bytes(b"not a zip")
    with pytest.raises(HippoError, match=r"global memory unreadable .*re-run `hippo index`"):
        load_memory(index_copy)


def test_gist_memory_is_written_by_the_llm_once(corpus_copy: Path, tmp_path: Path) -> None:
    import json

    from hippo.api import Hippo
    from tests.llm_server import ScriptedAPI

    api = ScriptedAPI()
    try:
        for number in range(3):
            api.reply(f"Gist {number}: Thomas Keel built the Marlow Viaduct.")
        index = tmp_path / "gist"
        report = Hippo(index, llm=api.url).index([corpus_copy], global_memory="gist")
        assert report.global_memory == "gist memory of 3 pieces (3 written)"
        memory = load_memory(index)
        assert memory is not None and memory.mode == "gist"
        assert sorted(p.text for p in memory.pieces) == [f"Gist {n}: Thomas Keel built the Marlow Viaduct."
                                                         for n in range(3)]
        assert all("dense gist" in json.dumps(r["messages"]) for r in api.requests)
        asked = len(api.requests)
        assert Hippo(index).index([corpus_copy], global_memory="extractive").global_memory.endswith("(3 written)")
        back = Hippo(index, llm=api.url).index([corpus_copy], global_memory="gist")
        assert back.global_memory.endswith("(3 written)") and len(api.requests) == asked  # from the LLM cache
    finally:
        api.close()
