"""The NumPy twin of csrc/optim/adagrad.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import check, direction, flat

if TYPE_CHECKING:
    from ._common import Arrays


def adagrad(params: Arrays, grads: Arrays, state_sums: Arrays, *, clr: float, weight_decay: float, eps: float,
            maximize: bool) -> None:
    """s ← s + d²;  θ ← θ − clr·d / (√s + eps)."""
    check("adagrad()", dict(params=params, grads=grads, state_sums=state_sums))
    for p, g, s in flat(params, grads, state_sums):
        d = direction(p, g, weight_decay, maximize)
        scratch = np.multiply(d, d)
        s += scratch
        std = np.sqrt(s)
        std += eps
        np.multiply(d, -clr, out=scratch)
        scratch /= std
        p += scratch
