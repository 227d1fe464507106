"""Losses with torch's signatures; the options after ``weight`` are keyword-only (torch keeps the
deprecated ``size_average``/``reduce`` at those positions). ``cross_entropy`` on class indices and
``nll_loss`` have their own backward on log-probabilities (``cross_entropy`` fuses log-softmax with
the loss, in one stable node); the others, and ``cross_entropy`` on class probabilities (as in torch,
so that the target and the weight get gradients too), are compositions of Tensor ops.
``kl_div`` also takes torch's ``reduction="batchmean"`` (the sum divided by the batch size) and warns,
as torch does, that its "mean" averages over every element.
"""
from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

from ..tensor import Tensor, _node, _unwrap
from .activation import _log_softmax, log_softmax, softplus

if TYPE_CHECKING:
    from .._typing import Array, DTypeLike, Operand, TensorLike


def _reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "batchmean":
        return loss.sum() / loss.shape[0] if loss.ndim else loss.sum()
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _rows(x: Array) -> Array:
    """(N, C, d1, ...) → (N·d1·..., C); (C,) → (1, C): one row of class scores per prediction."""
    if x.ndim == 1:
        return x[None]
    return x if x.ndim == 2 else np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _unrows(g: Array, shape: tuple[int, ...]) -> Array:
    if len(shape) <= 2:
        return g.reshape(shape)
    return np.moveaxis(g.reshape((shape[0],) + shape[2:] + (shape[1],)), -1, 1)


def _checked_weight(name: str, weight: TensorLike | None, n_classes: int, dtype: DTypeLike) -> Tensor | Array | None:
    """``weight`` (a tensor stays one, for its gradient; other values become arrays of ``dtype``), or None."""
    w = weight if weight is None or isinstance(weight, Tensor) else np.asarray(weight, dtype)
    if w is not None and w.shape != (n_classes,):
        raise ValueError(f"{name}: weight must have shape ({n_classes},), got {w.shape}")
    return w


def _class_weights(name: str, shape: tuple[int, ...], dtype: DTypeLike, target: TensorLike, weight: TensorLike | None,
                   ignore_index: int, label_smoothing: float) -> tuple[Array, float]:
    """How much each class's log-probability counts in each row's loss, q (rows × C), with
    loss_row = −Σ_c q_c·log p_c for integer targets, and the denominator of 'mean' (torch's: the
    summed weight of the counted targets)."""
    n_classes = shape[1] if len(shape) > 1 else shape[0]
    eps = label_smoothing
    w = _checked_weight(name, weight, n_classes, dtype)
    w = None if w is None else np.asarray(_unwrap(w), dtype)
    t = np.asarray(_unwrap(target))
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices or float probabilities, got {t.dtype}")
    expected = shape[:1] + shape[2:] if len(shape) > 1 else ()
    if t.shape != expected:
        raise ValueError(f"{name}: target of shape {t.shape} does not match input of shape {shape}; expected "
                         f"class indices of shape {expected}")
    t = t.reshape(-1)
    rows = np.flatnonzero(t != ignore_index)
    labels = t[rows]
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise IndexError(f"{name}: target values must lie in [0, {n_classes}) (or equal ignore_index), got "
                         f"{labels.min()}..{labels.max()}")
    q = np.zeros((t.size, n_classes), dtype)
    q[rows, labels] = 1 - eps
    if eps:
        q[rows] += eps / n_classes
    if w is None:
        return q, len(rows)
    q *= w
    return q, w[labels].sum()


def _weighted_nll(name: str, input: Tensor, logp: Array, q: Array, denom: float, reduction: str,
                  fused_softmax: bool) -> Tensor:
    """The loss −Σ q·logp per row, reduced, with its backward: −q (on log-probabilities) or
    p·Σq − q (on logits, when ``fused_softmax``); ``name`` is the op's, for grad_fn."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    shape = input.shape
    losses = -(q * np.where(q != 0, logp, 0)).sum(-1)  # 0·(−inf) counts as 0
    out = (losses.reshape(shape[:1] + shape[2:] if len(shape) > 1 else ()) if reduction == "none"
           else losses.sum() / (denom if reduction == "mean" else 1))

    def backward(g: Array) -> tuple[Array]:
        scale = np.reshape(g, (-1, 1)) / (denom if reduction == "mean" else 1)
        grad = np.exp(logp) * q.sum(-1, keepdims=True) - q if fused_softmax else -q
        return (_unrows(grad * scale, shape),)
    return _node(out, (input,), backward, name)


def cross_entropy(input: Tensor, target: TensorLike, weight: TensorLike | None = None, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits (N, C, ...) and integer targets (N, ...) or class probabilities
    (N, C, ...), with torch's weight / ignore_index / label_smoothing semantics; log-softmax and the
    loss share one stable node."""
    x = input._data
    if x.ndim == 0:
        raise ValueError("cross_entropy: input must have a class dimension, got a 0-d tensor")
    if np.asarray(_unwrap(target)).dtype.kind == "f":
        return _probability_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)
    q, denom = _class_weights("cross_entropy", x.shape, x.dtype, target, weight, ignore_index, label_smoothing)
    return _weighted_nll("cross_entropy", input, _log_softmax(_rows(x), -1), q, denom, reduction, fused_softmax=True)


