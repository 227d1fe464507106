"""Creation ops, as torch names them: ``tensor``, ``zeros``/``ones``/``empty``/``full``, ``arange``,
``eye``, the random ``randn``/``rand``/``randint`` (from minigrad's one generator) and the ``*_like``
forms. Float factories make float32 unless given a ``dtype``; sizes are ``f(2, 3)`` or ``f((2, 3))``.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence, overload

import numpy as np

from .tensor import Tensor, _as_array, _generator, _shape

if TYPE_CHECKING:
    from ._typing import Array, DTypeLike, FloatArray, FloatDType, Scalar, TensorLike

    class Factory(Protocol):
        """``zeros``, ``ones``, ``empty``: sizes as ``f(2, 3)`` or ``f((2, 3))``."""
        def __call__(self, *size: int | Sequence[int], dtype: DTypeLike | None = None,
                     requires_grad: bool = False) -> Tensor: ...

    class RandomFactory(Protocol):
        """``randn``, ``rand``: a Factory that also takes the generator to draw from."""
        def __call__(self, *size: int | Sequence[int], dtype: DTypeLike | None = None, requires_grad: bool = False,
                     generator: np.random.Generator | None = None) -> Tensor: ...

    class LikeFactory(Protocol):
        """``zeros_like`` and the others: the factory's arguments after the sizes, which ``input`` gives."""
        def __call__(self, input: Tensor, *args: Any, dtype: DTypeLike | None = None, requires_grad: bool = False,
                     **options: Any) -> Tensor: ...


def tensor(data: TensorLike, requires_grad: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """A new tensor holding a C-contiguous copy of ``data`` (as torch.tensor)."""
    return Tensor(np.array(_as_array(data, dtype), order="C", copy=True), requires_grad)


@overload
def _factory(make: Callable[[tuple[int, ...], np.dtype[Any], np.random.Generator | None], Array]) -> RandomFactory: ...
@overload
def _factory(make: Callable[..., Array]) -> Factory: ...
def _factory(make: Callable[..., Array]) -> Factory | RandomFactory:
    """A factory taking sizes as ``f(2, 3)`` or ``f((2, 3))``, ``dtype`` (default float32) and
    ``requires_grad``."""
    @functools.wraps(make)
    def factory(*size: int | Sequence[int], dtype: DTypeLike | None = None, requires_grad: bool = False,
                **options: Any) -> Tensor:
        return Tensor(make(_shape(size), np.dtype(np.float32 if dtype is None else dtype), **options), requires_grad)
    return factory


zeros = _factory(np.zeros)
ones = _factory(np.ones)
empty = _factory(np.empty)


@_factory
def randn(shape: tuple[int, ...], dtype: FloatDType, generator: np.random.Generator | None = None) -> FloatArray:
    return (generator or _generator).standard_normal(shape, dtype)


@_factory
def rand(shape: tuple[int, ...], dtype: FloatDType, generator: np.random.Generator | None = None) -> FloatArray:
    return (generator or _generator).random(shape, dtype)  # in [0, 1)


def full(size: int | Sequence[int], fill_value: Scalar, dtype: DTypeLike | None = None,
         requires_grad: bool = False) -> Tensor:
    """Filled with ``fill_value``; the dtype follows it (bool, int64 or float32) unless given."""
    if dtype is None:
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64 if isinstance(fill_value, int) else np.float32
    return Tensor(np.full(_shape((size,)), fill_value, dtype), requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: DTypeLike | None = None,
           requires_grad: bool = False) -> Tensor:
    """int64 for integer arguments, float32 otherwise (as torch)."""
    start, end = (0, start) if end is None else (start, end)
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, int) for v in (start, end, step)) else np.float32
    return Tensor(np.arange(start, end, step, dtype=dtype), requires_grad)


def randint(low: int, high: int | Sequence[int] | None = None, size: int | Sequence[int] = (),
            dtype: DTypeLike | None = None, generator: np.random.Generator | None = None) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` counts from 0), int64 by default."""
    if isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    integer_dtype: Any = dtype or np.int64  # NumPy 1.x's stubs list each dtype in its own overload
    return Tensor((generator or _generator).integers(low, high, _shape((size,)), dtype=integer_dtype))


def eye(n: int, m: int | None = None, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.eye(n, m, dtype=dtype or np.float32), requires_grad)


def _like(factory: Callable[..., Tensor]) -> LikeFactory:
    @functools.wraps(factory)
    def like(input: Tensor, *args: Any, dtype: DTypeLike | None = None, requires_grad: bool = False,
             **options: Any) -> Tensor:
        return factory(input.shape, *args, dtype=input.dtype if dtype is None else dtype, requires_grad=requires_grad,
                       **options)
    return like


zeros_like, ones_like, empty_like, randn_like, rand_like, full_like = map(
    _like, (zeros, ones, empty, randn, rand, full))  # type: ignore[arg-type]  # mypy joins the tuple to `function`
