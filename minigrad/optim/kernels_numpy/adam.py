"""The NumPy twin of csrc/optim/adam.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import adam_moments_, check, flat

if TYPE_CHECKING:
    from ._common import Arrays


def adam(params: Arrays, grads: Arrays, exp_avgs: Arrays, exp_avg_sqs: Arrays, max_exp_avg_sqs: Arrays, *, lr: float,
         beta1: float, beta2: float, eps: float, weight_decay: float, step_size: float, bias_correction2_sqrt: float,
         amsgrad: bool, maximize: bool, decoupled_weight_decay: bool) -> None:
    """θ ← θ(1 − lr·λ) if decoupled, else d ← d + λθ;  m ← lerp(m, d, 1−β1);  v ← β2·v + (1−β2)d²;
    amsgrad: v̂ ← max(v̂, v);  θ ← θ − step_size·m / (√v / √bc2 + eps)."""
    check("adam()", dict(params=params, grads=grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs,
                          max_exp_avg_sqs=max_exp_avg_sqs), unused=[] if amsgrad else ["max_exp_avg_sqs"])
    for p, g, m, v, vmax in flat(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs if amsgrad else None):
        d, scratch = adam_moments_(p, g, m, v, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay,
                                   maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        second = v
        if amsgrad:
            second = np.maximum(vmax, v, out=vmax)
        denom = np.sqrt(second)
        denom /= bias_correction2_sqrt
        denom += eps
        np.multiply(m, -step_size, out=scratch)
        scratch /= denom
        p += scratch
