"""kernels.ppr: parity with igraph PRPACK, shapes/dtypes, push error bound, input validation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import igraph as ig
import numpy as np
import pytest
import scipy.sparse as sp

import hippo_kernels as kernels
from hippo_kernels.push import PushState

ROOT = Path(__file__).resolve().parents[1]


def random_graph(n: int, seed: int, edges_per_node: int = 4) -> sp.csr_matrix:
    """Weighted directed graph with dangling nodes, self-loops, a zero-weight row, two components."""
    rng = np.random.default_rng(seed)
    half = n // 2
    m = edges_per_node * n
    src = rng.integers(0, n, m)
    # two disconnected parts: edges stay inside [0, half) or [half, n)
    dst = np.where(src < half, rng.integers(0, half, m), rng.integers(half, n, m))
    weight = rng.uniform(0.1, 3.0, m)
    zero_row = half - 1  # keeps only zero-weight out-edges: dangling for PRPACK
    dangling = rng.choice(n, n // 10, replace=False)
    keep = ~np.isin(src, [*dangling, zero_row])
    loops = rng.choice(n, n // 10, replace=False)
    src = np.concatenate([src[keep], loops, [zero_row, zero_row]])
    dst = np.concatenate([dst[keep], loops, [0, 1]])
    weight = np.concatenate([weight[keep], rng.uniform(0.5, 2.0, loops.size), [0.0, 0.0]])
    adjacency = sp.csr_matrix((weight, (src, dst)), shape=(n, n))
    assert adjacency.nnz > 0 and 0.0 in adjacency.data  # explicit zeros survive
    return adjacency


def random_seeds(n: int, b: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    seeds = rng.uniform(0.0, 5.0, (n, b)) * (rng.random((n, b)) < 0.05)
    seeds[rng.integers(0, n, b), np.arange(b)] += 1.0  # every column non-zero
    return seeds


def prpack(adjacency: sp.csr_matrix, seeds: np.ndarray, damping: float) -> np.ndarray:
    """igraph PRPACK personalized PageRank, one column at a time (the reference)."""
    coo = adjacency.tocoo()
    graph = ig.Graph(n=adjacency.shape[0], edges=np.column_stack([coo.row, coo.col]).tolist(), directed=True)
    columns = [
        graph.personalized_pagerank(
            directed=True,
            damping=damping,
            reset=seeds[:, j].tolist(),
            weights=coo.data.tolist(),
            implementation="prpack",
        )
        for j in range(seeds.shape[1])
    ]
    return np.array(columns).T


def top(scores: np.ndarray, k: int = 10) -> np.ndarray:
    return np.argsort(-scores, axis=0, kind="stable")[:k]


@pytest.mark.parametrize(("n", "graph_seed", "damping"), [(60, 0, 0.5), (300, 1, 0.5), (300, 2, 0.85), (1000, 3, 0.3)])
def test_cpu_matches_prpack_float64(n: int, graph_seed: int, damping: float) -> None:
    adjacency = random_graph(n, graph_seed)
    seeds = random_seeds(n, 5, graph_seed)
    expected = prpack(adjacency, seeds, damping)
    got = kernels.ppr(adjacency, seeds, damping=damping, backend="cpu")
    assert got.shape == seeds.shape and got.dtype == np.float64
    assert np.abs(got - expected).max() < 1e-6
    np.testing.assert_allclose(got.sum(0), 1.0, atol=1e-12)
    np.testing.assert_array_equal(top(got), top(expected))


def test_float32_and_single_vector() -> None:
    adjacency = random_graph(300, 4)
    seeds = random_seeds(300, 3, 4)
    expected = prpack(adjacency, seeds, 0.5)
    got32 = kernels.ppr(adjacency, seeds.astype(np.float32), backend="cpu")
    assert got32.dtype == np.float32 and np.abs(got32 - expected).max() < 1e-5
    single = kernels.ppr(adjacency, seeds[:, 1], backend="cpu")
    assert single.shape == (300,)
    np.testing.assert_allclose(single, expected[:, 1], atol=1e-7)


def test_batch_equals_columns_and_seed_scale_is_irrelevant() -> None:
    adjacency = random_graph(200, 5)
    seeds = random_seeds(200, 4, 5)
    batch = kernels.ppr(adjacency, seeds, backend="cpu")
    for j in range(4):
        np.testing.assert_allclose(kernels.ppr(adjacency, 7.0 * seeds[:, j], backend="cpu"), batch[:, j], atol=1e-12)


def test_integer_seeds_csr_array_and_bool_weights() -> None:
    adjacency = random_graph(100, 6)
    seeds = np.zeros(100, dtype=np.int64)
    seeds[[3, 50]] = [1, 2]
    expected = prpack(adjacency, seeds[:, None].astype(float), 0.5)[:, 0]
    np.testing.assert_allclose(kernels.ppr(sp.csr_array(adjacency), seeds), expected, atol=1e-8)
    unweighted = sp.csr_matrix(adjacency > 0)  # bool weights: every positive edge counts 1
    expected = prpack(unweighted.astype(float), seeds[:, None].astype(float), 0.5)[:, 0]
    np.testing.assert_allclose(kernels.ppr(unweighted, seeds), expected, atol=1e-8)


@pytest.mark.parametrize("eps", [1e-4, 1e-6])
def test_push_error_bound_and_top10(eps: float) -> None:
    adjacency = random_graph(1000, 7, edges_per_node=8)
    seeds = random_seeds(1000, 3, 7)
    expected = prpack(adjacency, seeds, 0.5)
    got = kernels.ppr(adjacency, seeds, tol=eps, backend="push")
    dangling = int((np.asarray(adjacency.sum(axis=1)).ravel() <= 0).sum())
    bound = 2 * eps * (adjacency.nnz + dangling)
    assert (np.abs(got - expected).sum(0) <= bound).all()
    np.testing.assert_allclose(got.sum(0), 1.0)
    if eps <= 1e-6:
        np.testing.assert_array_equal(top(got), top(expected))
    # the batch's columns run on a thread per core: each equals its column pushed alone
    for column in range(seeds.shape[1]):
        alone = kernels.ppr(adjacency, seeds[:, column], tol=eps, backend="push")
        np.testing.assert_allclose(got[:, column], alone, rtol=1e-12)  # normalized alone: ulps apart


def test_torch_tensor_in_torch_tensor_out() -> None:
    torch = pytest.importorskip("torch")
    adjacency = random_graph(100, 8)
    seeds = random_seeds(100, 2, 8)
    got = kernels.ppr(adjacency, torch.from_numpy(seeds).float(), backend="cpu")
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32 and got.shape == (100, 2)
    np.testing.assert_allclose(got.numpy(), prpack(adjacency, seeds, 0.5), atol=1e-5)


def test_non_convergence_warns() -> None:
    adjacency = random_graph(100, 9)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        got = kernels.ppr(adjacency, random_seeds(100, 2, 9), max_iter=2, backend="cpu")
    np.testing.assert_allclose(got.sum(0), 1.0)


def test_triton_without_cuda_or_interpreter_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(ValueError, match="CUDA"):
        kernels.ppr(GOOD, ONE, backend="triton")


def test_import_is_light_and_auto_uses_cpu_without_gpu() -> None:
    code = "import sys, hippo_kernels; assert 'torch' not in sys.modules and 'triton' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    from hippo_kernels.api import _resolve

    torch = pytest.importorskip("torch")
    assert _resolve("auto", None) == ("triton" if torch.cuda.is_available() else "cpu")
    assert _resolve("push", None) == "push"


GOOD = random_graph(20, 10)
ONE = np.ones(20)


@pytest.mark.parametrize(
    ("adjacency", "seeds", "kwargs", "message"),
    [
        (GOOD.toarray(), ONE, {}, "CSR"),
        (GOOD.tocsc(), ONE, {}, "CSR"),
        (sp.csr_matrix((20, 21)), ONE, {}, "square"),
        (GOOD, np.ones(19), {}, "shape"),
        (GOOD, np.ones((20, 2, 2)), {}, "shape"),
        (GOOD, np.ones((20, 0)), {}, "shape"),
        (GOOD, -ONE, {}, "non-negative"),
        (GOOD, np.zeros(20), {}, "all zero"),
        (GOOD, np.column_stack([ONE, np.zeros(20)]), {}, r"column\(s\) \[1\]"),
        (GOOD, np.full(20, np.nan), {}, "NaN"),
        (GOOD, np.full(20, np.inf), {}, "finite"),
        (GOOD, ONE.astype(complex), {}, "real"),
        (GOOD.astype(complex), ONE, {}, "real"),
        (sp.csr_matrix(np.where(GOOD.toarray() > 0, np.nan, 0.0)), ONE, {}, "NaN edge weights"),
        (-GOOD, ONE, {}, "negative edge weights"),
        (sp.csr_matrix(np.where(GOOD.toarray() > 0, np.inf, 0.0)), ONE, {}, "infinite"),
        (GOOD, ONE, {"damping": 0.0}, "damping"),
        (GOOD, ONE, {"damping": 1.0}, "damping"),
        (GOOD, ONE, {"damping": 1.5}, "damping"),
        (GOOD, ONE, {"damping": float("nan")}, "damping"),
        (GOOD, ONE, {"tol": 0.0}, "tol"),
        (GOOD, ONE, {"max_iter": 0}, "max_iter"),
        (GOOD, ONE, {"backend": "gpu"}, "backend"),
    ],
)
def test_bad_input_raises_value_error(adjacency: object, seeds: np.ndarray, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kernels.ppr(adjacency, seeds, **kwargs)


def test_dense_seeds_in_a_large_batch() -> None:
    """Dense seeds (every node weighted, as HippoRAG 2 weights passages) in a batch of 10."""
    adjacency = random_graph(300, 14)
    seeds = np.random.default_rng(14).random((300, 10))
    got = kernels.ppr(adjacency, seeds, backend="cpu")
    assert np.abs(got - prpack(adjacency, seeds, 0.5)).max() < 1e-6


def test_sparse_first_hops_match_prpack(monkeypatch: pytest.MonkeyPatch) -> None:
    """The row-restricted steps used on large graphs while the iterate has few non-zero rows."""
    from hippo_kernels import cpu

    monkeypatch.setattr(cpu, "SPARSE_MIN_EDGES", 0)
    adjacency = random_graph(2000, 15)
    seeds = np.zeros((2000, 3))
    seeds[[5, 900, 1500], [0, 1, 2]] = 1.0
    assert np.abs(kernels.ppr(adjacency, seeds, backend="cpu") - prpack(adjacency, seeds, 0.5)).max() < 1e-6


def test_float32_batch_keeps_sums_exact_on_long_columns() -> None:
    """float32 column sums along axis 0 must not drift (numpy accumulates them naively)."""
    n = 200_000
    rng = np.random.default_rng(17)
    adjacency = sp.csr_matrix((rng.random(2 * n), (rng.integers(0, n, 2 * n), rng.integers(0, n, 2 * n))), shape=(n, n))
    seeds = random_seeds(n, 2, 17)
    got = kernels.ppr(adjacency, seeds.astype(np.float32), tol=1e-6, backend="cpu")
    np.testing.assert_allclose(got.sum(0, dtype=np.float64), 1.0, atol=1e-6)
    assert np.abs(got - kernels.ppr(adjacency, seeds, tol=1e-10, backend="cpu")).max() < 1e-7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_blocks_of_large_graphs_match_prpack(monkeypatch: pytest.MonkeyPatch, dtype: type) -> None:
    """Large graphs iterate a batch in narrow column blocks; a ragged last block included."""
    from hippo_kernels import cpu

    monkeypatch.setattr(cpu, "BLOCK_MIN_EDGES", 0)
    adjacency = random_graph(400, 18)
    seeds = random_seeds(400, 11, 18)
    got = kernels.ppr(adjacency, seeds.astype(dtype), tol=1e-9, backend="cpu")
    assert got.dtype == dtype and got.shape == (400, 11)
    assert np.abs(got - prpack(adjacency, seeds, 0.5)).max() < (1e-5 if dtype == np.float32 else 1e-8)


def test_row_split_products_and_a_prepared_graph_match_prpack(monkeypatch: pytest.MonkeyPatch) -> None:
    """One query on a large graph splits each product's rows over the cores; a prepared graph reused."""
    from hippo_kernels import cpu

    monkeypatch.setattr(cpu, "SPLIT_MIN_EDGES", 0)
    monkeypatch.setattr(cpu, "usable_cores", lambda: 3)
    adjacency = random_graph(500, 19)
    seeds = random_seeds(500, 2, 19)
    expected = prpack(adjacency, seeds, 0.5)
    graph = kernels.prepare(adjacency)
    for j in range(2):
        assert np.abs(kernels.ppr(graph, seeds[:, j], backend="cpu") - expected[:, j]).max() < 1e-6
    assert np.abs(kernels.ppr(graph, seeds.astype(np.float32), backend="cpu") - expected).max() < 1e-5


