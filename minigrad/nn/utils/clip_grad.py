"""Gradient clipping, in place, of tensors' ``.grad`` (None is skipped).

Same semantics as ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``, at torch's path
(``torch/nn/utils/clip_grad.py``); ``minigrad.nn.utils`` re-exports both.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable

import numpy as np

from ...tensor import Tensor

if TYPE_CHECKING:
    from ..._typing import Array


def _grads(parameters: Tensor | Iterable[Tensor], coalesce: bool = False) -> list[Array]:
    """The arrays of the non-None grads of one tensor or an iterable of them: of a sparse grad, its
    values (with ``coalesce``, first made its coalesced equivalent, so each row's values are its sum)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    arrays = []
    for p in parameters:
        if (g := p.grad) is None:
            continue
        if g.is_sparse:
            if coalesce:
                g = p.grad = g.coalesce()
            arrays.append(g._vals)
        else:
            arrays.append(g._data)
    return arrays


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> float:
    """Scale all grads together so that their joint ``norm_type``-norm is at most ``max_norm``.

    ``total = ‖(‖g₁‖, …, ‖gₙ‖)‖`` (the norm of all grads as one vector; ``inf`` is the largest
    ``|g|``); every grad is multiplied by ``min(max_norm / (total + 1e-6), 1)``. Returns ``total``
    (before clipping) as a float. A non-finite ``total`` raises ``RuntimeError`` if
    ``error_if_nonfinite``, else scales by nan (or by 0 for an infinite total), as torch does.
    ``foreach`` is accepted for torch compatibility and ignored. A sparse grad (``minigrad.sparse``)
    is replaced by its coalesced equivalent (the same gradient) and counts by its values (torch 2.13
    has no norm kernel for sparse tensors and raises NotImplementedError).
    """
    grads = _grads(parameters, coalesce=True)  # a sparse grad's norm is its coalesced values' norm
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    norms = [np.linalg.norm(g.reshape(-1), ord=norm_type) for g in grads]
    total = float(np.linalg.norm(np.asarray(norms, dtype=np.float64), ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    coef = min(max_norm / (total + 1e-6), 1.0)  # min() keeps a nan coefficient, as torch's clamp does
    if coef != 1.0:
        for g in grads:
            g *= coef
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every grad element into ``[-clip_value, clip_value]`` (nan stays nan)."""
    clip_value = float(clip_value)
    for g in _grads(parameters, coalesce=True):
        np.clip(g, -clip_value, clip_value, out=g)
