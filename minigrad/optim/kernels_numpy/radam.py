"""The NumPy twin of csrc/optim/radam.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import adam_moments_, check, flat

if TYPE_CHECKING:
    from ._common import Arrays


def radam(params: Arrays, grads: Arrays, exp_avgs: Arrays, exp_avg_sqs: Arrays, *, lr: float, beta1: float,
          beta2: float, eps: float, weight_decay: float, bias_correction1: float, bias_correction2_sqrt: float,
          rect: float, rectified: bool, maximize: bool, decoupled_weight_decay: bool) -> None:
    """θ ← θ(1 − lr·λ) if decoupled, else d ← d + λθ;  m ← lerp(m, d, 1−β1);  v ← β2·v + (1−β2)d²;
    s ← (m / bc1)·lr;  θ ← θ − s·(1/(√v + eps))·√bc2·rect if rectified, else θ ← θ − s."""
    check("radam()", dict(params=params, grads=grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs))
    for p, g, m, v in flat(params, grads, exp_avgs, exp_avg_sqs):
        _, scratch = adam_moments_(p, g, m, v, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay,
                                   maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        np.divide(m, bias_correction1, out=scratch)
        scratch *= lr
        if rectified:
            adaptive = np.sqrt(v)
            adaptive += eps
            np.reciprocal(adaptive, out=adaptive)
            adaptive *= bias_correction2_sqrt
            scratch *= adaptive
            scratch *= rect
        p -= scratch
