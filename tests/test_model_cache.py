"""The user cache for derived model files: built once, reused, rebuilt when damaged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hippo.errors import HippoError
from hippo.model_cache import cached_entry, file_key, intact


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _builder(calls: list[Path]) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        calls.append(folder)
        (folder / "weights.bin").write_bytes(b"\x01" * 1000)
        (folder / "sub").mkdir()
        (folder / "sub" / "config.json").write_text("{}")

    return build


def test_an_entry_is_built_once_then_reused(cache_home: Path) -> None:
    calls: list[Path] = []
    first = cached_entry("kind", "model", "k1", _builder(calls), "use another option")
    again = cached_entry("kind", "model", "k1", _builder(calls), "use another option")
    assert first == again == cache_home / "hippo" / "kind" / "model-k1"
    assert len(calls) == 1 and intact(first) and (first / "sub" / "config.json").is_file()
    assert [p.name for p in first.parent.iterdir()] == ["model-k1"]  # no staging folder left behind


def test_a_damaged_entry_is_rebuilt() -> None:
    calls: list[Path] = []
    entry = cached_entry("kind", "model", "k1", _builder(calls), "use another option")
    (entry / "weights.bin").write_bytes(b"\x02" * 1000)  # same size, other bytes
    assert not intact(entry)
    assert cached_entry("kind", "model", "k1", _builder(calls), "use another option") == entry
    assert len(calls) == 2 and intact(entry) and (entry / "weights.bin").read_bytes() == b"\x01" * 1000


def test_a_failed_build_leaves_nothing(cache_home: Path) -> None:
    def broken(folder: Path) -> None:
        (folder / "half.bin").write_bytes(b"x")
        raise RuntimeError("conversion failed")

    with pytest.raises(RuntimeError, match="conversion failed"):
        cached_entry("kind", "model", "k1", broken, "use another option")
    assert list((cache_home / "hippo" / "kind").iterdir()) == []


def test_an_unwritable_cache_is_one_line_naming_the_way_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    with pytest.raises(HippoError, match=r"cannot write the model cache in .*set XDG_CACHE_HOME .* or use --x"):
        cached_entry("kind", "model", "k1", _builder([]), "use --x")


def test_the_key_follows_the_files(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"a" * 10)
    key = file_key(model, salt="v1")
    assert file_key(model, salt="v1") == key and file_key(model, salt="v2") != key
    model.write_bytes(b"a" * 11)
    assert file_key(model, salt="v1") != key
