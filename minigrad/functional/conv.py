"""Convolution, pooling and padding: ``conv2d`` (im2col through ``as_strided`` + one GEMM; col2im in
the backward), ``conv_transpose2d`` (the same two halves swapped), ``conv1d`` and ``conv_transpose1d``
(of height 1), ``max_pool2d``, ``avg_pool2d`` (and their 1-d forms, pools of height 1) and ``pad``, with
the sliding-window helpers they share."""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence, overload

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..tensor import Tensor, _node

if TYPE_CHECKING:
    from .._typing import Array

    Size = tuple[int, ...]  # per spatial dim: kernel, stride, padding, dilation, output


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """torch's ``pad``: (left, right) of the last dim first, then of the one before, ...; negative
    amounts crop. Modes: constant, reflect, replicate, circular."""
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: {pad} must hold (before, after) pairs for at most {input.ndim} dims")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if any(a < 0 or b < 0 for a, b in widths):  # crop first, then pad by the positive amounts
        input = input[tuple(slice(max(-a, 0), n - max(-b, 0)) for (a, b), n in zip(widths, input.shape))]
        widths = [(max(a, 0), max(b, 0)) for a, b in widths]
    if mode == "constant":
        inner = tuple(slice(a, a + n) for (a, _), n in zip(widths, input.shape))
        return _node(np.pad(input._data, widths, constant_values=value), (input,), lambda g: (g[inner],), "pad")
    modes: dict[str, Literal["reflect", "edge", "wrap"]] = {"reflect": "reflect", "replicate": "edge",
                                                            "circular": "wrap"}
    if mode not in modes:
        raise ValueError(f"pad: mode must be constant, reflect, replicate or circular, got {mode!r}")
    source = np.pad(np.arange(input.numel()).reshape(input.shape), widths, mode=modes[mode])
    return input.reshape(-1)[source]  # a gather, whose backward adds repeated elements up


def _pad2d(x: Array, top: int, bottom: int, left: int, right: int, fill: float = 0) -> Array:
    """x (N, C, H, W) with its last two dims padded by ``fill`` (x itself when there is nothing to pad)."""
    if not (top or bottom or left or right):
        return x
    out = np.full(x.shape[:2] + (x.shape[2] + top + bottom, x.shape[3] + left + right), fill, x.dtype)
    out[:, :, top: top + x.shape[2], left: left + x.shape[3]] = x
    return out


def _pair(v: int | Sequence[int]) -> Size:
    return (v, v) if isinstance(v, int) else tuple(v)


