"""Adding files to an index updates its graph in time proportional to what was added (synonymy
searched for the new entities only, ANN indexes extended, rows appended to the previous
snapshot's column files), with the result of a full build.

A full build is compared from the same stored vectors (the snapshot removed, so the next run
rebuilds it from the records): a corpus embedded in two runs gets vectors a little unlike one
embedded at once, as the int8 encoder's scales depend on the batch (README, Encoder runtimes)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hippo.columns
import hippo.snapshot
import hippo.snapshot_build
import hippo.store
from hippo.ann import UNIT_ARRAYS
from hippo.config import IndexSettings
from hippo.corpus import Passage, passage_id
from hippo.errors import IndexFormatError
from hippo.indexer import Indexer
from hippo.memory.store import MemoryStore
from hippo.snapshot import CURRENT_FILE, MANIFEST, GraphSnapshot, current_generation, load_snapshot, snapshot_exists
from hippo.store import DocumentRecord, IndexStore
from tests.conftest import SAMPLE

ADDED = "encyclopedia.json"  # the largest sample file: most of the entities and synonymy pairs
ADDED_SMALL = "travel-notes.md"  # fewer units than the rest: an ANN index is extended by at most its size


def _graph(index: Path) -> dict[str, Any]:
    """The index's records and snapshot by unit id (not by row number: a full build orders units
    by id, an add appends its own)."""
    snapshot = load_snapshot(index)
    with IndexStore.open(index) as store:
        records = {"passages": {p.id for p in store.passages()}, "entities": store.entities(),
                   "facts": store.facts(), "passage_entities": set(store.passage_entities()),
                   "passage_facts": set(store.passage_facts()),
                   "synonyms": {tuple(sorted((a, b))): s for a, b, s in store.synonyms()}}
    labels = [*snapshot.passage_ids, *snapshot.entity_ids]
    edges = {(int(k), *sorted((labels[s], labels[d]))): float(w) for s, d, w, k in  # undirected
             zip(snapshot.edge_src, snapshot.edge_dst, snapshot.edge_weight, snapshot.edge_kind, strict=True)}
    assert len(edges) == len(snapshot.edge_src)  # each pair once
    names = dict(zip(snapshot.entity_ids, snapshot.entity_names, strict=True))
    facts = {f: (snapshot.entity_ids[s], r, snapshot.entity_ids[o]) for f, r, s, o in zip(
        snapshot.fact_ids, snapshot.fact_relations, snapshot.fact_subject, snapshot.fact_object, strict=True)}
    texts = {p: (snapshot.passage(i).title, snapshot.passage(i).text) for i, p in enumerate(snapshot.passage_ids)}
    vectors = {kind: {u: tuple(np.asarray(getattr(snapshot, f"{kind}_vectors")[i]).round(5)) for i, u in
                      enumerate(getattr(snapshot, f"{kind}_ids"))} for kind in ("passage", "entity", "fact")}
    return {**records, "edges": edges, "names": names, "snapshot_facts": facts, "texts": texts, "vectors": vectors,
            "rows": {k: len(getattr(snapshot, f"{k}_ids")) for k in ("passage", "entity", "fact")}}


def _same(got: dict[str, Any], want: dict[str, Any]) -> bool:
    """`_graph`s equal, weights (cosines, fact counts) to 1e-6 (matrix products of other shapes)."""
    weighted = ("synonyms", "edges")
    assert {k: v for k, v in got.items() if k not in weighted} == {k: v for k, v in want.items() if k not in weighted}
    return all(got[k] == pytest.approx(want[k], abs=1e-6) for k in weighted)


def _spy(monkeypatch: pytest.MonkeyPatch, name: str, module: Any = hippo.snapshot_build) -> list[tuple[Any, ...]]:
    """The positional arguments of each call of `module.<name>` (still called)."""
    calls: list[tuple[Any, ...]] = []
    real: Callable[..., Any] = getattr(module, name)

    def spied(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spied)
    return calls


def _rebuilt(index: Path, corpus: Path, tmp_path: Path) -> Path:
    """A copy of `index` whose graph a full build made again from its records and vectors."""
    copy = tmp_path / "rebuilt"
    shutil.copytree(index, copy)
    (copy / CURRENT_FILE).unlink()
    Indexer(copy, quiet=True).run([corpus])
    return copy


def _partial_corpus(tmp_path: Path, *left_out: str) -> Path:
    """data/sample without the files `left_out`."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE, corpus, ignore=shutil.ignore_patterns(*left_out))
    return corpus


