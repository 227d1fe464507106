"""The NumPy twin of csrc/optim/averaging.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import check, flat, lerp_

if TYPE_CHECKING:
    from ._common import Arrays


def lerp(starts: Arrays, ends: Arrays, *, weight: float) -> None:
    """start ← lerp(start, end, weight), torch.lerp's formulas."""
    check("lerp()", dict(starts=starts, ends=ends), read_only="ends")
    for s, e in flat(starts, ends):
        lerp_(s, e, weight, np.empty_like(s))


def running_mean(means: Arrays, values: Arrays, *, count: float) -> None:
    """mean ← mean + (value − mean) / count."""
    check("running_mean()", dict(means=means, values=values), read_only="values")
    for m, x in flat(means, values):
        step = np.subtract(x, m)
        step /= count
        m += step
