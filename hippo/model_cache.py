"""Derived model files (an ONNX export, a dequantized gguf) made once into a user cache.

An entry is `$XDG_CACHE_HOME/hippo/<kind>/<name>-<key>/` (default `~/.cache/hippo`). It is
built in a temporary folder beside it and renamed into place, so two processes building at once
both end with one complete entry; a manifest holds each file's SHA-256, and an entry that does
not match it (a crash mid-copy, a damaged disk) is moved aside and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from hippo.config import XDG_CACHE_HOME
from hippo.errors import HippoError

MANIFEST = "manifest.json"


def cache_root() -> Path:
    """`$XDG_CACHE_HOME/hippo`, else `~/.cache/hippo`."""
    return Path(XDG_CACHE_HOME.get() or Path.home() / ".cache") / "hippo"


def cached_entry(
    kind: str, name: str, key: str, build: Callable[[Path], None], fallback: str, needed: Sequence[str] | None = None,
) -> Path:
    """The intact cache entry `<kind>/<name>-<key>`, made now by `build(folder)` (which writes its
    files into the empty `folder`) when it is missing or damaged. Only the files `needed` are
    checked (None: all of them); `fallback` tells the user what to do when the cache cannot be
    written."""
    entry = cache_root() / kind / f"{name}-{key}"
    if intact(entry, needed):
        return entry
    if entry.exists():
        _remove(entry)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    except OSError as err:
        raise HippoError(f"cannot write the model cache in {entry.parent} ({err.strerror}); set "
                         f"XDG_CACHE_HOME to a writable folder or {fallback}") from None
    try:
        build(staging)
        _write_manifest(staging)
        try:
            staging.rename(entry)
        except OSError:  # another process put its entry there first
            if not intact(entry, needed):
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return entry


def intact(entry: Path, needed: Sequence[str] | None = None) -> bool:
    """Whether the files `needed` (None: every file the manifest names) are there with their
    recorded SHA-256."""
    try:
        recorded = json.loads((entry / MANIFEST).read_text())["files"]
        names = list(recorded) if needed is None else needed
        return bool(names) and all(_sha256(entry / name) == recorded[name] for name in names)
    except (OSError, ValueError, LookupError, TypeError):
        return False


def file_key(*paths: Path, salt: str = "") -> str:
    """A key that changes when any of `paths` (files, or folders' files) or `salt` changes:
    their names, sizes and modification times."""
    digest = hashlib.sha256(salt.encode())
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            stat = path.stat()
            digest.update(f"{path.relative_to(root) if root.is_dir() else path.name} {stat.st_size} "
                          f"{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _write_manifest(folder: Path) -> None:
    """Records every file's SHA-256 and flushes them to disk, so the entry is whole after a crash."""
    files = {str(p.relative_to(folder)): _sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}
    (folder / MANIFEST).write_text(json.dumps({"files": files}, indent=2))
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())


def _remove(entry: Path) -> None:
    """Moves a damaged entry aside, then deletes it (a process still reading it keeps its files)."""
    trash = Path(tempfile.mkdtemp(prefix=f".{entry.name}-old-", dir=entry.parent))
    with contextlib.suppress(OSError):  # another process removed or replaced it meanwhile
        entry.rename(trash / "entry")
    shutil.rmtree(trash, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
