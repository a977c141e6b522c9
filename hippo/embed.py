"""Sentence embeddings, on ONNX Runtime (default) or torch, and cosine top-k search over them.

`onnx` runs the model's int8 ONNX export (`hippo.onnx_encoder`), made once per model in a user
cache; `torch` runs it with sentence-transformers (bfloat16 autocast where oneDNN has bf16). The
two give vectors within the cosine the README states, so an index built with one can be queried
with the other; an index records the encoder it was built with and queries use that one unless
told otherwise."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import Any

import numpy as np

from hippo.config import DEFAULT_ENCODER, ENCODERS
from hippo.errors import HippoError
from hippo.models import embedding_model_path

MAX_SEQ_LENGTH = 256


def text_key(text: str) -> str:
    """Cache key of a string's embedding."""
    return hashlib.sha1(text.encode()).hexdigest()[:20]


class Encoder:
    """Encodes strings to unit-length float32 vectors with one sentence-transformers model, on
    the `runtime` given ("onnx" or "torch")."""

    def __init__(self, model_name: str, batch_size: int = 128, runtime: str = DEFAULT_ENCODER,
                 bulk: bool = False) -> None:
        """`bulk`: for indexing, which encodes many strings with the cores to itself (ONNX
        Runtime runs on every core, its threads spin-waiting between operations). Queries leave
        it off: one thread, which encodes a question faster than two (2.6 against 3.2 ms on
        2Wiki questions, int8) and leaves the other cores to concurrent queries and PPR."""
        if runtime not in ENCODERS:
            raise HippoError(f"--encoder {runtime!r} is unknown; choose one of: {', '.join(ENCODERS)}")
        self.model_name = model_name
        self.batch_size = batch_size
        self.runtime = runtime
        self._model = _load_onnx(model_name, bulk) if runtime == "onnx" else _load_model(model_name)

    @property
    def dim(self) -> int:
        if self.runtime == "onnx":
            return self._model.dim
        model = self._model
        return int((getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)())

    def encode_each(self, chunks: Iterable[Sequence[str]]) -> Iterator[np.ndarray]:
        """`encode` of each chunk, in order (`hippo.ray_index.RayEncoder` runs them in parallel)."""
        for chunk in chunks:
            yield self.encode(chunk)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 array of L2-normalized embeddings."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.runtime == "onnx":
            return self._model.encode(texts, self.batch_size)
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=_cpu_has_bf16()):
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


@cache
def _cpu_has_bf16() -> bool:
    """Whether oneDNN runs bfloat16 matmuls on this CPU (AVX-512 and newer): embedding runs
    faster there with cosines that match float32 closely; older CPUs stay float32."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@cache
def _load_onnx(model_name: str, bulk: bool) -> Any:
    try:
        from hippo.onnx_encoder import OnnxEncoder
    except ModuleNotFoundError as err:
        if err.name not in ("onnxruntime", "tokenizers"):
            raise
        raise HippoError(f"the onnx encoder needs {err.name}: run `pip install onnxruntime onnx tokenizers` "
                         "or use --encoder torch") from None
    return OnnxEncoder(embedding_model_path(model_name), max_length=MAX_SEQ_LENGTH, threads=None if bulk else 1,
                       spin=bulk)


@cache
def _load_model(model_name: str) -> Any:
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    path = embedding_model_path(model_name)
    try:
        model = SentenceTransformer(path, device="cpu", local_files_only=True)
    except (OSError, ValueError) as err:  # no such model; a folder without a model in it
        raise HippoError(
            f"embedding model {model_name!r} cannot be loaded ({err.__class__.__name__}); "
            "use the bundled all-MiniLM-L6-v2 or a local sentence-transformers model folder"
        ) from None
    model.max_seq_length = min(model.max_seq_length or MAX_SEQ_LENGTH, MAX_SEQ_LENGTH)
    return model


def top_k(matrix: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine scores of the k rows of `matrix` most similar to `query`, best first."""
    if matrix.shape[0] == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    scores = matrix @ query
    k = min(k, scores.shape[0])
    best = np.argpartition(-scores, k - 1)[:k]
    order = best[np.argsort(-scores[best], kind="stable")]
    return order, scores[order]
