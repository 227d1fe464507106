"""Normalization: ``layer_norm``, ``batch_norm`` and ``instance_norm`` share one normalizing node with a
fused backward; the affine part is composed of Tensor ops, as is ``normalize`` (x / max(‖x‖_p, eps)).
``group_norm`` is one node, its affine part included."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Sequence, Tuple

import numpy as np

from ..tensor import Tensor, _node, _unwrap

if TYPE_CHECKING:
    from .._typing import Array

    Mean = Callable[[Array, Tuple[int, ...]], Array]  # the mean over axes (keepdims): this array's, or the world's


def _local_mean(a: Array, axes: tuple[int, ...]) -> Array:
    return a.mean(axes, keepdims=True)


def _normalize(name: str, input: Tensor, axes: tuple[int, ...], eps: float,
               mean_over: Mean = _local_mean) -> tuple[Tensor, Array, Array]:
    """(x − mean) / sqrt(var + eps) over ``axes``, with the fused backward
    rstd · (g − mean(g) − x̂ · mean(g·x̂)); also returns the batch mean and (biased) variance. Every
    mean is ``mean_over``'s: SyncBatchNorm's takes it over the batches of all ranks."""
    x = input._data
    mean = mean_over(x, axes)
    centered = x - mean
    var = mean_over(np.square(centered), axes)
    rstd = 1 / np.sqrt(var + eps)
    xhat = centered * rstd

    def backward(g: Array) -> tuple[Array]:
        return (_normalize_grad(g, xhat, rstd, axes, mean_over),)
    return _node(xhat, (input,), backward, name), mean, var


def _normalize_grad(g: Array, xhat: Array, rstd: Array, axes: tuple[int, ...], mean_over: Mean = _local_mean) -> Array:
    """The input gradient of x̂ = (x − mean) · rstd over ``axes``: rstd · (g − mean(g) − x̂ · mean(g·x̂))."""
    return rstd * (g - mean_over(g, axes) - xhat * mean_over(g * xhat, axes))


def _affine(x: Tensor, weight: Tensor | Array | None, bias: Tensor | Array | None, shape: tuple[int, ...]) -> Tensor:
    if weight is not None:
        x = x * (weight.reshape(shape) if isinstance(weight, Tensor) else np.reshape(weight, shape))
    if bias is not None:
        x = x + (bias.reshape(shape) if isinstance(bias, Tensor) else np.reshape(bias, shape))
    return x


def layer_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | Array | None = None,
               bias: Tensor | Array | None = None, eps: float = 1e-5) -> Tensor:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if input.shape[input.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} does not match the end of the input shape "
                         f"{input.shape}")
    xhat, _, _ = _normalize("layer_norm", input, tuple(range(input.ndim - len(shape), input.ndim)), eps)
    return _affine(xhat, weight, bias, shape)


def batch_norm(input: Tensor, running_mean: Tensor | Array | None, running_var: Tensor | Array | None,
               weight: Tensor | Array | None = None, bias: Tensor | Array | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel (dim 1) over the batch and spatial dims. Training uses the batch
    statistics and updates ``running_mean``/``running_var`` (ndarrays, or Tensors) in place with
    ``momentum`` (the variance unbiased, as in torch); evaluation uses the running statistics."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, ...), got {input.shape}")
    return _channel_norm("batch_norm", input, (0,) + tuple(range(2, input.ndim)), running_mean, running_var, weight,
                         bias, training, momentum, eps)


def instance_norm(input: Tensor, running_mean: Tensor | Array | None = None,
                  running_var: Tensor | Array | None = None, weight: Tensor | Array | None = None,
                  bias: Tensor | Array | None = None, use_input_stats: bool = True, momentum: float = 0.1,
                  eps: float = 1e-5) -> Tensor:
    """Normalize each sample's channels (N, C, ...) over their spatial dims. With ``use_input_stats``
    each instance's own statistics, and running statistics (if given) move towards their batch
    average with ``momentum``; without, the running statistics are used, as in torch."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input of shape (N, C, ...) with spatial dims, got {input.shape}")
    return _channel_norm("instance_norm", input, tuple(range(2, input.ndim)), running_mean, running_var, weight,
                         bias, use_input_stats, momentum, eps)


def _channel_norm(name: str, input: Tensor, axes: tuple[int, ...], running_mean: Tensor | Array | None,
                  running_var: Tensor | Array | None, weight: Tensor | Array | None, bias: Tensor | Array | None,
                  input_stats: bool, momentum: float, eps: float, mean_over: Mean = _local_mean) -> Tensor:
    """Batch and instance norm: normalize over ``axes`` (their own statistics, which update the running
    ones averaged over what is left besides the channel), or with the running statistics; then per-channel
    affine. SyncBatchNorm: ``mean_over`` takes the means over every rank's batch (its ``count`` then says
    how many values a channel had)."""
    shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
    if input_stats:
        xhat, mean, var = _normalize(name, input, axes, eps, mean_over)
        n = getattr(mean_over, "count", math.prod(input.shape[a] for a in axes))
        if n <= 1:
            raise ValueError(f"{name}: expected more than 1 value per channel when training, got input {input.shape}")
        for running, batch in ((running_mean, mean), (running_var, var * (n / (n - 1)))):
            if running is not None:
                running = _unwrap(running)
                running *= 1 - momentum
                running += momentum * batch.reshape(-1, input.shape[1]).mean(0)
    else:
        mean = np.reshape(_unwrap(running_mean), shape)  # type: ignore[arg-type]
        var = np.reshape(_unwrap(running_var), shape)  # type: ignore[arg-type]
        xhat = (input - mean) * (1 / np.sqrt(var + eps))
    return _affine(xhat, weight, bias, shape)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Split the channels of (N, C, *) into ``num_groups`` groups, normalize each sample's group over its
    channels and positions, then y = x̂·w + b per channel. One node: the backward is the normalization's
    for g·w, Σ g·x̂ for w and Σ g for b (over all but the channel dim)."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    (N, C), x = input.shape[:2], input._data
    if C % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(input.shape)} and num_groups={num_groups}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and (p.ndim != 1 or p.shape[0] != C):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, but "
                               f"got {name} of shape {list(p.shape)} and input of shape {list(input.shape)}")
    groups = (N, num_groups, C // num_groups * math.prod(input.shape[2:]))
    grouped = x.reshape(groups)
    mean, var = grouped.mean(2, keepdims=True), grouped.var(2, keepdims=True)
    rstd = 1 / np.sqrt(var + eps)
    xhat = ((grouped - mean) * rstd).reshape(x.shape)
    shape, others = (C,) + (1,) * (input.ndim - 2), (0,) + tuple(range(2, input.ndim))
    out = xhat if weight is None else xhat * weight._data.reshape(shape)
    if bias is not None:
        out = out + bias._data.reshape(shape)

    def backward(g: Array) -> tuple[Array | None, ...]:
        gxhat = g if weight is None else g * weight._data.reshape(shape)
        gx = _normalize_grad(gxhat.reshape(groups), xhat.reshape(groups), rstd, (2,)).reshape(x.shape)
        gw = () if weight is None else ((g * xhat).sum(others),)
        return (gx,) + gw + (() if bias is None else (g.sum(others),))
    parents = (input,) + tuple(p for p in (weight, bias) if p is not None)
    return _node(out, parents, backward, "group_norm")


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``input`` divided by its ``p``-norm along ``dim``, clamped below at ``eps`` (torch's ``out=`` is
    not supported)."""
    return input / input.norm(p, dim, keepdim=True).clamp_min(eps)