def _probability_cross_entropy(input: Tensor, target: TensorLike, weight: TensorLike | None, ignore_index: int,
                               reduction: str, label_smoothing: float) -> Tensor:
    """−Σ_c weight_c·q_c·log_softmax(input)_c over the class dim, q = (1 − label_smoothing)·target +
    label_smoothing/C, composed as torch does ('mean' divides by the number of rows)."""
    class_dim = min(1, input.ndim - 1)
    n_classes = input.shape[class_dim]
    target = target if isinstance(target, Tensor) else np.asarray(target)
    if target.shape != input.shape:
        raise ValueError(f"cross_entropy: probability targets must have the input's shape {input.shape}, got "
                         f"{target.shape}")
    if ignore_index >= 0:
        raise ValueError(f"cross_entropy: ignore_index ({ignore_index}) is not supported for class-probability targets")
    q = target * (1 - label_smoothing) + label_smoothing / n_classes if label_smoothing else target
    w = _checked_weight("cross_entropy", weight, n_classes, input.dtype)
    if w is not None:
        q = q * w.reshape((n_classes,) + (1,) * (input.ndim - class_dim - 1))
    return _reduce_loss(-(q * log_softmax(input, class_dim)).sum(class_dim),  # type: ignore[arg-type, unused-ignore]
                        reduction)  # (NumPy >= 2.5 types ndarray * Tensor as an ndarray: it is a Tensor)


def nll_loss(input: Tensor, target: TensorLike, weight: TensorLike | None = None, *, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """The negative log-likelihood of integer targets under log-probabilities ``input`` (N, C, ...)."""
    x = input._data
    if np.asarray(_unwrap(target)).dtype.kind not in "iu":
        raise TypeError("nll_loss: target must hold integer class indices")
    q, denom = _class_weights("nll_loss", x.shape, x.dtype, target, weight, ignore_index, 0.0)
    return _weighted_nll("nll_loss", input, _rows(x), q, denom, reduction, fused_softmax=False)


def mse_loss(input: Tensor, target: Operand, *, reduction: str = "mean") -> Tensor:
    d = input - target
    return _reduce_loss(d * d, reduction)


def l1_loss(input: Tensor, target: Operand, *, reduction: str = "mean") -> Tensor:
    return _reduce_loss((input - target).abs(), reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Operand | None = None, *,
                                     reduction: str = "mean", pos_weight: Tensor | float | None = None) -> Tensor:
    """−[p·y·log σ(x) + (1−y)·log(1−σ(x))] = (1−y)·x + (1 + (p−1)·y)·softplus(−x), stable for any x
    (p = ``pos_weight``)."""
    log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
    loss = (1 - target) * input + log_weight * softplus(-input, threshold=math.inf)
    return _reduce_loss(loss if weight is None else loss * weight, reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Operand | None = None, *,
                         reduction: str = "mean") -> Tensor:
    """On probabilities; each log is clamped at −100, as in torch."""
    loss = -(target * input.log().clamp(min=-100) + (1 - target) * (1 - input).log().clamp(min=-100))
    return _reduce_loss(loss if weight is None else loss * weight, reduction)


def _size_warning(input: Tensor, target: Operand) -> None:
    shape = np.shape(_unwrap(target))
    if shape != input.shape:
        warnings.warn(f"Using a target size ({shape}) that is different to the input size ({input.shape}). This will "
                      "likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
                      UserWarning, stacklevel=3)


def _piecewise_l1(input: Tensor, target: Operand, threshold: float, reduction: str) -> Tensor:
    """0.5·d² where |d| < threshold, else threshold·(|d| − 0.5·threshold), for d = input − target
    (huber's form; smooth L1 is it divided by the threshold)."""
    d = input - target
    a = d.abs()
    return _reduce_loss((0.5 * d * d).where(a._data < threshold, (a - 0.5 * threshold) * threshold), reduction)


def smooth_l1_loss(input: Tensor, target: Operand, *, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5·d²/beta where |d| < beta, else |d| − 0.5·beta; ``l1_loss`` when beta is 0."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _size_warning(input, target)
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return _reduce_loss(_piecewise_l1(input, target, beta, "none") / beta, reduction)


def huber_loss(input: Tensor, target: Operand, reduction: str = "mean", delta: float = 1.0,
               weight: Operand | None = None) -> Tensor:
    """0.5·d² where |d| < delta, else delta·(|d| − 0.5·delta); each element times ``weight`` if given."""
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _size_warning(input, target)
    if weight is not None and np.shape(_unwrap(weight)) != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = _piecewise_l1(input, target, delta, "none")
    return _reduce_loss(loss if weight is None else loss * weight, reduction)


def kl_div(input: Tensor, target: Operand, *, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Σ target·(log target − input) for log-probabilities ``input`` (0 where target is 0), or
    Σ exp(target)·(target − input) with ``log_target``. "batchmean" divides the sum by the batch size
    (the KL divergence); "mean" by the number of elements, with torch's warning."""
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=2)
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target, input.dtype))
    if log_target:
        loss = t.exp() * (t - input)
    else:
        positive = t._data > 0
        loss = t * t.where(positive, 1).log() - t * input  # xlogy(t, t): 0 where t is 0, with a finite gradient
    return _reduce_loss(loss, reduction)
