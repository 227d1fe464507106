"""The NumPy twin of csrc/optim/schedulefree.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import check, flat, lerp_

if TYPE_CHECKING:
    from ..._typing import Array
    from ._common import Arrays


def _step_y_and_z(y: Array, z: Array, d: Array, lr: float, ckp1: float, y_step: float, weight_decay: float,
                  scratch: Array) -> None:
    """d ← d + λy;  y ← lerp(y, z, ckp1) + y_step·d;  z ← z − lr·d (d is a scratch array)."""
    if weight_decay != 0:
        np.multiply(y, weight_decay, out=scratch)
        d += scratch
    lerp_(y, z, ckp1, scratch)
    np.multiply(d, y_step, out=scratch)
    y += scratch
    d *= -lr
    z += d


def schedulefree_adamw(params: Arrays, grads: Arrays, zs: Arrays, exp_avg_sqs: Arrays, *, lr: float, ckp1: float,
                       y_step: float, beta2: float, eps: float, weight_decay: float, bias_correction2: float) -> None:
    """v ← β2·v + (1−β2)g²;  d ← g / (√(v / bc2) + eps) + λy;  y ← lerp(y, z, ckp1) + y_step·d;  z ← z − lr·d."""
    check("schedulefree_adamw()", dict(params=params, grads=grads, zs=zs, exp_avg_sqs=exp_avg_sqs))
    for y, g, z, v in flat(params, grads, zs, exp_avg_sqs):
        scratch = np.multiply(g, 1 - beta2)
        scratch *= g
        v *= beta2
        v += scratch
        d = np.divide(v, bias_correction2)
        np.sqrt(d, out=d)
        d += eps
        np.divide(g, d, out=d)
        _step_y_and_z(y, z, d, lr, ckp1, y_step, weight_decay, scratch)


def schedulefree_sgd(params: Arrays, grads: Arrays, zs: Arrays, *, lr: float, ckp1: float, y_step: float,
                     weight_decay: float) -> None:
    """d ← g + λy;  y ← lerp(y, z, ckp1) + y_step·d;  z ← z − lr·d."""
    check("schedulefree_sgd()", dict(params=params, grads=grads, zs=zs))
    for y, g, z in flat(params, grads, zs):
        _step_y_and_z(y, z, g.copy(), lr, ckp1, y_step, weight_decay, np.empty_like(y))
