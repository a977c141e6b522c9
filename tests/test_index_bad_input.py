"""One bad file or passage never blocks the rest of a corpus, and its warning reaches the user:
on its own stderr line, with or without --quiet, counted in the summary and the JSON report."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from hippo import indexer
from hippo.cli import main
from hippo.config import IndexSettings
from hippo.corpus import Passage
from hippo.extract import Extraction, register_extractor
from hippo.extract.spacy_ie import SpacyExtractor
from hippo.indexer import Indexer
from hippo.models import load_spacy
from hippo.snapshot import snapshot_exists
from hippo.stats import index_stats
from hippo.store import IndexStore

GOOD = {
    "curie.txt": "Marie Curie was born in Warsaw. She won two Nobel Prizes.",
    "keel.txt": "Thomas Keel designed the Marlow Viaduct. He trained under Samuel Pike.",
}


def _corpus(tmp_path: Path, **extra: bytes) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in GOOD.items():
        (corpus / name).write_text(text)
    for name, data in extra.items():
        (corpus / name.replace("_", ".")).write_bytes(data)
    return corpus


def _index(corpus: Path, index: Path, *options: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["index", str(corpus), "--index", str(index), *options])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout, result.stderr


def test_a_huge_unpunctuated_file_is_cut_and_the_others_indexed(tmp_path: Path) -> None:
    blob = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(19_000)).encode()  # 1.2 MB
    corpus = _corpus(tmp_path, dump_txt=blob)
    code, out, err = _index(corpus, tmp_path / "idx", "--quiet", "--chunk-words", "500")
    assert code == 0, err
    assert f"warning: {corpus / 'dump.txt'}: 24320 words without sentence punctuation" in err
    stats = index_stats(tmp_path / "idx")
    assert stats["documents"] == 3 and stats["passages"] == 2 + 49
    assert snapshot_exists(tmp_path / "idx")
    with IndexStore.open(tmp_path / "idx") as store:
        entities = set(store.entities().values())
    assert {"marie curie", "warsaw", "thomas keel"} <= entities
    assert "failed" not in out and "graph rebuilt" in out


def test_spacy_is_never_handed_more_than_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load_spacy(), "max_length", 2_000)
    filler = "The river runs past the old mill and under the bridge. " * 60  # 3,300 characters
    text = f"Ada Brennan was born in Dunmore. {filler}Thomas Keel lived in Marlow."
    (extraction,) = SpacyExtractor().extract([Passage("p", "", text)])
    assert extraction.error is None
    assert {"ada brennan", "dunmore", "thomas keel", "marlow"} <= set(extraction.entities)


class _FailsOn:
    """An extractor that raises for passages containing a marker word (like spaCy's E088)."""

    name = "fails-on"

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        if any("POISON" in p.text for p in passages):
            raise ValueError("[E088] Text of length 1200000 exceeds maximum of 1000000.\nmore detail")
        return [Extraction(entities=(p.title.lower(),)) for p in passages]


class _FailsOnLater(_FailsOn):
    """The same, started ahead like spaCy's worker processes: the error comes when collected."""

    def submit(self, passages: Sequence[Passage]) -> Callable[[], list[Extraction]]:
        return lambda: self.extract(passages)


@pytest.mark.parametrize("extractor", [_FailsOn, _FailsOnLater])
def test_a_failing_passage_is_a_warning_and_the_others_are_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extractor: type[_FailsOn]
) -> None:
    monkeypatch.setattr(indexer, "EXTRACT_BATCH", 2)  # three batches, the failing one in the middle
    register_extractor("fails-on", lambda workers=1, **_: extractor())
    corpus = tmp_path / "corpus.jsonl"
    records = [{"title": f"T{i}", "text": f"Text {i}" + (" POISON" if i == 3 else "")} for i in range(6)]
    corpus.write_text("\n".join(json.dumps(r) for r in records))
    warnings: list[str] = []
    settings = IndexSettings(extractor="fails-on")
    report = Indexer(tmp_path / "idx", settings, quiet=True, warn=warnings.append).run([corpus])
    assert (report.passages_extracted, report.extraction_failures) == (5, 1)
    assert warnings == [f"passage {records_id(records[3])} ('T3'): extraction failed: "
                        "ValueError: [E088] Text of length 1200000 exceeds maximum of 1000000."]
    assert report.graph_rebuilt and snapshot_exists(tmp_path / "idx")
    assert "1 passage failed extraction (a re-run retries it)" in report.summary()

    again = Indexer(tmp_path / "idx", settings, quiet=True, warn=warnings.append).run([corpus])
    assert (again.passages_extracted, again.extraction_failures) == (0, 1)  # retried, failed again


def records_id(record: dict[str, str]) -> str:
    from hippo.corpus import passage_id

    return passage_id(record["title"], record["text"])


def test_quiet_hides_progress_only_warnings_and_summary_count_skipped_files(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, binary_txt=b"\x00\x01\x02")
    code, out, err = _index(corpus, tmp_path / "idx", "--quiet")
    assert code == 0
    assert err.splitlines() == [f"warning: {corpus / 'binary.txt'}: looks binary (NUL bytes); "
                                "skipped — remove it or convert to text"]
    assert "3 files (2 new/changed" in out and "1 file skipped" in out

    (corpus / "binary.txt").write_bytes(b"\x00\x03")
    code, out, err = _index(corpus, tmp_path / "idx", "--json")
    report = json.loads(out)
    assert (report["files_skipped"], report["files_unchanged"]) == (1, 2)
    assert report["warnings"] == [err.strip().removeprefix("warning: ")]


def test_warnings_get_their_own_line_beside_progress_bars(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, empty_txt=b"", binary_txt=b"\x00")
    code, _, err = _index(corpus, tmp_path / "idx")
    assert code == 0
    segments = [s.strip() for s in re.split(r"[\r\n]", err)]
    warned = [s for s in segments if "warning:" in s]
    assert len(warned) == 2 and all(s.startswith("warning: ") for s in warned), warned


def test_json_nested_too_deep_to_parse_is_skipped_with_a_warning(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, deep_json=b"[" * 200_000 + b"]" * 200_000)
    code, out, err = _index(corpus, tmp_path / "idx", "--quiet")
    assert code == 0
    assert err.splitlines() == [f"warning: {corpus / 'deep.json'}: cannot be read (maximum recursion depth "
                                "exceeded while decoding a JSON array from a unicode string); skipped"]
    assert "1 file skipped" in out and index_stats(tmp_path / "idx")["documents"] == 2
