"""Exact search against the ANN index (`hippo.ann`) on one index, in one run.

Per unit set (passages, entities, facts): the ANN's recall@10 against exact search's top 10 and
the search time of one query vector each way; then each pipeline end to end with the snapshot's
ANN indexes off and on: warm p50 / p95 and recall on the questions (`hippo eval`'s R@2 / R@5).
With ANN on, the `ppr` stage corrects its top passages' prior after PPR (its `exact_prior`
setting); a copy of pipelines/hipporag2.toml with `exact_prior = 0` in its ppr stage, passed by
path (`--pipelines hipporag2,dense,COPY.toml`), shows PPR on the uncorrected prior beside it.
An index built below its `ann_threshold` has no ANN index: this script builds one in memory
(timed) over every unit set, so the comparison runs at any size.

    python bench/bench_ann.py --index INDEX --corpus corpus.json --questions questions.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from hippo.ann import UNIT_ARRAYS, build_ann
from hippo.api import Hippo
from hippo.bench import peak_rss_mb, query_latency
from hippo.datasets import load_corpus, load_questions
from hippo.evaluate import evaluate
from hippo.stages.context import UNIT_VECTORS

TOP = 10


def unit_search(vectors: np.ndarray, index: Any, queries: np.ndarray) -> dict[str, float]:
    """Recall@10 of the ANN against exact search, and ms per query vector each way."""
    exact_ms, ann_ms, recall = [], [], []
    for query in queries:
        started = time.perf_counter()
        exact = np.asarray(vectors @ query)
        exact_ms.append(time.perf_counter() - started)
        started = time.perf_counter()
        approximate = index.similarities(vectors, query[None, :])[:, 0]
        ann_ms.append(time.perf_counter() - started)
        want = set(np.argpartition(-exact, TOP)[:TOP].tolist())
        recall.append(len(want & set(np.argpartition(-approximate, TOP)[:TOP].tolist())) / TOP)
    exact_p50, ann_p50 = 1000 * float(np.median(exact_ms)), 1000 * float(np.median(ann_ms))
    return {"units": vectors.shape[0], "recall_at_10": float(np.mean(recall)), "exact_ms_p50": exact_p50,
            "ann_ms_p50": ann_p50, "speedup": exact_p50 / ann_p50}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True, help="the corpus the index was built from (gold ids)")
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=100, help="questions timed per pipeline and mode")
    parser.add_argument("--pipelines", default="hipporag2,dense")
    parser.add_argument("--modes", default="exact,ann",
                        help="search modes run end to end, comma-separated: exact (every vector read per query: at 1M "
                             "passages an estimated ~2 s a hipporag2 query, power-iteration PPR included), ann")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if not args.modes or set(args.modes.split(",")) - {"exact", "ann"}:
        parser.error(f"--modes {args.modes!r}: give exact, ann or exact,ann")

    hippo = Hippo(args.index)
    snapshot = hippo.context.snapshot
    built: dict[str, float] = {}
    for name in UNIT_ARRAYS:
        if name not in snapshot.ann:
            started = time.perf_counter()
            snapshot.ann[name] = build_ann(np.asarray(getattr(snapshot, name)))
            built[name] = time.perf_counter() - started
    indexes = dict(snapshot.ann)
    questions = load_questions(args.questions)
    texts = [q.question for q in questions]
    vectors = hippo.context.encoder.encode(texts[:args.queries])
    units = {kind: unit_search(getattr(snapshot, array), indexes[array], vectors)
             for kind, array in UNIT_VECTORS.items()}
    for kind, row in units.items():
        seconds = built.get(UNIT_VECTORS[kind])
        row["build_s"] = seconds
        print(f"{kind:<9} {row['units']:>9,} units: ANN recall@10 {row['recall_at_10']:.3f}, exact "
              f"{row['exact_ms_p50']:.2f} ms, ANN {row['ann_ms_p50']:.2f} ms per query ({row['speedup']:.1f}x)"
              + (f", built in {seconds:.1f} s" if seconds is not None else ", built at index time"))

    corpus = load_corpus(args.corpus)
    pipelines = args.pipelines.split(",")
    modes: dict[str, Any] = {}
    for mode, ann in (("exact", {}), ("ann", indexes)):
        if mode not in args.modes.split(","):
            continue
        snapshot.ann = ann
        report = evaluate(hippo, questions, corpus, pipelines)
        modes[mode] = {}
        for pipeline in pipelines:
            latency = query_latency(hippo, texts[:args.queries], pipeline)
            recall = report.pipelines[pipeline]
            modes[mode][pipeline] = {"p50_ms": latency.p50_ms, "p95_ms": latency.p95_ms,
                                     "R@2": recall["recall@2"], "R@5": recall["recall@5"]}
            print(f"{mode:<5} {pipeline:<10} p50 {latency.p50_ms:7.1f} ms  p95 {latency.p95_ms:7.1f} ms  R@2 "
                  f"{recall['recall@2']:.1f}  R@5 {recall['recall@5']:.1f}  ({len(questions)} questions)")
    print(f"peak RSS {peak_rss_mb():.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps({"units": units, "pipelines": modes, "peak_rss_mb": peak_rss_mb()}, indent=2))


if __name__ == "__main__":
    main()
