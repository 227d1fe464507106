"""Losses as modules, each over its minigrad.functional twin."""
from .. import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction


class CrossEntropyLoss(_Loss):
    def __init__(self, weight=None, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self.weight, self.label_smoothing = weight, label_smoothing

    def forward(self, logits, target):
        return F.cross_entropy(logits, target, weight=self.weight, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.weight = weight

    def forward(self, log_probs, target):
        return F.nll_loss(log_probs, target, weight=self.weight, reduction=self.reduction)


class MSELoss(_Loss):
    def forward(self, prediction, target):
        return F.mse_loss(prediction, target, reduction=self.reduction)


class L1Loss(_Loss):
    def forward(self, prediction, target):
        return F.l1_loss(prediction, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, logits, target):
        return F.binary_cross_entropy_with_logits(logits, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
