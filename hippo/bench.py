"""`hippo bench`: indexing throughput per stage, warm query latency per pipeline, PPR time
per query, peak memory and index size on disk, beside a reference timed in the same run on the
same host (igraph's PRPACK on the index's graph) and the CPU's vector instruction sets, so
figures from hosts of different speeds can be compared."""

from __future__ import annotations

import platform
import re
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hippo.indexer import IndexReport
from hippo.snapshot import load_snapshot
from hippo.stats import index_stats
from hippo.store import IndexStore

INDEX_STAGES = ("read", "extract", "embed", "graph", "memory", "global_memory")


class _Retrieval(Protocol):
    trace: list[dict[str, Any]]


class Benchable(Protocol):
    """What the benchmark needs from `hippo.api.Hippo`."""

    def retrieve(self, question: str, pipeline: str = ..., top_k: int = ...) -> _Retrieval:
        ...


@dataclass
class LatencyStats:
    """Per-query wall time of one pipeline, models warm, in milliseconds."""

    queries: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    ppr_ms_mean: float | None  # None when the pipeline has no ppr stage
    stage_ms_mean: dict[str, float] = field(default_factory=dict)  # per stage, in pipeline order


@dataclass
class HostReference:
    """What the host is: its vector instruction sets and a fixed workload timed in this run."""

    cpu_flags: list[str]  # avx2, avx512*, amx*, avx_vnni ... as /proc/cpuinfo names them
    igraph_ppr_ms: float  # igraph PRPACK personalized PageRank on the index's graph, ms per query
    graph_nodes: int
    graph_edges: int


@dataclass
class BenchReport:
    """Everything `hippo bench` measures."""

    index_dir: str
    passages: int
    index_bytes: int
    indexing: dict[str, dict[str, float]] = field(default_factory=dict)  # stage -> seconds, passages_per_s
    latency: dict[str, LatencyStats] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    worker_peak_rss_mb: list[float] = field(default_factory=list)  # each OpenIE worker's, when this process indexed
    host: HostReference | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able dict of the report."""
        return asdict(self)


def indexing_throughput(report: IndexReport, passages: int) -> dict[str, dict[str, float]]:
    """Seconds and passages/s of each stage that did work in `report` (an index of `passages`)."""
    changed = report.files_changed > 0 or report.graph_rebuilt
    did_work = {"read": report.files_changed > 0, "extract": report.passages_extracted > 0,
                "embed": report.strings_embedded > 0, "graph": report.graph_rebuilt, "memory": changed,
                "global_memory": changed}
    stages = {
        stage: {"seconds": report.seconds[stage], "passages_per_s": passages / max(report.seconds[stage], 1e-9)}
        for stage in INDEX_STAGES if did_work[stage] and stage in report.seconds
    }
    if stages:
        total = sum(report.seconds.get(stage, 0.0) for stage in INDEX_STAGES)
        stages["total"] = {"seconds": total, "passages_per_s": passages / max(total, 1e-9)}
    return stages


def query_latency(retriever: Benchable, queries: Sequence[str], pipeline: str, top_k: int = 10) -> LatencyStats:
    """Times `retriever.retrieve` per query after one untimed warm-up query (loads models)."""
    if not queries:
        raise ValueError("latency needs at least one query")
    retriever.retrieve(queries[0], pipeline=pipeline, top_k=top_k)
    times: list[float] = []
    stages: dict[str, list[float]] = {}
    for query in queries:
        started = time.perf_counter()
        result = retriever.retrieve(query, pipeline=pipeline, top_k=top_k)
        times.append(time.perf_counter() - started)
        for entry in result.trace:
            if "stage" in entry and "seconds" in entry:
                stages.setdefault(entry["stage"], []).append(entry["seconds"])
    ms = 1000 * np.asarray(times)
    stage_ms = {stage: 1000 * float(np.sum(seconds)) / len(queries) for stage, seconds in stages.items()}
    return LatencyStats(
        queries=len(queries), p50_ms=float(np.percentile(ms, 50)), p95_ms=float(np.percentile(ms, 95)),
        mean_ms=float(ms.mean()), ppr_ms_mean=1000 * float(np.mean(stages["ppr"])) if "ppr" in stages else None,
        stage_ms_mean=stage_ms,
    )


def sample_queries(index_dir: Path, count: int) -> list[str]:
    """`count` passage titles spread evenly over the index, as queries when none are given."""
    with IndexStore.open(index_dir) as store:
        titles = [p.title for p in store.passages() if p.title]
    if not titles:
        return []
    step = max(len(titles) // count, 1)
    return titles[::step][:count]


VECTOR_FLAGS = re.compile(r"avx2|avx512\w*|avx_vnni\w*|amx\w*|fma")


def cpu_flags() -> list[str]:
    """The CPU's vector instruction sets (Linux /proc/cpuinfo); elsewhere, the processor name."""
    try:
        with open("/proc/cpuinfo") as info:
            line = next((line for line in info if line.startswith("flags")), "")
    except OSError:
        return [platform.processor() or platform.machine()]
    flags = sorted(flag for flag in line.partition(":")[2].split() if VECTOR_FLAGS.fullmatch(flag))
    if "avx512f" in flags and not _cpuid_reports("AVX512F"):  # CPUID masked (bench/avx2_only.sh)
        flags = [flag for flag in flags if not flag.startswith(("avx512", "amx", "avx_vnni"))]
    return flags


