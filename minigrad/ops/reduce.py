"""Reductions: sums, means, variances, extremes and their positions, as functions of the input
tensor (``minigrad.sum(x, 1)``, as torch's), which the Tensor methods call."""
from __future__ import annotations

import functools
import inspect
import math
from collections import namedtuple
from typing import TYPE_CHECKING, Any, Callable, TypeVar, cast

import numpy as np

from ..tensor import Tensor, _axes, _node

if TYPE_CHECKING:
    from .._typing import Array, Dim

ValuesIndices = namedtuple("ValuesIndices", "values indices")  # what max(dim) / min(dim) return
_Reduction = TypeVar("_Reduction", bound=Callable[..., Any])


def _numpy_names(reduction: _Reduction) -> _Reduction:
    """Also take NumPy's names ``axis`` and ``keepdims`` for ``dim`` and ``keepdim``, as torch's reductions do."""
    signature = inspect.signature(reduction)

    @functools.wraps(reduction)
    def reduce(*args: Any, **kwargs: Any) -> Any:
        if "axis" not in kwargs and "keepdims" not in kwargs:
            return reduction(*args, **kwargs)
        aliases = {name: kwargs.pop(numpy_name) for numpy_name, name in (("axis", "dim"), ("keepdims", "keepdim"))
                   if numpy_name in kwargs}
        bound = signature.bind_partial(*args, **kwargs)
        for name, value in aliases.items():
            if bound.arguments.get(name) not in (None, False, signature.parameters[name].default):
                raise TypeError(f"{reduction.__name__}() got both '{name}' and its NumPy name")
            bound.arguments[name] = value
        return reduction(*bound.args, **bound.kwargs)
    return cast("_Reduction", reduce)


@_numpy_names
def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return Tensor(np.asarray(np.argmax(input._data, axis=dim, keepdims=keepdim)))


@_numpy_names
def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return Tensor(np.asarray(np.argmin(input._data, axis=dim, keepdims=keepdim)))


