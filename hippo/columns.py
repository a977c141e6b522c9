"""A snapshot's per-unit columns as files a later snapshot shares and appends to.

A numeric column is its rows' raw bytes (C order); a string column is its strings as JSON, one a
line. The snapshot that wrote a column records its shape (`Column`) and reads that many rows
only, so a later snapshot that only adds rows hard-links the file and writes its rows after
them (`write_column` with `base`): the earlier snapshot reads the same bytes as before. An
append interrupted before the new snapshot is named current leaves bytes past the earlier
snapshot's rows, which it never reads and the next append overwrites. Numeric rows are written
a block at a time, never copied whole, and a column already in a file of its own
(a build's vectors, memory-mapped) is linked rather than copied.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Protocol, TypeVar, overload

import numpy as np

STRINGS = "str"  # the dtype name of a string column
BLOCK_BYTES = 1 << 24  # numeric rows written (and read from a memory map) about this many bytes at a time
LAZY_STRING_ROWS = 100_000  # a string column of more rows is read on demand (`StringColumn`), a smaller one whole

ColumnData = np.ndarray | Sequence[str]


@dataclass(frozen=True)
class Column:
    """The shape of a column file as one snapshot wrote it: `rows` rows of `dtype` (a numpy
    dtype name, or `STRINGS`), `width` values a row (None: one value, the array is 1-D), `size`
    bytes."""

    rows: int
    dtype: str
    width: int | None
    size: int

    def to_json(self) -> dict[str, object]:
        """The manifest entry."""
        return asdict(self)


def _strings(data: ColumnData) -> bytes:
    return b"".join(json.dumps(text, ensure_ascii=False).encode("utf-8") + b"\n" for text in data)


def _row_blocks(data: ColumnData, dtype: str) -> Iterator[np.ndarray]:
    """The rows of `data` as `dtype` in C order, about `BLOCK_BYTES` at a time (views where they
    already are)."""
    array = np.asarray(data)
    rows = max(1, BLOCK_BYTES // max(1, array[:1].nbytes))
    for start in range(0, len(array), rows):
        yield np.ascontiguousarray(array[start:start + rows], dtype=dtype)


def _write_rows(handle: IO[bytes], blocks: Iterable[np.ndarray]) -> tuple[int, int]:
    """Writes row `blocks` (C order) at `handle`'s position, one at a time; (rows, bytes) written."""
    rows = size = 0
    for block in blocks:
        handle.write(memoryview(block).cast("B"))
        rows, size = rows + len(block), size + block.nbytes
    return rows, size


def _whole_file(data: ColumnData, dtype: str, folder: Path) -> Path | None:
    """The file `data` maps, where it is exactly that file's bytes as a `dtype` column and lies in
    a sibling of `folder` (the same index: its snapshots share a file one after another, never two
    at once, as each appends after its own rows)."""
    if not isinstance(data, np.memmap) or data.filename is None or data.offset or data.dtype != np.dtype(dtype):
        return None
    path = Path(data.filename)
    same_index = path.parent.parent.resolve() == folder.parent.resolve()
    return path if same_index and data.flags.c_contiguous and os.path.getsize(path) == data.nbytes else None


def write_column(folder: Path, name: str, data: ColumnData, dtype: str,
                 base: tuple[Path, Column] | None = None) -> Column:
    """Writes column `name` into `folder` (synced): `data` alone, or appended to the rows of
    `base` (the folder of the snapshot it extends and its column there), whose file is shared.
    Data that maps a whole file of its own in the same index (and no `base`) is linked to it.
    Returns the column's shape."""
    path = folder / name
    width = None if dtype == STRINGS or np.ndim(data) < 2 else int(np.shape(data)[1])
    source = _whole_file(data, dtype, folder) if base is None else None
    if source is not None:
        link_file(source, path)
        return Column(len(data), dtype, width, os.path.getsize(path))
    start = 0
    if base is not None:
        before, column = base
        if (column.dtype, column.width) != (dtype, width) and column.rows:
            raise ValueError(f"column {name}: cannot append {dtype} x {width} rows to {column.dtype} x {column.width}")
        link_file(before / name, path)
        start = column.size
    with open(path, "r+b" if base is not None else "wb") as handle:
        handle.seek(start)
        if dtype == STRINGS:
            size = handle.write(_strings(data))
        else:
            _, size = _write_rows(handle, _row_blocks(data, dtype))
        handle.truncate()
        sync(handle)
    rows = (base[1].rows if base is not None else 0) + len(data)
    return Column(rows, dtype, width, start + size)


