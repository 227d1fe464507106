"""The NumPy twins of csrc/optim/muon.h (the Newton–Schulz orthogonalisation between them is
minigrad/optim/muon.py's newton_schulz, shared by both backends)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import check, flat, lerp_

if TYPE_CHECKING:
    from ._common import Arrays


def muon_momentum(grads: Arrays, momentum_buffers: Arrays, updates: Arrays, *, momentum: float,
                  nesterov: bool) -> None:
    """b ← lerp(b, g, 1 − μ);  u ← lerp(g, b, μ) if nesterov else b."""
    check("muon_momentum()", dict(grads=grads, momentum_buffers=momentum_buffers, updates=updates))
    for g, b, u in flat(grads, momentum_buffers, updates):
        scratch = np.empty_like(g)
        lerp_(b, g, 1 - momentum, scratch)
        np.copyto(u, g if nesterov else b)
        if nesterov:
            lerp_(u, b, momentum, scratch)


def muon_update(params: Arrays, orthos: Arrays, *, lr: float, weight_decay: float, adjusted_lr: float) -> None:
    """θ ← θ(1 − lr·λ);  θ ← θ − adjusted_lr·O."""
    check("muon_update()", dict(params=params, orthos=orthos), read_only="orthos")
    for p, o in flat(params, orthos):
        p *= 1 - lr * weight_decay
        p += np.multiply(o, -adjusted_lr)
