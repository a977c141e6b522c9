"""Input checks shared by every backend: one clear ``ValueError`` per kind of bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

BACKENDS = ("auto", "cpu", "push", "triton")


def check_graph(adjacency: Any) -> tuple[sp.csr_matrix, np.ndarray]:
    """Validate a square, non-negative, finite CSR adjacency; return it and its out-weights (float64)."""
    if not (sp.issparse(adjacency) and adjacency.format == "csr"):
        raise ValueError(f"adjacency must be a scipy.sparse CSR matrix, got {type(adjacency).__name__}")
    n_rows, n_cols = adjacency.shape
    if n_rows != n_cols or n_rows == 0:
        raise ValueError(f"adjacency must be a non-empty square matrix, got shape {adjacency.shape}")
    dtype = adjacency.dtype
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.bool_)):
        raise ValueError(f"adjacency weights must be real numbers (or bool), got dtype {dtype}")
    data = adjacency.data
    if not (data >= 0).all():  # one pass; NaN fails the comparison too
        kind = "NaN" if np.isnan(data).any() else "negative"
        raise ValueError(f"adjacency contains {kind} edge weights")
    out_weight = np.asarray(adjacency.sum(axis=1), dtype=np.float64).ravel()
    if not np.isfinite(out_weight).all():
        raise ValueError("adjacency contains infinite edge weights (or row sums overflow)")
    return adjacency, out_weight


def check_params(damping: float, tol: float, max_iter: int, backend: str) -> None:
    """Validate the scalar parameters of ``kernels.ppr``."""
    if not (isinstance(damping, int | float) and 0.0 < damping < 1.0):
        raise ValueError(f"damping must be in the open interval (0, 1), got {damping!r}")
    if not (isinstance(tol, int | float) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite number, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def check_seeds(seeds: Any, n: int) -> Any:
    """Validate seeds of shape (n,) or (n, b) and return them as (n, b) with every column summing to 1.

    Works on numpy arrays and torch tensors alike (only operators shared by both are used).
    """
    if seeds.ndim not in (1, 2) or seeds.shape[0] != n or (seeds.ndim == 2 and seeds.shape[1] == 0):
        raise ValueError(f"seeds must have shape ({n},) or ({n}, b) with b >= 1, got {tuple(seeds.shape)}")
    seeds = seeds.reshape(n, -1)
    if bool((seeds != seeds).any()):
        raise ValueError("seeds contain NaN")
    if bool((seeds < 0).any()):
        raise ValueError("seeds must be non-negative")
    totals = seeds.sum(0)
    if not bool((totals < math.inf).all()):
        raise ValueError("seeds must be finite")
    if bool((totals <= 0).any()):
        zero = [int(i) for i in range(seeds.shape[1]) if not totals[i] > 0]
        raise ValueError(f"seed column(s) {zero[:10]} are all zero; each query needs a positive seed mass")
    return seeds / totals