def _indexed_then_added(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    """(corpus, index, graph): data/sample without ADDED indexed, its graph then, and ADDED
    copied into the corpus since (not indexed yet)."""
    corpus, index = _partial_corpus(tmp_path, ADDED), tmp_path / "index"
    Indexer(index, quiet=True).run([corpus])
    before = _graph(index)
    shutil.copy(SAMPLE / ADDED, corpus / ADDED)
    return corpus, index, before


def test_adding_a_file_gives_the_graph_of_a_full_build_and_removing_it_the_one_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    corpus, index, before = _indexed_then_added(tmp_path)
    searches, derived = _spy(monkeypatch, "synonym_pairs"), _spy(monkeypatch, "derive_records")
    report = Indexer(index, quiet=True).run([corpus])
    assert report.graph_rebuilt and searches == []  # only the added entities were searched
    assert [len(args[0]) for args in derived] == [len(json.loads((SAMPLE / ADDED).read_text()))]  # its passages
    grown = _graph(index)
    assert grown["synonyms"] and _same(grown, _graph(_rebuilt(index, corpus, tmp_path)))

    (corpus / ADDED).unlink()
    searches.clear()
    report = Indexer(index, quiet=True).run([corpus])
    assert report.files_removed == 1 and len(searches) == 1  # entities were lost: a full build
    assert _same(_graph(index), before)


def test_a_passage_extracted_again_since_the_snapshot_gets_a_full_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    corpus, index = _partial_corpus(tmp_path, ADDED), tmp_path / "index"
    Indexer(index, quiet=True).run([corpus])
    with IndexStore.open(index, write=True) as store:  # as when a failed extraction is retried
        passage = store.passages()[0]
        store.save_extractions(store.settings.extractor, [(passage.id, store.extractions("spacy")[passage.id])])
        passages = len(store.passages())
    shutil.copy(SAMPLE / ADDED, corpus / ADDED)
    derived = _spy(monkeypatch, "derive_records")
    Indexer(index, quiet=True).run([corpus])
    assert [len(args[0]) for args in derived] == [passages + len(json.loads((SAMPLE / ADDED).read_text()))]
    assert _same(_graph(index), _graph(_rebuilt(index, corpus, tmp_path)))


def _finds_itself(snapshot: GraphSnapshot, array: str) -> float:
    """The share of units whose own vector's nearest unit in the ANN index is the unit itself."""
    vectors = np.asarray(getattr(snapshot, array))
    return float(np.mean(snapshot.ann[array].nearest_rows(vectors, 1)[:, 0] == np.arange(len(vectors))))


def test_adding_a_file_extends_the_ann_indexes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, index = _partial_corpus(tmp_path, ADDED_SMALL), tmp_path / "index"
    Indexer(index, IndexSettings(ann_threshold=1), quiet=True).run([corpus])
    before = load_snapshot(index)
    shutil.copy(SAMPLE / ADDED_SMALL, corpus / ADDED_SMALL)
    builds = _spy(monkeypatch, "build_ann", hippo.snapshot)
    Indexer(index, quiet=True).run([corpus])
    assert builds == []  # the earlier indexes were extended
    kept = {a: [(s.start, s.end) for s in before.ann[a].segments] for a in UNIT_ARRAYS}
    assert any(len(load_snapshot(index).ann[a].segments) > 1 for a in UNIT_ARRAYS)  # some kept their segment
    for array, segments in kept.items():
        now = [(s.start, s.end) for s in load_snapshot(index).ann[array].segments]
        assert now[:-1] == segments[:len(now) - 1]  # the earlier segments, or merged into the new one
    after = load_snapshot(index)
    assert _same(_graph(index), _graph(_rebuilt(index, corpus, tmp_path)))  # HNSW search finds all, among so few
    for array in UNIT_ARRAYS:
        extended = after.ann[array]
        assert extended.size == len(getattr(after, array)) > before.ann[array].size
        assert _finds_itself(after, array) >= 0.95
        np.testing.assert_allclose(extended.mean, np.asarray(getattr(after, array)).mean(axis=0), atol=1e-5)


def test_an_index_more_than_doubled_gets_new_ann_indexes(tmp_path: Path) -> None:
    corpus, index = _partial_corpus(tmp_path, ADDED, ADDED_SMALL), tmp_path / "index"
    Indexer(index, IndexSettings(ann_threshold=1), quiet=True).run([corpus])
    shutil.copy(SAMPLE / ADDED, corpus / ADDED)  # many times the units of the first file
    Indexer(index, quiet=True).run([corpus])
    snapshot = load_snapshot(index)
    for array in UNIT_ARRAYS:  # the earlier segment merged into one over all units
        assert [(s.start, s.end) for s in snapshot.ann[array].segments] == [(0, len(getattr(snapshot, array)))]
    assert all(_finds_itself(snapshot, array) >= 0.95 for array in UNIT_ARRAYS)


def _folder(index: Path) -> Path:
    generation = current_generation(index)
    assert generation is not None
    return index / generation


def test_an_add_appends_to_the_previous_snapshots_files_and_leaves_its_rows_alone(tmp_path: Path) -> None:
    corpus, index = _partial_corpus(tmp_path, ADDED), tmp_path / "index"
    Indexer(index, quiet=True).run([corpus])
    reader = load_snapshot(index)  # a reader holding the previous snapshot
    kept = {a: np.array(getattr(reader, a)) for a in (*UNIT_ARRAYS, "passage_blob", "fact_subject")}
    files = {name: os.stat(_folder(index) / name) for name in ("passage_vectors", "passage_blob", "entity_ids")}
    shutil.copy(SAMPLE / ADDED, corpus / ADDED)
    Indexer(index, quiet=True).run([corpus])
    after = load_snapshot(index)
    for name, before in files.items():  # the same file, one link left now the previous snapshot is gone
        now = os.stat(_folder(index) / name)
        assert (now.st_ino, now.st_nlink) == (before.st_ino, 1) and now.st_size > before.st_size
    for array, rows in kept.items():
        assert np.array_equal(getattr(reader, array), rows)  # the reader's rows, unchanged
        assert np.array_equal(np.asarray(getattr(after, array))[:len(rows)], rows)  # the same rows first
    assert after.passage_ids[:len(reader.passage_ids)] == reader.passage_ids


def test_an_add_interrupted_leaves_the_previous_snapshot_and_a_rerun_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    corpus, index, before = _indexed_then_added(tmp_path)

    def killed(*_: Any) -> None:
        raise KeyboardInterrupt  # after the rows were appended to the shared column files

    monkeypatch.setattr(hippo.snapshot, "save_names", killed)
    with pytest.raises(KeyboardInterrupt):
        Indexer(index, quiet=True).run([corpus])
    assert _graph(index)["texts"] == before["texts"] and _graph(index)["vectors"] == before["vectors"]
    monkeypatch.undo()
    Indexer(index, quiet=True).run([corpus])
    assert _same(_graph(index), _graph(_rebuilt(index, corpus, tmp_path)))


def test_a_full_build_streams_each_unit_sets_vectors_and_writes_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = tmp_path / "index"
    Indexer(index, IndexSettings(ann_threshold=1), quiet=True).run([SAMPLE])  # ANN built from the mapped vectors
    copy = tmp_path / "copy"
    shutil.copytree(index, copy)
    (copy / CURRENT_FILE).unlink()
    monkeypatch.setattr(hippo.store, "EMBEDDING_BLOCK", 5)
    monkeypatch.setattr(hippo.columns, "BLOCK_BYTES", 1000)  # a few rows a block: vectors 1536 bytes a row
    loads = _spy(monkeypatch, "load_embeddings", IndexStore)
    assert Indexer(copy, quiet=True).run([SAMPLE]).graph_rebuilt
    assert loads and max(len(args[1]) for args in loads) <= 5  # never a whole unit set
    for name in hippo.snapshot.COLUMNS:  # one-shot and block-wise writes: the same bytes
        assert (_folder(copy) / name).read_bytes() == (_folder(index) / name).read_bytes(), name
    assert set(load_snapshot(copy).ann) == set(UNIT_ARRAYS)
    assert not list(copy.glob(".snapshot-*"))  # the build's scratch folder went with the staging ones


def test_a_snapshot_of_the_earlier_format_is_rebuilt(sample_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    want = load_snapshot(index).passage_ids
    (_folder(index) / MANIFEST).rename(_folder(index) / "records.json")  # as the .npy format had
    assert not snapshot_exists(index)
    with pytest.raises(IndexFormatError, match="older hippo"):
        load_snapshot(index)
    assert Indexer(index, quiet=True).run([SAMPLE]).graph_rebuilt
    assert sorted(load_snapshot(index).passage_ids) == sorted(want)


def test_files_without_memory_units_are_recorded_so_a_rerun_does_not_read_them_back(tmp_path: Path) -> None:
    corpus, index = _partial_corpus(tmp_path), tmp_path / "index"
    Indexer(index, quiet=True).run([corpus])
    with IndexStore.open(index) as store, MemoryStore(index) as memory:
        documents = {d.id: d.sha256 for d in store.documents()}
        assert memory.sources() == documents and memory.load().texts == []  # recorded, no units


def test_removing_a_document_keeps_the_passages_another_one_holds(tmp_path: Path) -> None:
    shared, own = Passage(passage_id("A", "shared"), "A", "shared"), Passage(passage_id("B", "own"), "B", "own")
    with IndexStore.open(tmp_path / "index", create=True, write=True) as store:
        store.replace_document(DocumentRecord("one", "", "x", 1, 0), [shared, own])
        store.replace_document(DocumentRecord("two", "", "y", 1, 0), [shared])
        store.delete_document("one")
        assert [p.id for p in store.passages()] == [shared.id]
        store.delete_document("two")
        assert store.passages() == []


def test_vectors_of_a_key_asked_twice_are_both_filled(tmp_path: Path) -> None:
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    with IndexStore.open(tmp_path / "index", create=True, write=True) as store:
        store.save_embeddings(["a", "b", "c"], vectors)
        got = store.load_embeddings(["b", "a", "b", "c", "a"])
    assert np.array_equal(got, vectors[[1, 0, 1, 2, 0]])  # two units may embed the same string
