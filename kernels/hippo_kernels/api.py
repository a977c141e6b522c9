"""The ``ppr`` entry point (validate, pick a backend, convert arrays, dispatch) and ``prepare``."""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from hippo_kernels.graph import Graph
from hippo_kernels.validate import check_params, check_seeds


def prepare(adjacency: sp.csr_matrix) -> Graph:
    """``adjacency`` validated once for many ``ppr`` calls, which then skip the checks and reuse its walk
    matrices; the adjacency must not change afterwards. ValueError as ``ppr`` raises for a bad graph."""
    return Graph(adjacency)


def ppr(
    adjacency: sp.csr_matrix | Graph,
    seeds: Any,
    damping: float = 0.5,
    tol: float = 1e-8,
    max_iter: int = 100,
    backend: str = "auto",
) -> Any:
    """Personalized PageRank of a weighted directed graph for one or many seed vectors.

    Args:
        adjacency: (n, n) scipy CSR; ``adjacency[i, j]`` is the weight of edge i -> j (pass an undirected
            graph symmetric). Self-loops count; rows with no positive weight are dangling. Or the same
            prepared by ``prepare``, for many calls on one graph.
        seeds: non-negative (n,) or (n, b) array (numpy, or a torch tensor on any device; wrap CuPy arrays
            with ``torch.from_dlpack``); each column is one query's personalization vector, normalized here.
        damping: probability of following an edge, in (0, 1); ``1 - damping`` is the teleport probability.
        tol: "cpu"/"triton": a column stops once an iteration changes it by less than ``tol`` in L1, so its
            L1 error is at most ``tol * damping / (1 - damping)`` (``tol`` is floored at 16 epsilons, about
            1.9e-6, in float32). "push": residual threshold per out-edge; L1 error at most
            ``2 * tol * (nnz + dangling nodes)``, and usually far less (see kernels.push).
        max_iter: iteration cap for the power-iteration backends (RuntimeWarning if reached).
        backend: "auto" (the Triton GPU kernel when CUDA is available, else "cpu"), "cpu", "push", "triton".

    Returns:
        Same shape and array type as ``seeds``; each column a probability vector. Computation runs in
        float32 when ``seeds`` are float32, otherwise in float64. Dangling mass returns along the seed
        vector, matching igraph's PRPACK ``personalized_pagerank``.

    Raises:
        ValueError: on a non-CSR or non-square adjacency, NaN/negative/infinite weights, seeds of the wrong
            shape, negative/NaN/all-zero seed columns, damping outside (0, 1), bad tol/max_iter/backend.
    """
    check_params(damping, tol, max_iter, backend)
    graph = adjacency if isinstance(adjacency, Graph) else Graph(adjacency)
    adjacency, out_weight = graph.adjacency, graph.out_weight
    n = adjacency.shape[0]
    is_torch = type(seeds).__module__.split(".")[0] == "torch"
    if not is_torch:
        seeds = np.asarray(seeds)
    if not _is_real(seeds, is_torch):
        raise ValueError(f"seeds must be real numbers, got dtype {seeds.dtype}")
    chosen = _resolve(backend, seeds if is_torch else None)
    if chosen == "triton":
        torch = _torch()
        from hippo_kernels.triton_ppr import ppr_triton

        tensor = seeds if is_torch else torch.from_numpy(seeds).to("cuda" if torch.cuda.is_available() else "cpu")
        tensor = tensor if tensor.dtype in (torch.float32, torch.float64) else tensor.to(torch.float64)
        if tensor.device.type != "cuda" and os.environ.get("TRITON_INTERPRET", "0").lower() not in ("1", "true"):
            raise ValueError('backend="triton" needs a CUDA device (or TRITON_INTERPRET=1 for CPU tensors)')
        scores = ppr_triton(adjacency, out_weight, check_seeds(tensor, n), damping, tol, max_iter)
        return (scores if is_torch else scores.cpu().numpy()).reshape(seeds.shape)
    host = seeds.detach().cpu().numpy() if is_torch else seeds
    unit = check_seeds(host.astype(np.float32 if host.dtype == np.float32 else np.float64, copy=False), n)
    if chosen == "push":
        from hippo_kernels.push_jit import ppr_push

        scores = ppr_push(adjacency, out_weight, unit, damping, tol)
    else:
        from hippo_kernels.cpu import ppr_cpu

        scores = ppr_cpu(graph, unit, damping, tol, max_iter)
    if is_torch:
        scores = _torch().from_numpy(scores).to(seeds.device)
    return scores.reshape(seeds.shape)


def _resolve(backend: str, tensor: Any) -> str:
    """Map "auto" to a concrete backend: the GPU kernel when a CUDA device is usable, else "cpu"."""
    if backend != "auto":
        return backend
    if tensor is not None:
        return "triton" if tensor.is_cuda and _has_triton() else "cpu"
    if "torch" not in sys.modules and (not _torch_installed() or not _gpu_device_files()):
        return "cpu"  # no CUDA to find: spare the seconds of importing torch
    return "triton" if _torch().cuda.is_available() and _has_triton() else "cpu"


def _is_real(seeds: Any, is_torch: bool) -> bool:
    """Integer or floating-point (not bool, not complex) seeds."""
    if is_torch:
        return not (seeds.is_complex() or seeds.dtype == _torch().bool)
    return np.issubdtype(seeds.dtype, np.integer) or np.issubdtype(seeds.dtype, np.floating)


@cache
def _torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


@cache
def _gpu_device_files() -> bool:
    """False only where CUDA surely is absent: a Linux host without the NVIDIA driver's control
    device (or WSL's GPU device); elsewhere torch must be asked."""
    return not sys.platform.startswith("linux") or any(Path(f).exists() for f in ("/dev/nvidiactl", "/dev/dxg"))


def _has_triton() -> bool:
    return importlib.util.find_spec("triton") is not None


def _torch() -> Any:
    import torch

    return torch
