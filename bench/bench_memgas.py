"""MemGAS figures beyond `hippo eval`: recall_any@5 on the dev and test parts of LoCoMo, the
router's weights per question category, indexing time per session and query latency.

    python bench/bench_memgas.py --results bench/results/locomo.json --indexes .hippo-eval/locomo10

`--results` are `hippo eval --json` outputs on LoCoMo (bench/locomo.sh writes one; several
files, e.g. from runs of different pipelines, are merged); the dev part (the first two
conversations, conv-26 and conv-30) is where memgas's settings were chosen, the test part
(the other five) is reported apart.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from hippo import Hippo

DEV = ("conv-26", "conv-30")
METRIC = "recall_any@5"


def merged(runs: list[dict]) -> dict:
    """One eval document holding the pipelines of several runs over the same questions."""
    first = runs[0]
    for run in runs[1:]:
        first["pipelines"].update(run["pipelines"])
        for row, other in zip(first["questions"], run["questions"], strict=True):
            row["pipelines"].update(other["pipelines"])
        first["index_seconds_per_session"] = first.get("index_seconds_per_session") or \
            run.get("index_seconds_per_session")
    return first


def split_scores(results: dict) -> dict[str, dict[str, float]]:
    """recall_any@5 per pipeline on dev and test, categories 1-4 (adversarial apart)."""
    out: dict[str, dict[str, float]] = {}
    for name in results["pipelines"]:
        parts: dict[str, list[float]] = defaultdict(list)
        for row in results["questions"]:
            scores = row["pipelines"][name]
            if METRIC not in scores:
                continue
            adversarial = row["category"] == 5
            part = "dev" if row["conversation"] in DEV else "test"
            parts[f"{part}{'-adversarial' if adversarial else ''}"].append(scores[METRIC])
        out[name] = {part: round(statistics.fmean(v), 1) for part, v in sorted(parts.items())}
        out[name].update({f"n_{part}": len(v) for part, v in parts.items()})
    return out


def routing(results: dict, indexes: Path, pipeline: str, latency_queries: int) -> tuple[dict, dict]:
    """Mean routing weight per granularity per category (all questions, batched per
    conversation) and warm single-query latency over the first `latency_queries` questions."""
    weights: dict[int, list[dict[str, float]]] = defaultdict(list)
    by_conversation: dict[str, list[dict]] = defaultdict(list)
    for row in results["questions"]:
        by_conversation[row["conversation"]].append(row)
    hippos = {c: Hippo(indexes / c) for c in by_conversation}
    for conversation, rows in by_conversation.items():
        retrieved = hippos[conversation].retrieve_many([r["question"] for r in rows], pipeline=pipeline)
        for row, result in zip(rows, retrieved, strict=True):
            entry = next(t for t in result.trace if t["stage"] == "route")
            weights[row["category"]].append({g["granularity"]: g["weight"] for g in entry["granularities"]})
    times = []
    for row in results["questions"][:latency_queries]:
        started = time.perf_counter()
        hippos[row["conversation"]].retrieve(row["question"], pipeline=pipeline, top_k=10)
        times.append(1000 * (time.perf_counter() - started))
    table = {str(c): {g: round(float(np.mean([w[g] for w in ws])), 3) for g in ws[0]}
             for c, ws in sorted(weights.items())}
    latency = {"queries": len(times), "p50_ms": round(float(np.percentile(times, 50)), 1),
               "p95_ms": round(float(np.percentile(times, 95)), 1)}
    return table, latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, nargs="+", required=True)
    parser.add_argument("--indexes", type=Path, required=True)
    parser.add_argument("--pipeline", default="memgas")
    parser.add_argument("--latency-queries", type=int, default=50)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results = merged([json.loads(path.read_text()) for path in args.results])
    splits = split_scores(results)
    print(f"{METRIC} (categories 1-4; dev = {', '.join(DEV)}, test = the rest)")
    for name, parts in splits.items():
        print(f"  {name:40s} dev {parts.get('dev', '-'):>5}  test {parts.get('test', '-'):>5}  "
              f"adversarial test {parts.get('test-adversarial', '-'):>5}")
    weights, latency = routing(results, args.indexes, args.pipeline, args.latency_queries)
    print(f"mean routing weight per category ({args.pipeline})")
    for category, row in weights.items():
        print(f"  {category}: " + "  ".join(f"{g} {w:.3f}" for g, w in row.items()))
    per_session = results.get("index_seconds_per_session", {})
    print(f"query latency: p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms ({latency['queries']} queries, warm)")
    if per_session:
        print("indexing seconds per session: " + ", ".join(f"{c} {s:.1f}" for c, s in per_session.items()))
    if args.json:
        args.json.write_text(json.dumps({"splits": splits, "weights": weights, "latency": latency,
                                         "index_seconds_per_session": per_session}, indent=2) + "\n")


if __name__ == "__main__":
    main()
