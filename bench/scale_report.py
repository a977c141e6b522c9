"""One size's figures for bench/SCALE.md, from the files `bench/scale.sh N DIR` (and, where run,
`bench/scale_add.sh` into DIR/add1k and `bench/bench_neo4j.py --json DIR/neo4j.json`) left in DIR:
indexing seconds and passages/s by stage (the finished runs summed: a resumed run counts each
run's own seconds), peak RSS, disk size, warm query p50 / p95, ANN recall against exact search,
recall on the generated questions, and where bench/scale_full.sh ran them the cold `hippo ask`
processes, the CLI eval, the 1k add and the Neo4j push. Prints Markdown.

    python bench/scale_report.py DIR
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def _json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`; None when it is missing or empty (an interrupted run)."""
    text = path.read_text().strip() if path.exists() else ""
    return json.loads(text) if text else None


def _time_log(path: Path) -> tuple[float, str] | None:
    """(peak RSS in MiB, wall clock) from a `/usr/bin/time -v` log."""
    text = path.read_text() if path.exists() else ""
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    return (int(rss.group(1)) / 1024, wall.group(1) if wall else "?") if rss else None


def indexing_rows(folder: Path, passages: int) -> list[str]:
    """Stage seconds and passages/s summed over the index runs, and the runs' peak RSS."""
    runs = sorted(folder.glob("index-run*.json"), key=lambda p: int(p.stem.removeprefix("index-run")))
    seconds: dict[str, float] = {}
    strings, workers, finished = 0, [], 0
    for run in runs:
        report = _json(run)
        if report is None:
            continue
        finished += 1
        strings += report["strings_embedded"]
        workers += report["worker_peak_rss_mb"]
        for stage, value in report["seconds"].items():
            seconds[stage] = seconds.get(stage, 0.0) + value
    only = " (finished runs only: an interrupted run reports nothing)" if finished < len(runs) else ""
    rows = [f"| index runs (finished / all) | {finished} / {len(runs)} |",
            f"| strings embedded{only} | {strings:,} |"]
    rows += [f"| {stage} | {value:,.1f} s ({passages / value:,.0f} passages/s) |" if value >= 0.05
             else f"| {stage} | {value:.2f} s |" for stage, value in seconds.items()]
    total = sum(seconds.values())
    rows.append(f"| **total**{only} | **{total:,.0f} s ({passages / total:,.1f} passages/s)** |" if total
                else "| total | - |")
    peaks = [p for p in map(_time_log, (run.with_suffix(".log") for run in runs)) if p]
    if peaks:
        rows.append(f"| peak RSS, indexing process (largest run) | {max(rss for rss, _ in peaks):,.0f} MiB |")
        rows.append(f"| wall clock of each run | {', '.join(wall for _, wall in peaks)} |")
    if workers:
        rows.append(f"| peak RSS, an OpenIE worker | {max(workers):,.0f} MiB |")
    return rows


def query_rows(bench: dict[str, Any], ann: dict[str, Any] | None) -> list[str]:
    """Warm latency (`hippo bench`), ANN recall@10 per unit set and the pipelines' recall."""
    rows = [f"| disk size of the index | {bench['index_bytes'] / MIB:,.0f} MiB |"]
    for pipeline, latency in bench["latency"].items():
        stages = ", ".join(f"{k} {v:.1f}" for k, v in latency["stage_ms_mean"].items())
        rows.append(f"| `{pipeline}` warm p50 / p95 (`hippo bench`) | {latency['p50_ms']:.1f} / "
                    f"{latency['p95_ms']:.1f} ms (stage means, ms: {stages}) |")
    rows.append(f"| peak RSS of `hippo bench` | {bench['peak_rss_mb']:,.0f} MiB |")
    if ann is None:
        return rows
    for kind, unit in ann["units"].items():
        rows.append(f"| ANN recall@10, {kind} ({unit['units']:,}) | {unit['recall_at_10']:.3f} (exact "
                    f"{unit['exact_ms_p50']:.2f} ms, ANN {unit['ann_ms_p50']:.2f} ms a query) |")
    for mode, pipelines in ann["pipelines"].items():
        for pipeline, row in pipelines.items():
            rows.append(f"| `{pipeline}`, {mode}: R@2 / R@5, p50 / p95 | {row['R@2']:.1f} / {row['R@5']:.1f}, "
                        f"{row['p50_ms']:.1f} / {row['p95_ms']:.1f} ms |")
    rows.append(f"| peak RSS of bench_ann.py | {ann['peak_rss_mb']:,.0f} MiB |")
    return rows


def cli_rows(folder: Path) -> list[str]:
    """The cold `hippo ask` processes and the CLI eval (bench/scale_full.sh), where they ran."""
    rows = []
    for k, what in ((1, "first (computes what it keeps)"), (2, "second (reads it)")):
        timing = _time_log(folder / f"ask{k}.log")
        if timing:
            rows.append(f"| cold `hippo ask --retrieve-only`, {what} | wall {timing[1]}, "
                        f"peak RSS {timing[0]:,.0f} MiB |")
    report, timing = _json(folder / "eval.json"), _time_log(folder / "eval.log")
    if report is not None and timing:
        recall = ", ".join(f"`{name}` {r['recall@2']:.1f} / {r['recall@5']:.1f}"
                           for name, r in report["pipelines"].items())
        rows.append(f"| `hippo eval` (CLI), {len(report['questions'])} questions: R@2 / R@5 | {recall}; wall "
                    f"{timing[1]}, peak RSS {timing[0]:,.0f} MiB |")
    return rows


def add_rows(folder: Path) -> list[str]:
    """The 1k add's stage seconds, wall clock and peak RSS, where it ran."""
    report = _json(folder / "add1k" / "add.json")
    if report is None:
        return []
    stages = ", ".join(f"{k} {v:.1f}" for k, v in report["seconds"].items())
    timing = _time_log(folder / "add1k" / "add.log")
    wall = f"; wall {timing[1]}, peak RSS {timing[0]:,.0f} MiB" if timing else ""
    return [f"| 1k added (s) | {stages}{wall} |"]


def neo4j_rows(folder: Path) -> list[str]:
    """The Neo4j push runs, where they ran."""
    report = _json(folder / "neo4j.json")
    if report is None:
        return []
    return [f"| Neo4j {run['run']} | {run['elements']:,} elements, {run['written']:,} written, {run['seconds']:,.1f} s "
            f"({run['elements_per_s']:,} elements/s) |" for run in report["runs"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the DIR of bench/scale.sh N DIR")
    args = parser.parse_args()
    bench = _json(args.folder / "bench.json")
    if bench is None:
        parser.error(f"{args.folder}/bench.json: missing; run bench/scale.sh N {args.folder} to the end first")
    passages = int(bench["passages"])
    print(f"| {passages:,} passages | |\n| --- | ---: |")
    rows = [*indexing_rows(args.folder, passages), *query_rows(bench, _json(args.folder / "ann.json")),
            *cli_rows(args.folder), *add_rows(args.folder), *neo4j_rows(args.folder)]
    print("\n".join(rows))
    print(f"\nCPU flags: {' '.join(bench['host']['cpu_flags'])}; igraph PRPACK on the index graph "
          f"{bench['host']['igraph_ppr_ms']:.1f} ms a query ({bench['host']['graph_nodes']:,} nodes, "
          f"{bench['host']['graph_edges']:,} edges)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
