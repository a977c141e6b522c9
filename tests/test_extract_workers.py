"""spaCy OpenIE in worker processes gives exactly what one process gives, and a parallel
index run builds the same graph as a serial one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hippo import indexer
from hippo.corpus import read_passages
from hippo.extract.spacy_ie import SpacyExtractor
from hippo.indexer import Indexer
from hippo.snapshot import load_snapshot
from hippo.stats import index_stats
from tests.conftest import SAMPLE


def test_worker_processes_extract_what_one_process_does() -> None:
    path = SAMPLE / "encyclopedia.json"
    _, passages = read_passages(path, path.read_bytes(), 120, 1)
    serial = SpacyExtractor().extract(passages)
    parallel = SpacyExtractor(workers=2)
    try:
        assert parallel.extract(passages) == serial
        assert parallel.extract(passages[:3]) == serial[:3]  # the pool is reused; a ragged split
    finally:
        parallel.close()
    assert any(e.triples for e in serial)


def test_parallel_index_equals_serial(
    sample_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexer, "PARALLEL_MIN_PASSAGES", 0)
    Indexer(tmp_path / "parallel", quiet=True, workers=2).run([SAMPLE])
    assert index_stats(tmp_path / "parallel") | {"index_bytes": 0} == index_stats(sample_index) | {"index_bytes": 0}
    serial, parallel = load_snapshot(sample_index), load_snapshot(tmp_path / "parallel")
    assert parallel.entity_names == serial.entity_names
    assert np.array_equal(parallel.edge_src, serial.edge_src) and np.array_equal(parallel.edge_dst, serial.edge_dst)
