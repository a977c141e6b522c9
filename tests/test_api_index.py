"""`Hippo.index`, the one front door for indexing: in-memory documents, the LLM cache, and the
`hippo index` command going through it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hippo import Hippo, api
from hippo.cli import main
from hippo.config import IndexSettings
from hippo.errors import HippoError
from hippo.stats import index_stats
from hippo.store import IndexStore
from tests.llm_server import ScriptedAPI

DOCS = [
    {"title": "Marlow Viaduct", "text": "The Marlow Viaduct was designed by the engineer Thomas Keel."},
    {"title": "Thomas Keel", "text": "Thomas Keel trained under Samuel Pike in Dunmore."},
]


def test_in_memory_documents_are_indexed_retrievable_and_incremental(tmp_path: Path) -> None:
    h = Hippo(tmp_path / "idx")
    report = h.index(DOCS)
    assert (report.files_seen, report.files_changed, report.passages_extracted) == (2, 2, 2)
    hit = h.retrieve("Who trained under Samuel Pike?", pipeline="dense", top_k=1).passages[0]
    assert (hit.title, hit.text) == ("Thomas Keel", DOCS[1]["text"])

    again = Hippo(tmp_path / "idx").index([dict(d) for d in reversed(DOCS)])  # same documents: no work
    assert (again.files_unchanged, again.files_changed, again.passages_extracted) == (2, 0, 0)
    assert not again.graph_rebuilt

    changed = [DOCS[0], {"title": "Samuel Pike", "text": "Samuel Pike was a mason from Dunmore."}]
    report = h.index(changed)  # a changed list replaces the previous one
    assert (report.files_unchanged, report.files_changed, report.files_removed) == (1, 1, 1)
    with IndexStore.open(tmp_path / "idx") as store:
        assert sorted(p.title for p in store.passages()) == ["Marlow Viaduct", "Samuel Pike"]
    assert [p.title for p in h.retrieve("Who was a mason?", pipeline="dense", top_k=1).passages] == ["Samuel Pike"]


def test_files_and_documents_together_and_paths_leave_documents_alone(tmp_path: Path) -> None:
    corpus = tmp_path / "notes.txt"
    corpus.write_text("Ada Brennan was born in Dunmore.")
    h = Hippo(tmp_path / "idx")
    h.index([corpus, DOCS[0]])
    assert index_stats(tmp_path / "idx")["documents"] == 2
    report = h.index([corpus])  # no documents given: the in-memory ones stay
    assert (report.files_unchanged, report.files_removed) == (1, 0)
    assert index_stats(tmp_path / "idx")["documents"] == 2


def test_a_document_without_text_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(HippoError, match=r'^document 1 has no string "text" field; give each document '):
        Hippo(tmp_path / "idx").index([DOCS[0], {"title": "No text"}])
    assert not (tmp_path / "idx").exists()


def test_llm_openie_through_the_api_uses_the_index_cache(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.json"
    first, second = DOCS[:1], DOCS[1:]
    api_server = ScriptedAPI()
    try:
        for _ in range(2):
            api_server.reply('{"named_entities": ["Marlow Viaduct", "Thomas Keel"]}')
            api_server.reply('{"triples": [["Marlow Viaduct", "designed by", "Thomas Keel"]]}')
        h = Hippo(tmp_path / "idx", llm=api_server.url, settings=IndexSettings(extractor="llm"))
        for records in (first, second, first):  # the third run re-extracts the first passage
            corpus.write_text(json.dumps(records))
            report = h.index([corpus])
            assert (report.passages_extracted, report.extraction_failures) == (1, 0)
        assert len(api_server.requests) == 4  # the third run's two requests came from the cache
    finally:
        api_server.close()
    with IndexStore.open(tmp_path / "idx") as store:
        entities = store.entities()
        facts = {(entities[s], r, entities[o]) for s, r, o in store.facts().values()}
    assert facts == {("marlow viaduct", "designed by", "thomas keel")}


def test_index_command_goes_through_the_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Path, list[object]]] = []
    real = api.Hippo.index

    def spy(self: Hippo, sources: list[object], global_memory: str | None = None) -> object:
        calls.append((self.index_dir, list(sources)))
        return real(self, sources, global_memory)

    monkeypatch.setattr(api.Hippo, "index", spy)
    corpus = tmp_path / "a.txt"
    corpus.write_text("Ada Brennan was born in Dunmore.")
    result = CliRunner().invoke(main, ["index", str(corpus), "--index", str(tmp_path / "idx"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert calls == [(tmp_path / "idx", [corpus])]
