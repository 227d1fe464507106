"""The NumPy twin of csrc/optim/adafactor.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import check, lerp_

if TYPE_CHECKING:
    from ..._typing import Array
    from ._common import Arrays, MaybeArrays


def adafactor(params: Arrays, grads: Arrays, row_vars: MaybeArrays, col_vars: MaybeArrays, variances: MaybeArrays, *,
              lr: float, weight_decay: float, eps1: float, eps2: float, d: float, rho: float, one_minus_beta2: float,
              maximize: bool) -> None:
    """α ← max(eps2, RMS(θ))·ρ;  θ ← θ(1 − lr·λ);
    ≥ 2-D: R ← lerp(R, mean_cols(g²), w);  C ← lerp(C, mean_rows(g²), w);  V̂ ← R·C / max(mean_rows(R), eps1)
    < 2-D: V ← lerp(V, g², w);  V̂ ← V
    U ← g / max(√V̂, eps1);  θ ← θ − α / max(1, RMS(U)/d) · U        (w = one_minus_beta2; sums in float64)"""
    check("adafactor()", dict(params=params, grads=grads, row_vars=row_vars, col_vars=col_vars, variances=variances),
          factored=["row_vars", "col_vars", "variances"])
    for p, g, row, col, v in zip(params, grads, row_vars, col_vars, variances):
        if p.size == 0:
            continue
        t = p.dtype.type
        alpha = max(eps2, float(t(np.sqrt(_sum_squares(p)))) / p.size ** 0.5) * rho
        if weight_decay != 0:
            p *= 1 - lr * weight_decay
        grad = np.negative(g) if maximize else g
        if row is not None and col is not None:
            lerp_(row, _mean_of_squares(grad, -1), one_minus_beta2, np.empty_like(row))
            lerp_(col, _mean_of_squares(grad, -2), one_minus_beta2, np.empty_like(col))
            divisor = (row.sum(axis=-2, keepdims=True, dtype=np.float64) / row.shape[-2]).astype(p.dtype)
            update = np.multiply(row, col)
            update /= np.maximum(divisor, eps1, out=divisor)
        else:
            assert v is not None  # (the checks ran)
            lerp_(v, np.multiply(grad, grad), one_minus_beta2, np.empty_like(v))
            update = v.copy()
        np.maximum(update, t(eps1 * eps1), out=update)
        np.sqrt(update, out=update)
        np.divide(1, update, out=update)
        update *= grad
        clip = max(1.0, float(t(np.sqrt(_sum_squares(update)))) / (p.size ** 0.5 * d))
        update *= -alpha / clip
        p += update


def _sum_squares(x: Array) -> float:
    return float(np.square(x, dtype=np.float64).sum())


def _mean_of_squares(g: Array, axis: int) -> Array:
    """torch's norm(g, dim=axis, keepdim=True).square_().div_(size): the norm rounded to g's dtype."""
    mean = np.sqrt(np.square(g, dtype=np.float64).sum(axis=axis, keepdims=True)).astype(g.dtype)
    mean *= mean
    mean /= g.shape[axis]
    return mean
