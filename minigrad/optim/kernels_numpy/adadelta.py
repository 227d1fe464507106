"""The NumPy twin of csrc/optim/adadelta.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import add_scaled_square_, check, direction, flat

if TYPE_CHECKING:
    from ._common import Arrays


def adadelta(params: Arrays, grads: Arrays, square_avgs: Arrays, acc_deltas: Arrays, *, lr: float, rho: float,
             eps: float, weight_decay: float, maximize: bool) -> None:
    """v ← ρv + (1−ρ)d²;  Δ ← √(u + eps) / √(v + eps) · d;  u ← ρu + (1−ρ)Δ²;  θ ← θ − lr·Δ."""
    check("adadelta()", dict(params=params, grads=grads, square_avgs=square_avgs, acc_deltas=acc_deltas))
    for p, g, v, u in flat(params, grads, square_avgs, acc_deltas):
        d = direction(p, g, weight_decay, maximize)
        scratch = np.empty_like(p)
        add_scaled_square_(v, rho, d, scratch)
        std = np.add(v, eps)
        np.sqrt(std, out=std)
        delta = np.add(u, eps)
        np.sqrt(delta, out=delta)
        delta /= std
        delta *= d
        add_scaled_square_(u, rho, delta, scratch)
        delta *= -lr
        p += delta
