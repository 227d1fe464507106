"""The NumPy twin of csrc/optim/sparse_adam.h."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ... import _C

if TYPE_CHECKING:
    from ._common import Arrays


def sparse_adam(params: Arrays, exp_avgs: Arrays, exp_avg_sqs: Arrays, indices: Arrays, values: Arrays, *,
                beta1: float, beta2: float, eps: float, step_size: float, maximize: bool) -> None:
    """On the rows r = indices[i] of each table only, with d = ±values[i] (one row each, rows unique):
    Δm = (d − m[r])(1 − β1);  Δv = (d² − v[r])(1 − β2);  m[r] += Δm;  v[r] += Δv;
    θ[r] += −step_size·(Δm + m_old) / (√(Δv + v_old) + eps)."""
    _C.check_sparse_adam(params, exp_avgs, exp_avg_sqs, indices, values)
    for p, m, v, rows, g in zip(params, exp_avgs, exp_avg_sqs, indices, values):
        width = math.prod(p.shape[1:])
        p, m, v = (a.reshape(len(a), width) for a in (p, m, v))  # views: (rows, width)
        d = g.reshape(len(rows), width)
        if maximize:
            d = np.negative(d)
        m_old, v_old = m[rows], v[rows]
        m_change = np.subtract(d, m_old)
        m_change *= 1 - beta1
        v_change = np.multiply(d, d)
        v_change -= v_old
        v_change *= 1 - beta2
        m_change += m_old  # the new m (and torch's numerator)
        v_change += v_old  # the new v
        m[rows], v[rows] = m_change, v_change
        denom = np.sqrt(v_change, out=v_change)
        denom += eps
        m_change /= denom
        m_change *= -step_size
        p[rows] += m_change
