"""The NumPy twin of csrc/optim/adamax.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import check, direction, flat, lerp_

if TYPE_CHECKING:
    from ._common import Arrays


def adamax(params: Arrays, grads: Arrays, exp_avgs: Arrays, exp_infs: Arrays, *, beta1: float, beta2: float,
           eps: float, weight_decay: float, step_size: float, maximize: bool) -> None:
    """d ← d + λθ;  m ← lerp(m, d, 1−β1);  u ← max(β2·u, |d| + eps);  θ ← θ − step_size·m / u."""
    check("adamax()", dict(params=params, grads=grads, exp_avgs=exp_avgs, exp_infs=exp_infs))
    for p, g, m, u in flat(params, grads, exp_avgs, exp_infs):
        d = direction(p, g, weight_decay, maximize)
        scratch = np.empty_like(p)
        lerp_(m, d, 1 - beta1, scratch)
        u *= beta2
        np.abs(d, out=scratch)
        scratch += eps
        np.maximum(u, scratch, out=u)  # NaN propagates, as torch.maximum
        np.multiply(m, -step_size, out=scratch)
        scratch /= u
        p += scratch
