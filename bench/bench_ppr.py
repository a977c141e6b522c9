"""Benchmark kernels.ppr against igraph PRPACK (one query at a time) and networkx.

Prints per-query milliseconds, queries/s, the speed-up over igraph measured in the same run, and the
accuracy of each kernels backend against PRPACK (max abs difference, top-10 agreement).

    python bench/bench_ppr.py --sizes 10000,200000 [--hippo-index .hippo-eval/2wiki]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import igraph as ig
import networkx as nx
import numpy as np
import scipy.sparse as sp

import hippo_kernels as kernels

REPS = 20  # timed repetitions of one GPU step


def synthetic_graph(n: int, edges_per_node: int, seed: int = 0) -> sp.csr_matrix:
    """Random weighted directed graph, ``edges_per_node * n`` edges with uniform endpoints."""
    rng = np.random.default_rng(seed)
    m = edges_per_node * n
    adjacency = sp.csr_matrix((rng.uniform(0.1, 1.0, m), (rng.integers(0, n, m), rng.integers(0, n, m))), shape=(n, n))
    adjacency.sum_duplicates()
    return adjacency


def query_seeds(n: int, count: int, per_query: int, seed: int = 1) -> np.ndarray:
    """(n, count) seed matrix: ``per_query`` random nodes with random weights per column."""
    rng = np.random.default_rng(seed)
    seeds = np.zeros((n, count))
    for j in range(count):
        seeds[rng.choice(n, per_query, replace=False), j] = rng.uniform(0.5, 1.0, per_query)
    return seeds


def timed(fn: Callable[[], object]) -> tuple[tuple[float, float], object]:
    """Run ``fn``; return ((wall seconds, process CPU seconds), result)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return (time.perf_counter() - wall, time.process_time() - cpu), result


def top10(scores: np.ndarray) -> np.ndarray:
    return np.argsort(-scores, axis=0, kind="stable")[:10]


