"""The ONNX Runtime encoder against the torch float32 reference: the same vectors within a stated
cosine, the same rankings on the sample corpus, a reused and self-repairing export cache, and
`--encoder` errors in one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hippo import onnx_encoder
from hippo.api import Hippo
from hippo.cli import main
from hippo.corpus import passage_string
from hippo.datasets import load_questions
from hippo.embed import Encoder
from hippo.model_cache import cache_root
from hippo.models import embedding_model_path
from hippo.onnx_encoder import OnnxEncoder, exported_model
from hippo.snapshot import load_snapshot
from hippo.stats import index_stats

from .conftest import SAMPLE, SAMPLE_QUESTIONS

MODEL = "all-MiniLM-L6-v2"
# Stated bounds (README "Speed"): fp32 ONNX is the torch graph; int8 quantizes its matmuls.
FP32_MIN_COSINE = 0.9999
INT8_MEAN_COSINE = 0.985
INT8_MIN_COSINE = 0.95
RANK_AGREES = 4


@pytest.fixture(scope="module")
def sample_strings(sample_index: Path) -> list[str]:
    """What indexing the sample embeds: its passage, entity and fact strings."""
    snapshot = load_snapshot(sample_index)
    texts = [passage_string(snapshot.passage(i)) for i in range(len(snapshot.passage_ids))]
    return texts + list(snapshot.entity_names) + [snapshot.fact_text(i) for i in range(len(snapshot.fact_ids))]


@pytest.fixture(scope="module")
def torch_vectors(sample_strings: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(embedding_model_path(MODEL), device="cpu", local_files_only=True)
    model.max_seq_length = 256
    return model.encode(sample_strings, normalize_embeddings=True, convert_to_numpy=True)


def test_onnx_vectors_match_torch_float32(sample_strings: list[str], torch_vectors: np.ndarray) -> None:
    path = embedding_model_path(MODEL)
    fp32 = (OnnxEncoder(path, "fp32").encode(sample_strings) * torch_vectors).sum(axis=1)
    int8 = (OnnxEncoder(path, "int8").encode(sample_strings) * torch_vectors).sum(axis=1)
    assert fp32.min() >= FP32_MIN_COSINE
    assert int8.mean() >= INT8_MEAN_COSINE and int8.min() >= INT8_MIN_COSINE


def test_encoder_runtimes_share_the_interface(sample_strings: list[str]) -> None:
    onnx, torch = Encoder(MODEL), Encoder(MODEL, runtime="torch")
    assert onnx.runtime == "onnx" and onnx.dim == torch.dim == 384
    vectors = onnx.encode(sample_strings[:5])
    assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert onnx.encode([]).shape == (0, 384)


def test_onnx_and_torch_indexes_rank_the_sample_alike(sample_index: Path, tmp_path: Path) -> None:
    """An index built and queried with onnx (the default) and one with torch: for every sample
    question and pipeline, the same first RANK_AGREES passages in order and the same gold
    passages in the top 5 and top 10 (below the top 4 the 22-passage sample has near-ties,
    e.g. dense cosines 0.01 apart, that int8 may swap)."""
    assert index_stats(sample_index)["encoder"] == "onnx"
    torch_hippo = Hippo(tmp_path / "torch", encoder="torch")
    torch_hippo.index([SAMPLE])
    assert index_stats(tmp_path / "torch")["encoder"] == "torch"
    onnx_hippo = Hippo(sample_index)
    for pipeline in ("hipporag2", "dense"):
        for question in load_questions(SAMPLE_QUESTIONS):
            ours = [p.title for p in onnx_hippo.retrieve(question.question, pipeline, top_k=10).passages]
            theirs = [p.title for p in torch_hippo.retrieve(question.question, pipeline, top_k=10).passages]
            assert ours[:RANK_AGREES] == theirs[:RANK_AGREES], (pipeline, question.question)
            for k in (5, 10):
                gold = {g.title for g in question.gold}
                assert gold & set(ours[:k]) == gold & set(theirs[:k]), (pipeline, question.question, k)


def test_the_export_is_reused_and_a_damaged_one_rebuilt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    model = Path(embedding_model_path(MODEL))
    entry = exported_model(model)  # the user cache the sample index already filled
    monkeypatch.setattr(onnx_encoder, "_export", _no_export)
    assert exported_model(model) == entry  # intact: not exported again

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    copy = cache_root() / "onnx" / entry.name
    shutil.copytree(entry, copy)
    int8 = copy / "model-int8.onnx"
    int8.write_bytes(int8.read_bytes()[:1000])  # a truncated file, as a crash or a full disk leaves
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert exported_model(model) == copy
    assert int8.stat().st_size == (entry / "model-int8.onnx").stat().st_size
    assert [p.name for p in copy.parent.iterdir()] == [copy.name]  # no staging or damaged copies left


def _no_export(model_dir: Path, target: Path) -> None:
    raise AssertionError("exported again")


@pytest.mark.parametrize("command", [["index", str(SAMPLE)], ["ask", "Who?"], ["bench"]])
def test_an_unknown_encoder_is_one_line(command: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [*command, "--index", str(tmp_path / "idx"), "--encoder", "tensorflow"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "--encoder 'tensorflow' is unknown; choose one of: onnx, torch" in result.stderr
