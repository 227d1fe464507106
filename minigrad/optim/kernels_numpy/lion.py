"""The NumPy twin of csrc/optim/lion.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import check, direction, flat

if TYPE_CHECKING:
    from ._common import Arrays


def lion(params: Arrays, grads: Arrays, exp_avgs: Arrays, *, lr: float, beta1: float, beta2: float,
         weight_decay: float, maximize: bool) -> None:
    """c = β1·m + (1−β1)·d;  θ ← θ(1 − lr·λ);  θ ← θ − lr·sign(c);  m ← β2·m + (1−β2)·d (sign(NaN) = NaN)."""
    check("lion()", dict(params=params, grads=grads, exp_avgs=exp_avgs))
    for p, g, m in flat(params, grads, exp_avgs):
        d = direction(p, g, 0, maximize)
        c = np.multiply(m, beta1)
        scratch = np.multiply(d, 1 - beta1)
        c += scratch
        np.sign(c, out=c)
        if weight_decay != 0:
            p *= 1 - lr * weight_decay
        c *= -lr
        p += c
        np.multiply(d, 1 - beta2, out=scratch)
        m *= beta2
        m += scratch
