"""Conv1d, Conv2d (im2col + one GEMM in minigrad.functional; ``padding`` may also be "valid" or
"same"), MaxPool2d, AvgPool2d, MaxPool1d, AvgPool1d."""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Union

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

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Sizes, stride: Sizes = 1,
                 padding: Sizes | Literal["valid", "same"] = 0, dilation: Sizes = 1, groups: int = 1, bias: bool = True,
                 dtype: DTypeLike | None = None) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by "
                             f"groups ({groups})")
        n = self.dims
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride = _tuple(kernel_size, n), _tuple(stride, n)
        self.dilation = _tuple(dilation, n)
        self.padding: tuple[int, ...] | Literal["valid", "same"]
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _tuple(padding, n)
        self.weight = _empty_parameter((out_channels, in_channels // groups, *self.kernel_size), dtype)
        self.register_parameter("bias", _empty_parameter((out_channels,), dtype) if bias else None)
        reset_fan_in_uniform(self.weight, self.bias)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}")
        s += f", padding={self.padding}" if isinstance(self.padding, str) or any(self.padding) else ""
        s += f", dilation={self.dilation}" if any(d != 1 for d in self.dilation) else ""
        s += f", groups={self.groups}" if self.groups != 1 else ""
        return s + (", bias=False" if self.bias is None else "")


class Conv1d(_ConvNd):
    dims = 1

    def forward(self, x: Tensor) -> Tensor:
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        return F.conv1d(x, self.weight, self.bias, self.stride[0], padding, self.dilation[0], self.groups)


class Conv2d(_ConvNd):
    dims = 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class MaxPool2d(Module):
    def __init__(self, kernel_size: Sizes, stride: Sizes | None = None, padding: Sizes = 0) -> None:
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = stride if stride is not None else kernel_size

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class MaxPool1d(Module):
    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0, dilation: int = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation, self.return_indices, self.ceil_mode = padding, dilation, return_indices, ceil_mode

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        result: Tensor | tuple[Tensor, Tensor] = F.max_pool1d(x, self.kernel_size, self.stride, self.padding,
                                                              self.dilation, self.ceil_mode, self.return_indices)
        return result

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool1d(Module):
    kernel_size: tuple[int]
    stride: tuple[int]
    padding: tuple[int]

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        # stored as 1-tuples, as torch does (MaxPool1d keeps what it is given)
        self.kernel_size, self.stride = (kernel_size,), (stride if stride is not None else kernel_size,)
        self.padding, self.ceil_mode, self.count_include_pad = (padding,), ceil_mode, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
