"""The NumPy twin of csrc/optim/nadam.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import adam_moments_, check, flat

if TYPE_CHECKING:
    from ._common import Arrays


def nadam(params: Arrays, grads: Arrays, exp_avgs: Arrays, exp_avg_sqs: Arrays, *, lr: float, beta1: float,
          beta2: float, eps: float, weight_decay: float, bias_correction2: float, grad_step_size: float,
          exp_avg_step_size: float, maximize: bool, decoupled_weight_decay: bool) -> None:
    """θ ← θ(1 − lr·λ) if decoupled, else d ← d + λθ;  m ← lerp(m, d, 1−β1);  v ← β2·v + (1−β2)d²;
    denom ← √(v / bc2) + eps;  θ ← θ − grad_step_size·d / denom;  θ ← θ − exp_avg_step_size·m / denom."""
    check("nadam()", dict(params=params, grads=grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs))
    for p, g, m, v in flat(params, grads, exp_avgs, exp_avg_sqs):
        d, scratch = adam_moments_(p, g, m, v, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay,
                                   maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        denom = np.divide(v, bias_correction2)
        np.sqrt(denom, out=denom)
        denom += eps
        np.multiply(d, -grad_step_size, out=scratch)
        scratch /= denom
        p += scratch
        np.multiply(m, -exp_avg_step_size, out=scratch)
        scratch /= denom
        p += scratch
