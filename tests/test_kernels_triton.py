"""The Triton backend. Without a GPU it runs under Triton's interpreter on CPU tensors (CI), so graphs stay small.

TRITON_INTERPRET=1 is set only while kernels.triton_ppr is imported (its kernels are decorated
then) and during each test here, never for the rest of the session.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

import hippo_kernels as kernels  # noqa: E402
from hippo_kernels import cpu  # noqa: E402
from tests.test_kernels import prpack, random_graph, random_seeds, top  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
INTERPRET = {} if DEVICE == "cuda" else {"TRITON_INTERPRET": "1"}

with pytest.MonkeyPatch.context() as _patch:
    for _name, _value in INTERPRET.items():
        _patch.setenv(_name, _value)
    triton_ppr = importlib.import_module("hippo_kernels.triton_ppr")


@pytest.fixture(autouse=True)
def _interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The interpreter setting for this module's tests only (`kernels.ppr` checks it per call)."""
    for name, value in INTERPRET.items():
        monkeypatch.setenv(name, value)


def test_transition_matches_scipy_transpose() -> None:
    adjacency = random_graph(40, 11)
    out_weight = np.asarray(adjacency.sum(axis=1)).ravel()
    indptr, indices, values = triton_ppr.device_transition(adjacency, out_weight, 0.5, torch.float64, DEVICE)
    expected = cpu.transition(adjacency, out_weight, 0.5, np.float64).T.tocsr()
    got = sp.csr_matrix((values.cpu().numpy(), indices.cpu().numpy(), indptr.cpu().numpy()), shape=adjacency.shape)
    assert abs(got - expected).max() < 1e-15


@pytest.mark.parametrize(("b", "dtype"), [(1, torch.float64), (3, torch.float64), (40, torch.float32)])
def test_fused_step_matches_cpu_step(b: int, dtype: torch.dtype) -> None:
    adjacency = random_graph(50, 12)
    out_weight = np.asarray(adjacency.sum(axis=1)).ravel()
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    x = np.random.default_rng(12).random((50, b)).astype(np_dtype)
    seeds = random_seeds(50, b, 12).astype(np_dtype)
    cols = np.arange(b)[::2]  # a compacted block: every other query still running
    expected, expected_change = cpu.make_step(adjacency, out_weight, 0.5, seeds)(x[:, cols].copy(), cols)
    tx, tseeds = (torch.tensor(a, device=DEVICE) for a in (x[:, cols], seeds))
    got, change = triton_ppr.make_step(adjacency, out_weight, 0.5, tseeds)(tx, cols)
    assert got.dtype == dtype and got.device.type == DEVICE
    rtol = 1e-5 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(got.cpu().numpy(), expected, rtol=rtol)
    np.testing.assert_allclose(change, expected_change, rtol=rtol)


def test_triton_backend_matches_prpack() -> None:
    adjacency = random_graph(40, 13)
    seeds = random_seeds(40, 2, 13)
    expected = prpack(adjacency, seeds, 0.5)
    got = kernels.ppr(adjacency, seeds, backend="triton")  # numpy in, numpy out
    assert isinstance(got, np.ndarray) and got.shape == seeds.shape
    assert np.abs(got - expected).max() < 1e-6
    np.testing.assert_array_equal(top(got), top(expected))
    tensor = kernels.ppr(adjacency, torch.tensor(seeds[:, 0], dtype=torch.float32, device=DEVICE), backend="triton")
    assert isinstance(tensor, torch.Tensor) and tensor.shape == (40,) and tensor.dtype == torch.float32
    assert np.abs(tensor.cpu().numpy() - expected[:, 0]).max() < 1e-5
