"""Linear: y = x·Wᵀ + b."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .. import functional as F
from ..tensor import Parameter
from . import init
from .module import Module

if TYPE_CHECKING:
    from .._typing import DTypeLike
    from ..tensor import Tensor


def _empty_parameter(shape: tuple[int, ...], dtype: DTypeLike | None) -> Parameter:
    return Parameter(np.empty(shape, dtype=np.dtype(dtype or np.float32)))


def reset_fan_in_uniform(weight: Parameter, bias: Parameter | None) -> None:
    """torch's default for Linear and Conv: W ~ kaiming_uniform(a=√5), i.e. U(±1/√fan_in), and
    b ~ U(±1/√fan_in)."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: DTypeLike | None = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = _empty_parameter((out_features, in_features), dtype)
        self.register_parameter("bias", _empty_parameter((out_features,), dtype) if bias else None)
        reset_fan_in_uniform(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x
