"""Encoder micro-benchmark: strings/s of the torch and ONNX Runtime encoders in one run, and
each one's cosine to the torch float32 vectors (mean and min) on the same real strings.

    python bench/bench_encoder.py --index INDEX [--strings 3000]   # strings drawn from an index
    python bench/bench_encoder.py --corpus CORPUS.json              # passages and titles of a corpus

With --index the sample keeps the index's mix of passage, entity and fact strings (what
`hippo index` embeds); torch bf16 is the autocast the torch encoder uses where oneDNN has bf16.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hippo.models import embedding_model_path
from hippo.onnx_encoder import OnnxEncoder

MODEL = "all-MiniLM-L6-v2"


def sample_strings(index: Path | None, corpus: Path | None, count: int, seed: int = 0) -> list[str]:
    """`count` distinct strings: an index's passage/entity/fact strings in their proportions,
    or a corpus's passage strings and titles."""
    if index is not None:
        from hippo.corpus import passage_string
        from hippo.snapshot import load_snapshot

        snap = load_snapshot(index)
        texts = [passage_string(snap.passage(i)) for i in range(len(snap.passage_ids))]
        texts += list(snap.entity_names) + [snap.fact_text(i) for i in range(len(snap.fact_ids))]
    else:
        records = json.loads(Path(corpus).read_text()) if corpus else []
        texts = [f"{r['title']}\n{r['text']}" for r in records] + [r["title"] for r in records]
    texts = list(dict.fromkeys(texts))
    return random.Random(seed).sample(texts, min(count, len(texts)))


def torch_encoder(bf16: bool) -> Callable[[list[str]], np.ndarray]:
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(embedding_model_path(MODEL), device="cpu", local_files_only=True)
    model.max_seq_length = 256

    def encode(texts: list[str]) -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return model.encode(texts, batch_size=128, normalize_embeddings=True, convert_to_numpy=True)

    return encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--strings", type=int, default=3000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    texts = sample_strings(args.index, args.corpus, args.strings)
    path = embedding_model_path(MODEL)
    encoders = {
        "torch fp32": torch_encoder(False), "torch bf16": torch_encoder(True),
        "onnx fp32": OnnxEncoder(path, "fp32").encode, "onnx int8": OnnxEncoder(path, "int8").encode,
    }
    rows, reference = {}, None
    for name, encode in encoders.items():
        encode(texts[:64])  # warm-up
        started = time.perf_counter()
        vectors = np.asarray(encode(texts), dtype=np.float32)
        seconds = time.perf_counter() - started
        reference = vectors if reference is None else reference
        cosine = (vectors * reference).sum(axis=1)
        rows[name] = {"seconds": seconds, "strings_per_s": len(texts) / seconds,
                      "cosine_mean": float(cosine.mean()), "cosine_min": float(cosine.min())}
    base = rows["torch fp32"]["strings_per_s"]
    current = rows["torch bf16"]["strings_per_s"]
    print(f"{len(texts)} strings, {sum(map(len, texts)) / len(texts):.0f} chars on average")
    print(f"{'encoder':<11} {'strings/s':>9} {'vs fp32':>8} {'vs bf16':>8} {'cos mean':>9} {'cos min':>8}")
    for name, row in rows.items():
        print(f"{name:<11} {row['strings_per_s']:9.1f} {row['strings_per_s'] / base:7.2f}x "
              f"{row['strings_per_s'] / current:7.2f}x {row['cosine_mean']:9.5f} {row['cosine_min']:8.5f}")
    if args.json:
        args.json.write_text(json.dumps({"strings": len(texts), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
