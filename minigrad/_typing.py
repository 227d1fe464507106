"""The types minigrad's annotations share. Modules import them under ``typing.TYPE_CHECKING`` only
(their annotations are strings, ``from __future__ import annotations``), so typing costs nothing at
run time."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple, TypeVar, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

if TYPE_CHECKING:
    from types import EllipsisType, ModuleType

    from .sparse import SparseTensor
    from .tensor import Tensor

__all__ = ["T", "Array", "FloatArray", "FloatDType", "Number", "Nested", "Scalar", "Operand", "Dim", "TensorLike",
           "IndexItem", "Index", "Grad", "Backward",
           "ArrayLike", "DTypeLike", "ModuleType"]  # the last three re-exported from NumPy and types

T = TypeVar("T")
Array = NDArray[Any]  # an ndarray of any dtype: a Tensor's data, a gradient
FloatArray = Union[NDArray[np.float32], NDArray[np.float64]]  # what Parameters, optimizers and their kernels hold
FloatDType = Union["np.dtype[np.float32]", "np.dtype[np.float64]"]
Number = Union[bool, int, float]
Nested = Union[Number, List["Nested"]]  # what tolist() gives
Scalar = Union[bool, int, float, "np.number[Any]"]  # a Python or NumPy number
Operand = Union["Tensor", Array, Scalar]  # what arithmetic, comparisons and the elementwise ops take
Dim = Union[int, Sequence[int], None]  # one dim, several, or (None) all of them
TensorLike = Union["Tensor", ArrayLike]  # a Tensor, an ndarray, a number, or (nested) sequences of numbers
IndexItem = Union[None, int, slice, "EllipsisType", "Tensor", ArrayLike]
Index = Union[IndexItem, Tuple[IndexItem, ...]]  # NumPy's basic and advanced indexing, Tensors as index arrays
Grad = Union[Array, "SparseTensor"]  # a gradient in the engine: dense, or row-sparse (embedding(..., sparse=True))
Backward = Callable[[Array], Sequence[Optional[Grad]]]  # an op's g ↦ the gradients of its inputs (None: not needed)

