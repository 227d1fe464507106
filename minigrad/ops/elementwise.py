"""Elementwise ops: each a function of its input tensor(s) (``minigrad.exp(x)``, as torch's), which
the Tensor method of the same name calls (``x.exp()``). Forward and backward side by side."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..tensor import _C_TYPE_NAMES, Tensor, _node, _operand, _shape_error, _unwrap

if TYPE_CHECKING:
    from .._typing import Array, Operand, TensorLike


def exp(input: Tensor) -> Tensor:
    out = np.exp(input._data)
    return _node(out, (input,), lambda g: (g * out,), "exp")


def log(input: Tensor) -> Tensor:
    x = input._data
    return _node(np.log(x), (input,), lambda g: (g / x,), "log")


def sin(input: Tensor) -> Tensor:
    x = input._data
    return _node(np.sin(x), (input,), lambda g: (g * np.cos(x),), "sin")


def cos(input: Tensor) -> Tensor:
    x = input._data
    return _node(np.cos(x), (input,), lambda g: (-g * np.sin(x),), "cos")


def sqrt(input: Tensor) -> Tensor:
    return input ** 0.5


def abs(input: Tensor) -> Tensor:
    x = input._data
    return _node(np.abs(x), (input,), lambda g: (g * np.sign(x),), "abs")


def tanh(input: Tensor) -> Tensor:
    out = np.tanh(input._data)
    return _node(out, (input,), lambda g: (g * (1 - out * out),), "tanh")


def sigmoid(input: Tensor) -> Tensor:
    x = input._data
    e = np.exp(-np.abs(x))  # stable on both sides: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) below
    out = np.where(x >= 0, 1, e) / (1 + e)
    return _node(out, (input,), lambda g: (g * out * (1 - out),), "sigmoid")


def relu(input: Tensor) -> Tensor:
    out = np.maximum(input._data, 0)
    return _node(out, (input,), lambda g: (g * (out > 0),), "relu")


def clamp(input: Tensor, min: Operand | None = None, max: Operand | None = None) -> Tensor:
    """``minimum(maximum(x, min), max)`` (``max`` wins where min > max). Tensor bounds broadcast and get the
    gradient where they are the result, by torch's rules: x keeps it at ties; at x < min == max no one does."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    x, lo, hi = input._data, _unwrap(min), _unwrap(max)

    def backward(g: Array) -> list[Array]:
        inside = (x >= (-np.inf if lo is None else lo)) & (x <= (np.inf if hi is None else hi))
        to_min = (x < lo) & (True if hi is None else lo < hi) if isinstance(min, Tensor) else None
        to_max = (x > hi) | (False if lo is None else hi < lo) if isinstance(max, Tensor) else None
        return [np.where(mask, g, 0) for mask in (inside, to_min, to_max) if mask is not None]
    return _node(np.clip(x, lo, hi), (input, *(b for b in (min, max) if isinstance(b, Tensor))), backward, "clamp")


def clamp_min(input: Tensor, min: Operand) -> Tensor: return input.clamp(min=min)


def clamp_max(input: Tensor, max: Operand) -> Tensor: return input.clamp(max=max)


def maximum(input: Tensor, other: Operand) -> Tensor:
    return _pairwise_max_min(input, other, np.maximum, np.greater)


def minimum(input: Tensor, other: Operand) -> Tensor:
    return _pairwise_max_min(input, other, np.minimum, np.less)


def where(condition: TensorLike, input: Operand, other: Operand) -> Tensor:
    """``input`` where ``condition`` holds, else ``other`` (tensors or numbers; broadcasting). A Python
    number takes the other operand's dtype when that holds its kind, else promotes as in torch
    (``where(c, int_tensor, 2.5)`` is float32)."""
    x, y = _where_operand(input, other), _where_operand(other, input)
    floats = [d for d in (x.dtype, y.dtype) if d.kind == "f"]
    dtype = np.result_type(*floats) if floats else np.result_type(x.dtype, y.dtype)
    c = np.asarray(_unwrap(condition), dtype=bool)
    try:
        out = np.where(c, x._data, y._data).astype(dtype, copy=False)
    except ValueError:
        raise ValueError(f"where: shapes {c.shape}, {x.shape} and {y.shape} do not broadcast") from None
    return _node(out, (x, y), lambda g: (np.where(c, g, 0), np.where(c, 0, g)), "where")


