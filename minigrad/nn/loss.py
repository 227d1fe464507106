"""Losses and distances (CosineSimilarity, PairwiseDistance) as modules, each over its
minigrad.functional twin."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import functional as F
from ..creation import as_tensor
from ..tensor import Tensor
from .module import Module

if TYPE_CHECKING:
    from .._typing import Operand, TensorLike


class _Loss(Module):
    reductions: tuple[str, ...] = ("mean", "sum", "none")

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in self.reductions:
            raise ValueError(f"reduction must be {', '.join(map(repr, self.reductions[:-1]))} or "
                             f"{self.reductions[-1]!r}, got {reduction!r}")
        self.reduction = reduction

    def _weights(self, **weights: Operand | TensorLike | None) -> None:
        """Weight tensors (or None) become buffers, as torch's: in ``state_dict``, cast by ``to()``;
        a plain number stays an attribute."""
        for name, value in weights.items():
            if value is None or isinstance(value, (Tensor, np.ndarray, list, tuple)):
                self.register_buffer(name, None if value is None else as_tensor(value))
            else:
                setattr(self, name, value)


class CrossEntropyLoss(_Loss):
    def __init__(self, weight: TensorLike | None = None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self._weights(weight=weight)
        self.label_smoothing = label_smoothing

    def forward(self, logits: Tensor, target: TensorLike) -> Tensor:
        return F.cross_entropy(logits, target, weight=self.weight, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    def __init__(self, weight: TensorLike | None = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._weights(weight=weight)

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
        self._weights(weight=weight, pos_weight=pos_weight)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class BCELoss(_Loss):
    def __init__(self, weight: Operand | None = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._weights(weight=weight)

    def forward(self, probabilities: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(probabilities, target, weight=self.weight, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, prediction: Tensor, target: Operand) -> Tensor:
        return F.smooth_l1_loss(prediction, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, prediction: Tensor, target: Operand) -> Tensor:
        return F.huber_loss(prediction, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """The KL divergence of log-probabilities from ``target``; "batchmean" is the mathematically
    correct reduction ("mean", the default as in torch, averages over every element and warns)."""
    reductions = ("mean", "batchmean", "sum", "none")

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, log_probs: Tensor, target: Operand) -> Tensor:
        return F.kl_div(log_probs, target, reduction=self.reduction, log_target=self.log_target)


class CosineSimilarity(Module):
    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: TensorLike) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: TensorLike) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
