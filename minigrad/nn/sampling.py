"""Upsample (and its UpsamplingNearest2d / UpsamplingBilinear2d forms), AdaptiveAvgPool1d and
AdaptiveAvgPool2d: the modules over minigrad.functional.sampling."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence, Union

from .. import functional as F
from .module import Module

if TYPE_CHECKING:
    from ..tensor import Tensor

    Size = Union[int, Sequence[int]]
    Scale = Union[float, Sequence[float]]


class Upsample(Module):
    """``F.interpolate`` with a fixed ``size`` or ``scale_factor`` (stored as floats, as torch does)."""

    def __init__(self, size: Size | None = None, scale_factor: Scale | None = None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.name, self.size, self.mode = type(self).__name__, size, mode
        self.scale_factor: float | tuple[float, ...] | None
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(s) for s in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None  # type: ignore[arg-type]
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    def __init__(self, size: Size | None = None, scale_factor: Scale | None = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling with ``align_corners=True``."""

    def __init__(self, size: Size | None = None, scale_factor: Scale | None = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class AdaptiveAvgPool2d(Module):
    """``F.adaptive_avg_pool2d`` to a fixed ``output_size`` (None entries keep the input's size)."""

    def __init__(self, output_size: int | None | Sequence[int | None]) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """``F.adaptive_avg_pool1d`` to a fixed ``output_size``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)  # type: ignore[arg-type]
