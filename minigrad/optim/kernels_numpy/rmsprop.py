"""The NumPy twin of csrc/optim/rmsprop.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import add_scaled_square_, check, direction, flat, lerp_

if TYPE_CHECKING:
    from ._common import Arrays


def rmsprop(params: Arrays, grads: Arrays, square_avgs: Arrays, grad_avgs: Arrays, momentum_buffers: Arrays, *,
            lr: float, alpha: float, eps: float, weight_decay: float, momentum: float, centered: bool,
            maximize: bool) -> None:
    """v ← αv + (1−α)d²;  avg ← √(v − ḡ²) with ḡ ← lerp(ḡ, d, 1−α) if centered, else √v;  avg ← avg + eps;
    with momentum b ← μb + d/avg, θ ← θ − lr·b;  else θ ← θ − lr·d/avg."""
    check("rmsprop()", dict(params=params, grads=grads, square_avgs=square_avgs, grad_avgs=grad_avgs,
                             momentum_buffers=momentum_buffers),
           unused=[name for name, used in (("grad_avgs", centered), ("momentum_buffers", momentum > 0)) if not used])
    for p, g, v, gavg, b in flat(params, grads, square_avgs, grad_avgs if centered else None,
                                  momentum_buffers if momentum > 0 else None):
        d = direction(p, g, weight_decay, maximize)
        scratch = np.empty_like(p)
        add_scaled_square_(v, alpha, d, scratch)
        if centered:
            lerp_(gavg, d, 1 - alpha, scratch)
            avg = np.multiply(gavg, gavg)
            np.subtract(v, avg, out=avg)
            np.copyto(avg, v, where=np.isposinf(v) & np.isfinite(gavg))  # ∞ − (ḡ² overflowed) is ∞, as in torch
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(v)
        avg += eps
        if momentum > 0:
            b *= momentum
            b += np.divide(d, avg, out=scratch)
            np.multiply(b, -lr, out=scratch)
        else:
            np.multiply(d, -lr, out=scratch)
            scratch /= avg
        p += scratch
