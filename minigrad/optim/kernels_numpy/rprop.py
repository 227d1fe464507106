"""The NumPy twin of csrc/optim/rprop.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import check, flat

if TYPE_CHECKING:
    from ..._typing import Array
    from ._common import Arrays


def sign_or_zero(x: Array) -> Array:
    """torch.sign: −1, 0 or 1, and 0 for NaN (np.sign keeps the NaN)."""
    return np.subtract(x > 0, x < 0, dtype=x.dtype)


def rprop(params: Arrays, grads: Arrays, prevs: Arrays, step_sizes: Arrays, *, etaminus: float, etaplus: float,
          step_size_min: float, step_size_max: float, maximize: bool) -> None:
    """s = sign(d·prev);  step_size ← clamp(step_size·(etaplus if s > 0, etaminus if s < 0, else 1), min, max);
    d ← 0 where s < 0;  θ ← θ − sign(d)·step_size;  prev ← d."""
    check("rprop()", dict(params=params, grads=grads, prevs=prevs, step_sizes=step_sizes))
    for p, g, prev, size in flat(params, grads, prevs, step_sizes):
        d = np.negative(g) if maximize else g.copy()  # zeroed below where the sign flipped
        product = np.multiply(d, prev)
        flipped = product < 0
        factor = np.where(product > 0, p.dtype.type(etaplus), p.dtype.type(1))
        factor[flipped] = etaminus
        size *= factor
        np.clip(size, step_size_min, step_size_max, out=size)
        d[flipped] = 0
        p -= np.multiply(sign_or_zero(d), size)
        np.copyto(prev, d)
