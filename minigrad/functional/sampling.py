"""Resampling: ``interpolate`` (nearest, nearest-exact, linear/bilinear/trilinear, bicubic, area) and adaptive
average pooling. Each is separable: along every spatial axis a 1-D map y[o] = Σ_k w[o, k] · x[i[o, k]]
with the source positions and weights of torch's kernels. One node applies the maps axis after axis
(the last first, as torch nests its sums); its backward scatter-adds g·w back to the positions, axis by
axis in reverse."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

import numpy as np

from ..tensor import Tensor, _node

if TYPE_CHECKING:
    from .._typing import Array

_LINEAR = {"linear": 3, "bilinear": 4, "trilinear": 5}  # the input dims each linear mode needs
_CUBIC_A = -0.75  # torch's (and OpenCV's) cubic convolution parameter
_SPATIAL = "DHW"


class _AxisMap(NamedTuple):
    """A 1-D resampling: output o reads the sources ``source[o, k]`` (non-decreasing in o for each k)
    with weights ``weight[o, k]`` (None: a single source, read as is)."""
    source: Array
    weight: Array | None


def _apply(x: Array, axis: int, m: _AxisMap) -> Array:
    """Σ_k w[:, k] · x[source[:, k]] along ``axis``."""
    shape = (-1,) + (1,) * (x.ndim - axis - 1)
    if m.weight is None:
        return np.take(x, m.source[:, 0], axis)
    out = m.weight[:, 0].reshape(shape) * np.take(x, m.source[:, 0], axis)
    for k in range(1, m.source.shape[1]):
        out += m.weight[:, k].reshape(shape) * np.take(x, m.source[:, k], axis)
    return out


def _apply_adjoint(g: Array, axis: int, m: _AxisMap, size: int) -> Array:
    """The adjoint of ``_apply``: each g[o]·w[o, k] added at source[o, k]. The indices of each k are
    sorted, so equal ones are runs that ``np.add.reduceat`` sums, added at their distinct positions."""
    out = np.zeros(g.shape[:axis] + (size,) + g.shape[axis + 1:], g.dtype)
    if g.shape[axis] == 0:
        return out
    where = (slice(None),) * axis
    shape = (-1,) + (1,) * (g.ndim - axis - 1)
    for k in range(m.source.shape[1]):
        positions, starts = np.unique(m.source[:, k], return_index=True)
        values = g if m.weight is None else g * m.weight[:, k].reshape(shape)
        out[where + (positions,)] += np.add.reduceat(values, starts, axis)
    return out


def _resample(name: str, input: Tensor, maps: Sequence[_AxisMap]) -> Tensor:
    """The maps applied to the last ``len(maps)`` axes of ``input``, as one node."""
    first = input.ndim - len(maps)
    sizes = input.shape[first:]
    out = input._data
    for axis in reversed(range(len(maps))):
        out = _apply(out, first + axis, maps[axis])

    def backward(g: Array) -> tuple[Array]:
        for axis in range(len(maps)):
            g = _apply_adjoint(g, first + axis, maps[axis], sizes[axis])
        return (g,)
    return _node(np.ascontiguousarray(out, input.dtype), (input,), backward, name)


def _nearest(size: int, out: int, scale: float | None, exact: bool) -> _AxisMap:
    """torch's nearest source, in float32 as its kernel: min(floor(o·s), size − 1), or floor((o + ½)·s)
    for nearest-exact, with s = 1/scale_factor if given, else size/out."""
    s = np.float32(1.0 / scale) if scale else np.float32(size) / np.float32(out)
    position = (np.arange(out) + 0.5) * np.float64(s) if exact else np.arange(out, dtype=np.float32) * s
    return _AxisMap(np.minimum(np.floor(position.astype(np.float32)).astype(np.intp), size - 1)[:, None], None)


def _linear(size: int, out: int, scale: float | None, align_corners: bool, dtype: np.dtype[Any]) -> _AxisMap:
    """torch's linear weights, computed in the input's precision: source position o·(size − 1)/(out − 1)
    with align_corners, else max((o + ½)·s − ½, 0) with s as for nearest; the two neighbours (the
    last one twice at the end) weighted by the distance. Equal sizes copy, whatever the scale_factor."""
    if out == size:
        return _AxisMap(np.arange(size)[:, None], None)
    one = dtype.type(1)
    if align_corners:
        s = one * (size - 1) / (out - 1) if out > 1 else 0 * one
        position = s * np.arange(out, dtype=dtype)
    else:
        s = dtype.type(1.0 / scale) if scale else one * size / out
        # rounded once, as the fused multiply-add of torch's kernel (exact in float64 for float32 inputs)
        position = np.maximum((np.float64(s) * (np.arange(out) + 0.5) - 0.5).astype(dtype), 0)
    left = np.minimum(np.floor(position).astype(np.intp), size - 1)
    right = left + (left < size - 1)
    share = np.clip(position - left, 0, 1).astype(dtype)
    return _AxisMap(np.stack([left, right], 1), np.stack([one - share, share], 1))


def _cubic(size: int, out: int, scale: float | None, align_corners: bool, dtype: np.dtype[Any]) -> _AxisMap:
    """torch's bicubic taps: the four neighbours floor(p) − 1 … floor(p) + 2 of the source position p (as for
    linear, without the clamp at 0), clamped to the edges, weighted by the cubic convolution kernel
    (|d| ≤ 1: (a + 2)|d|³ − (a + 3)|d|² + 1; 1 < |d| < 2: a|d|³ − 5a|d|² + 8a|d| − 4a)."""
    o = np.arange(out, dtype=dtype)
    if align_corners:
        position = (dtype.type(size - 1) / (out - 1) if out > 1 else dtype.type(0)) * o
    else:
        s = dtype.type(1.0 / scale) if scale else dtype.type(size) / out
        position = s * (o + dtype.type(0.5)) - dtype.type(0.5)
    floor = np.floor(position)
    t, a = position - floor, dtype.type(_CUBIC_A)

    def inner(d: Array) -> Array:
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def outer(d: Array) -> Array:
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    source = np.clip(floor.astype(np.intp)[:, None] + np.arange(-1, 3), 0, size - 1)
    return _AxisMap(source, np.stack([outer(t + 1), inner(t), inner(1 - t), outer(2 - t)], 1).astype(dtype))


def _adaptive(size: int, out: int, dtype: np.dtype[Any]) -> _AxisMap:
    """torch's adaptive windows: output o averages [floor(o·size/out), ceil((o + 1)·size/out)); short
    windows are padded with weight-0 reads of their last element."""
    o = np.arange(out)
    start, end = o * size // out, -(-(o + 1) * size // out)
    width = int((end - start).max(initial=1))
    k = np.arange(width)
    source = np.minimum(start[:, None] + k, end[:, None] - 1)
    weight = (start[:, None] + k < end[:, None]) / (end - start)[:, None]
    return _AxisMap(source, weight.astype(dtype))


def interpolate(input: Tensor, size: int | Sequence[int] | None = None,
                scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resample the spatial dims of (N, C, [D, H,] W) to ``size``, or to floor(n·scale_factor) (torch then
    samples with the given scale_factor, unless ``recompute_scale_factor``). Modes: 'nearest',
    'nearest-exact', 'linear' (3-D), 'bilinear' and 'bicubic' (4-D), 'trilinear' (5-D), 'area' (adaptive
    average pooling); ``align_corners`` (interpolating modes only) maps the corner pixels' centres onto
    each other. ``antialias`` is not implemented."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    scales: list[float | None] = [None] * dim
    if size is not None:
        sizes = [size] * dim if isinstance(size, (int, np.integer)) else list(size)
        if len(sizes) != dim:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {list(input.shape[2:])} and output size of {size}. Please provide "
                             f"input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                             f"format.")
        if not all(isinstance(n, (int, np.integer)) for n in sizes):
            raise TypeError(f"expected size to be one of int or Tuple[int] or Tuple[int, int] or Tuple[int, int, int], "
                            f"but got size with types {[type(n) for n in sizes]}")
    elif scale_factor is not None:
        factors = [scale_factor] * dim if isinstance(scale_factor, (int, float)) else list(scale_factor)
        if len(factors) != dim:
            raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input "
                             f"with spatial dimensions of {list(input.shape[2:])} and scale_factor of shape "
                             f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                             f"scale_factor in (s1, s2, ...,sK) format.")
        scales = [*factors]
        sizes = [math.floor(n * s) for n, s in zip(input.shape[2:], factors)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if recompute_scale_factor or mode == "area":  # sample as if the computed size had been given
        scales = [None] * dim
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a 4-D "
                         "tensor as input")
    if mode in _LINEAR and input.ndim in (3, 4, 5) and input.ndim != _LINEAR[mode]:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {_LINEAR[mode]}D input")
    supported = ("nearest", "nearest-exact", "area", *_LINEAR) if input.ndim in (3, 4, 5) else ()
    if mode not in supported and not (mode == "bicubic" and input.ndim == 4):
        if input.ndim == 4 and mode == "lanczos":
            raise NotImplementedError(f"interpolate: mode {mode!r} is not implemented in minigrad")
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
                                  f"the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
                                  f"nearest-exact (got {mode})")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not implemented in minigrad")
    if mode == "area":  # torch's adaptive_avg_pool{1,2,3}d, with its checks
        if min(sizes) < 0 or min(input.shape[2:]) == 0:
            raise RuntimeError(f"adaptive_avg_pool: expected non-empty spatial dims and output sizes >= 0, got input "
                               f"{list(input.shape)} and output size {sizes}")
        return _resample("interpolate", input, [_adaptive(n, o, input.dtype) for n, o in zip(input.shape[2:], sizes)])
    if min(input.shape[2:]) <= 0 or min(sizes) <= 0:
        names = _SPATIAL[-dim:]
        given = ", ".join(f"{c}: {n}" for c, n in zip(names, input.shape[2:]))
        wanted = ", ".join(f"{c}: {n}" for c, n in zip(names, sizes))
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input ({given})"
                           f"{' and' if dim == 1 else ''} output ({wanted})")
    if input.shape[1] == 0:
        raise RuntimeError(f"Non-empty {input.ndim}D data tensor expected but got a tensor with sizes "
                           f"{list(input.shape)}")
    if mode == "bicubic":
        maps = [_cubic(n, o, s, bool(align_corners), input.dtype) for n, o, s in zip(input.shape[2:], sizes, scales)]
    else:
        maps = [_linear(n, o, s, bool(align_corners), input.dtype) if mode in _LINEAR else
                _nearest(n, o, s, mode == "nearest-exact") for n, o, s in zip(input.shape[2:], sizes, scales)]
    return _resample("interpolate", input, maps)


def adaptive_avg_pool2d(input: Tensor, output_size: int | None | Sequence[int | None]) -> Tensor:
    """Average (N, C, H, W) or (C, H, W) over the windows [floor(i·H/h), ceil((i + 1)·H/h)) × (the same
    for W) of each output cell; a None output size keeps the input's."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got {list(input.shape)}")
    given = [output_size] * 2 if output_size is None or isinstance(output_size, (int, np.integer)) else [*output_size]
    if len(given) != 2:
        raise RuntimeError("adaptive_avg_pool2d: output_size must be 2")
    sizes: list[int] = [n if o is None else o for n, o in zip(input.shape[-2:], given)]
    if min(sizes) < 0:
        raise RuntimeError(f"adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but "
                           f"received {{{sizes[0]}, {sizes[1]}}}")
    for axis in (-2, -1):
        if input.shape[axis] == 0:
            raise RuntimeError(f"adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {list(input.shape)} with dimension "
                               f"{input.ndim + axis} being empty")
    return _resample("adaptive_avg_pool2d", input,
                     [_adaptive(n, o, input.dtype) for n, o in zip(input.shape[-2:], sizes)])


def adaptive_avg_pool1d(input: Tensor, output_size: int | Sequence[int]) -> Tensor:
    """Average (N, C, L) or (C, L) over the windows [floor(i·L/l), ceil((i + 1)·L/l))."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.ndim}-dimensional tensor for argument #1 "
                           f"'self' (while checking arguments for adaptive_avg_pool1d)")
    if output_size is None:
        raise TypeError("adaptive_avg_pool1d(): argument 'output_size' (position 2) must be tuple of ints, "
                        "not NoneType")
    given = [output_size] if isinstance(output_size, (int, np.integer)) else list(output_size)
    if len(given) != 1:
        raise RuntimeError(f"adaptive_avg_pool1d() argument 'output_size' should contain one int (got {len(given)})")
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, given[0])).squeeze(-2)
