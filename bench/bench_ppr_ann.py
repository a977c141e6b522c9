"""The `ppr` stage's PPR under ANN (see hippo/stages/ppr.py) on a large random graph, per query, in
one run: its sparse path (push of the reset's sparse part into a reused state, the untouched nodes
ranked from the all-passage PPR's sorted order), the dense decomposition it replaced (the stage at
6ff8876: a dense reset, a forward push over dense per-node arrays, the all-passage PPR added over
every node, ranking over every node; kept below as `dense_decomposition`), and power iteration;
the one-off PPR of all passages; top-10 agreement and L1 against a converged PPR.

    python bench/bench_ppr_ann.py --nodes 1000000 --edges-per-node 10 [--push-tol 3e-6]

Each timing is what the stage does from its reset to its rankings: PPR, then the passages'
`exact_prior` (100) top for the correction, the `candidates` (100) top passages and the 10 top
nodes (the correction's exact cosines need vectors: not timed here). Half the nodes are taken as
passages, the rest as entities; each reset is like the stage's under ANN: a few entity seeds,
`--candidates` passages above the far passages' shared prior, one passage at 0 (the farthest),
every other passage at the shared prior.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
from bench_ppr import synthetic_graph  # bench/ is on the path when run as `python bench/...`

import hippo_kernels as kernels
from hippo.stages.ppr import TOP_NODES, DenseScores, PPRStage, Reset, Scores, _linear, _most_common
from hippo_kernels.push_jit import forward_push

SHARED_PRIOR = 0.05 * 0.3  # passage_weight x a far passage's min-max scaled cosine
CHECKED = 3  # resets also solved by power iteration and a converged PPR for the accuracy lines


def stage_reset(nodes: int, passages: int, seeds: int, candidates: int, rng: np.random.Generator) -> Reset:
    """A reset shaped like the ppr stage's when the passages were searched through ANN."""
    entities = np.sort(passages + rng.choice(nodes - passages, seeds, replace=False))
    prior = np.full(passages, SHARED_PRIOR)
    prior[rng.choice(passages, candidates, replace=False)] = 0.05 * rng.uniform(0.3, 1.0, candidates)
    prior[rng.integers(passages)] = 0.0
    return Reset(entities, rng.uniform(0.5, 1.0, seeds), prior, nodes)


def dense_decomposition(stage: PPRStage, ctx: SimpleNamespace, reset: np.ndarray) -> np.ndarray:
    """The stage's PPR under ANN before the sparse path (6ff8876), for comparison: PPR(sparse part)
    by two forward pushes over dense per-node arrays plus the shared prior x the all-passage PPR."""
    graph, passages = ctx.snapshot.ppr_graph, len(ctx.snapshot.passage_ids)
    shared = _most_common(reset[:passages])
    nodes = np.concatenate([np.flatnonzero(reset[:passages] != shared), passages + np.flatnonzero(reset[passages:])])
    weights = reset[nodes] - np.where(nodes < passages, shared, 0.0)
    total = shared * stage._derived(ctx, "all passages", stage._all_passages).scores  # type: ignore[arg-type]
    for sign, part in ((1.0, weights > 0), (-1.0, weights < 0)):
        walked = np.zeros(graph.shape[0])
        mass = float(np.abs(weights[part]).sum())
        threshold = (stage.push_tol / mass) * graph.push_degrees
        forward_push(graph.adjacency, graph.out_weight, nodes[part], np.abs(weights[part]) / mass, stage.damping,
                     threshold, walked)
        total += sign * _linear(walked, mass, stage.damping, graph.dangling)
    return (total / total.sum()).astype(stage.precision)


def rankings(scores: Scores, stage: PPRStage) -> list[int]:
    """What the stage reads of PPR's scores (see the module's note); the top 10 passages."""
    scores.top(stage.exact_prior, passages=True)
    scores.top(TOP_NODES, passages=False)
    return [n for n, _ in scores.top(stage.candidates, passages=True)[:10]]


