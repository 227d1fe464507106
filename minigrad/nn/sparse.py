"""Embedding: a lookup table of num_embeddings vectors, initialised N(0, 1); ``sparse=True`` makes the
weight's gradient row-sparse (``minigrad.sparse``), for ``optim.SparseAdam``."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import functional as F
from ..autograd.engine import no_grad
from ..tensor import Parameter
from . import init
from .module import Module

if TYPE_CHECKING:
    from .._typing import DTypeLike, TensorLike
    from ..tensor import Tensor


class Embedding(Module):
    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 dtype: DTypeLike | None = None, *, sparse: bool = False) -> None:
        super().__init__()
        self.sparse = sparse  # the weight's gradient row-sparse (minigrad.sparse), for SparseAdam
        if padding_idx is not None and not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError("padding_idx must be within num_embeddings")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx % num_embeddings if padding_idx is not None else None
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), np.dtype(dtype or np.float32)))
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    def forward(self, indices: TensorLike) -> Tensor:
        return F.embedding(indices, self.weight, padding_idx=self.padding_idx, sparse=self.sparse)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}" + (
            f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "") + (
            ", sparse=True" if self.sparse else "")
