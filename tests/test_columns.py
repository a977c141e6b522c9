"""A snapshot's string columns, read on demand (hippo.columns.StringColumn)."""

from __future__ import annotations

from pathlib import Path

import pytest

import hippo.columns
from hippo.columns import STRINGS, Column, StringColumn, read_column, write_column

TEXTS = ["Ada Lovelace", "", 'a "quoted"\nline', "Zürich — 東京", "last"]


def test_a_string_column_reads_back_by_row_slice_and_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    column = write_column(tmp_path, "names", TEXTS, STRINGS)
    assert read_column(tmp_path, "names", column) == TEXTS  # small: a list
    monkeypatch.setattr(hippo.columns, "LAZY_STRING_ROWS", 2)
    read = read_column(tmp_path, "names", column)
    assert isinstance(read, StringColumn)
    assert len(read) == len(TEXTS)
    assert [read[i] for i in range(len(TEXTS))] == TEXTS
    assert read[-1] == "last" and read[-5] == "Ada Lovelace"
    assert read[1:4] == TEXTS[1:4] and read[::2] == TEXTS[::2] and read[3:1] == []
    assert list(read) == TEXTS and read == TEXTS and read != TEXTS[:-1]
    with pytest.raises(IndexError):
        read[5]


def test_a_snapshot_reads_only_its_own_rows_of_an_appended_column(tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = write_column(tmp_path / "first", "ids", TEXTS[:2], STRINGS)
    second = write_column(tmp_path / "second", "ids", TEXTS[2:], STRINGS, base=(tmp_path / "first", first))
    assert read_column(tmp_path / "first", "ids", first) == TEXTS[:2]
    assert read_column(tmp_path / "second", "ids", second) == TEXTS


def test_a_column_with_fewer_rows_than_its_manifest_says_is_refused(tmp_path: Path) -> None:
    column = write_column(tmp_path, "ids", TEXTS, STRINGS)
    with pytest.raises(ValueError, match="4 strings, 5 expected"):
        read_column(tmp_path, "ids", Column(5, STRINGS, None, column.size - len(b'"last"\n')))
    with pytest.raises(ValueError, match="shorter than"):
        read_column(tmp_path, "ids", Column(5, STRINGS, None, column.size + 1))