class Report:
    """Rows for one graph, printed with ratios against the first (igraph) row, wall clock and CPU time."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: list[tuple[str, int, float, float, str]] = []

    def add(self, name: str, batch: int, seconds: tuple[float, float], queries: int, accuracy: str = "") -> None:
        self.rows.append((name, batch, 1000 * seconds[0] / queries, 1000 * seconds[1] / queries, accuracy))

    def print(self) -> None:
        wall0, cpu0 = self.rows[0][2], self.rows[0][3]
        print(f"\n## {self.title}")
        print(
            f"{'method':<24}{'batch':>6}{'ms/query':>10}{'queries/s':>11}{'x igraph':>10}"
            f"{'cpu ms/q':>10}{'x igraph':>10}  accuracy vs PRPACK"
        )
        for name, batch, wall, cpu, accuracy in self.rows:
            print(
                f"{name:<24}{batch:>6}{wall:>10.2f}{1000 / wall:>11.1f}{wall0 / wall:>9.1f}x"
                f"{cpu:>10.2f}{cpu0 / max(cpu, 1e-9):>9.1f}x  {accuracy}"
            )


def accuracy(got: np.ndarray, reference: np.ndarray) -> str:
    same = np.mean([np.array_equal(a, b) for a, b in zip(top10(got).T, top10(reference).T, strict=True)])
    return f"max|diff| {np.abs(got - reference).max():.1e}, top-10 identical {same:.0%}"


def bench_graph(title: str, adjacency: sp.csr_matrix, args: argparse.Namespace) -> None:
    n = adjacency.shape[0]
    batch = query_seeds(n, args.batch, args.seeds_per_query)
    singles = batch[:, : args.single_queries]
    report = Report(f"{title}: {n:,} nodes, {adjacency.nnz:,} edges, damping {args.damping}, tol {args.tol}")

    coo = adjacency.tocoo()
    graph = ig.Graph(n=n, edges=np.column_stack([coo.row, coo.col]), directed=True)
    graph.es["weight"] = coo.data

    def prpack(seed: np.ndarray) -> list[float]:
        return graph.personalized_pagerank(
            directed=True, damping=args.damping, reset=seed, weights="weight", implementation="prpack"
        )

    contiguous = [np.ascontiguousarray(singles[:, j]) for j in range(singles.shape[1])]  # as every backend gets
    prpack(contiguous[0])  # warm-up
    seconds, columns = timed(lambda: [prpack(seed) for seed in contiguous])
    reference = np.array(columns).T
    report.add("igraph PRPACK", 1, seconds, singles.shape[1])

    if n <= args.networkx_max_nodes:
        digraph = nx.from_scipy_sparse_array(adjacency, create_using=nx.DiGraph)
        seed = singles[:, 0]
        personalization = {int(i): float(seed[i]) for i in np.flatnonzero(seed)}
        seconds, ranks = timed(
            lambda: nx.pagerank(digraph, alpha=args.damping, personalization=personalization, tol=args.tol / n)
        )
        scores = np.array([ranks[i] for i in range(n)])
        report.add("networkx pagerank", 1, seconds, 1, accuracy(scores[:, None], reference[:, :1]))

    prepared = kernels.prepare(adjacency)  # built once, as igraph's Graph above
    for backend in ["cpu", "push"] + (["triton"] if args.gpu else []):
        tol = args.push_eps if backend == "push" else args.tol
        for dtype in (np.float64,) if backend == "push" else (np.float64, np.float32):
            name = f"kernels {backend} {np.dtype(dtype).name}"

            def run(seeds: np.ndarray, b: str = backend, t: float = tol) -> np.ndarray:
                return kernels.ppr(prepared, seeds, args.damping, t, backend=b)

            typed_singles = [singles[:, j].astype(dtype) for j in range(singles.shape[1])]
            typed_batch = batch.astype(dtype)
            run(typed_singles[0])  # warm-up (imports, kernel compilation)
            seconds, got = timed(lambda r=run, s=typed_singles: [r(seed) for seed in s])
            report.add(name, 1, seconds, singles.shape[1], accuracy(np.array(got).T, reference))
            run(typed_batch)  # warm-up: a fresh process's first pages of this size cost more on some hosts
            seconds, got = timed(lambda r=run, b=typed_batch: r(b))
            report.add(name, batch.shape[1], seconds, batch.shape[1], accuracy(got[:, : singles.shape[1]], reference))
    report.print()
    if args.gpu:
        print_bandwidth(adjacency, batch, args)


def print_bandwidth(adjacency: sp.csr_matrix, batch: np.ndarray, args: argparse.Namespace) -> None:
    """Achieved memory bandwidth of the Triton step (lower bound: every gathered row read once from DRAM)."""
    import torch

    from hippo_kernels.triton_ppr import make_step

    props = torch.cuda.get_device_properties(0)
    peak = args.peak_gbs or 2 * props.memory_clock_rate * 1e3 * props.memory_bus_width / 8 / 1e9
    n, nnz = adjacency.shape[0], adjacency.nnz
    out_weight = np.asarray(adjacency.sum(axis=1)).ravel()
    for b in (1, batch.shape[1]):
        for dtype in (torch.float32, torch.float64):
            x = torch.tensor(batch[:, :b] / batch[:, :b].sum(0), dtype=dtype, device="cuda")
            step, cols = make_step(adjacency, out_weight, args.damping, x), np.arange(b)
            step(x, cols)
            torch.cuda.synchronize()
            (seconds, _), _ = timed(
                lambda s=step, t=x, c=cols: [s(t, c) for _ in range(REPS)] + [torch.cuda.synchronize()]
            )
            size = x.element_size()
            moved = nnz * (4 + size) + n * 8 + nnz * b * size + 3 * n * b * size  # CSR + gathers + x, v, y
            gbs = moved * REPS / seconds / 1e9
            print(
                f"triton step b={b:<3} {dtype}: {1000 * seconds / REPS:.3f} ms, {gbs:.0f} GB/s "
                f"= {gbs / peak:.0%} of {peak:.0f} GB/s peak ({props.name})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,200000", help="comma-separated synthetic graph sizes (nodes)")
    parser.add_argument("--edges-per-node", type=int, default=10)
    parser.add_argument("--hippo-index", type=Path, default=Path(".hippo-eval/2wiki"),
                        help="a hippo index to benchmark too (default: the one `bench/run.sh 2wiki` builds)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--single-queries", type=int, default=5, help="queries timed one at a time")
    parser.add_argument("--seeds-per-query", type=int, default=5)
    parser.add_argument("--damping", type=float, default=0.5)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--push-eps", type=float, default=1e-6, help="forward-push residual threshold per edge")
    parser.add_argument("--networkx-max-nodes", type=int, default=200_000)
    parser.add_argument("--peak-gbs", type=float, default=0.0, help="device peak bandwidth if not derivable")
    args = parser.parse_args()
    try:
        import torch

        args.gpu = torch.cuda.is_available()
    except ImportError:
        args.gpu = False
    print(f"GPU: {'yes' if args.gpu else 'none (Triton figures pending a GPU machine)'}")
    for size in (int(s) for s in args.sizes.split(",") if s):
        bench_graph("synthetic", synthetic_graph(size, args.edges_per_node), args)
    if (args.hippo_index / "CURRENT").exists():
        from hippo.snapshot import load_snapshot

        bench_graph(f"hippo index {args.hippo_index}", load_snapshot(args.hippo_index).adjacency, args)
    else:
        print(f"\n(no hippo index at {args.hippo_index}: skipped)")


if __name__ == "__main__":
    main()
