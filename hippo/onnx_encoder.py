"""A sentence-transformers model on ONNX Runtime: exported once from the local model folder
into a user cache, then run with `onnxruntime` and `tokenizers` alone (no torch at run time).

The export (torch, once per model) writes the fp32 graph and an int8 one (dynamic
quantization of the matrix multiplications) into `$XDG_CACHE_HOME/hippo/onnx/<model>-<key>/`
(default `~/.cache/hippo`), built in a temporary folder beside it and renamed into place, so
two processes exporting at once both end with one complete entry. A manifest holds each
file's SHA-256; an entry that does not match it is rebuilt. Pooling is the model's mean of
token embeddings, then L2 normalization, as the torch path computes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from hippo.config import usable_cores
from hippo.errors import HippoError
from hippo.model_cache import cached_entry

EXPORT_RECIPE = 3  # bump when the export changes, so caches made by the old recipe are not used
OPSET = 17
PRECISIONS = ("fp32", "int8")
_FILES = {"fp32": "model.onnx", "int8": "model-int8.onnx"}
EXPORT_INFO = "export.json"  # the source model, the recipe and the vector width
TOKENS_PER_BATCH = 2048  # padded tokens per inference call: less memory than 16384, and measured faster


class OnnxEncoder:
    """Encodes strings with the ONNX export of the sentence-transformers model in `model_dir`."""

    def __init__(self, model_dir: str, precision: str = "int8", max_length: int = 256,
                 threads: int | None = None, spin: bool = False) -> None:
        """`spin`: the runtime's threads spin-wait between operations instead of sleeping (for
        runs of many strings on cores nothing else needs; measured 1.18x strings/s on 2Wiki)."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}")
        entry = exported_model(Path(model_dir), precision)
        self._tokenizer = Tokenizer.from_file(str(entry / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or usable_cores()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        self._session = ort.InferenceSession(str(entry / _FILES[precision]), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dim = int(json.loads((entry / EXPORT_INFO).read_text())["dim"])

    def encode(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        """(len(texts), dim) float32 array of L2-normalized mean-pooled embeddings; strings of
        similar token counts are batched together, at most `batch_size` and TOKENS_PER_BATCH
        padded tokens a batch."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch([t.strip() for t in texts])
        ids = [e.ids for e in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        start = 0
        while start < len(order):
            width = len(ids[order[start]])
            end = start
            while end < len(order) and end - start < batch_size:
                width = max(width, len(ids[order[end]]))
                if (end - start + 1) * width > TOKENS_PER_BATCH and end > start:
                    break
                end += 1
            batch = order[start:end]
            out[batch] = self._run([ids[i] for i in batch])
            start = end
        return out

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, tokens in enumerate(ids):
            input_ids[row, :len(tokens)] = tokens
            mask[row, :len(tokens)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        hidden = self._session.run(None, feed)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def exported_model(model_dir: Path, precision: str = "int8") -> Path:
    """The cache entry holding the ONNX export of `model_dir`, made (or remade, when the
    `precision` graph or the tokenizer is damaged) now if needed."""
    _check_layout(model_dir)
    return cached_entry("onnx", f"{model_dir.parent.name}-{model_dir.name}", model_key(model_dir),
                        lambda target: _export(model_dir, target), "use --encoder torch",
                        needed=(_FILES[precision], "tokenizer.json", EXPORT_INFO))


def model_key(model_dir: Path) -> str:
    """Changes when the model's files or the export recipe change."""
    digest = hashlib.sha256(f"recipe {EXPORT_RECIPE} opset {OPSET}\n".encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file() and "onnx" not in p.parts):
        stat = path.stat()
        digest.update(f"{path.relative_to(model_dir)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _check_layout(model_dir: Path) -> None:
    """A Transformer module at the folder's root, then mean pooling (what the export assumes)."""
    if not (model_dir / "config.json").is_file():
        raise HippoError(f"embedding model {str(model_dir)!r} cannot be loaded (no config.json in it); use the "
                         "bundled all-MiniLM-L6-v2 or a local sentence-transformers model folder")
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        pooling = json.loads((model_dir / modules[1]["path"] / "config.json").read_text())
        ok = (modules[0]["path"] == "" and modules[0]["type"].endswith("Transformer")
              and modules[1]["type"].endswith("Pooling") and pooling.get("pooling_mode_mean_tokens")
              and (model_dir / "tokenizer.json").is_file())
    except (OSError, ValueError, LookupError, TypeError):
        ok = False
    if not ok:
        raise HippoError(f"{model_dir}: the onnx encoder needs a sentence-transformers model with mean pooling "
                         "and a tokenizer.json; use --encoder torch for this model")


def _export(model_dir: Path, target: Path) -> None:
    """Writes the fp32 and int8 graphs, the tokenizer and the export's facts into `target`."""
    fp32, int8 = target / _FILES["fp32"], target / _FILES["int8"]
    with warnings.catch_warnings(), _quiet_logging():  # tracer and quantizer advice, not problems
        warnings.simplefilter("ignore")
        dim = _export_fp32(model_dir, fp32)
        _quantize(fp32, int8)
    shutil.copyfile(model_dir / "tokenizer.json", target / "tokenizer.json")
    info = {"model": str(model_dir), "recipe": EXPORT_RECIPE, "dim": dim}
    (target / EXPORT_INFO).write_text(json.dumps(info, indent=2))


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _export_fp32(model_dir: Path, path: Path) -> int:
    """Exports the transformer (token embeddings out) with torch; returns the width."""
    import torch
    from transformers import AutoModel

    model: Any = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager").eval()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    ids = torch.full((2, 8), 100, dtype=torch.int64)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0  # a padded row, so that the traced graph keeps the attention mask
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    with torch.no_grad():
        torch.onnx.export(
            TokenEmbeddings(), (ids, mask, torch.zeros_like(ids)), str(path), input_names=names,
            output_names=["last_hidden_state"], dynamic_axes={**axes, "last_hidden_state": {0: "batch", 1: "tokens"}},
            opset_version=OPSET, dynamo=False,
        )
    return int(model.config.hidden_size)


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of every matrix multiplication by weights (per channel).
    Recipe 2 kept each layer's feed-forward output fp32 (mean cosine to fp32 on 2Wiki strings
    0.9958 against 0.9925 now); quantizing it too runs 1.5x the strings a second, with every
    shared set's R@5 within 0.5 points (README "Encoder runtimes")."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])
