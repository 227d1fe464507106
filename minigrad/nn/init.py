"""Parameter initialisation, as torch.nn.init: every function fills a tensor in place from
minigrad's one seeded generator (``minigrad.manual_seed``) and returns the tensor."""
from __future__ import annotations

import math
import statistics
import warnings
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from ..autograd.engine import mark_modified
from ..random import default_generator

if TYPE_CHECKING:
    from .._typing import ArrayLike
    from ..tensor import Tensor

    D = TypeVar("D", bound=Tensor)  # a Tensor or a Parameter: returned as given


def _fill(tensor: D, values: ArrayLike) -> D:
    """Write ``values`` into the tensor's memory (outside autograd, as torch's init runs under no_grad)."""
    tensor._data[...] = values
    mark_modified(tensor)
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (torch's table)."""
    if nonlinearity in ("linear", "identity", "sigmoid") or nonlinearity.startswith("conv"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError("fan in and fan out can not be computed for a tensor with fewer than 2 dimensions")
    receptive_field = int(np.prod(shape[2:]))
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: D, a: float = 0.0, b: float = 1.0) -> D:
    return _fill(tensor, default_generator().uniform(a, b, tensor.shape))


def normal_(tensor: D, mean: float = 0.0, std: float = 1.0) -> D:
    return _fill(tensor, default_generator().normal(mean, std, tensor.shape))


def constant_(tensor: D, value: float) -> D:
    return _fill(tensor, value)


def zeros_(tensor: D) -> D:
    return _fill(tensor, 0)


def ones_(tensor: D) -> D:
    return _fill(tensor, 1)


def xavier_uniform_(tensor: D, gain: float = 1.0) -> D:
    """U(−a, a) with a = gain·√(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: D, gain: float = 1.0) -> D:
    """N(0, std²) with std = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor: D, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> D:
    """U(−b, b) with b = √3 · gain / √fan."""
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: D, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> D:
    """N(0, std²) with std = gain / √fan."""
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode)))


def trunc_normal_(tensor: D, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0) -> D:
    """N(mean, std²) restricted to [a, b] (absolute bounds, as torch's): rejection sampling, redrawing
    the values outside until none is left; where [a, b] holds under 5% of the mass, inverse-CDF sampling
    (one Python call per element). Warns, as torch, when mean is more than 2 std outside [a, b]."""
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of values may "
                      "be incorrect.", stacklevel=2)
    generator, shape = default_generator(), tensor.shape
    normal = statistics.NormalDist(mean, std)
    low, high = normal.cdf(a), normal.cdf(b)
    if high - low < 0.05:
        u = generator.uniform(low, high, math.prod(shape))
        values = np.array([normal.inv_cdf(min(max(v, 1e-300), 1 - 1e-16)) for v in u]).reshape(shape)
        return _fill(tensor, np.clip(values, a, b))
    values = generator.normal(mean, std, shape)
    outside = (values < a) | (values > b)
    while outside.any():
        values[outside] = generator.normal(mean, std, int(outside.sum()))
        outside = (values < a) | (values > b)
    return _fill(tensor, values)


def orthogonal_(tensor: D, gain: float = 1.0) -> D:
    """A (semi-)orthogonal matrix, times ``gain``, for the tensor flattened to (shape[0], rest): Q of
    the QR decomposition of a Gaussian matrix, its signs fixed by R's diagonal (torch's method)."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = default_generator().normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))