def _where_operand(value: Operand, other: Operand) -> Tensor:
    """An operand of ``where`` as a tensor: a Python number weakly typed (the other operand's dtype if
    it is a tensor of the number's kind, else float32, int64 or bool), an array cast as ``_operand``."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float)):
        kind = "b" if isinstance(value, bool) else "iuf" if isinstance(value, int) else "f"
        if isinstance(other, Tensor) and other.dtype.kind in kind:
            return Tensor(np.asarray(value, other.dtype))
        return Tensor(np.asarray(value, np.bool_ if kind == "b" else np.int64 if kind == "iuf" else np.float32))
    return Tensor(np.asarray(_operand(value, other) if isinstance(other, Tensor) else value))


def _pairwise_max_min(input: Tensor, other: Operand, choose: np.ufunc, wins: np.ufunc) -> Tensor:
    """maximum / minimum: the gradient goes to the chosen operand, split equally on ties."""
    other = other if isinstance(other, Tensor) else Tensor(np.asarray(_operand(other, input)))
    a, b = input._data, other._data
    try:
        out = choose(a, b)
    except ValueError:
        raise _shape_error(choose.__name__, input, other) from None

    def backward(g: Array) -> tuple[Array, Array]:
        share = np.where(a == b, 0.5, wins(a, b)).astype(g.dtype)
        return g * share, g * (1 - share)
    return _node(out, (input, other), backward, choose.__name__)


def masked_fill(input: Tensor, mask: TensorLike, value: Operand) -> Tensor:
    """``value`` where the bool ``mask`` holds, else ``input`` (both broadcast); the gradient flows to ``input``
    where the mask is False, and to a 0-d tensor ``value`` summed where it is True."""
    mask_dtype = np.asarray(_unwrap(mask)).dtype
    if mask_dtype != np.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{_C_TYPE_NAMES.get(mask_dtype.name, mask_dtype.name)}")
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value.ndim} dimension(s).")
    _check_broadcast(np.shape(_unwrap(mask)), input.shape)
    return where(mask, value if isinstance(value, Tensor) else Tensor(np.asarray(value, input.dtype)), input)


def _check_broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    """torch's error unless shapes ``a`` and ``b`` broadcast, naming the last dim where they differ."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    for d in reversed(range(n)):
        if a[d] != b[d] and 1 not in (a[d], b[d]):
            raise RuntimeError(f"The size of tensor a ({a[d]}) must match the size of tensor b ({b[d]}) at "
                               f"non-singleton dimension {d}")


def isnan(input: Tensor) -> Tensor: return Tensor(np.isnan(input._data))
def isinf(input: Tensor) -> Tensor: return Tensor(np.isinf(input._data))
def isfinite(input: Tensor) -> Tensor: return Tensor(np.isfinite(input._data))
def logical_not(input: Tensor) -> Tensor: return Tensor(np.logical_not(input._data))
def logical_and(input: Tensor, other: TensorLike) -> Tensor: return Tensor(np.logical_and(input._data, _unwrap(other)))
def logical_or(input: Tensor, other: TensorLike) -> Tensor: return Tensor(np.logical_or(input._data, _unwrap(other)))
def logical_xor(input: Tensor, other: TensorLike) -> Tensor: return Tensor(np.logical_xor(input._data, _unwrap(other)))


def bitwise(ufunc: np.ufunc, input: Tensor, other: TensorLike | None = None) -> Tensor:
    """``&``, ``|``, ``^``, ``~`` of bool (logical) or integer (bitwise) tensors, as torch's operators."""
    if input.dtype.kind not in "biu" or (other is not None and np.asarray(_unwrap(other)).dtype.kind not in "biu"):
        raise TypeError(f"{ufunc.__name__} needs bool or integer tensors, got {input.dtype}")
    return Tensor(np.asarray(ufunc(input._data) if other is None else ufunc(input._data, _unwrap(other))))


def isclose(input: Tensor, other: TensorLike, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    return Tensor(np.asarray(np.isclose(input._data, _unwrap(other), rtol, atol, equal_nan)))


def allclose(input: Tensor, other: TensorLike, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether ``|input − other| <= atol + rtol·|other|`` everywhere (broadcasting), as torch's."""
    return bool(np.allclose(input._data, _unwrap(other), rtol, atol, equal_nan))


def equal(input: Tensor, other: Tensor) -> bool:
    """Whether both have the same shape and elements."""
    return input.shape == other.shape and bool(np.array_equal(input._data, other._data))
