"""Gradient clipping, in place, of tensors' ``.grad`` (None is skipped), and the grads' total norm.

Same semantics as ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` / ``get_total_norm``, at
torch's path (``torch/nn/utils/clip_grad.py``); ``minigrad.nn.utils`` re-exports all three.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable

import numpy as np

from ...sparse import SparseTensor
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


def _total_norm(arrays: list[Array], norm_type: float, error_if_nonfinite: bool) -> float:
    """``‖(‖a₁‖, …, ‖aₙ‖)‖`` of order ``norm_type`` (in float64), 0 for no arrays."""
    if not arrays:
        return 0.0
    norms = [np.linalg.norm(a.reshape(-1), ord=norm_type) for a in arrays]
    total = float(np.linalg.norm(np.asarray(norms, dtype=np.float64), ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    return total


def get_total_norm(tensors: Tensor | SparseTensor | Iterable[Tensor | SparseTensor | None],
                   norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` (typically grads) as one vector, a 0-d tensor of
    their promoted dtype (float32 for none): ``‖(‖t₁‖, …, ‖tₙ‖)‖``, ``inf`` the largest ``|t|``.
    None entries are skipped; a sparse tensor counts by its coalesced values. A non-finite norm
    raises RuntimeError if ``error_if_nonfinite``. ``foreach`` is accepted for torch compatibility."""
    given = [tensors] if isinstance(tensors, (Tensor, SparseTensor)) else list(tensors)
    arrays = []
    for i, t in enumerate(given):
        if t is None:
            continue
        if not isinstance(t, (Tensor, SparseTensor)):
            raise TypeError(f"tensors must be Tensors, got {type(t).__name__} at position {i}")
        array = t.coalesce()._vals if isinstance(t, SparseTensor) else t._data
        if array.dtype.kind != "f":
            raise TypeError(f"tensors must be floating point, got {array.dtype} at position {i}")
        arrays.append(array)
    total = _total_norm(arrays, float(norm_type), error_if_nonfinite)
    return Tensor(np.asarray(total, dtype=np.result_type(*arrays) if arrays else np.float32))


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> float:
    """Scale all grads together so that their joint ``norm_type``-norm is at most ``max_norm``.

    ``total = ‖(‖g₁‖, …, ‖gₙ‖)‖`` (``get_total_norm`` of the grads); every grad is multiplied by
    ``min(max_norm / (total + 1e-6), 1)``. Returns ``total`` (before clipping) as a float. A
    non-finite ``total`` raises ``RuntimeError`` if ``error_if_nonfinite``, else scales by nan (or
    by 0 for an infinite total), as torch does. ``foreach`` is accepted for torch compatibility and
    ignored. A sparse grad (``minigrad.sparse``) is replaced by its coalesced equivalent (the same
    gradient) and counts by its values (torch 2.13 has no norm kernel for sparse tensors and raises
    NotImplementedError).
    """
    grads = _grads(parameters, coalesce=True)  # a sparse grad's norm is its coalesced values' norm
    if not grads:
        return 0.0
    total = _total_norm(grads, float(norm_type), error_if_nonfinite)
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
