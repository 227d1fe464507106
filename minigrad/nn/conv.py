"""Conv1d, Conv2d (im2col + one GEMM in minigrad.functional), MaxPool2d, AvgPool2d."""
from __future__ import annotations

from typing import TYPE_CHECKING, Union

from .. import functional as F
from .linear import _empty_parameter, reset_fan_in_uniform
from .module import Module

if TYPE_CHECKING:
    from .._typing import DTypeLike
    from ..tensor import Tensor

    Sizes = Union[int, tuple[int, ...], list[int]]  # one size for every spatial dim, or one per dim


def _tuple(value: Sizes, n: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


class _ConvNd(Module):
    dims: int = None  # type: ignore[assignment]  # the number of spatial dims, set by each subclass

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Sizes, stride: Sizes = 1, padding: Sizes = 0,
                 dilation: Sizes = 1, groups: int = 1, bias: bool = True, dtype: DTypeLike | None = None) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by "
                             f"groups ({groups})")
        n = self.dims
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride = _tuple(kernel_size, n), _tuple(stride, n)
        self.padding, self.dilation = _tuple(padding, n), _tuple(dilation, n)
        self.weight = _empty_parameter((out_channels, in_channels // groups, *self.kernel_size), dtype)
        self.register_parameter("bias", _empty_parameter((out_channels,), dtype) if bias else None)
        reset_fan_in_uniform(self.weight, self.bias)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}")
        s += f", padding={self.padding}" if any(self.padding) else ""
        s += f", dilation={self.dilation}" if any(d != 1 for d in self.dilation) else ""
        s += f", groups={self.groups}" if self.groups != 1 else ""
        return s + (", bias=False" if self.bias is None else "")


class Conv1d(_ConvNd):
    dims = 1

    def forward(self, x: Tensor) -> Tensor:
        return F.conv1d(x, self.weight, self.bias, self.stride[0], self.padding[0], self.dilation[0], self.groups)


class Conv2d(_ConvNd):
    dims = 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class MaxPool2d(Module):
    def __init__(self, kernel_size: Sizes, stride: Sizes | None = None, padding: Sizes = 0) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)
