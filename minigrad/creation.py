"""Creation ops, as torch names them: ``tensor``, ``zeros``/``ones``/``empty``/``full``, ``arange``,
``eye``, the random ``randn``/``rand``/``randint`` (from minigrad's one generator) and the ``*_like``
forms. Float factories make float32 unless given a ``dtype``; sizes are ``f(2, 3)`` or ``f((2, 3))``.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence, overload

import numpy as np

from .device import check_device
from .random import _generator
from .tensor import Tensor, _as_array, _shape

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


def tensor(data: TensorLike, requires_grad: bool = False, dtype: DTypeLike | None = None, device: Any = None,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a C-contiguous copy of ``data`` (as torch.tensor)."""
    check_device(device)
    return Tensor(np.array(_as_array(data, dtype), order="C", copy=True), requires_grad=requires_grad)


def as_tensor(data: TensorLike, dtype: DTypeLike | None = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, sharing memory where it can: a Tensor of that dtype is returned as it is,
    an ndarray of that dtype is wrapped without a copy; anything else is converted."""
    check_device(device)
    if isinstance(data, Tensor) and (dtype is None or np.dtype(dtype) == data.dtype):
        return data
    return Tensor(_as_array(data, dtype))


def from_numpy(array: Array) -> Tensor:
    """A tensor over ``array``'s memory (no copy: changes to one show in the other), as torch's."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"can't convert np.ndarray of type {array.dtype}: the supported types are bool, integers "
                        "and floats")
    return Tensor(array)


def _legacy_constructor(dtype: DTypeLike) -> Callable[..., Tensor]:
    def constructor(*data: Any) -> Tensor:
        """Sizes (``(2, 3)``: zeros) or data, as a tensor of this type (torch's legacy constructors)."""
        return Tensor(*data).to(dtype, copy=False)
    constructor.__name__ = constructor.__qualname__ = f"{np.dtype(dtype).name}_tensor"
    return constructor


FloatTensor, DoubleTensor, LongTensor, IntTensor, BoolTensor = map(
    _legacy_constructor, (np.float32, np.float64, np.int64, np.int32, np.bool_))


def linspace(start: float, end: float, steps: int, dtype: DTypeLike | None = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32 by default)."""
    check_device(device)
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"linspace: number of steps must be a non-negative int, got {steps!r}")
    return Tensor(np.linspace(start, end, steps, dtype=dtype or np.float32), requires_grad=requires_grad)


def logspace(start: float, end: float, steps: int, base: float = 10.0, dtype: DTypeLike | None = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """``base ** linspace(start, end, steps)``."""
    exponents = linspace(start, end, steps, np.float64, device)._data
    return Tensor(np.asarray(base ** exponents, dtype=dtype or np.float32), requires_grad=requires_grad)


@overload
def _factory(make: Callable[[tuple[int, ...], np.dtype[Any], np.random.Generator | None], Array]) -> RandomFactory: ...
@overload
def _factory(make: Callable[..., Array]) -> Factory: ...
def _factory(make: Callable[..., Array]) -> Factory | RandomFactory:
    """A factory taking sizes as ``f(2, 3)`` or ``f((2, 3))``, ``dtype`` (default float32) and
    ``requires_grad``."""
    @functools.wraps(make)
    def factory(*size: int | Sequence[int], dtype: DTypeLike | None = None, requires_grad: bool = False,
                device: Any = None, **options: Any) -> Tensor:
        check_device(device)
        return Tensor(make(_shape(size), np.dtype(np.float32 if dtype is None else dtype), **options),
                      requires_grad=requires_grad)
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
    return Tensor(np.full(_shape((size,)), fill_value, dtype), requires_grad=requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: DTypeLike | None = None,
           requires_grad: bool = False) -> Tensor:
    """int64 for integer arguments, float32 otherwise (as torch)."""
    start, end = (0, start) if end is None else (start, end)
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, int) for v in (start, end, step)) else np.float32
    return Tensor(np.arange(start, end, step, dtype=dtype), requires_grad=requires_grad)


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
    return Tensor(np.eye(n, m, dtype=dtype or np.float32), requires_grad=requires_grad)


def _like(factory: Callable[..., Tensor]) -> LikeFactory:
    @functools.wraps(factory)
    def like(input: Tensor, *args: Any, dtype: DTypeLike | None = None, requires_grad: bool = False,
             **options: Any) -> Tensor:
        return factory(input.shape, *args, dtype=input.dtype if dtype is None else dtype, requires_grad=requires_grad,
                       **options)
    return like


zeros_like, ones_like, empty_like, randn_like, rand_like, full_like = map(
    _like, (zeros, ones, empty, randn, rand, full))  # type: ignore[arg-type]  # mypy joins the tuple to `function`
