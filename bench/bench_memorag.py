"""MemoRAG clues against the baselines on one dataset: Recall@2/5 and warm p50 latency per
pipeline on an existing index (opened read-only: nothing is indexed), and what the global
memory adds to the index (build time and size, measured on a temporary copy).

    python bench/bench_memorag.py --dataset ../shared/data/musique/musique.json \\
        --corpus ../shared/data/musique/musique_dev_corpus.json --index .hippo-eval/musique

`--pipelines` defaults to dense,hipporag2,memorag,memorag-dense (names or TOML paths);
`--json FILE` saves the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from hippo.api import Hippo
from hippo.bench import query_latency
from hippo.datasets import load_corpus, load_questions
from hippo.evaluate import evaluate
from hippo.memory.global_memory import MEMORY_FILE, update_global_memory
from hippo.store import IndexStore

PIPELINES = "dense,hipporag2,memorag,memorag-dense"


def memory_cost(index_dir: Path, mode: str) -> dict[str, float]:
    """Seconds to build the `mode` memory from scratch and its size, on a copy of the index."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "index"
        shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns(MEMORY_FILE, "*.lock"))
        started = time.perf_counter()
        with IndexStore.open(copy, write=True) as store:
            summary = update_global_memory(copy, store, mode, {})
        seconds = time.perf_counter() - started
        return {"seconds": round(seconds, 1), "bytes": (copy / MEMORY_FILE).stat().st_size, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--pipelines", default=PIPELINES)
    parser.add_argument("--queries", type=int, default=50, help="questions timed per pipeline")
    parser.add_argument("--memory", default="extractive", help="memory mode to time (none: skip)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    pipelines = [p for p in args.pipelines.split(",") if p]
    hippo = Hippo(args.index)
    questions = load_questions(args.dataset)
    report = evaluate(hippo, questions, load_corpus(args.corpus, hippo.context.settings), pipelines)
    texts = [q.question for q in questions[:args.queries]]
    results: dict[str, object] = {"dataset": str(args.dataset), "questions": len(questions), "pipelines": {}}
    for name in pipelines:
        latency = query_latency(hippo, texts, name)
        scores = report.pipelines[name]
        row = {"R@2": round(scores["recall@2"] or 0, 1), "R@5": round(scores["recall@5"] or 0, 1),
               "p50_ms": round(latency.p50_ms, 1), "p95_ms": round(latency.p95_ms, 1)}
        results["pipelines"][name] = row  # type: ignore[index]
        print(f"{name:<16} R@2 {row['R@2']:5.1f}  R@5 {row['R@5']:5.1f}  p50 {row['p50_ms']:7.1f} ms", flush=True)
    if args.memory != "none":
        results["memory"] = memory_cost(args.index, args.memory)
        print(f"memory          {results['memory']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