def write_blocks(folder: Path, name: str, blocks: Iterable[np.ndarray], dtype: str, width: int) -> Column:
    """Writes a new numeric column `name` (synced) of `width` values a row from its row `blocks`,
    holding one block at a time. Returns its shape."""
    with open(folder / name, "wb") as handle:
        rows, size = _write_rows(handle, (np.ascontiguousarray(block, dtype=dtype) for block in blocks))
        sync(handle)
    return Column(rows, dtype, width, size)


def sync(handle: IO[bytes] | IO[str]) -> None:
    """Flushes `handle` and has the system write the file to disk."""
    handle.flush()
    os.fsync(handle.fileno())


class RowSegment(Protocol):
    """Something built over the rows `start` to `end` - 1 of a unit set (a name automaton, an
    HNSW index)."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


SegmentT = TypeVar("SegmentT", bound=RowSegment)


def segments_kept(segments: Sequence[SegmentT], rows: int) -> tuple[list[SegmentT], int]:
    """Of `segments` (in row order) over a unit set now `rows` long, those a new snapshot keeps, and
    the first row of the segment it builds: the rows after the last, merged with the last segments
    while they are at most twice its size (so each unit is indexed again a logarithmic number of
    times, and a set has a logarithmic number of segments)."""
    kept = list(segments)
    start = kept[-1].end if kept else 0
    while kept and 2 * (rows - start) >= kept[-1].end - kept[-1].start:
        start = kept.pop().start
    return kept, start


def link_file(source: Path, target: Path) -> None:
    """`target` as a hard link to `source` (a copy where the file system has none)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def read_column(folder: Path, name: str, column: Column) -> ColumnData:
    """The rows snapshot `folder` wrote of column `name`: a read-only memory map (numeric), or
    strings: a list, or past `LAZY_STRING_ROWS` a `StringColumn` (a list is faster to index, which
    a warm query of a small index feels; past that size, parsing it whole costs a cold start
    seconds and the process its memory)."""
    path = folder / name
    if os.path.getsize(path) < column.size:
        raise ValueError(f"{path}: shorter than its {column.size} bytes")
    if column.dtype == STRINGS:
        strings = StringColumn(path, column)
        return strings if column.rows > LAZY_STRING_ROWS else strings[:]
    shape = (column.rows,) if column.width is None else (column.rows, column.width)
    if column.rows == 0:
        return np.zeros(shape, dtype=column.dtype)
    return np.memmap(path, dtype=column.dtype, mode="r", shape=shape)


class StringColumn(Sequence[str]):
    """A string column's rows read on demand from its memory-mapped file, each parsed the first
    time it is asked for: a query reads a few of a large index's millions of names and ids, and
    the process holds their bytes in the page cache rather than as Python strings."""

    def __init__(self, path: Path, column: Column) -> None:
        raw = np.memmap(path, dtype=np.uint8, mode="r", shape=(column.size,)) if column.size else np.zeros(0, np.uint8)
        self._raw = raw
        self._ends = np.flatnonzero(raw == ord("\n"))  # JSON escapes a string's own line breaks
        if self._ends.size != column.rows:
            raise ValueError(f"{path}: {self._ends.size} strings, {column.rows} expected")
        self._parsed: dict[int, str] = {}

    def __len__(self) -> int:
        return int(self._ends.size)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            first, stop, step = index.indices(len(self))
            return self._rows(first, stop) if step == 1 else [self[row] for row in range(first, stop, step)]
        row = index + len(self) if index < 0 else index
        if not 0 <= row < len(self):
            raise IndexError(f"row {index} of {len(self)}")
        text = self._parsed.get(row)
        if text is None:
            text = self._parsed[row] = json.loads(bytes(self._raw[self._start(row):self._ends[row]]))
        return text

    def __iter__(self) -> Iterator[str]:
        """Every row in order, parsed a block of rows at a time."""
        block = 1 << 16
        for first in range(0, len(self), block):
            yield from self._rows(first, min(first + block, len(self)))

    def _start(self, row: int) -> int:
        return int(self._ends[row - 1]) + 1 if row else 0

    def _rows(self, first: int, stop: int) -> list[str]:
        """Rows `first` to `stop` (exclusive) in one JSON parse."""
        if first >= stop:
            return []
        lines = bytes(self._raw[self._start(first):self._ends[stop - 1]])
        return json.loads(b"[" + lines.replace(b"\n", b",") + b"]")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and all(
            a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # equal by value, like a list
