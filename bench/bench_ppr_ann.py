"""The `ppr` stage's PPR under ANN (see hippo/stages/ppr.py) on a large random graph, against the
power iteration it replaces, per query: the forward push of the reset's sparse part, the whole
decomposition, the one-off PPR of all passages, and its accuracy against a converged PPR.

    python bench/bench_ppr_ann.py --nodes 1000000 --edges-per-node 10 [--push-tol 3e-6]

Half the nodes are taken as passages, the rest as entities; each reset is like the stage's under
ANN: a few entity seeds, `--candidates` passages above the far passages' shared prior, one
passage at 0 (the farthest), every other passage at the shared prior.
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import numpy as np
from bench_ppr import synthetic_graph  # bench/ is on the path when run as `python bench/...`

import kernels
from hippo.stages.ppr import PPRStage

SHARED_PRIOR = 0.05 * 0.3  # passage_weight x a far passage's min-max scaled cosine
CHECKED = 3  # resets also solved by a converged power iteration for the accuracy line


def stage_reset(nodes: int, passages: int, seeds: int, candidates: int, rng: np.random.Generator) -> np.ndarray:
    """A reset vector shaped like the ppr stage's when the passages were searched through ANN."""
    reset = np.zeros(nodes)
    reset[passages + rng.choice(nodes - passages, seeds, replace=False)] = rng.uniform(0.5, 1.0, seeds)
    reset[:passages] = SHARED_PRIOR
    reset[rng.choice(passages, candidates, replace=False)] = 0.05 * rng.uniform(0.3, 1.0, candidates)
    reset[rng.integers(passages)] = 0.0
    return reset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--edges-per-node", type=int, default=10)
    parser.add_argument("--push-tol", type=float, default=PPRStage.push_tol)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=5, help="entity seeds per reset")
    parser.add_argument("--candidates", type=int, default=256, help="passages above the shared prior per reset")
    args = parser.parse_args()

    nodes, passages = args.nodes, args.nodes // 2
    start = time.perf_counter()
    graph = kernels.prepare(synthetic_graph(nodes, args.edges_per_node))
    print(f"{nodes:,} nodes, {graph.adjacency.nnz:,} edges ({time.perf_counter() - start:.1f} s to build)")
    # The stage reads only these fields of its retrieval context's snapshot.
    ctx: object = SimpleNamespace(snapshot=SimpleNamespace(
        ppr_graph=graph, passage_ids=range(passages), node_count=nodes, derived={}))
    stage = PPRStage(push_tol=args.push_tol)
    rng = np.random.default_rng(2)
    resets = [stage_reset(nodes, passages, args.seeds, args.candidates, rng) for _ in range(args.queries)]

    start = time.perf_counter()
    stage._derived(ctx, "passage mass", stage._passage_mass)  # type: ignore[arg-type]
    print(f"one-off PPR of all passages: {time.perf_counter() - start:.2f} s")
    stage._decomposed(ctx, resets[0])  # type: ignore[arg-type]  # warm
    whole, pushed = [], []
    for reset in resets:
        start = time.perf_counter()
        stage._decomposed(ctx, reset)  # type: ignore[arg-type]
        whole.append(time.perf_counter() - start)
        above = np.flatnonzero(reset[:passages] > SHARED_PRIOR)
        sparse = np.concatenate([above, passages + np.flatnonzero(reset[passages:])])
        start = time.perf_counter()
        stage._pushed(ctx, sparse, reset[sparse] - np.where(sparse < passages, SHARED_PRIOR, 0.0))  # type: ignore[arg-type]
        pushed.append(time.perf_counter() - start)
    print(f"push of the sparse part (push_tol {args.push_tol:g}): p50 {1e3 * np.median(pushed):.1f} ms")
    print(f"whole decomposition: p50 {1e3 * np.median(whole):.1f} ms, p95 {1e3 * np.percentile(whole, 95):.1f} ms")

    power, errors, overlaps = [], [], []
    for reset in resets[:CHECKED]:
        start = time.perf_counter()
        kernels.ppr(graph, reset.astype(np.float32), damping=stage.damping, tol=stage.tol, backend="cpu")
        power.append(time.perf_counter() - start)
        exact = kernels.ppr(graph, reset, damping=stage.damping, tol=1e-10, backend="cpu")
        got = stage._decomposed(ctx, reset).astype(np.float64)  # type: ignore[arg-type]
        errors.append(float(np.abs(got - exact).sum()))
        top_exact, top_got = (set(np.argsort(-s[:passages])[:10].tolist()) for s in (exact, got))
        overlaps.append(len(top_exact & top_got) / 10)
    print(f"power iteration it replaces (cpu, tol {stage.tol:g}, float32): p50 {1e3 * np.median(power):.0f} ms "
          f"({np.median(power) / np.median(whole):.1f}x the decomposition)")
    print(f"against a tol-1e-10 PPR ({CHECKED} resets): L1 at most {max(errors):.2e}, "
          f"top-10 passage overlap at least {min(overlaps):.2f}")


if __name__ == "__main__":
    main()
