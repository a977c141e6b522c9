"""spaCy OpenIE in worker processes gives exactly what one process gives, and a parallel
index run builds the same graph as a serial one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hippo import indexer
from hippo.corpus import read_passages
from hippo.extract.spacy_ie import SpacyExtractor, _extract_doc, extract_texts
from hippo.indexer import Indexer
from hippo.models import load_spacy
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


def test_lemmas_made_on_demand_give_the_lemmatizer_s_triples() -> None:
    """extract_texts skips the pipeline's lemmatizer and lemmatizes the few tokens relations need."""
    path = SAMPLE / "encyclopedia.json"
    _, passages = read_passages(path, path.read_bytes(), 120, 1)
    nlp = load_spacy()
    full = [_extract_doc(doc, p.title) for doc, p in zip(nlp.pipe(p.text for p in passages), passages, strict=True)]
    assert extract_texts([(p.text, p.title) for p in passages]) == full
    relations = {t.relation for e in full for t in e.triples}
    assert {"bear in", "design by"} <= relations  # lemmas: "born" -> "bear", "designed" -> "design"


def test_spacy_multiplies_matrices_through_numpy() -> None:
    assert not load_spacy().get_pipe("ner").model.ops.use_blis


def test_parallel_index_equals_serial(
    sample_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexer, "PARALLEL_MIN_PASSAGES", 0)
    Indexer(tmp_path / "parallel", quiet=True, workers=2).run([SAMPLE])
    assert index_stats(tmp_path / "parallel") | {"index_bytes": 0} == index_stats(sample_index) | {"index_bytes": 0}
    serial, parallel = load_snapshot(sample_index), load_snapshot(tmp_path / "parallel")
    assert parallel.entity_names == serial.entity_names
    assert np.array_equal(parallel.edge_src, serial.edge_src) and np.array_equal(parallel.edge_dst, serial.edge_dst)


def test_the_command_line_module_imports_no_command_until_one_runs() -> None:
    """A worker spawned from the `hippo` console script re-imports the script, hence `hippo.cli`:
    that import must not pull in the commands' libraries (it once cost each worker ~120 MiB and
    its start-up ~2 s)."""
    probe = "import sys, hippo.cli; print(' '.join(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(run.stdout.split())
    assert "click" in loaded
    assert not loaded & {"numpy", "scipy", "sklearn", "neo4j", "bm25s", "hippo.cli.index", "hippo.cli.ask"}


def test_asking_imports_no_scikit_learn() -> None:
    """`hippo ask` loads the API, and through it the indexer and the memory modules; scikit-learn
    (~1-2 s to import) serves only indexing (GMM association) and BM25's stop words, imported
    when those run."""
    probe = "import sys, hippo.cli.ask; print(' '.join(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "hippo.api" in run.stdout.split() and "sklearn" not in run.stdout.split()
