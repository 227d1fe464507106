"""Losses as modules, each over its minigrad.functional twin."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import functional as F
from .module import Module

if TYPE_CHECKING:
    from .._typing import Operand, TensorLike
    from ..tensor import Tensor


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction


class CrossEntropyLoss(_Loss):
    def __init__(self, weight: TensorLike | None = None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.weight, self.label_smoothing = weight, label_smoothing

    def forward(self, logits: Tensor, target: TensorLike) -> Tensor:
        return F.cross_entropy(logits, target, weight=self.weight, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    def __init__(self, weight: TensorLike | None = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = weight

    def forward(self, log_probs: Tensor, target: TensorLike) -> Tensor:
        return F.nll_loss(log_probs, target, weight=self.weight, reduction=self.reduction)


class MSELoss(_Loss):
    def forward(self, prediction: Tensor, target: Operand) -> Tensor:
        return F.mse_loss(prediction, target, reduction=self.reduction)


class L1Loss(_Loss):
    def forward(self, prediction: Tensor, target: Operand) -> Tensor:
        return F.l1_loss(prediction, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight: Operand | None = None, reduction: str = "mean",
                 pos_weight: Tensor | float | None = None) -> None:
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
