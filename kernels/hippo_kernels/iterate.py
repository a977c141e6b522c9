"""Backend-independent power iteration over a batch of columns with per-column convergence."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

# step(x, cols) -> (y, change): one PPR step for the (n, k) block ``x`` holding the original columns ``cols``
# (numpy ints), and the per-column L1 change ``|y - x|`` as a numpy vector. ``x`` is not read again, so the
# step may reuse its memory unless it is the seeds array.
Step = Callable[[Any, np.ndarray], tuple[Any, np.ndarray]]


def power_iterate(step: Step, seeds: Any, tol: float, max_iter: int, xp: ModuleType) -> Any:
    """Iterate ``x <- step(x, cols)`` from ``x = seeds`` until each column's L1 change is below ``tol``.

    ``seeds`` is (n, b) with unit columns; ``xp`` is ``numpy`` or ``torch`` (whichever owns the arrays).
    Converged columns leave the working block, so each column costs only the iterations it needs.
    Warns (RuntimeWarning) if some column has not converged after ``max_iter`` steps.
    """
    result = xp.zeros_like(seeds)
    cols = np.arange(seeds.shape[1])
    x = seeds
    for _ in range(max_iter):
        y, change = step(x, cols)
        done = change < tol
        if done.any():
            result[:, cols[done]] = y[:, np.flatnonzero(done)]
            keep = np.flatnonzero(~done)
            if keep.size == 0:
                return result
            cols, y = cols[keep], y[:, keep]
        x = y
    warnings.warn(
        f"ppr: {cols.size} column(s) did not converge in {max_iter} iterations "
        f"(L1 change {float(change.max()):.2e} >= tol {tol:.1e})",
        RuntimeWarning,
        stacklevel=3,
    )
    result[:, cols] = x
    return result
