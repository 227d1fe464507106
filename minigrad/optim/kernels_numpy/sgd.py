"""The NumPy twin of csrc/optim/sgd.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import check, direction, flat

if TYPE_CHECKING:
    from ._common import Arrays


def sgd(params: Arrays, grads: Arrays, momentum_buffers: Arrays, *, lr: float, weight_decay: float, momentum: float,
        dampening: float, nesterov: bool, maximize: bool, first_step: bool) -> None:
    """b ← μ·b + (1 − dampening)·d (b ← d on the first step);  d ← d + μ·b (nesterov) or b;  θ ← θ − lr·d."""
    check("sgd()", dict(params=params, grads=grads, momentum_buffers=momentum_buffers),
           unused=["momentum_buffers"] if momentum == 0 else [])
    for p, g, b in flat(params, grads, momentum_buffers if momentum != 0 else None):
        d = direction(p, g, weight_decay, maximize)
        if momentum != 0:
            if first_step:
                np.copyto(b, d)
            else:
                b *= momentum
                b += d if dampening == 0 else np.multiply(d, 1 - dampening)
            d = np.add(d, np.multiply(b, momentum)) if nesterov else b
        p += np.multiply(d, -lr)
