"""Reductions: sums, means, variances, extremes and their positions, as functions of the input
tensor (``minigrad.sum(x, 1)``, as torch's), which the Tensor methods call."""
from __future__ import annotations

import functools
import inspect
import math
from collections import namedtuple
from typing import TYPE_CHECKING, Any, Callable, TypeVar, cast

import numpy as np

from ..tensor import _TYPE_NAMES, Tensor, _axes, _node

if TYPE_CHECKING:
    from .._typing import Array, Dim, DTypeLike

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
    """The vector ``p``-norm over ``dim`` (all elements by default), ``‖x‖_p = (Σ|x|^p)^(1/p)``: "fro" and None
    mean 2, inf / -inf the largest / smallest ``|x|`` (ties share the gradient), 0 the count of nonzeros. The
    gradient is torch's subgradient: 0 where the norm is 0, and for p < 1 at the elements that are 0."""
    if isinstance(p, str):
        if p == "nuc":
            raise NotImplementedError("norm: the nuclear norm (p='nuc') is not supported by minigrad")
        if p != "fro":
            raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
        if dim is not None and not isinstance(dim, int) and len(dim) > 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    p = 2.0 if p in ("fro", None) else float(p)
    if input.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {_TYPE_NAMES[input.dtype.name]}")
    x, axes = input._data, _axes(dim, input.ndim)
    axes = axes if x.ndim else ()  # a 0-d tensor takes dim 0 or -1, which reduce nothing
    empty = [i for i in axes if x.shape[i] == 0]
    if math.isinf(p) and (x.size == 0 if dim is None else empty):
        where = ("an empty tensor because " if dim is None  # (torch's text lacks the space before "because")
                 else f"the dimension {empty[0]}because this dimension is empty and ")
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p} norm on {where}the operation does not have "
                           "an identity")
    a = np.abs(x)
    if math.isinf(p):
        out = (np.max if p > 0 else np.min)(a, axes, keepdims=True)
    elif p in (0, 1):
        out = np.sum(a != 0 if p == 0 else a, axes, x.dtype, keepdims=True)
    elif p == 2:
        out = np.sqrt(np.sum(a * a, axes, keepdims=True))
    else:
        with np.errstate(divide="ignore"):  # |0|^p for p < 0: inf, and the norm 0, as torch's
            out = np.sum(a ** p, axes, keepdims=True) ** (1 / p)

    def backward(g: Array) -> tuple[Array]:
        g = g if keepdim else np.expand_dims(g, axes)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:
                return (np.zeros_like(x),)
            if p == 1:
                return (np.sign(x) * g,)
            if math.isinf(p):  # the extreme elements share g
                extreme = (a == out) | np.isnan(a)
                return (np.sign(x) * g * extreme / np.sum(extreme, axes, x.dtype, keepdims=True),)
            if p < 1:  # d‖x‖/dx = sign(x)|x|^(p−1) ‖x‖^(1−p), 0 where x = 0
                return (np.where(x == 0, 0, np.sign(x) * a ** (p - 1)) * g * out ** (1 - p),)
            scale = np.where(out == 0, 0, g / out ** (p - 1))  # 0 where the norm is 0
            return (np.sign(x) * a ** (p - 1) * scale if p < 2 else x * a ** (p - 2) * scale,)
    return _node(out if keepdim else out.squeeze(axes), (input,), backward, "norm")


def cumsum(input: Tensor, dim: int, *, dtype: DTypeLike | None = None) -> Tensor:
    """``out[..., i, ...] = Σ_{j<=i} x[..., j, ...]`` along ``dim``, in ``dtype`` if given (integers and bools sum
    in int64, as torch's); the gradient is g summed from the end: ``flip(cumsum(flip(g)))``."""
    axis, x = _axes(dim, input.ndim)[0], input._data
    dtype = np.dtype(dtype) if dtype is not None else np.dtype(np.int64) if x.dtype.kind in "biu" else x.dtype
    out = np.cumsum(np.atleast_1d(x), axis, dtype).reshape(x.shape)

    def backward(g: Array) -> tuple[Array]:
        g = np.atleast_1d(g)
        return (np.flip(np.cumsum(np.flip(g, axis), axis), axis).reshape(x.shape).astype(x.dtype, copy=False),)
    return _node(out, (input,) if dtype.kind == "f" else (), backward, "cumsum")


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> ValuesIndices:
    """(values, indices) sorted along ``dim``; the values' gradient goes back to where they came from."""
    indices = argsort(input, dim, descending, stable)
    return ValuesIndices(input.gather(dim, indices), indices)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The int64 indices that sort ``dim`` ascending (or ``descending``). Always stable: ties keep their order
    (which torch's unstable sort may also give); NaN sort as the largest, as in torch."""
    axis, x = _axes(dim, input.ndim)[0], np.atleast_1d(input._data)
    if not descending:
        indices = np.argsort(x, axis, kind="stable")
    else:  # ascending over the reversed dim, reversed back: ties keep their order and NaN come first
        last = x.shape[axis] - 1
        indices = last - np.flip(np.argsort(np.flip(x, axis), axis, kind="stable"), axis)
    return Tensor(indices.astype(np.int64, copy=False).reshape(input.shape))


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:
    """The ``k`` largest (or smallest) elements along ``dim``, in that order, and their int64 indices; among
    ties the first positions. The values' gradient goes back to where they came from."""
    axis = _axes(dim, input.ndim)[0]
    if not 0 <= k <= (input.shape[axis] if input.ndim else 1):
        raise RuntimeError("selected index k out of range")
    indices = argsort(input, dim, descending=largest, stable=True)
    if input.ndim:
        indices = Tensor(np.take(indices._data, np.arange(k), axis=axis))
    return ValuesIndices(input.gather(dim, indices), indices)
