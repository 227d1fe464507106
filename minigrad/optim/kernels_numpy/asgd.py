"""The NumPy twin of csrc/optim/asgd.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import check, direction, flat

if TYPE_CHECKING:
    from ._common import Arrays


def asgd(params: Arrays, grads: Arrays, axs: Arrays, *, eta: float, lambd: float, mu: float, weight_decay: float,
         maximize: bool) -> None:
    """d ← d + λθ;  θ ← θ(1 − lambd·η);  θ ← θ − η·d;  ax ← ax + (θ − ax)·μ, or ax ← θ when μ = 1."""
    check("asgd()", dict(params=params, grads=grads, axs=axs))
    for p, g, ax in flat(params, grads, axs):
        d = direction(p, g, weight_decay, maximize)
        p *= 1 - lambd * eta
        p += np.multiply(d, -eta)
        if mu == 1:
            np.copyto(ax, p)
        else:
            moved = np.subtract(p, ax)
            moved *= mu
            ax += moved
