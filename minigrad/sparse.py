"""Row-sparse gradients: torch's sparse COO layout with one sparse dimension, as
``nn.Embedding(sparse=True)`` and ``F.embedding(..., sparse=True)`` produce them for the weight.

A ``SparseTensor`` of dense shape (n, *rest) holds the rows ``indices`` (1, nnz) int64 and their
``values`` (nnz, *rest); it stands for zeros of that shape with ``values[k]`` added to row
``indices[0, k]`` (a repeated row adds up). It is a gradient, not a general tensor: it carries what
a torch user reads off a sparse ``.grad`` (``is_sparse``, ``_indices()``, ``_values()``, ``coalesce()``,
``to_dense()``, ``shape``, ``dtype``) and what optimizers, ``zero_grad`` and gradient clipping need.
Accumulation follows torch's: sparse + sparse stays sparse (entries concatenated, not coalesced);
dense + sparse is dense (``sparse + dense`` is refused with torch's message, as there).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .device import CPU
from .ops.movement import add_rows, sum_rows
from .tensor import Tensor, _unwrap, _wrap

if TYPE_CHECKING:
    from ._typing import Array, TensorLike
    from .device import device


class SparseTensor:
    __slots__ = ("_rows", "_vals", "_shape", "_coalesced")
    __array_ufunc__ = None  # `ndarray + sparse` defers to __radd__ instead of broadcasting elementwise
    is_sparse: Literal[True] = True
    requires_grad = False
    _rows: Array; _vals: Array; _shape: tuple[int, ...]; _coalesced: bool

    def __init__(self, rows: Array, values: Array, shape: tuple[int, ...], coalesced: bool = False) -> None:
        """Over ``rows`` (nnz,) int64 and ``values`` (nnz, *shape[1:]) as given (no copies, no checks:
        ``sparse_coo_tensor`` is the checked constructor)."""
        self._rows, self._vals, self._shape, self._coalesced = rows, values, shape, coalesced

    @property
    def shape(self) -> tuple[int, ...]: return self._shape

    @property
    def dtype(self) -> np.dtype[Any]: return self._vals.dtype

    @property
    def ndim(self) -> int: return len(self._shape)

    @property
    def device(self) -> device: return CPU

    def size(self, dim: int | None = None) -> Any: return self._shape if dim is None else self._shape[dim]
    def dim(self) -> int: return len(self._shape)
    def sparse_dim(self) -> int: return 1
    def dense_dim(self) -> int: return len(self._shape) - 1
    def _nnz(self) -> int: return len(self._rows)
    def is_coalesced(self) -> bool: return self._coalesced

    def _indices(self) -> Tensor:
        """The rows of the entries, shape (1, nnz), int64 (repeats and any order unless coalesced)."""
        return _wrap(self._rows.reshape(1, -1))

    def _values(self) -> Tensor:
        """The entries' values, shape (nnz, *shape[1:])."""
        return _wrap(self._vals)

    def indices(self) -> Tensor:
        self._require_coalesced("indices")
        return self._indices()

    def values(self) -> Tensor:
        self._require_coalesced("values")
        return self._values()

    def _require_coalesced(self, what: str) -> None:
        if not self._coalesced:
            raise RuntimeError(f"Cannot get {what} on an uncoalesced tensor, please call .coalesce() first")

    def coalesce(self) -> SparseTensor:
        """Each row once, in increasing order, the values of a repeated row summed."""
        if self._coalesced:
            return self
        rows, values = sum_rows(self._rows, self._vals)
        return SparseTensor(rows.astype(np.int64), values, self._shape, coalesced=True)

    def to_dense(self) -> Tensor:
        dense = np.zeros(self._shape, self.dtype)
        self.add_to_(dense)
        return _wrap(dense)

    def add_to_(self, dense: Array) -> None:
        """dense += self, in place (``dense``: an ndarray of this dense shape)."""
        add_rows(dense, self._rows, self._vals)

    # ---- arithmetic: what gradient accumulation and the optimizers use ------------------------------
    def __add__(self, other: SparseTensor | TensorLike) -> SparseTensor:
        if not isinstance(other, SparseTensor):
            raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")
        if other.shape != self._shape:
            raise ValueError(f"add: sparse tensors of shapes {self._shape} and {other.shape}")
        return SparseTensor(np.concatenate([self._rows, other._rows]),
                            np.concatenate([self._vals, other._vals]), self._shape)

    def __radd__(self, other: TensorLike) -> Any:
        """dense + sparse: a new dense array (or Tensor, for a Tensor) of the dense shape."""
        dense = _unwrap(other)
        if not isinstance(dense, np.ndarray) or dense.shape != self._shape:
            raise ValueError(f"add: a dense operand of shape {getattr(dense, 'shape', None)} and a sparse one of shape "
                             f"{self._shape} (dense + sparse needs the same shape)")
        out = np.array(dense, dtype=np.result_type(dense, self._vals), order="C")
        self.add_to_(out)
        return _wrap(out) if isinstance(other, Tensor) else out

    def __neg__(self) -> SparseTensor:
        return SparseTensor(self._rows, np.negative(self._vals), self._shape, self._coalesced)

    def mul_(self, factor: float) -> SparseTensor:
        self._vals *= factor
        return self

    def zero_(self) -> SparseTensor:
        """No entries left (torch's zero_ on a sparse tensor), the dense shape kept."""
        self._rows, self._vals = self._rows[:0], self._vals[:0]
        self._coalesced = True
        return self

    def clone(self) -> SparseTensor:
        return SparseTensor(self._rows.copy(), self._vals.copy(), self._shape, self._coalesced)

    def detach(self) -> SparseTensor:
        return self

    def astype(self, dtype: np.dtype[Any]) -> SparseTensor:
        """A copy with values of ``dtype`` (a gradient stored on a parameter is its own copy)."""
        return SparseTensor(self._rows.copy(), self._vals.astype(dtype), self._shape, self._coalesced)

    def __repr__(self) -> str:
        return (f"tensor(indices={self._rows.reshape(1, -1).tolist()},\n       values={self._vals.tolist()},\n"
                f"       size={self._shape}, nnz={self._nnz()}, dtype={self.dtype}, layout=sparse_coo)")


def sparse_coo_tensor(indices: TensorLike, values: TensorLike, size: tuple[int, ...]) -> SparseTensor:
    """torch.sparse_coo_tensor for one sparse dimension: ``indices`` (1, nnz) integer rows in
    [0, size[0]), ``values`` (nnz, *size[1:]) floats. Copies both (as torch does from a list)."""
    rows, vals, size = np.asarray(_unwrap(indices)), np.asarray(_unwrap(values)), tuple(size)
    if rows.dtype.kind not in "iu" or rows.ndim != 2 or rows.shape[0] != 1:
        raise ValueError(f"sparse_coo_tensor: minigrad's sparse tensors have one sparse dimension: indices must be "
                         f"integers of shape (1, nnz), got {rows.dtype} {rows.shape}")
    if vals.dtype.kind != "f" or not size or vals.shape != (rows.shape[1],) + size[1:]:
        raise ValueError(f"sparse_coo_tensor: values must be floats of shape (nnz, *size[1:]) = "
                         f"{(rows.shape[1],) + size[1:]}, got {vals.dtype} {vals.shape}")
    if rows.size and not (0 <= rows.min() and rows.max() < size[0]):
        raise ValueError(f"sparse_coo_tensor: indices must lie in [0, {size[0]}), got {rows.min()}..{rows.max()}")
    return SparseTensor(rows.reshape(-1).astype(np.int64), np.array(vals, order="C"), size)
