"""The NumPy twin of csrc/optim/nadam.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import add_scaled_square_, check, direction, flat, lerp_

if TYPE_CHECKING:
    from ._common import Arrays


def nadam(params: Arrays, grads: Arrays, exp_avgs: Arrays, exp_avg_sqs: Arrays, *, lr: float, beta1: float,
          beta2: float, eps: float, weight_decay: float, bias_correction2: float, grad_step_size: float,
          exp_avg_step_size: float, maximize: bool, decoupled_weight_decay: bool) -> None:
    """θ ← θ(1 − lr·λ) if decoupled, else d ← d + λθ;  m ← lerp(m, d, 1−β1);  v ← β2·v + (1−β2)d²;
    denom ← √(v / bc2) + eps;  θ ← θ − grad_step_size·d / denom;  θ ← θ − exp_avg_step_size·m / denom."""
    check("nadam()", dict(params=params, grads=grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs))
    for p, g, m, v in flat(params, grads, exp_avgs, exp_avg_sqs):
        if decoupled_weight_decay and weight_decay != 0:
            p *= 1 - lr * weight_decay
        d = direction(p, g, 0 if decoupled_weight_decay else weight_decay, maximize)
        scratch = np.empty_like(p)
        lerp_(m, d, 1 - beta1, scratch)
        add_scaled_square_(v, beta2, d, scratch)
        denom = np.divide(v, bias_correction2)
        np.sqrt(denom, out=denom)
        denom += eps
        np.multiply(d, -grad_step_size, out=scratch)
        scratch /= denom
        p += scratch
        np.multiply(m, -exp_avg_step_size, out=scratch)
        scratch /= denom
        p += scratch
