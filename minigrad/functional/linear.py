"""Linear layers and embeddings: ``linear`` (one node: a GEMM each way), ``embedding`` (a row
gather whose backward scatter-adds) and ``one_hot``."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..ops.movement import add_rows
from ..sparse import SparseTensor
from ..tensor import Tensor, _node, _unwrap

if TYPE_CHECKING:
    from .._typing import Array, Grad, TensorLike


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` with weight (out_features, in_features); one node."""
    if not isinstance(input, Tensor):
        raise TypeError(f"linear(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    x, w = input._data, weight._data
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not fit weight of shape {w.shape} "
                         "(out_features, in_features): the input's last dim must be in_features")
    # the leading dims as the rows of one GEMM (NumPy would run a stack of many small ones)
    x2 = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
    out = (x2 @ w.T).reshape(*x.shape[:-1], w.shape[0])
    if bias is not None:
        out += bias._data

    def backward(g: Array) -> tuple[Array | None, Array | None, Array | None]:
        g2 = g.reshape(len(x2), g.shape[-1])
        gx = (g2 @ w).reshape(x.shape) if input._requires_grad else None
        gw = g2.T @ x2 if weight._requires_grad else None
        gb = g2.sum(0) if bias is not None and bias._requires_grad else None
        return gx, gw, gb
    return _node(out, (input, weight) if bias is None else (input, weight, bias), backward, "linear")


def embedding(input: TensorLike, weight: Tensor, padding_idx: int | None = None, *, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) at the integer ``input``; the row at ``padding_idx``
    gets no gradient. With ``sparse``, the weight's gradient is row-sparse (``minigrad.sparse``, as
    torch's): the looked-up rows and their gradients, one entry per lookup, none for ``padding_idx``."""
    index, w = np.asarray(_unwrap(input)), weight._data
    if index.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {index.dtype}")
    if index.size and not (-len(w) <= index.min() and index.max() < len(w)):
        raise IndexError(f"embedding: indices must lie in [0, {len(w)}), got {index.min()}..{index.max()}")

    def backward(g: Array) -> tuple[Grad]:
        rows, g_rows = index.reshape(-1) % max(len(w), 1), g.reshape(-1, w.shape[1])
        if sparse:
            keep = rows != padding_idx % len(w) if padding_idx is not None else slice(None)
            return (SparseTensor(rows[keep].astype(np.int64), np.array(g_rows[keep]), w.shape),)
        gw = np.zeros_like(w, dtype=g.dtype)
        add_rows(gw, rows, g_rows)
        if padding_idx is not None:
            gw[padding_idx] = 0
        return (gw,)
    return _node(w[index], (weight,), backward, "embedding")


def one_hot(tensor: TensorLike, num_classes: int = -1) -> Tensor:
    labels = np.asarray(_unwrap(tensor))
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects an integer tensor, got {labels.dtype}")
    num_classes = int(labels.max()) + 1 if num_classes == -1 and labels.size else max(num_classes, 0)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"one_hot: class values must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    return Tensor(np.eye(num_classes, dtype=np.int64)[labels])
