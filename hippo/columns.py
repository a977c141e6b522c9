"""A snapshot's per-unit columns as files a later snapshot shares and appends to.

A numeric column is its rows' raw bytes (C order); a string column is its strings as JSON, one a
line. The snapshot that wrote a column records its shape (`Column`) and reads that many rows
only, so a later snapshot that only adds rows hard-links the file and writes its rows after
them (`write_column` with `base`): the earlier snapshot reads the same bytes as before. An
append interrupted before the new snapshot is named current leaves bytes past the earlier
snapshot's rows, which it never reads and the next append overwrites.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

STRINGS = "str"  # the dtype name of a string column

ColumnData = np.ndarray | list[str]


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


def _encode(data: ColumnData, dtype: str) -> bytes:
    if dtype == STRINGS:
        return b"".join(json.dumps(text, ensure_ascii=False).encode("utf-8") + b"\n" for text in data)
    return np.ascontiguousarray(data, dtype=dtype).tobytes()


def write_column(folder: Path, name: str, data: ColumnData, dtype: str,
                 base: tuple[Path, Column] | None = None) -> Column:
    """Writes column `name` into `folder` (synced): `data` alone, or appended to the rows of
    `base` (the folder of the snapshot it extends and its column there), whose file is shared.
    Returns the column's shape."""
    path, raw = folder / name, _encode(data, dtype)
    width = None if dtype == STRINGS or np.ndim(data) < 2 else int(np.shape(data)[1])
    start = 0
    if base is not None:
        before, column = base
        if (column.dtype, column.width) != (dtype, width) and column.rows:
            raise ValueError(f"column {name}: cannot append {dtype} x {width} rows to {column.dtype} x {column.width}")
        link_file(before / name, path)
        start = column.size
    with open(path, "r+b" if base is not None else "wb") as handle:
        handle.seek(start)
        handle.write(raw)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())
    rows = (base[1].rows if base is not None else 0) + len(data)
    return Column(rows, dtype, width, start + len(raw))


def link_file(source: Path, target: Path) -> None:
    """`target` as a hard link to `source` (a copy where the file system has none)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def read_column(folder: Path, name: str, column: Column) -> ColumnData:
    """The rows snapshot `folder` wrote of column `name`: a read-only memory map (numeric) or a
    list (strings)."""
    path = folder / name
    if column.dtype == STRINGS:
        with open(path, "rb") as handle:
            raw = handle.read(column.size)
        texts = json.loads(b"[" + raw.rstrip(b"\n").replace(b"\n", b",") + b"]")  # one parse (\n only between)
        if len(texts) != column.rows:
            raise ValueError(f"{path}: {len(texts)} strings, {column.rows} expected")
        return texts
    shape = (column.rows,) if column.width is None else (column.rows, column.width)
    if os.path.getsize(path) < column.size:
        raise ValueError(f"{path}: shorter than its {column.size} bytes")
    if column.rows == 0:
        return np.zeros(shape, dtype=column.dtype)
    return np.memmap(path, dtype=column.dtype, mode="r", shape=shape)
