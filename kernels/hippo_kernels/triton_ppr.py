"""GPU backend: a Triton kernel for batched CSR propagation with the teleport term fused.

One program computes BLOCK_R output rows for a block of query columns::

    y[j, :] = sum_{i -> j} (d * w_ij / out_i) * x[i, :] + (d * dangling_mass[:] + 1 - d) * v[j, :]

reading ``d P^T`` as CSR (row j lists the in-edges of node j). Runs on CUDA tensors, and on CPU tensors
under Triton's interpreter (``TRITON_INTERPRET=1`` set before this module is imported), which is how CI
tests it. Importing this module imports torch and triton.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import triton
import triton.language as tl

from hippo_kernels.iterate import Step, power_iterate

BLOCK_R = 16  # output rows per program
BLOCK_K = 16  # in-edges per row loaded per loop step


# The kernel calls only core builtins: tl.full instead of tl.zeros, and tl.reduce with triton's own
# combiners instead of tl.sum/tl.max. Those helpers are @triton.jit functions fixed when triton is first
# imported, so they break the interpreter if triton was imported (e.g. by transformers) before
# TRITON_INTERPRET was set; the interpreter recognizes these combiners and reduces with numpy.
_SUM = tl.standard._sum_combine
_MAX = tl.standard._elementwise_max


@triton.jit
def _propagate_kernel(
    indptr,
    indices,
    values,
    x,
    v,
    coef,
    y,
    n_rows,
    n_cols,
    BLOCK_R: tl.constexpr,
    BLOCK_K: tl.constexpr,
    BLOCK_B: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.program_id(1) * BLOCK_B + tl.arange(0, BLOCK_B)
    row_mask = rows < n_rows
    col_mask = cols < n_cols
    start = tl.load(indptr + rows, mask=row_mask, other=0)
    end = tl.load(indptr + rows + 1, mask=row_mask, other=0)
    acc = tl.full([BLOCK_R, BLOCK_B], 0, dtype=y.dtype.element_ty)
    for k in range(0, tl.reduce(end - start, 0, _MAX), BLOCK_K):
        offs = start[:, None] + k + tl.arange(0, BLOCK_K)[None, :]  # [R, K] edge slots
        edge_mask = offs < end[:, None]
        src = tl.load(indices + offs, mask=edge_mask, other=0).to(tl.int64)
        w = tl.load(values + offs, mask=edge_mask, other=0.0)
        tile = tl.load(  # [R, K, B] rows of x gathered at the in-neighbours
            x + src[:, :, None] * n_cols + cols[None, None, :],
            mask=edge_mask[:, :, None] & col_mask[None, None, :],
            other=0.0,
        )
        acc += tl.reduce(w[:, :, None] * tile, 1, _SUM)
    at = rows[:, None].to(tl.int64) * n_cols + cols[None, :]
    mask = row_mask[:, None] & col_mask[None, :]
    teleport = tl.load(coef + cols, mask=col_mask, other=0.0)[None, :] * tl.load(v + at, mask=mask, other=0.0)
    tl.store(y + at, acc + teleport, mask=mask)


def device_transition(
    adjacency: sp.csr_matrix, out_weight: np.ndarray, damping: float, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``d P^T`` as CSR arrays (indptr int64, indices int32, values) on ``device``; transposed there."""
    n = adjacency.shape[0]
    indptr = torch.as_tensor(adjacency.indptr, dtype=torch.int64, device=device)
    counts = indptr[1:] - indptr[:-1]
    src = torch.repeat_interleave(torch.arange(n, device=device), counts)
    dst = torch.as_tensor(adjacency.indices, dtype=torch.int64, device=device)
    out = torch.as_tensor(out_weight, device=device)
    scale = torch.where(out > 0, damping / torch.where(out > 0, out, 1.0), 0.0)
    values = torch.as_tensor(adjacency.data, dtype=torch.float64, device=device) * scale[src]
    order = torch.argsort(dst, stable=True)
    t_indptr = torch.zeros(n + 1, dtype=torch.int64, device=device)
    t_indptr[1:] = torch.cumsum(torch.bincount(dst, minlength=n), 0)
    return t_indptr, src[order].to(torch.int32), values[order].to(dtype)


def make_step(adjacency: sp.csr_matrix, out_weight: np.ndarray, damping: float, seeds: torch.Tensor) -> Step:
    """One fused PPR step for blocks of the (n, b) ``seeds`` tensor (its dtype and device)."""
    indptr, indices, values = device_transition(adjacency, out_weight, damping, seeds.dtype, seeds.device)
    dangling = torch.as_tensor(np.flatnonzero(out_weight <= 0), device=seeds.device)
    n, batch = seeds.shape

    def step(x: torch.Tensor, cols: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        x = x.contiguous()
        v = seeds if cols.size == batch else seeds[:, torch.as_tensor(cols, device=seeds.device)]
        coef = (damping * x[dangling].sum(0, dtype=torch.float64) + (1.0 - damping)).to(x.dtype)  # float64 sums
        y = torch.empty_like(x)
        block_b = min(32, triton.next_power_of_2(x.shape[1]))
        grid = (triton.cdiv(n, BLOCK_R), triton.cdiv(x.shape[1], block_b))
        _propagate_kernel[grid](
            indptr,
            indices,
            values,
            x,
            v.contiguous(),
            coef,
            y,
            n,
            x.shape[1],
            BLOCK_R=BLOCK_R,
            BLOCK_K=BLOCK_K,
            BLOCK_B=block_b,
        )
        return y, (y - x).abs().sum(0, dtype=torch.float64).cpu().numpy()

    return step


def ppr_triton(
    adjacency: sp.csr_matrix, out_weight: np.ndarray, seeds: torch.Tensor, damping: float, tol: float, max_iter: int
) -> torch.Tensor:
    """Exact PPR for (n, b) unit-column ``seeds`` (a float32/float64 tensor) with the Triton kernel."""
    tol = max(tol, 16 * torch.finfo(seeds.dtype).eps)
    x = power_iterate(make_step(adjacency, out_weight, damping, seeds), seeds, tol, max_iter, torch)
    return x / x.sum(0, dtype=torch.float64).to(x.dtype)