def timed(run: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


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
    print(f"{nodes:,} nodes, {graph.adjacency.nnz:,} edges, {graph.dangling.size:,} dangling "
          f"({time.perf_counter() - start:.1f} s to build)")
    # The stage reads only these fields of its retrieval context's snapshot.
    ctx = SimpleNamespace(snapshot=SimpleNamespace(ppr_graph=graph, passage_ids=range(passages), node_count=nodes,
                                                   derived={}))
    stage = PPRStage(push_tol=args.push_tol)
    rng = np.random.default_rng(2)
    resets = [stage_reset(nodes, passages, args.seeds, args.candidates, rng) for _ in range(args.queries)]
    seconds, _ = timed(lambda: stage._derived(ctx, "all passages", stage._all_passages))  # type: ignore[arg-type]
    print(f"one-off PPR of all passages, sorted: {seconds:.2f} s")

    def sparse(reset: Reset) -> tuple[list[int], int]:
        with graph.push_state() as pushed:
            scores = stage._decomposed(ctx, reset, pushed)  # type: ignore[arg-type]
            return rankings(scores, stage), pushed.nodes().size

    def dense(reset: Reset) -> list[int]:
        return rankings(DenseScores(dense_decomposition(stage, ctx, reset.dense()), passages), stage)

    sparse(resets[0]), dense(resets[0])  # warm
    times: dict[str, list[float]] = {"sparse": [], "dense": []}
    agree, touched = [], []
    for reset in resets:
        seconds, (top_sparse, count) = timed(lambda r=reset: sparse(r))  # type: ignore[misc]
        times["sparse"].append(seconds)
        touched.append(count)
        seconds, top_dense = timed(lambda r=reset: dense(r))  # type: ignore[misc]
        times["dense"].append(seconds)
        agree.append(top_sparse == top_dense)
    for name, label in (("sparse", "sparse path (now)"), ("dense", "dense decomposition (before)")):
        print(f"{label}: p50 {1e3 * np.median(times[name]):.1f} ms, p95 {1e3 * np.percentile(times[name], 95):.1f} ms")
    print(f"nodes touched per query: median {int(np.median(touched)):,}; top 10 passages the same in order: "
          f"{sum(agree)} of {len(agree)} resets")

    power, errors = [], {"sparse": [], "dense": []}
    for reset in resets[:CHECKED]:
        dense_reset = reset.dense()
        seconds, _ = timed(lambda r=dense_reset: rankings(DenseScores(kernels.ppr(  # type: ignore[misc]
            graph, r.astype(np.float32), damping=stage.damping, tol=stage.tol, backend="cpu"), passages), stage))
        power.append(seconds)
        exact = kernels.ppr(graph, dense_reset, damping=stage.damping, tol=1e-10, backend="cpu")
        with graph.push_state() as pushed:
            scores = stage._decomposed(ctx, reset, pushed)  # type: ignore[arg-type]
            every = np.arange(nodes)
            got = {"sparse": scores._scores(every), "dense": dense_decomposition(stage, ctx, dense_reset)}
        for name, vector in got.items():
            overlap = len(set(np.argsort(-exact[:passages])[:10]) & set(np.argsort(-vector[:passages])[:10]))
            errors[name].append((float(np.abs(vector - exact).sum()), overlap))
    print(f"power iteration (cpu, tol {stage.tol:g}, float32) with the same rankings: p50 "
          f"{1e3 * np.median(power):.0f} ms ({np.median(power) / np.median(times['sparse']):.1f}x the sparse path)")
    for name, rows in errors.items():
        print(f"{name} against a tol-1e-10 PPR ({CHECKED} resets): L1 at most {max(e for e, _ in rows):.2e}, "
              f"top-10 passage overlap at least {min(o for _, o in rows)} of 10")


if __name__ == "__main__":
    main()
