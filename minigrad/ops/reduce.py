"""Reductions: sums, means, variances, extremes and their positions, as functions of the input
tensor (``minigrad.sum(x, 1)``, as torch's), which the Tensor methods call."""
from __future__ import annotations

import math
from collections import namedtuple
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..tensor import Tensor, _axes, _node

if TYPE_CHECKING:
    from .._typing import Array, Dim

ValuesIndices = namedtuple("ValuesIndices", "values indices")  # what max(dim) / min(dim) return


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return Tensor(np.asarray(np.argmax(input._data, axis=dim, keepdims=keepdim)))


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return Tensor(np.asarray(np.argmin(input._data, axis=dim, keepdims=keepdim)))


def sum(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    axes, shape = _axes(dim, input.ndim), input._data.shape
    out = input._data.sum(axis=axes, keepdims=keepdim)
    return _node(out, (input,), lambda g: (np.broadcast_to(g if keepdim else np.expand_dims(g, axes), shape),),
                 "sum")


def mean(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    n = math.prod(input._data.shape[a] for a in _axes(dim, input.ndim))
    return input.sum(dim, keepdim) * (1 / n if n else math.nan)


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


def std(input: Tensor, dim: Dim = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: int | None = None) -> Tensor:
    return input.var(dim, unbiased, keepdim, correction=correction).sqrt()


def amax(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    return _reduce_max_min(input, np.max, dim, keepdim, "amax")


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


def max(input: Tensor, dim: int | Tensor | None = None, keepdim: bool = False) -> Any:
    """The largest element; with ``dim``, (values, indices) along it; with a tensor, ``maximum``."""
    return _max_min_overloads(input, dim, keepdim, input.amax, input.argmax, input.maximum)


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


def logsumexp(input: Tensor, dim: Dim, keepdim: bool = False) -> Tensor:
    x, axes = input._data, _axes(dim, input.ndim)
    m = np.max(x, axis=axes, keepdims=True) if x.size else np.zeros([1] * x.ndim, x.dtype)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):  # log(0) = -inf for empty or all -inf rows
        out = np.log(np.exp(x - m).sum(axis=axes, keepdims=True)) + m
    return _node(out if keepdim else out.squeeze(axes), (input,),
                 lambda g: ((g if keepdim else np.expand_dims(g, axes)) * np.exp(x - out),), "logsumexp")


def any(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """Whether any element (along ``dim``) is nonzero: a bool tensor."""
    return Tensor(np.asarray(np.any(input._data, axis=_axes(dim, input.ndim), keepdims=keepdim)))


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