def _cpuid_reports(feature: str) -> bool:
    """Whether CPUID, as the libraries read it to pick their kernels, reports ``feature`` (numpy's
    names); True where numpy does not say."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy 1.x
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            return True
    return bool(features.get(feature, True))


def host_reference(index_dir: Path, queries: int = 20, damping: float = 0.5) -> HostReference:
    """Times igraph's PRPACK personalized PageRank from `queries` passage nodes spread over the
    index's graph: a fixed workload whose time tracks the host's speed."""
    snapshot = load_snapshot(index_dir)
    graph = snapshot.igraph
    passages = len(snapshot.passage_ids)
    seeds = [int(i) for i in np.linspace(0, max(passages - 1, 0), num=min(queries, passages))]
    graph.personalized_pagerank(reset_vertices=seeds[:1], damping=damping, weights="weight")  # warm-up
    started = time.perf_counter()
    for seed in seeds:
        graph.personalized_pagerank(reset_vertices=[seed], damping=damping, weights="weight")
    seconds = (time.perf_counter() - started) / max(len(seeds), 1)
    return HostReference(cpu_flags(), 1000 * seconds, graph.vcount(), graph.ecount())


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run_bench(
    retriever: Benchable, index_dir: Path, queries: Sequence[str], pipelines: Sequence[str],
    index_report: IndexReport | None = None, progress: Callable[[str], None] | None = None,
) -> BenchReport:
    """Measures the index at `index_dir` and each pipeline's latency over `queries`.

    `index_report` is the report of the run that built the index, if this process built it.
    """
    stats = index_stats(index_dir)
    passages, size = stats["passages"], stats["index_bytes"]
    assert isinstance(passages, int) and isinstance(size, int)
    report = BenchReport(str(index_dir), passages, size)
    if index_report is not None:
        report.indexing = indexing_throughput(index_report, passages)
    for pipeline in pipelines:
        if progress:
            progress(pipeline)
        report.latency[pipeline] = query_latency(retriever, queries, pipeline)
    report.peak_rss_mb = peak_rss_mb()
    if index_report is not None:
        report.worker_peak_rss_mb = index_report.worker_peak_rss_mb
    report.host = host_reference(index_dir)
    return report


def format_bench(report: BenchReport) -> str:
    """The report as aligned lines for a terminal."""
    lines = [f"index        {report.index_dir}: {report.passages} passages, "
             f"{report.index_bytes / 2**20:.1f} MiB on disk"]
    if report.indexing:
        for stage, values in report.indexing.items():
            lines.append(f"index {stage:<7}{values['seconds']:8.1f} s  {values['passages_per_s']:9.1f} passages/s")
    else:
        lines.append("index        up to date: no indexing measured (use --corpus with a fresh --index)")
    for pipeline, lat in report.latency.items():
        ppr = "-" if lat.ppr_ms_mean is None else f"{lat.ppr_ms_mean:.1f} ms"
        lines.append(f"query {pipeline:<12} p50 {lat.p50_ms:7.1f} ms  p95 {lat.p95_ms:7.1f} ms  "
                     f"PPR/query {ppr}  ({lat.queries} queries, warm)")
        if lat.stage_ms_mean:
            lines.append("      stages, mean ms/query: "
                         + ", ".join(f"{stage} {value:.1f}" for stage, value in lat.stage_ms_mean.items()))
    workers = report.worker_peak_rss_mb
    each = f" + OpenIE workers {' + '.join(f'{w:.0f}' for w in workers)} MiB" if workers else ""
    lines.append(f"peak RSS     {report.peak_rss_mb:.0f} MiB{each}")
    if report.host is not None:
        host = report.host
        lines.append(f"host         igraph PRPACK PPR {host.igraph_ppr_ms:.1f} ms/query on this graph "
                     f"({host.graph_nodes} nodes, {host.graph_edges} edges; the same run's reference)")
        lines.append(f"CPU flags    {' '.join(host.cpu_flags) or 'unknown'}")
    return "\n".join(lines)