def test_auto_on_a_host_without_gpu_devices_leaves_torch_unimported() -> None:
    code = ("import sys, hippo_kernels.api as api; api._gpu_device_files = lambda: False; "
            "assert api._resolve('auto', None) == 'cpu'; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_local_renumbering_is_a_permutation_that_brings_neighbours_close() -> None:
    """The CPU backend iterates on a renumbered copy: node i there is node order[i] here."""
    n = 400
    rng = np.random.default_rng(20)
    band = sp.diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1], format="csr")  # a path: bandwidth 1
    shuffle = rng.permutation(n)
    adjacency = band[shuffle][:, shuffle].tocsr()
    local, order = kernels.prepare(adjacency).local()
    assert sorted(order.tolist()) == list(range(n))
    assert (local.adjacency != adjacency[order][:, order]).nnz == 0
    coo = local.adjacency.tocoo()
    assert np.abs(coo.row - coo.col).max() == 1  # the path is found again; shuffled it spans the graph
    seeds = random_seeds(n, 2, 20)
    assert np.abs(kernels.ppr(adjacency, seeds, backend="cpu") - prpack(adjacency, seeds, 0.5)).max() < 1e-6


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_teleport_by_non_zeros_or_whole_seeds_match_prpack(monkeypatch: pytest.MonkeyPatch, fraction: float) -> None:
    from hippo_kernels import cpu

    monkeypatch.setattr(cpu, "TELEPORT_SPARSE_FRACTION", fraction)
    adjacency = random_graph(300, 21)
    seeds = random_seeds(300, 3, 21)
    assert np.abs(kernels.ppr(adjacency, seeds, backend="cpu") - prpack(adjacency, seeds, 0.5)).max() < 1e-6


