"""The global memory (MemoRAG): built from the index, kept in it, updated incrementally."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

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


def _refresh(index: Path, mode: str | None, encoder: Encoder, **kwargs: object):
    with IndexStore.open(index, write=True) as store:
        return refresh_memory(index, store, mode, lambda: encoder, **kwargs)  # type: ignore[arg-type]


def test_extractive_memory_names_central_entities_facts_and_sentences(index_copy: Path, encoder: Encoder) -> None:
    report = _refresh(index_copy, None, encoder)
    memory = load_memory(index_copy)
    assert memory is not None and memory.mode == "extractive" == report.mode
    assert report.pieces == report.written == len(memory.pieces) >= 3  # one or more per sample file
    text = "\n".join(p.text for p in memory.pieces)
    assert "Entities: " in text and "Facts: " in text
    assert "Ada Brennan" in text and "thomas keel" in text  # a title, a central entity
    assert memory.vectors.shape == (len(memory.pieces), 384)
    assert np.allclose(np.linalg.norm(memory.vectors, axis=1), 1.0, atol=1e-3)
    with IndexStore.open(index_copy) as store:
        passages = {p.id for piece in cut_pieces(store) for p in piece}
    assert {pid for piece in memory.pieces for pid in piece.passage_ids} == passages


def test_memory_updates_only_pieces_that_changed(corpus_copy: Path, tmp_path: Path, encoder: Encoder) -> None:
    from hippo.indexer import Indexer

    index = tmp_path / "edited"
    Indexer(index, quiet=True).run([corpus_copy])
    first = _refresh(index, "extractive", encoder)
    assert _refresh(index, None, encoder).written == 0
    before = load_memory(index)
    notes = corpus_copy / "travel-notes.md"
    notes.write_text(notes.read_text(encoding="utf-8") + "\n\nThe ferry to Dunmore leaves at dawn.\n", encoding="utf-8")
    Indexer(index, quiet=True).run([corpus_copy])
    again = _refresh(index, None, encoder)
    after = load_memory(index)
    assert before is not None and after is not None
    assert again.pieces == first.pieces and 1 <= again.written < first.pieces
    assert len({p.id for p in after.pieces} - {p.id for p in before.pieces}) == again.written
    assert any("ferry to Dunmore" in p.text or "dunmore" in p.text for p in after.pieces)


def test_memory_none_is_kept_until_asked_otherwise(index_copy: Path, encoder: Encoder) -> None:
    _refresh(index_copy, "extractive", encoder)
    assert _refresh(index_copy, "none", encoder).summary() == "no global memory"
    assert load_memory(index_copy) is None and stored_mode(index_copy) == "none"
    assert _refresh(index_copy, None, encoder).mode == "none"
    assert _refresh(index_copy, "extractive", encoder).written > 0


def test_gist_memory_needs_an_llm_and_bad_modes_are_named(index_copy: Path, encoder: Encoder) -> None:
    with pytest.raises(HippoError, match=r"--memory gist .*--llm"):
        _refresh(index_copy, "gist", encoder)
    with pytest.raises(HippoError, match="--memory 'gists' is not a memory mode; use one of gist, extractive, none"):
        _refresh(index_copy, "gists", encoder)
    assert stored_mode(index_copy) is None  # nothing was written


def test_select_keeps_the_pieces_most_similar_to_the_question(index_copy: Path, encoder: Encoder) -> None:
    _refresh(index_copy, "extractive", encoder)
    memory = load_memory(index_copy)
    assert memory is not None
    assert memory.select(encoder.encode(["anything"])[0], memory.words()) == memory.pieces
    target = max(memory.pieces, key=lambda p: len(p.text.split()))
    chosen = memory.select(encoder.encode([target.text])[0], len(target.text.split()))
    assert chosen == [target]


def test_unreadable_memory_is_a_one_line_error(index_copy: Path) -> None:
    (index_copy / MEMORY_FILE).write_bytes(b"not a zip")
    with pytest.raises(HippoError, match=r"global memory unreadable .*re-run `hippo index`"):
        load_memory(index_copy)