@_numpy_names
def sum(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    axes, shape = _axes(dim, input.ndim), input._data.shape
    out = input._data.sum(axis=axes, keepdims=keepdim)
    return _node(out, (input,), lambda g: (np.broadcast_to(g if keepdim else np.expand_dims(g, axes), shape),),
                 "sum")


@_numpy_names
def mean(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    n = math.prod(input._data.shape[a] for a in _axes(dim, input.ndim))
    return input.sum(dim, keepdim) * (1 / n if n else math.nan)


@_numpy_names
def var(input: Tensor, dim: Dim = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: int | None = None) -> Tensor:
    """Squared deviations over ``dim`` (default all) summed, over n − ``correction`` (default 1); as in torch,
    the bool ``unbiased`` means correction 1 or 0, and a bool first argument is ``unbiased``: ``var(False)``."""
    if isinstance(dim, (bool, np.bool_)) and unbiased is None:
        dim, unbiased = None, dim
    if unbiased is not None and (correction is not None or not isinstance(unbiased, (bool, np.bool_))):
        raise TypeError(f"var/std: unbiased must be a bool, not given with correction; got unbiased={unbiased!r}")
    correction = int(unbiased) if unbiased is not None else 1 if correction is None else correction
    n = math.prod(input._data.shape[a] for a in _axes(dim, input.ndim))
    d = input - input.mean(dim, keepdim=True)
    return (d * d).sum(dim, keepdim) * (1 / (n - correction) if n > correction else math.inf)


@_numpy_names
def std(input: Tensor, dim: Dim = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: int | None = None) -> Tensor:
    return input.var(dim, unbiased, keepdim, correction=correction).sqrt()


@_numpy_names
def amax(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    return _reduce_max_min(input, np.max, dim, keepdim, "amax")


@_numpy_names
def amin(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    return _reduce_max_min(input, np.min, dim, keepdim, "amin")


def _reduce_max_min(input: Tensor, reduce: Callable[..., Array], dim: Dim, keepdim: bool, name: str) -> Tensor:
    """amax / amin: ties share the gradient equally."""
    x, axes = input._data, _axes(dim, input.ndim)
    if 0 in (x.shape[a] for a in axes):
        raise RuntimeError(f"{reduce.__name__}: cannot reduce an empty dimension (shape {x.shape}, dims {axes})")
    out = reduce(x, axis=axes, keepdims=True)

    def backward(g: Array) -> tuple[Array]:
        mask = x == out
        return (mask * (g if keepdim else np.expand_dims(g, axes)) / mask.sum(axes, keepdims=True, dtype=g.dtype),)
    return _node(out if keepdim else out.squeeze(axes), (input,), backward, name)


@_numpy_names
def max(input: Tensor, dim: int | Tensor | None = None, keepdim: bool = False) -> Any:
    """The largest element; with ``dim``, (values, indices) along it; with a tensor, ``maximum``."""
    return _max_min_overloads(input, dim, keepdim, input.amax, input.argmax, input.maximum)


@_numpy_names
def min(input: Tensor, dim: int | Tensor | None = None, keepdim: bool = False) -> Any:
    return _max_min_overloads(input, dim, keepdim, input.amin, input.argmin, input.minimum)


def _max_min_overloads(input: Tensor, dim: int | Tensor | None, keepdim: bool, whole: Callable[[], Tensor],
                       arg: Callable[..., Tensor], pairwise: Callable[[Tensor], Tensor]) -> Any:
    """max / min of a tensor (``pairwise``), of everything (``whole``) or along ``dim`` (values, indices)."""
    if isinstance(dim, Tensor):
        return pairwise(dim)
    if dim is None:
        return whole()
    indices = arg(dim, keepdim=True)
    values = input.gather(dim, indices)
    return ValuesIndices(values, indices) if keepdim else ValuesIndices(values.squeeze(dim), indices.squeeze(dim))


@_numpy_names
def logsumexp(input: Tensor, dim: Dim, keepdim: bool = False) -> Tensor:
    x, axes = input._data, _axes(dim, input.ndim)
    m = np.max(x, axis=axes, keepdims=True) if x.size else np.zeros([1] * x.ndim, x.dtype)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):  # log(0) = -inf for empty or all -inf rows
        out = np.log(np.exp(x - m).sum(axis=axes, keepdims=True)) + m
    return _node(out if keepdim else out.squeeze(axes), (input,),
                 lambda g: ((g if keepdim else np.expand_dims(g, axes)) * np.exp(x - out),), "logsumexp")


@_numpy_names
def any(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """Whether any element (along ``dim``) is nonzero: a bool tensor."""
    return Tensor(np.asarray(np.any(input._data, axis=_axes(dim, input.ndim), keepdims=keepdim)))


@_numpy_names
def all(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """Whether every element (along ``dim``) is nonzero: a bool tensor."""
    return Tensor(np.asarray(np.all(input._data, axis=_axes(dim, input.ndim), keepdims=keepdim)))


def norm(input: Tensor, p: float | str | None = "fro", dim: Dim = None, keepdim: bool = False) -> Tensor:
    """The vector ``p``-norm of the elements along ``dim`` (all of them by default), ``(Σ|x|^p)^(1/p)``;
    "fro" and None are the 2-norm, inf/-inf the largest/smallest ``|x|``, 0 the count of nonzeros.
    Differentiable except where that norm is 0 (the gradient there is 0, as torch's)."""
    p = 2.0 if p in ("fro", None) else p
    if isinstance(p, str):
        raise ValueError(f"norm: p must be a number, 'fro' or None, got {p!r}")
    a = input.abs()
    if p == math.inf:
        return a.amax(dim, keepdim)
    if p == -math.inf:
        return a.amin(dim, keepdim)
    if p == 0:
        return ((a > 0).to(input.dtype) + a * 0).sum(dim, keepdim)  # a zero gradient, as torch
    if p == 1:
        return a.sum(dim, keepdim)
    x, axes = input._data, _axes(dim, input.ndim)
    out = np.sum(np.abs(x) ** p, axis=axes, keepdims=True) ** (1 / p)

    def backward(g: Array) -> tuple[Array]:  # d‖x‖/dx = x|x|^(p-2) / ‖x‖^(p-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(out == 0, 0, (g if keepdim else np.expand_dims(g, axes)) / out ** (p - 1))
        return (scale * x * np.abs(x) ** (p - 2) if p != 2 else scale * x,)
    return _node(out if keepdim else out.squeeze(axes), (input,), backward, "norm")


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> ValuesIndices:
    """(values, indices) sorted along ``dim``; values are differentiable (gathered from the input)."""
    indices = argsort(input, dim, descending, stable)
    return ValuesIndices(input.gather(dim, indices), indices)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``dim`` (ascending, or ``descending``); ties keep their order (stable)."""
    axis = _axes(dim, input.ndim)[0] if input.ndim else 0
    x = input._data if input.ndim else input._data.reshape(1)
    if descending:  # negated: a stable sort then keeps the order of ties, as torch's stable sort
        x = -x.astype(np.int64) if x.dtype.kind in "bu" else -x
    return Tensor(np.argsort(x, axis=axis, kind="stable").reshape(input.shape))


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices, largest first."""
    axis = _axes(dim, input.ndim)[0] if input.ndim else 0
    n = input.shape[axis] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k ({k}) is out of range for dimension {dim} of size {n}")
    indices = argsort(input, dim, descending=largest)
    indices = Tensor(np.take(indices._data, np.arange(k), axis=axis)) if input.ndim else indices
    return ValuesIndices(input.gather(dim, indices) if input.ndim else input, indices)