@pytest.mark.parametrize("tol", [1e-10, 1e-4])
def test_linear_push_of_signed_seeds_and_its_reused_state(tol: float) -> None:
    """`PushState.push` gives (1 - d)(I - d P^T)^-1 s for seeds of both signs on a graph with dangling
    nodes (their walk ends there) within its bound, 2 tol x the degrees' sum in L1, touches only what
    it reports, and a state cleared and reused gives the same result bit for bit."""
    graph = kernels.prepare(random_graph(400, 3))
    walk = sp.diags(np.divide(1.0, graph.out_weight, out=np.zeros(400), where=graph.out_weight > 0)) @ graph.adjacency
    nodes, weights = np.array([3, 50, 210, 399]), np.array([1.0, 0.5, -0.7, 2.0])
    seeds = np.zeros(400)
    seeds[nodes] = weights
    exact = 0.5 * sp.linalg.spsolve((sp.identity(400) - 0.5 * walk.T).tocsc(), seeds)
    state = PushState(400)
    results = []
    for _ in range(2):
        state.push(graph.adjacency, graph.out_weight, graph.push_degrees, nodes, weights, 0.5, tol)
        touched = state.nodes()
        got = np.zeros(400)
        got[touched] = state.values(touched)
        assert np.unique(touched).size == touched.size and set(nodes) <= set(touched)
        assert set(np.flatnonzero(state.estimate + state.residual)) <= set(touched)
        state.clear()
        assert not (state.estimate.any() or state.residual.any() or state.touched.any())
        results.append(got)
    assert np.abs(results[0] - exact).sum() <= 2 * tol * graph.push_degrees.sum()
    np.testing.assert_array_equal(results[0], results[1])
    if tol < 1e-8:
        np.testing.assert_allclose(results[0], exact, atol=1e-8)
