"""Distances between vectors along a dim: ``cosine_similarity`` and ``pairwise_distance``, composed of
Tensor ops (inputs broadcast against each other, as in torch)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..tensor import Tensor

if TYPE_CHECKING:
    from .._typing import TensorLike


def _tensor(x: TensorLike, like: Tensor) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, like.dtype))


def cosine_similarity(x1: Tensor, x2: TensorLike, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x1·x2 / (max(‖x1‖, eps)·max(‖x2‖, eps)) along ``dim`` (torch 2's formula)."""
    y = _tensor(x2, x1)
    shape = np.broadcast_shapes(x1.shape, y.shape)
    x1, y = x1.expand(shape), y.expand(shape)
    ndim = max(len(shape), 1)
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {dim})")
    a = x1 / x1.norm(2, dim, keepdim=True).clamp_min(eps)
    b = y / y.norm(2, dim, keepdim=True).clamp_min(eps)
    return (a * b).sum(dim)


def pairwise_distance(x1: Tensor, x2: TensorLike, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """‖x1 − x2 + eps‖_p over the last dim."""
    return (x1 - _tensor(x2, x1) + eps).norm(p, -1, keepdim)
