"""Activations, softmax and dropout (torch.nn.functional's signatures).

``relu``, ``sigmoid`` and ``tanh`` are Tensor methods (torch has them on Tensor too), so the
functions here call them; ``leaky_relu``, ``gelu`` and ``softplus``, which torch keeps only in
torch.nn.functional, are implemented here (the Tensor methods of the same name call these).
``inplace`` flags are accepted but the result is always a new tensor. The other elementwise
activations are nodes with their derivative computed in the forward (``_pointwise``).
"""
from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..random import default_generator
from ..tensor import _node

if TYPE_CHECKING:
    from .._typing import Array, DTypeLike
    from ..tensor import Tensor


def _pointwise(input: Tensor, out: Array, derivative: Array, name: str) -> Tensor:
    """An elementwise op's node: ``out`` with backward g·``derivative`` (both computed by the caller)."""
    return _node(out, (input,), lambda g: (g * derivative,), name)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``inplace`` is accepted for torch compatibility; minigrad always returns a new tensor."""
    return input.relu()


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    x = input._data
    positive = x > 0
    return _node(np.where(positive, x, x * negative_slope), (input,),
                 lambda g: (np.where(positive, g, g * negative_slope),), "leaky_relu")


_CHEBYSHEV: Any = np.polynomial.Chebyshev  # Any: numpy 1.24's stubs leave its methods untyped


def _chebyshev_fit(f: Callable[[float], float], lo: float, hi: float, degree: int) -> Any:
    """A Chebyshev series of ``degree`` fitted to ``f`` at 4·degree Chebyshev nodes of [lo, hi]."""
    nodes = lo + (hi - lo) * (1 + np.cos(np.pi * (np.arange(4 * degree) + 0.5) / (4 * degree))) / 2
    return _CHEBYSHEV.fit(nodes, [f(a) for a in nodes], degree, domain=[lo, hi])


# erf(x) = x·S(x²) for |x| < 1 and sign(x)·(1 − e^(−x²)·T(|x|)) above, with T(a) = erfc(a)·e^(a²), which is
# smooth; S and T are fitted at import to math.erf and math.erfc (erf's relative error ≤ 2e-15 in float64);
# erfc(6) < 2.2e-17, so from |x| = 6 on, erf is ±1 in float64.
_ERF_SMALL = _chebyshev_fit(lambda s: math.erf(math.sqrt(s)) / math.sqrt(s) if s else 2 / math.sqrt(math.pi), 0, 1, 12)
_ERFC_SCALED = _chebyshev_fit(lambda a: math.erfc(a) * math.exp(a * a), 1, 6, 28)


def _erf(x: Array) -> Array:
    """The error function, elementwise in x's float dtype (NumPy has none), ~3× faster than math.erf per
    element; computed in blocks that stay in cache, each branch on all of a block (cheaper than selecting)."""
    x = np.asarray(x, order="C")  # so that reshape(-1) below is a view of out, never a copy
    out = np.empty_like(x)
    blocks = max(1, x.size // 16384)
    for block, out_block in zip(np.array_split(x.reshape(-1), blocks), np.array_split(out.reshape(-1), blocks)):
        a = np.minimum(np.abs(block), 6)
        s, large = np.minimum(a, 1), np.maximum(a, 1)
        np.copyto(out_block, np.where(a < 1, block * _chebyshev_value(_ERF_SMALL, s * s),
                                      np.copysign(1 - np.exp(-large * large) * _chebyshev_value(_ERFC_SCALED, large),
                                                  block)))
    return out


def _chebyshev_value(series: Any, x: Array) -> Array:
    """``series(x)`` by Clenshaw's recurrence b = c + 2t·b' − b'' in x's dtype, on three buffers."""
    offset, scale = series.mapparms()
    t = x * x.dtype.type(scale) + x.dtype.type(offset)
    t2, b1, b2, b = t + t, np.zeros_like(t), np.zeros_like(t), np.empty_like(t)
    coef = series.coef.astype(x.dtype)
    for c in coef[:0:-1]:
        np.multiply(t2, b1, out=b)
        b -= b2
        b += c
        b1, b2, b = b, b1, b2
    np.multiply(t, b1, out=b)
    b -= b2
    b += coef[0]
    return b


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x·Φ(x) with the exact normal CDF Φ(x) = (1 + erf(x/√2))/2 (``approximate='none'``) or torch's tanh
    approximation (``'tanh'``)."""
    x = input._data
    if approximate == "tanh":
        # (1 + tanh(u))/2 = 1/(1 + exp(−2u)), u = √(2/π)·(x + 0.044715·x³): NumPy's exp is ~2× faster than its
        # tanh. float16 is computed in float32, as torch does.
        w = x.astype(np.float32) if x.dtype == np.float16 else x
        c, w2 = math.sqrt(2 / math.pi), w * w
        with np.errstate(over="ignore"):  # x³ or exp → ±inf where the CDF is 1 or 0
            e = np.multiply(w, 1 + 0.044715 * w2, out=np.empty_like(w))  # an array even when 0-d
            e *= -2 * c
            np.exp(e, out=e)
        e += 1
        cdf = np.reciprocal(e, out=e)
        return _node((w * cdf).astype(x.dtype, copy=False), (input,),
                     lambda g: ((g * _gelu_tanh_slope(w, w2, cdf, c)).astype(g.dtype, copy=False),), "gelu")
    if approximate == "none":
        cdf = 0.5 + 0.5 * _erf(x * (1 / math.sqrt(2)))
        pdf = np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
    else:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _node(x * cdf, (input,), lambda g: (g * (cdf + x * pdf),), "gelu")


def _gelu_tanh_slope(x: Array, x2: Array, cdf: Array, c: float) -> Array:
    """d/dx of x·cdf for the tanh approximation: cdf + x·cdf·(1 − cdf)·(2c + 6c·0.044715·x²). The
    factor cdf·(1 − cdf), 0 where |x| is large, comes first, so that x³ overflowing gives no inf·0."""
    slope: Array = cdf * (1 - cdf)
    slope *= x
    slope *= (6 * c * 0.044715) * x2 + 2 * c
    slope += cdf
    return slope


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


def _elu(input: Tensor, alpha: float, scale: float, input_scale: float, name: str) -> Tensor:
    """scale·x for x > 0, else scale·alpha·(exp(input_scale·x) − 1): elu, selu and celu (torch's scheme)."""
    x = input._data
    positive = x > 0
    e = np.exp(np.where(positive, 0, x) * input_scale) * (scale * alpha)
    return _pointwise(input, np.where(positive, x * scale, e - scale * alpha),
                      np.where(positive, scale, e * input_scale).astype(x.dtype, copy=False), name)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _elu(input, alpha, 1.0, 1.0, "elu")


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    return _elu(input, _SELU_ALPHA, _SELU_SCALE, 1.0, "selu")


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    if alpha == 0:
        raise ZeroDivisionError("celu: alpha must not be 0")
    return _elu(input, alpha, 1.0, 1 / alpha, "celu")


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x·tanh(softplus(x)); derivative tanh(sp) + x·σ(x)·(1 − tanh²(sp))."""
    x = input._data
    t = np.tanh(np.logaddexp(0, x))
    sig = 0.5 * (1 + np.tanh(0.5 * x))
    return _pointwise(input, x * t, t + x * sig * (1 - t * t), "mish")


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clipped to [min_val, max_val]; the gradient is 0 outside the open interval (as torch)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    x = input._data
    inside = (x > min_val) & (x < max_val)
    return _pointwise(input, np.clip(x, min_val, max_val), inside.astype(x.dtype), "hardtanh")


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6; the gradient is 1/6 on the open interval (−3, 3), else 0."""
    x = input._data
    return _pointwise(input, np.clip(x / 6 + 0.5, 0, 1), ((x > -3) & (x < 3)) * x.dtype.type(1 / 6), "hardsigmoid")


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x·relu6(x + 3) / 6; the gradient is 0 up to −3, x/3 + 1/2 on (−3, 3), 1 from 3 (torch's)."""
    x = input._data
    derivative = np.where(x <= -3, 0, np.where(x < 3, x / 3 + 0.5, 1)).astype(x.dtype, copy=False)
    return _pointwise(input, x * np.clip(x / 6 + 0.5, 0, 1), derivative, "hardswish")


def softsign(input: Tensor) -> Tensor:
    x = input._data
    d = 1 / (1 + np.abs(x))
    return _pointwise(input, x * d, d * d, "softsign")


def logsigmoid(input: Tensor) -> Tensor:
    """log σ(x) = −softplus(−x), stable for any x; derivative σ(−x)."""
    x = input._data
    return _pointwise(input, -np.logaddexp(0, -x), 0.5 * (1 - np.tanh(0.5 * x)), "logsigmoid")


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def _softmax_dim(name: str, input: Tensor, dim: int | None) -> int | None:
    """``dim``, or torch's implicit (deprecated, warned) choice when it is None: 0 for 0-, 1- and
    3-d inputs, else 1; None (all elements) for a 0-d input, where NumPy has no axis 0."""
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                      "as an argument.", UserWarning, stacklevel=3)
        dim = 0 if input.ndim in (0, 1, 3) else 1
    if input.ndim == 0 and dim in (0, -1):
        return None
    return dim


def softmax(input: Tensor, dim: int | None = None, dtype: DTypeLike | None = None) -> Tensor:
    """exp(x) / Σ exp(x) along ``dim`` (torch's implicit choice, with a warning, if None), computed in
    ``dtype`` if given."""
    axis = _softmax_dim("softmax", input, dim)
    input = input if dtype is None else input.to(dtype)
    x = input._data
    y = np.exp(x - x.max(axis, keepdims=True))
    y /= y.sum(axis, keepdims=True)
    return _node(y, (input,), lambda g: (y * (g - (g * y).sum(axis, keepdims=True)),), "softmax")


def _log_softmax(x: Array, dim: int | None) -> Array:
    z = x - x.max(dim, keepdims=True)
    return z - np.log(np.exp(z).sum(dim, keepdims=True))


def log_softmax(input: Tensor, dim: int | None = None, dtype: DTypeLike | None = None) -> Tensor:
    axis = _softmax_dim("log_softmax", input, dim)
    input = input if dtype is None else input.to(dtype)
    out = _log_softmax(input._data, axis)
    return _node(out, (input,), lambda g: (g - np.exp(out) * g.sum(axis, keepdims=True),), "log_softmax")


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` (drawn from minigrad's generator) and scale the rest
    by 1/(1-p); the identity when not training."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    return _drop(input, p, training, input.shape)


def _drop(input: Tensor, p: float, training: bool, mask_shape: tuple[int, ...]) -> Tensor:
    """``input`` times a mask of ``mask_shape`` (broadcast) keeping each entry with probability 1 − p,
    scaled by 1/(1 − p); the identity when not training."""
    if not training or p == 0:
        return input
    dtype = input.dtype if input.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    keep = default_generator().random(mask_shape, dtype) >= p
    return input * (keep * dtype.type(1 / (1 - p) if p < 1 else 0))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels (dim 1 of (N, C, H, W); of a 3-d input too, read as (N, C, L), as torch
    does with a warning) with probability ``p``, scaling the rest by 1/(1-p); the identity when not
    training."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated; dropout2d "
                      "expects 3D or 4D inputs.", UserWarning, stacklevel=2)
    elif input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim.",
                      UserWarning, stacklevel=2)
    return _drop(input, p, training, input.shape[:2] + (1,) * (input.ndim - 2) if input.ndim >= 2 else input.shape)
