"""Activations, softmax and dropout (torch.nn.functional's signatures).

``relu``, ``sigmoid`` and ``tanh`` are Tensor methods (torch has them on Tensor too), so the
functions here call them; ``leaky_relu``, ``gelu`` and ``softplus``, which torch keeps only in
torch.nn.functional, are implemented here (the Tensor methods of the same name call these).
``inplace`` flags are accepted but the result is always a new tensor.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..tensor import _node, default_generator

if TYPE_CHECKING:
    from .._typing import Array
    from ..tensor import Tensor


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``inplace`` is accepted for torch compatibility; minigrad always returns a new tensor."""
    return input.relu()


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    x = input._data
    positive = x > 0
    return _node(np.where(positive, x, x * negative_slope), (input,),
                 lambda g: (np.where(positive, g, g * negative_slope),), "leaky_relu")


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x·Φ(x) with the exact normal CDF (``approximate='none'``: NumPy has no erf, so this calls
    math.erf per element, ~50 ns each) or torch's tanh approximation (``'tanh'``, vectorized)."""
    x = input._data
    if approximate == "tanh":
        c = math.sqrt(2 / math.pi)
        t = np.tanh(c * (x + 0.044715 * x * x * x))
        cdf, pdf = 0.5 * (1 + t), 0.5 * c * (1 - t * t) * (1 + 3 * 0.044715 * x * x)
    elif approximate == "none":
        cdf = 0.5 + 0.5 * np.asarray(_erf(x * (1 / math.sqrt(2))), x.dtype)
        pdf = np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
    else:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _node(x * cdf, (input,), lambda g: (g * (cdf + x * pdf),), "gelu")


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta·x)) / beta, computed stably; x itself where beta·x > threshold."""
    x = input._data
    z = x * beta
    soft = np.logaddexp(0, z)
    linear = z > threshold
    return _node(np.where(linear, x, soft / beta), (input,), lambda g: (np.where(linear, g, g * np.exp(z - soft)),),
                 "softplus")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return input * input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def softmax(input: Tensor, dim: int | None) -> Tensor:
    x = input._data
    y = np.exp(x - x.max(dim, keepdims=True))
    y /= y.sum(dim, keepdims=True)
    return _node(y, (input,), lambda g: (y * (g - (g * y).sum(dim, keepdims=True)),), "softmax")


def _log_softmax(x: Array, dim: int | None) -> Array:
    z = x - x.max(dim, keepdims=True)
    return z - np.log(np.exp(z).sum(dim, keepdims=True))


def log_softmax(input: Tensor, dim: int | None) -> Tensor:
    out = _log_softmax(input._data, dim)
    return _node(out, (input,), lambda g: (g - np.exp(out) * g.sum(dim, keepdims=True),), "log_softmax")


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` (drawn from minigrad's generator) and scale the rest
    by 1/(1-p); the identity when not training."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return input
    dtype = input.dtype if input.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    keep = default_generator().random(input.shape, dtype) >= p
    return input * (keep * dtype.type(1 / (1 - p) if p < 1 else 0))
