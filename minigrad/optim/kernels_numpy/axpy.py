"""The NumPy twin of csrc/optim/axpy.h."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import check, flat

if TYPE_CHECKING:
    from ._common import Arrays


def axpy(xs: Arrays, ys: Arrays, *, alpha: float) -> None:
    """x ← x + α·y: the in-place bandwidth reference."""
    check("axpy()", dict(xs=xs, ys=ys), read_only="ys")
    for x, y in flat(xs, ys):
        x += np.multiply(y, alpha)