def _out_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool = False) -> int:
    """Output length of a sliding window (torch's formula, including ceil_mode's rule that the last
    window must start inside the input or its left padding)."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    return out - 1 if ceil_mode and (out - 1) * s >= n + p else out


def _windows(xp: Array, kernel: Size, out: Size, stride: Size, dilation: Size) -> Array:
    """The (N, C, KH, KW, OH, OW) view of every window of the padded ``xp`` (no copy)."""
    sN, sC, sH, sW = xp.strides
    return as_strided(xp, xp.shape[:2] + kernel + out, (sN, sC, dilation[0] * sH, dilation[1] * sW,
                                                       stride[0] * sH, stride[1] * sW), writeable=False)


@functools.lru_cache(maxsize=64)
def _window_index(shape: Size, kernel: Size, out: Size, stride: Size, dilation: Size) -> Array:
    """Where each element of each window of ``_windows`` sits in a C-contiguous array of ``shape``
    (N, C, H, W): flat positions of an (N, C, KH, KW, OH, OW) array, raveled (read-only; cached per
    geometry)."""
    n, c, i, j, oh, ow = np.ogrid[tuple(slice(m) for m in shape[:2] + kernel + out)]
    height, width = shape[2:]
    row, column = oh * stride[0] + i * dilation[0], ow * stride[1] + j * dilation[1]
    position = ((n * shape[1] + c) * height + row) * width + column
    index = position.reshape(-1)
    index.flags.writeable = False
    return index


def _scatter_add(shape: Size, index: Array, values: Array) -> Array:
    """The adjoint of reading ``values`` at flat positions ``index`` of an array of ``shape``: a zero
    array with every value added at its position (repeated positions add up)."""
    out = np.zeros(math.prod(shape), values.dtype)
    np.add.at(out, index.reshape(-1), np.broadcast_to(values, index.shape).reshape(-1))
    return out.reshape(shape)


def _im2col(xp: Array, kernel: Size, out: Size, stride: Size, dilation: Size, groups: int) -> Array:
    """Every window of the padded (N, C, H, W) ``xp`` as a column: (groups, C/groups·KH·KW, N·OH·OW),
    rows (c, i, j) and columns (n, oh, ow)."""
    (N, C), size = xp.shape[:2], out[0] * out[1]
    windows = _windows(xp, kernel, out, stride, dilation).transpose(1, 2, 3, 0, 4, 5)
    return windows.reshape(groups, C // groups * kernel[0] * kernel[1], N * size)


def _col2im(shape: Size, cols: Array, kernel: Size, out: Size, stride: Size, dilation: Size) -> Array:
    """The adjoint of ``_im2col``: the columns added into a zero (N, C, H, W) array of ``shape`` (the
    padded one), one strided slice per kernel offset (KH·KW whole-array adds, no scatter)."""
    (N, C, H, W), (KH, KW), (OH, OW) = shape, kernel, out
    windows = cols.reshape(C, KH, KW, N, OH, OW)
    grad = np.zeros((C, N, H, W), cols.dtype)
    for i in range(KH):
        for j in range(KW):
            top, left = i * dilation[0], j * dilation[1]
            grad[:, :, top: top + stride[0] * (OH - 1) + 1: stride[0],
                 left: left + stride[1] * (OW - 1) + 1: stride[1]] += windows[:, i, j]
    return np.ascontiguousarray(grad.transpose(1, 0, 2, 3))


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | Sequence[int] = 1,
           padding: int | Sequence[int] | Literal["valid", "same"] = 0, dilation: int | Sequence[int] = 1,
           groups: int = 1) -> Tensor:
    """2-D cross-correlation of (N, C, H, W) with weight (O, C/groups, KH, KW): im2col as one copy of
    an ``as_strided`` window view, then one (batched over groups) GEMM; the backward is a GEMM for the
    weight and a GEMM plus col2im for the input. ``padding`` may be 'valid' or 'same'."""
    if not isinstance(input, Tensor):
        raise TypeError(f"conv2d(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.ndim == 3:
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    x, w = input._data, weight._data
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1] * groups or w.shape[0] % groups:
        raise ValueError(f"conv2d: input of shape {x.shape} (N, C, H, W) does not fit weight of shape {w.shape} "
                         f"(O, C/groups, KH, KW) with groups={groups}")
    (N, _, H, W), (O, Cg, KH, KW), G = x.shape, w.shape, groups
    stride, dilation = _pair(stride), _pair(dilation)
    if isinstance(padding, str) and padding not in ("valid", "same"):
        raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
    if padding == "valid":
        padding = 0
    elif padding == "same":  # torch pads the extra element (for even kernels) at the end
        if stride != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        th, tw = dilation[0] * (KH - 1), dilation[1] * (KW - 1)
        return conv2d(pad(input, (tw // 2, tw - tw // 2, th // 2, th - th // 2)), weight, bias, 1, 0, dilation, groups)
    ph, pw = _pair(padding)
    OH, OW = _out_size(H, KH, stride[0], ph, dilation[0]), _out_size(W, KW, stride[1], pw, dilation[1])
    if OH <= 0 or OW <= 0:
        raise ValueError(f"conv2d: kernel {(KH, KW)} (dilation {dilation}) is larger than the padded input {x.shape}")
    xp = _pad2d(x, ph, ph, pw, pw)
    cols = _im2col(xp, (KH, KW), (OH, OW), stride, dilation, G)
    w2 = w.reshape(G, O // G, Cg * KH * KW)
    out = np.ascontiguousarray((w2 @ cols).reshape(O, N, OH, OW).transpose(1, 0, 2, 3))
    if bias is not None:
        out += bias._data.reshape(O, 1, 1)

    def backward(g: Array) -> tuple[Array | None, Array | None, Array | None]:
        g2 = g.transpose(1, 0, 2, 3).reshape(G, O // G, -1)
        gx = gw = gb = None
        if weight.requires_grad:
            gw = (g2 @ cols.transpose(0, 2, 1)).reshape(w.shape)
        if bias is not None and bias.requires_grad:
            gb = g.sum((0, 2, 3))
        if input.requires_grad:  # col2im: scatter-add the columns' gradient back into the padded input
            gxp = _col2im(xp.shape, w2.transpose(0, 2, 1) @ g2, (KH, KW), (OH, OW), stride, dilation)
            gx = gxp[:, :, ph: ph + H, pw: pw + W]
        return gx, gw, gb
    return _node(out, (input, weight) if bias is None else (input, weight, bias), backward, "conv2d")


def _check_transposed(name: str, input: Tensor, weight: Tensor, bias: Tensor | None, groups: int,
                      options: dict[str, Size]) -> None:
    """torch's checks of a transposed convolution's arguments (before anything is computed): dims,
    channels, groups, bias, and stride/padding/output_padding/dilation per spatial dim."""
    dims = weight.ndim - 2
    if input.ndim not in (dims + 1, dims + 2):
        raise RuntimeError(f"Expected {dims + 1}D (unbatched) or {dims + 2}D (batched) input to {name}, but got input "
                           f"of size: {list(input.shape)}")
    shape = list(input.shape if input.ndim == dims + 2 else (1,) + input.shape)
    if weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{list(weight.shape)}] instead")
    if shape[1] != weight.shape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected input{shape} to have "
                           f"{weight.shape[0]} channels, but got {shape[1]} channels instead")
    out_channels = weight.shape[1] * groups
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out_channels):
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected bias to be "
                           f"1-dimensional with {out_channels} elements, but got bias of size {list(bias.shape)} "
                           f"instead")
    for key, values in options.items():
        if len(values) != dims:
            raise RuntimeError(f"expected {key} to be a single integer value or a list of {dims} values to match the "
                               f"convolution dimensions, but got {key}={list(values)}")
    if min(options["stride"]) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if min(options["dilation"]) <= 0:
        raise RuntimeError("dilation should be greater than zero")
    if min(options["padding"]) < 0:
        raise RuntimeError("negative padding is not supported")
    if min(options["output_padding"]) < 0:
        raise RuntimeError("negative output_padding is not supported")


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | Sequence[int] = 1,
                     padding: int | Sequence[int] = 0, output_padding: int | Sequence[int] = 0, groups: int = 1,
                     dilation: int | Sequence[int] = 1) -> Tensor:
    """The transposed convolution (conv2d's gradient with respect to its input) of (N, C, H, W) with weight
    (C, O/groups, KH, KW): out (N, O, (H − 1)·s − 2p + d·(K − 1) + output_padding + 1, ...). Forward is
    conv2d's backward: one GEMM to columns, col2im, crop the padding; the backward is conv2d's forward
    (pad, im2col, GEMM) for the input, and a GEMM for the weight."""
    if input.ndim == weight.ndim - 1 and weight.ndim == 4:
        return conv_transpose2d(input.unsqueeze(0), weight, bias, stride, padding, output_padding, groups,
                                dilation).squeeze(0)
    geometry = {"stride": _pair(stride), "padding": _pair(padding), "output_padding": _pair(output_padding),
                "dilation": _pair(dilation)}
    _check_transposed("conv_transpose2d", input, weight, bias, groups, geometry)
    stride, (ph, pw), dilation = geometry["stride"], geometry["padding"], geometry["dilation"]
    extra = geometry["output_padding"]
    if any(e >= s and e >= d for e, s, d in zip(extra, stride, dilation)):
        raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                           f"output_padding_height: {extra[0]} output_padding_width: {extra[1]} stride_height: "
                           f"{stride[0]} stride_width: {stride[1]} dilation_height: {dilation[0]} dilation_width: "
                           f"{dilation[1]}")
    x, w = input._data, weight._data
    (N, C, H, W), (_, Og, KH, KW), G = x.shape, w.shape, groups
    OH, OW = ((n - 1) * s - 2 * p + d * (k - 1) + e + 1
              for n, s, p, d, k, e in zip((H, W), stride, (ph, pw), dilation, (KH, KW), extra))
    if OH <= 0 or OW <= 0:
        raise RuntimeError(f"conv_transpose2d: the output size {(OH, OW)} is not positive (input {x.shape}, weight "
                           f"{w.shape}, padding {(ph, pw)})")
    padded = (N, Og * G, OH + 2 * ph, OW + 2 * pw)  # conv2d's padded input, whose windows are our input's pixels
    w2 = w.reshape(G, C // G, Og * KH * KW)
    x2 = x.transpose(1, 0, 2, 3).reshape(G, C // G, N * H * W)
    out = _col2im(padded, w2.transpose(0, 2, 1) @ x2, (KH, KW), (H, W), stride, dilation)[:, :, ph: ph + OH,
                                                                                          pw: pw + OW]
    out = np.ascontiguousarray(out)
    if bias is not None:
        out += bias._data.reshape(-1, 1, 1)

    def backward(g: Array) -> tuple[Array | None, Array | None, Array | None]:
        cols = _im2col(_pad2d(g, ph, ph, pw, pw), (KH, KW), (H, W), stride, dilation, G)
        gx = gw = gb = None
        if input.requires_grad:
            gx = (w2 @ cols).reshape(C, N, H, W).transpose(1, 0, 2, 3)
        if weight.requires_grad:
            gw = (x2 @ cols.transpose(0, 2, 1)).reshape(w.shape)
        if bias is not None and bias.requires_grad:
            gb = g.sum((0, 2, 3))
        return gx, gw, gb
    return _node(out, (input, weight) if bias is None else (input, weight, bias), backward, "conv_transpose2d")


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
           padding: int | Literal["valid", "same"] = 0, dilation: int = 1, groups: int = 1) -> Tensor:
    """(N, C, L) with weight (O, C/groups, K), as a conv2d of height 1."""
    if isinstance(padding, int):
        padding = (0, padding)
    out = conv2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias, (1, stride), padding, (1, dilation), groups)
    return out.squeeze(-2)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | Sequence[int] = 1,
                     padding: int | Sequence[int] = 0, output_padding: int | Sequence[int] = 0, groups: int = 1,
                     dilation: int | Sequence[int] = 1) -> Tensor:
    """(N, C, L) or (C, L) with weight (C, O/groups, K), as a conv_transpose2d of height 1."""
    geometry = {name: (v,) if isinstance(v, int) else tuple(v) for name, v in
                (("stride", stride), ("padding", padding), ("output_padding", output_padding), ("dilation", dilation))}
    _check_transposed("conv_transpose1d", input, weight, bias, groups, geometry)
    (stride,), (padding,), (output_padding,), (dilation,) = geometry.values()
    return conv_transpose2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias, (1, stride), (0, padding),
                            (0, output_padding), groups, (1, dilation)).squeeze(-2)


def _pool_setup(name: str, x: Array, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None,
                padding: int | Sequence[int], dilation: int | Sequence[int], ceil_mode: bool,
                fill: float) -> tuple[Array, Size, Size, Size, Size, Size]:
    """The padded input (with ``fill``, and extra at the end for ceil_mode) and the pool's geometry."""
    if x.ndim != 4:
        raise ValueError(f"{name}: expected an input of shape (N, C, H, W), got {x.shape}")
    kernel = _pair(kernel_size)
    stride, padding, dilation = _pair(stride or kernel), _pair(padding), _pair(dilation)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{name}: padding {padding} must be at most half the kernel size {kernel}")
    geometry = list(zip(x.shape[2:], kernel, stride, padding, dilation))
    out = tuple(_out_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in geometry)
    if min(out) <= 0:
        raise ValueError(f"{name}: kernel {kernel} is larger than the padded input of shape {x.shape}")
    ends = [max(0, (o - 1) * s + d * (k - 1) + 1 - n - p) for o, (n, k, s, p, d) in zip(out, geometry)]
    xp = _pad2d(x, padding[0], ends[0], padding[1], ends[1], fill)
    return xp, kernel, stride, padding, dilation, out


@overload
def max_pool2d(input: Tensor, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
               padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1, ceil_mode: bool = False,
               return_indices: Literal[False] = False) -> Tensor: ...
@overload
def max_pool2d(input: Tensor, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
               padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1, ceil_mode: bool = False, *,
               return_indices: Literal[True]) -> tuple[Tensor, Tensor]: ...
def max_pool2d(input: Tensor, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
               padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """The maximum of each window (the first one on ties, as torch); the backward routes each
    gradient to it. ``return_indices`` also returns its flat index in each H×W input plane."""
    x = input._data
    xp, kernel, stride, padding, dilation, out = _pool_setup("max_pool2d", x, kernel_size, stride, padding, dilation,
                                                             ceil_mode, -np.inf)
    windows = _windows(xp, kernel, out, stride, dilation)
    values, arg = windows[:, :, 0, 0].copy(), np.zeros(x.shape[:2] + out, np.intp)
    for k in range(1, kernel[0] * kernel[1]):  # a running maximum over the kernel offsets
        v = windows[:, :, k // kernel[1], k % kernel[1]]
        np.copyto(arg, k, where=v > values)
        np.maximum(values, v, out=values)

    def backward(g: Array) -> tuple[Array]:
        index = _window_index(xp.shape, kernel, out, stride, dilation).reshape(x.shape[:2] + (-1,) + out)
        gxp = _scatter_add(xp.shape, np.take_along_axis(index, arg[:, :, None], 2), g[:, :, None])
        return (gxp[:, :, padding[0]: padding[0] + x.shape[2], padding[1]: padding[1] + x.shape[3]],)
    result = _node(values, (input,), backward, "max_pool2d")
    if not return_indices:
        return result
    rows = np.arange(out[0])[:, None] * stride[0] + arg // kernel[1] * dilation[0] - padding[0]
    cols = np.arange(out[1]) * stride[1] + arg % kernel[1] * dilation[1] - padding[1]
    return result, Tensor(rows * x.shape[3] + cols)


def avg_pool2d(input: Tensor, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
               padding: int | Sequence[int] = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """The mean of each window; windows are divided by their size, counting zero padding only if
    ``count_include_pad`` (never the extra cells of ceil_mode), or by ``divisor_override``."""
    x = input._data
    xp, kernel, stride, padding, dilation, out = _pool_setup("avg_pool2d", x, kernel_size, stride, padding, 1,
                                                             ceil_mode, 0)
    sums = _windows(xp, kernel, out, stride, dilation).sum((2, 3))
    if divisor_override:
        divisor = divisor_override
    else:  # count the cells each window covers: inside the input, or inside the padding too
        counted = np.zeros((1, 1) + xp.shape[2:], x.dtype)
        grow = (0, 0) if count_include_pad else padding
        counted[..., grow[0]: padding[0] + x.shape[2] + padding[0] - grow[0],
                grow[1]: padding[1] + x.shape[3] + padding[1] - grow[1]] = 1
        divisor = _windows(counted, kernel, out, stride, dilation).sum((2, 3))

    def backward(g: Array) -> tuple[Array]:
        index = _window_index(xp.shape, kernel, out, stride, dilation).reshape(x.shape[:2] + kernel + out)
        gxp = _scatter_add(xp.shape, index, (g / divisor)[:, :, None, None])
        return (gxp[:, :, padding[0]: padding[0] + x.shape[2], padding[1]: padding[1] + x.shape[3]],)
    return _node((sums / divisor).astype(x.dtype, copy=False), (input,), backward, "avg_pool2d")


def _pool1d(pool: Callable[..., Any], input: Tensor, kernel_size: int | Sequence[int],
            stride: int | Sequence[int] | None, padding: int | Sequence[int], **options: Any) -> Any:
    """A 2-d pool over (N, C, 1, L) (or (1, C, 1, L) for an unbatched (C, L) input), squeezed back."""
    if input.ndim not in (2, 3):
        raise ValueError(f"{pool.__name__[:-2]}1d: expected an input of shape (N, C, L) or (C, L), got {input.shape}")

    def first(v: int | Sequence[int]) -> int:
        return v if isinstance(v, int) else v[0]
    x = input.unsqueeze(-2) if input.ndim == 3 else input.unsqueeze(0).unsqueeze(-2)
    out = pool(x, (1, first(kernel_size)), None if stride is None else (1, first(stride)), (0, first(padding)),
               **options)
    outs = tuple(t.squeeze(-2) if input.ndim == 3 else t.squeeze(-2).squeeze(0)
                 for t in (out if isinstance(out, tuple) else (out,)))
    return outs if isinstance(out, tuple) else outs[0]


def max_pool1d(input: Tensor, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
               padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """``max_pool2d`` over (N, C, L) or (C, L); the indices (with ``return_indices``) index L."""
    d = dilation if isinstance(dilation, int) else dilation[0]
    return _pool1d(max_pool2d, input, kernel_size, stride, padding, dilation=(1, d), ceil_mode=ceil_mode,
                   return_indices=return_indices)


def avg_pool1d(input: Tensor, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
               padding: int | Sequence[int] = 0, ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    result: Tensor = _pool1d(avg_pool2d, input, kernel_size, stride, padding, ceil_mode=ceil_mode,
                             count_include_pad=count_include_pad)
    return result
