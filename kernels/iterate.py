"""Backend-independent power iteration over a batch of columns with per-column convergence."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

Step = Callable[[Any, Any], Any]


def power_iterate(step: Step, seeds: Any, tol: float, max_iter: int, xp: ModuleType) -> Any:
    """Iterate ``x <- step(x, v)`` from ``x = v`` until each column's L1 change is below ``tol``.

    ``seeds`` is (n, b) with unit columns; ``xp`` is ``numpy`` or ``torch`` (whichever owns the arrays).
    Converged columns are dropped from the working set, so a batch costs what its slowest column needs
    only for that column. Warns (RuntimeWarning) if some column has not converged after ``max_iter``.
    """
    result = xp.zeros_like(seeds)
    cols = np.arange(seeds.shape[1])
    x, v = seeds, seeds
    for _ in range(max_iter):
        y = step(x, v)
        change = np.asarray(_host(xp.abs(y - x).sum(0)))
        done = change < tol
        if done.any():
            result[:, cols[done]] = y[:, np.flatnonzero(done)]
            keep = np.flatnonzero(~done)
            if keep.size == 0:
                return result
            cols, y, v = cols[keep], y[:, keep], v[:, keep]
        x = y
    warnings.warn(
        f"ppr: {cols.size} column(s) did not converge in {max_iter} iterations "
        f"(L1 change {float(change.max()):.2e} >= tol {tol:.1e})",
        RuntimeWarning,
        stacklevel=3,
    )
    result[:, cols] = x
    return result


def _host(values: Any) -> Any:
    """Bring a small vector to the host (no-op for numpy)."""
    return values.cpu() if hasattr(values, "cpu") else values
