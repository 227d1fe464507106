"""BatchNorm1d/2d, SyncBatchNorm, InstanceNorm1d/2d (running statistics as buffers), LayerNorm and GroupNorm."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .. import functional as F
from ..functional.normalization import _channel_norm
from ..tensor import Parameter
from .module import Module

if TYPE_CHECKING:
    from .._typing import Array, DTypeLike
    from ..tensor import Tensor


class _BatchNorm(Module):
    input_dims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: DTypeLike | None = None) -> None:
        super().__init__()
        dtype = np.dtype(dtype or np.float32)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.register_parameter("weight", Parameter(np.ones(num_features, dtype)) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(num_features, dtype)) if affine else None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))
            self.register_buffer("num_batches_tracked", np.array(0, np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked (as at construction)."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def forward(self, x: Tensor) -> Tensor:
        self._check_dims(x)
        # batch statistics while training, and always when there are no running ones to use
        batch_stats = self.training or self.running_mean is None
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, batch_stats,
                            self._count_batch(), self.eps)

    def _check_dims(self, x: Tensor) -> None:
        if x.ndim not in self.input_dims:
            raise ValueError(f"{type(self).__name__}: expected {' or '.join(f'{d}D' for d in self.input_dims)} input "
                             f"(got {x.ndim}D input)")

    def _count_batch(self) -> float:
        """In training, count this batch in ``num_batches_tracked``; returns the running statistics'
        momentum for this forward (with ``momentum=None``, the cumulative average's 1/count)."""
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1  # a 0-d int64 tensor, updated in place
            if momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
        return momentum or 0.0

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Normalises (N, C) or (N, C, L) over the batch (and length) for each channel."""
    input_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Normalises (N, C, H, W) over the batch and the image for each channel."""
    input_dims = (4,)


class SyncBatchNorm(_BatchNorm):
    """Batch norm whose training statistics are those of the global batch: the batches of every rank
    of ``minigrad.distributed``'s world (over the batch and any spatial dims, per channel, of an
    (N, C, ...) input). Its forward all-reduces the per-channel sums of x and of (x − mean)², its
    backward those of g and g·x̂; so on N ranks it computes what BatchNorm computes on one process
    with the N batches together. Outside a distributed world (or in one of one rank) it is BatchNorm."""
    input_dims = (2, 3, 4, 5)

    def forward(self, x: Tensor) -> Tensor:
        from .. import distributed
        if not (self.training and distributed.is_initialized() and distributed.get_world_size() > 1):
            return super().forward(x)
        self._check_dims(x)
        return _channel_norm("sync_batch_norm", x, (0,) + tuple(range(2, x.ndim)), self.running_mean,
                             self.running_var, self.weight, self.bias, True, self._count_batch(), self.eps, _WorldMean())

    @classmethod
    def convert_sync_batchnorm(cls, module: Module) -> Module:
        """``module`` with every BatchNorm1d/2d in it replaced by a SyncBatchNorm holding the same
        parameters and running statistics (the module itself if it is one)."""
        if isinstance(module, (BatchNorm1d, BatchNorm2d)):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats)
            for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                setattr(converted, name, getattr(module, name))
            converted.train(module.training)
            return converted
        for name, child in list(module.named_children()):
            setattr(module, name, cls.convert_sync_batchnorm(child))
        return module


class _WorldMean:
    """The mean of an array over ``axes`` (keepdims) and over every rank's array: float64 sums and
    the count of values, all-reduced together; ``count`` keeps the last call's count."""
    count = 0

    def __call__(self, a: Array, axes: tuple[int, ...]) -> Array:
        from .. import distributed
        sums = np.append(a.sum(axes, dtype=np.float64).reshape(-1), math.prod(a.shape[i] for i in axes))
        distributed.all_reduce(sums)
        self.count = int(sums[-1])
        shape = [1 if i in axes else n for i, n in enumerate(a.shape)]
        return (sums[:-1] / sums[-1]).reshape(shape).astype(a.dtype)


class _InstanceNorm(_BatchNorm):
    """Per-sample, per-channel normalization over the spatial dims; torch's defaults: no affine parameters,
    no running statistics (``track_running_stats=True`` keeps them, used in eval mode)."""
    spatial_dims = 1

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, dtype: DTypeLike | None = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)

    def forward(self, x: Tensor) -> Tensor:
        batched = self.spatial_dims + 2
        if x.ndim not in (batched, batched - 1):
            raise ValueError(f"{type(self).__name__}: expected {batched - 1}D (unbatched) or {batched}D input "
                             f"(got {x.ndim}D input)")
        if x.ndim == batched - 1:
            return self.forward(x.unsqueeze(0)).squeeze(0)
        momentum = self.momentum if self.momentum is not None else 0.1
        use_input_stats = self.training or not self.track_running_stats
        return F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
                               momentum, self.eps)


class InstanceNorm1d(_InstanceNorm):
    """Normalizes each (sample, channel) of (N, C, L) over L."""
    spatial_dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Normalizes each (sample, channel) of (N, C, H, W) over H and W."""
    spatial_dims = 2


class LayerNorm(Module):
    """Normalises over the last len(normalized_shape) dimensions: y = (x − mean) / √(var + eps) · w + b."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype: DTypeLike | None = None) -> None:
        super().__init__()
        dtype = np.dtype(dtype or np.float32)
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.register_parameter("weight", Parameter(np.ones(self.normalized_shape, dtype)) if elementwise_affine else None)
        self.register_parameter("bias", Parameter(np.zeros(self.normalized_shape, dtype))
                                if elementwise_affine and bias else None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalises each sample's channels in ``num_groups`` groups (over the group's channels and positions),
    then y = x̂·w + b per channel; w starts at 1 and b at 0, as torch's."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 dtype: DTypeLike | None = None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        dtype = np.dtype(dtype or np.float32)
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.register_parameter("weight", Parameter(np.ones(num_channels, dtype)) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(num_channels, dtype)) if affine and bias else None)

    def forward(self, x: Tensor) -> Tensor:
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
