"""minigrad's Tensor: one NumPy array plus reverse-mode autograd.

Tensor carries comparisons, in-place ops and dtypes itself; arithmetic, elementwise math, matrix
products, reductions, shapes and indexing live in ``minigrad.ops`` as functions (torch's module-level
``exp``, ``sum``, ``cat``) that the one-line methods and operators here call. The ops torch keeps in ``torch.nn.functional`` live in
``minigrad.functional``, the factories in ``minigrad.creation``. An op computes its result with
NumPy and passes it to ``_node`` with its inputs, a ``backward(g)`` closure written right under
the forward, and its name; the engine (``minigrad.autograd.engine``) does the rest. In-place ops
and optimizer steps bump the version of the memory they change, which every view of it (``x[0]``,
``reshape``, ``detach``, ``.data``) shares; the engine checks it.

Data and gradients, as torch users touch them and as the kernels need them. The array lives in the
``_data`` slot; everything in minigrad computes on it. ``x.data`` is what torch's is: a new tensor
outside the graph over the same memory, so ``p.data.add_(...)``, ``p.data.norm()`` and ``p.data = t``
work. ``x.grad`` is a Tensor (``zero_()``, ``norm()``, arithmetic) holding the accumulated gradient's
array, and the optimizers hand ``p._data`` and ``p.grad._data`` to the C++ kernels: the same buffers,
no copies. ``numpy()`` returns the array itself (shared memory).

Dtypes: Python floats become float32, Python ints int64 (as in torch); float64 works throughout;
ops between tensors follow NumPy's promotion. Random numbers come from ``minigrad.random``'s
process-wide generator (not per thread) unless a ``Generator`` is passed.
"""
from __future__ import annotations

import builtins
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, Sequence

import numpy as np

from .autograd.engine import is_grad_enabled, mark_modified, record, run_backward
from .device import CPU, check_device, to_arguments
from .random import _generator
from .utils.hooks import RemovableHandle
if TYPE_CHECKING:
    from .device import device  # noqa: F401  (the annotation of the device property)
    from .sparse import SparseTensor
    from ._typing import (Array, ArrayLike, Backward, Dim, DTypeLike, Index, ModuleType, Nested, Number, Operand,
                          Scalar, T, TensorLike)

float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64, uint8 = np.int8, np.int16, np.int32, np.int64, np.uint8

_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
               "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
_C_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int", "int32": "int",
                 "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}  # in messages


class Tensor:
    __slots__ = ("_data", "_grad", "_requires_grad", "_parents", "_backward", "_name", "_created", "_retain",
                 "_hooks", "_post_accumulate_hooks", "__weakref__")  # the array and the engine's fields (see
    # minigrad.autograd.engine)
    __array_ufunc__ = None  # `ndarray + tensor` defers to Tensor.__radd__ instead of making an object array
    __hash__ = object.__hash__  # == is elementwise; tensors hash by identity, as in torch
    _data: Array; _grad: Tensor | SparseTensor | None  # the fields' types (annotations: the slots hold the values)
    _hooks: OrderedDict[int, Callable[[Tensor], Tensor | None]] | None
    _post_accumulate_hooks: OrderedDict[int, Callable[[Tensor], None]] | None
    _parents: tuple[Tensor, ...]; _backward: Backward | None; _name: str | None; _created: int

    def __init__(self, *data: Any, requires_grad: bool = False) -> None:
        """``Tensor(2, 3)``: float32 zeros of that shape (torch's legacy constructor; uninitialized
        there); ``Tensor()``: empty. ``Tensor(data)`` wraps ``data``: an ndarray is kept as it is (no
        copy, as ``from_numpy``), a Tensor's array is shared, Python numbers and lists are converted
        (floats to float32). To choose the dtype of a copy, use ``minigrad.tensor``."""
        if not data or all(isinstance(n, int) and not isinstance(n, bool) for n in data):
            data = (np.zeros(data or (0,), np.float32),)
        elif len(data) == 2 and isinstance(data[1], bool):  # Tensor(data, requires_grad), minigrad's older form
            data, requires_grad = data[:1], data[1]
        if len(data) != 1:
            raise TypeError(f"Tensor: expected sizes (ints) or one data argument, got {len(data)} arguments")
        data = _as_array(data[0])
        if data.dtype.kind not in "biuf":
            raise TypeError(f"Tensor: unsupported dtype {data.dtype} (use bool, integer or float data)")
        _init_fields(self, data)
        self.requires_grad = requires_grad

    # ---- attributes -------------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """A new tensor over the same memory, outside the graph (in-place changes through it still
        bump the memory's version: minigrad checks what torch's ``.data`` lets through)."""
        return _wrap(self._data)

    @data.setter
    def data(self, value: TensorLike) -> None:
        array = _unwrap(value)
        if not isinstance(array, np.ndarray):
            raise TypeError(f"data: expected a Tensor or an ndarray, got {type(value).__name__}")
        if array.dtype.kind not in "biuf" or (self._requires_grad and array.dtype.kind != "f"):
            raise TypeError(f"data: a tensor {'that requires grad ' if self._requires_grad else ''}cannot hold "
                            f"{array.dtype} data")
        self._data = array

    @property
    def grad(self) -> Tensor | SparseTensor | None:
        """The gradient accumulated by ``backward()`` (a Tensor of this tensor's shape and dtype; a
        ``minigrad.sparse.SparseTensor`` from ``embedding(..., sparse=True)``), or None."""
        return self._grad

    @grad.setter
    def grad(self, value: TensorLike | SparseTensor | None) -> None:
        if value is None:
            self._grad = None
            return
        sparse = getattr(value, "is_sparse", False)  # a SparseTensor is checked by its dense shape and dtype
        array: Any = value if sparse else _unwrap(value)
        if not (sparse or isinstance(array, np.ndarray)):
            raise TypeError(f"assigned grad expected to be a Tensor, an ndarray or None but got grad of "
                            f"type {type(value).__name__}")
        if array.shape != self._data.shape:
            raise ValueError(f"assigned grad has data of a different size: {array.shape}, the tensor has "
                             f"{self._data.shape}")
        if array.dtype != self._data.dtype:
            raise TypeError(f"assigned grad has data of a different type: {array.dtype}, the tensor has "
                            f"{self._data.dtype}")
        self._grad = array if sparse else value if isinstance(value, Tensor) else _wrap(array)

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if flag and self._data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad; this one is {self._data.dtype} "
                            f"with shape {self.shape}")
        if not self.is_leaf:
            raise RuntimeError("requires_grad can only be changed on leaf tensors; use detach() on a result")
        self._requires_grad = bool(flag)

    @property
    def shape(self) -> tuple[int, ...]: return self._data.shape

    @property
    def ndim(self) -> int: return self._data.ndim

    @property
    def dtype(self) -> np.dtype[Any]: return self._data.dtype

    @property
    def device(self) -> device: return CPU

    is_sparse: Literal[False] = False  # dense; a sparse gradient is a minigrad.sparse.SparseTensor

    @property
    def is_leaf(self) -> bool:
        """True unless the tensor was made by a recorded op."""
        return self._name is None

    @property
    def grad_fn(self) -> str | None:
        """The name of the op that made this tensor ('mul', 'matmul', 'cross_entropy', ...), or None for leaves."""
        return self._name

    @property
    def T(self) -> Tensor:
        return self if self.ndim < 2 else self.permute(*reversed(range(self.ndim)))

    def size(self, dim: int | None = None) -> Any:
        return self._data.shape if dim is None else self._data.shape[dim]

    def numel(self) -> int:
        return self._data.size

    def dim(self) -> int:
        return self._data.ndim

    def item(self) -> Number:
        if self._data.size != 1:
            raise ValueError(f"item(): only a one-element tensor converts to a Python number, got shape {self.shape}")
        return self._data.item()

    def numpy(self) -> Array:
        """The data itself (shared memory, as torch's numpy())."""
        return self._data

    def tolist(self) -> Nested:
        return self._data.tolist()

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> Array:
        if copy:
            return np.array(self._data, dtype=dtype, copy=True)
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self._data)

    def __format__(self, spec: str) -> str:
        return format(self.item(), spec) if self.ndim == 0 else format(repr(self), spec)

    def __float__(self) -> float: return float(self.item())
    def __int__(self) -> int: return int(self.item())

    def __repr__(self) -> str:
        text = np.array2string(self._data, separator=", ", prefix="tensor(")
        if self.dtype not in (np.float32, np.int64, np.bool_):
            text += f", dtype={self.dtype}"
        if self._name is not None:
            text += f", grad_fn=<{self._name}>"
        elif self._requires_grad:
            text += ", requires_grad=True"
        return f"tensor({text})"

    # ---- autograd -----------------------------------------------------------------------------
    def backward(self, grad: TensorLike | None = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``; ``grad`` is d(loss)/d(self), by
        default 1 for a one-element tensor. Frees the graph unless ``retain_graph``."""
        if not self._requires_grad:
            raise RuntimeError(f"backward: this tensor (shape {self.shape}) does not require grad and has no "
                               "graph; did the inputs have requires_grad=True, outside no_grad()?")
        if grad is None:
            if self._data.size != 1:
                raise RuntimeError(f"backward: grad can be created implicitly only for a one-element output, got "
                                   f"shape {self.shape}; pass backward(grad) with a gradient of that shape")
            grad = np.ones_like(self._data)
        else:
            grad = np.asarray(_unwrap(grad), dtype=self._data.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward: grad has shape {grad.shape}, the tensor has shape {self.shape}")
        run_backward(self, grad, retain_graph)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, outside the graph."""
        return _wrap(self._data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` each time backward computes this tensor's gradient (before it reaches
        ``.grad``); a tensor it returns replaces the gradient. ``handle.remove()`` unregisters it."""
        return self._add_hook("_hooks", hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> RemovableHandle:
        """Call ``hook(self)`` each time backward has accumulated this leaf's gradient into ``.grad``
        (where the hook may read it: DistributedDataParallel starts averaging it over ranks there)."""
        if self._requires_grad and not self.is_leaf:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        return self._add_hook("_post_accumulate_hooks", hook)

    def _add_hook(self, field: str, hook: Callable[[Tensor], Any]) -> RemovableHandle:
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        hooks = getattr(self, field)
        if hooks is None:
            hooks = OrderedDict()
            setattr(self, field, hooks)
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def __getstate__(self) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """What copy, deepcopy and pickle take of a tensor: every field (a subclass's slots and
        attributes too) but the post-accumulate hooks, which belong to whoever registered them (a
        DistributedDataParallel): as torch's copies, a copy has none."""
        names = [name for cls in type(self).__mro__ for name in _slots(cls) if name not in ("__weakref__", "__dict__")]
        fields = {name: getattr(self, name) for name in names if hasattr(self, name)}
        fields["_post_accumulate_hooks"] = None
        return getattr(self, "__dict__", None), fields

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor in the next backward (leaves always keep it)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        self._retain = True

    # ---- in-place ops (no graph; they bump the version) ----------------------------------------
    def _inplace(self, name: str, update: Callable[[Array], object], other: object = None) -> Tensor:
        if is_grad_enabled() and (self._requires_grad or getattr(other, "_requires_grad", False)):
            raise RuntimeError(f"{name}: in-place ops are not recorded by autograd; this tensor (shape {self.shape}) "
                               "or the operand requires grad. Use the out-of-place op, or minigrad.no_grad() "
                               "for updates outside the model (initialization, optimizer steps)")
        update(self._data)
        mark_modified(self)
        return self

    def _augmented(self, other: Operand, ufunc: np.ufunc, op: Callable[[Tensor, Operand], Tensor]) -> Tensor:
        """``x += y`` and friends: in place outside autograd, else ``x = x + y`` (a new graph node:
        other references to the old tensor keep the old value)."""
        if is_grad_enabled() and (self._requires_grad or getattr(other, "_requires_grad", False)):
            if self._requires_grad and self.is_leaf:
                raise RuntimeError(f"a leaf tensor that requires grad (shape {self.shape}) is used in an in-place "
                                   "op; wrap the update in minigrad.no_grad()")
            return op(self, other)
        return self._inplace(ufunc.__name__, lambda x: ufunc(x, _unwrap(other), out=x))

    def __iadd__(self, other: Operand) -> Tensor: return self._augmented(other, np.add, Tensor.__add__)
    def __isub__(self, other: Operand) -> Tensor: return self._augmented(other, np.subtract, Tensor.__sub__)
    def __imul__(self, other: Operand) -> Tensor: return self._augmented(other, np.multiply, Tensor.__mul__)
    def __itruediv__(self, other: Operand) -> Tensor: return self._augmented(other, np.true_divide, Tensor.__truediv__)

    def add_(self, other: Operand, alpha: float = 1) -> Tensor:
        return self._inplace("add_", lambda x: np.add(x, _unwrap(other) * alpha, out=x), other)

    def sub_(self, other: Operand, alpha: float = 1) -> Tensor:
        return self.add_(other, -alpha)

    def mul_(self, other: Operand) -> Tensor:
        return self._inplace("mul_", lambda x: np.multiply(x, _unwrap(other), out=x), other)

    def div_(self, other: Operand) -> Tensor:
        return self._inplace("div_", lambda x: np.true_divide(x, _unwrap(other), out=x), other)

    def clamp_(self, min: Operand | None = None, max: Operand | None = None) -> Tensor:
        return self._inplace("clamp_", lambda x: np.clip(x, _unwrap(min), _unwrap(max), out=x))

    def copy_(self, src: TensorLike) -> Tensor:
        return self._inplace("copy_", lambda x: np.copyto(x, _unwrap(src), casting="unsafe"), src)

    def fill_(self, value: Operand) -> Tensor:
        return self._inplace("fill_", lambda x: x.fill(_unwrap(value)))

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
        rng = generator or _generator
        return self._inplace("uniform_", lambda x: np.copyto(x, rng.uniform(a, b, x.shape), casting="unsafe"))

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
        rng = generator or _generator
        return self._inplace("normal_", lambda x: np.copyto(x, rng.normal(mean, std, x.shape), casting="unsafe"))

    def __setitem__(self, index: Index, value: TensorLike) -> None:
        def assign(x: Array) -> None:
            x[_index(index)] = _unwrap(value)
        self._inplace("setitem", assign, value)

    # ---- arithmetic (broadcasting; gradients are summed back to shape by the engine) ------------
    def __add__(self, other: Operand) -> Tensor: return _arithmetic.add(self, other)
    def __mul__(self, other: Operand) -> Tensor: return _arithmetic.mul(self, other)
    def __truediv__(self, other: Operand) -> Tensor: return _arithmetic.div(self, other)
    def __pow__(self, exponent: Operand) -> Tensor: return _arithmetic.pow(self, exponent)

    __radd__, __rmul__ = __add__, __mul__

    def __neg__(self) -> Tensor: return self * -1
    def __sub__(self, other: Operand) -> Tensor: return self + (-other)
    def __rsub__(self, other: Operand) -> Tensor: return -self + other
    def __rtruediv__(self, other: Operand) -> Tensor: return self ** -1 * other
    def __rpow__(self, base: Operand) -> Tensor: return _arithmetic.rpow(self, base)
    def __mod__(self, other: Operand) -> Tensor: return _arithmetic.remainder(self, other)
    def __floordiv__(self, other: Operand) -> Tensor: return _arithmetic.floor_divide(self, other)

    add, sub, mul, div, pow, neg = __add__, __sub__, __mul__, __truediv__, __pow__, __neg__
    remainder, floor_divide = __mod__, __floordiv__

    def matmul(self, other: Operand) -> Tensor: return _linalg.matmul(self, other)

    __matmul__ = matmul

    def __rmatmul__(self, other: Operand) -> Tensor:
        return (other if isinstance(other, Tensor) else Tensor(np.asarray(_operand(other, self)))).matmul(self)

    def bmm(self, mat2: Tensor) -> Tensor: return _linalg.bmm(self, mat2)

    def baddbmm(self, batch1: Tensor, batch2: Tensor, *, beta: Scalar = 1, alpha: Scalar = 1) -> Tensor:
        return _linalg.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    # ---- comparisons (not differentiable) -------------------------------------------------------
    def __lt__(self, other: Operand) -> Tensor: return Tensor(self._data < _unwrap(other))
    def __le__(self, other: Operand) -> Tensor: return Tensor(self._data <= _unwrap(other))
    def __gt__(self, other: Operand) -> Tensor: return Tensor(self._data > _unwrap(other))
    def __ge__(self, other: Operand) -> Tensor: return Tensor(self._data >= _unwrap(other))
    def __eq__(self, other: Operand) -> Tensor: return Tensor(self._data == _unwrap(other))  # type: ignore[override]
    def __ne__(self, other: Operand) -> Tensor: return Tensor(self._data != _unwrap(other))  # type: ignore[override]

    lt, le, gt, ge, eq, ne = __lt__, __le__, __gt__, __ge__, __eq__, __ne__

    def argmax(self, dim: int | None = None, keepdim: bool = False, **numpy_names: Any) -> Tensor:
        return _reduce.argmax(self, dim, keepdim, **numpy_names)
    def argmin(self, dim: int | None = None, keepdim: bool = False, **numpy_names: Any) -> Tensor:
        return _reduce.argmin(self, dim, keepdim, **numpy_names)

    # ---- elementwise functions --------------------------------------------------------------------
    def exp(self) -> Tensor: return _elementwise.exp(self)
    def log(self) -> Tensor: return _elementwise.log(self)
    def sin(self) -> Tensor: return _elementwise.sin(self)
    def cos(self) -> Tensor: return _elementwise.cos(self)
    def sqrt(self) -> Tensor: return _elementwise.sqrt(self)
    def abs(self) -> Tensor: return _elementwise.abs(self)
    def tanh(self) -> Tensor: return _elementwise.tanh(self)
    def sigmoid(self) -> Tensor: return _elementwise.sigmoid(self)
    def relu(self) -> Tensor: return _elementwise.relu(self)

    # torch has these three only in torch.nn.functional: implemented in minigrad.functional.activation
    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor: return _functional().leaky_relu(self, negative_slope)
    def gelu(self, approximate: str = "none") -> Tensor: return _functional().gelu(self, approximate)
    def softplus(self, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
        return _functional().softplus(self, beta, threshold)

    def clamp(self, min: Operand | None = None, max: Operand | None = None) -> Tensor:
        return _elementwise.clamp(self, min, max)

    def clamp_min(self, min: Operand) -> Tensor: return _elementwise.clamp_min(self, min)
    def clamp_max(self, max: Operand) -> Tensor: return _elementwise.clamp_max(self, max)

    clip = clamp

    def maximum(self, other: Operand) -> Tensor: return _elementwise.maximum(self, other)
    def minimum(self, other: Operand) -> Tensor: return _elementwise.minimum(self, other)
    def where(self, condition: TensorLike, other: Operand) -> Tensor: return _elementwise.where(condition, self, other)
    def masked_fill(self, mask: TensorLike, value: Operand) -> Tensor:
        return _elementwise.masked_fill(self, mask, value)
    def isnan(self) -> Tensor: return _elementwise.isnan(self)
    def isinf(self) -> Tensor: return _elementwise.isinf(self)
    def isfinite(self) -> Tensor: return _elementwise.isfinite(self)
    def logical_not(self) -> Tensor: return _elementwise.logical_not(self)
    def logical_and(self, other: TensorLike) -> Tensor: return _elementwise.logical_and(self, other)
    def logical_or(self, other: TensorLike) -> Tensor: return _elementwise.logical_or(self, other)
    def logical_xor(self, other: TensorLike) -> Tensor: return _elementwise.logical_xor(self, other)
    def __and__(self, other: TensorLike) -> Tensor: return _elementwise.bitwise(np.bitwise_and, self, other)
    def __or__(self, other: TensorLike) -> Tensor: return _elementwise.bitwise(np.bitwise_or, self, other)
    def __xor__(self, other: TensorLike) -> Tensor: return _elementwise.bitwise(np.bitwise_xor, self, other)
    def __invert__(self) -> Tensor: return _elementwise.bitwise(np.invert, self)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    # torch has these as methods; implemented in minigrad.functional.activation
    def softmax(self, dim: int) -> Tensor: return _functional().softmax(self, dim)
    def log_softmax(self, dim: int) -> Tensor: return _functional().log_softmax(self, dim)

    # ---- reductions -----------------------------------------------------------------------------
    def sum(self, dim: Dim = None, keepdim: bool = False, **numpy_names: Any) -> Tensor:
        return _reduce.sum(self, dim, keepdim, **numpy_names)
    def mean(self, dim: Dim = None, keepdim: bool = False, **numpy_names: Any) -> Tensor:
        return _reduce.mean(self, dim, keepdim, **numpy_names)

    def var(self, dim: Dim = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: int | None = None, **numpy_names: Any) -> Tensor:
        return _reduce.var(self, dim, unbiased, keepdim, correction=correction, **numpy_names)

    def std(self, dim: Dim = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: int | None = None, **numpy_names: Any) -> Tensor:
        return _reduce.std(self, dim, unbiased, keepdim, correction=correction, **numpy_names)

    def amax(self, dim: Dim = None, keepdim: bool = False, **numpy_names: Any) -> Tensor:
        return _reduce.amax(self, dim, keepdim, **numpy_names)
    def amin(self, dim: Dim = None, keepdim: bool = False, **numpy_names: Any) -> Tensor:
        return _reduce.amin(self, dim, keepdim, **numpy_names)
    def max(self, dim: int | Tensor | None = None, keepdim: bool = False, **numpy_names: Any) -> Any:
        return _reduce.max(self, dim, keepdim, **numpy_names)
    def min(self, dim: int | Tensor | None = None, keepdim: bool = False, **numpy_names: Any) -> Any:
        return _reduce.min(self, dim, keepdim, **numpy_names)
    def logsumexp(self, dim: Dim = None, keepdim: bool = False, **numpy_names: Any) -> Tensor:
        return _reduce.logsumexp(self, dim, keepdim, **numpy_names)
    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        return _reduce.sort(self, dim, descending, stable)
    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        return _reduce.argsort(self, dim, descending, stable)
    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        return _reduce.topk(self, k, dim, largest, sorted)
    def any(self, dim: Dim = None, keepdim: bool = False, **numpy_names: Any) -> Tensor:
        return _reduce.any(self, dim, keepdim, **numpy_names)
    def all(self, dim: Dim = None, keepdim: bool = False, **numpy_names: Any) -> Tensor:
        return _reduce.all(self, dim, keepdim, **numpy_names)
    def norm(self, p: float | str | None = "fro", dim: Dim = None, keepdim: bool = False) -> Tensor:
        return _reduce.norm(self, p, dim, keepdim)
    def cumsum(self, dim: int, *, dtype: DTypeLike | None = None) -> Tensor:
        return _reduce.cumsum(self, dim, dtype=dtype)

    # ---- shapes and indexing ----------------------------------------------------------------------
    def reshape(self, *shape: int | Sequence[int]) -> Tensor: return _movement.reshape(self, *shape)

    def view(self, *shape: builtins.int | Sequence[builtins.int]) -> Tensor: return _movement.view(self, *shape)

    def view_as(self, other: Tensor) -> Tensor: return _movement.view_as(self, other)
    def permute(self, *dims: int | Sequence[int]) -> Tensor: return _movement.permute(self, *dims)
    def transpose(self, dim0: int, dim1: int) -> Tensor: return _movement.transpose(self, dim0, dim1)
    def unsqueeze(self, dim: int) -> Tensor: return _movement.unsqueeze(self, dim)
    def squeeze(self, dim: Dim = None) -> Tensor: return _movement.squeeze(self, dim)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _movement.flatten(self, start_dim, end_dim)

    def expand(self, *sizes: int | Sequence[int]) -> Tensor: return _movement.expand(self, *sizes)
    def expand_as(self, other: Tensor) -> Tensor: return _movement.expand_as(self, other)

    def __getitem__(self, index: Index) -> Tensor:
        """NumPy indexing; the backward scatters, adding up repeated advanced indices."""
        return _movement.getitem(self, index)

    def gather(self, dim: int, index: TensorLike) -> Tensor: return _movement.gather(self, dim, index)
    def index_select(self, dim: int, index: TensorLike) -> Tensor: return _movement.index_select(self, dim, index)

    def scatter(self, dim: int, index: TensorLike, src: Tensor | Scalar | None = None, *,
                value: Scalar | None = None) -> Tensor:
        return _movement.scatter(self, dim, index, src, value=value)

    def scatter_add(self, dim: int, index: TensorLike, src: Tensor) -> Tensor:
        return _movement.scatter_add(self, dim, index, src)

    def flip(self, *dims: int | Sequence[int]) -> Tensor: return _movement.flip(self, _shape(dims))

    def roll(self, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
        return _movement.roll(self, shifts, dims)

    def tril(self, diagonal: int = 0) -> Tensor: return _movement.tril(self, diagonal)
    def triu(self, diagonal: int = 0) -> Tensor: return _movement.triu(self, diagonal)

    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        return _movement.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]: return _movement.chunk(self, chunks, dim)
    def repeat(self, *sizes: int | Sequence[int]) -> Tensor: return _movement.repeat(self, *sizes)
    def t(self) -> Tensor: return _movement.t(self)
    def ravel(self) -> Tensor: return self.reshape(-1)

    @property
    def mT(self) -> Tensor:
        """The matrices (last two dims) transposed."""
        return self.transpose(-2, -1)

    def masked_fill_(self, mask: TensorLike, value: Operand) -> Tensor:
        return self._inplace_result("masked_fill_", _elementwise.masked_fill(self.detach(), mask, value), value)
    def scatter_(self, dim: int, index: TensorLike, src: Tensor | Scalar | None = None, *,
                 value: Scalar | None = None) -> Tensor:
        return self._inplace_result("scatter_", _movement.scatter(self.detach(), dim, index, src, value=value), src)
    def scatter_add_(self, dim: int, index: TensorLike, src: Tensor) -> Tensor:
        return self._inplace_result("scatter_add_", _movement.scatter_add(self.detach(), dim, index, src), src)
    def cumsum_(self, dim: int, *, dtype: DTypeLike | None = None) -> Tensor:
        return self._inplace_result("cumsum_", _reduce.cumsum(self.detach(), dim, dtype=dtype))
    def baddbmm_(self, batch1: Tensor, batch2: Tensor, *, beta: Scalar = 1, alpha: Scalar = 1) -> Tensor:
        result = _linalg.baddbmm(self.detach(), batch1, batch2, beta=beta, alpha=alpha)
        return self._inplace_result("baddbmm_", result, batch1, batch2)
    def tril_(self, diagonal: int = 0) -> Tensor:
        return self._inplace_result("tril_", _movement.tril(self.detach(), diagonal))
    def triu_(self, diagonal: int = 0) -> Tensor:
        return self._inplace_result("triu_", _movement.triu(self.detach(), diagonal))

    def _inplace_result(self, name: str, result: Tensor, *operands: object) -> Tensor:
        """Write ``result`` (the out-of-place op's, computed and checked first) into this tensor; none of the
        op's tensor ``operands`` may require grad."""
        if result.shape != self.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                               f"{list(result.shape)}")
        differentiable = next((t for t in operands if getattr(t, "_requires_grad", False)), None)
        return self._inplace(name, lambda x: np.copyto(x, result._data), differentiable)

    # ---- dtype and copies ---------------------------------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """This tensor cast to a dtype, as torch's ``to(dtype)``, ``to(device, dtype)``, ``to(other)``
        (differentiable between float types; ``self`` when nothing changes, unless ``copy=True``).
        The device may only be the CPU: any other raises an error naming it."""
        dtype, copy = to_arguments(args, kwargs)
        in_dtype = self._data.dtype
        dtype = in_dtype if dtype is None else np.dtype(dtype)
        if dtype == in_dtype and not copy:
            return self
        parents = (self,) if dtype.kind == "f" else ()
        return _node(self._data.astype(dtype), parents, lambda g: (g.astype(in_dtype),), "to")

    def type(self, dtype: DTypeLike | None = None) -> Any:
        """With a dtype, ``to(dtype)``; without, the name of this tensor's type, as torch's
        (``"minigrad.FloatTensor"``)."""
        if dtype is None:
            return f"minigrad.{_TYPE_NAMES.get(self._data.dtype.name, self._data.dtype.name)}Tensor"
        return self.to(dtype)

    def type_as(self, other: Tensor) -> Tensor: return self.to(other.dtype)
    def float(self) -> Tensor: return self.to(np.float32)
    def double(self) -> Tensor: return self.to(np.float64)
    def half(self) -> Tensor: return self.to(np.float16)
    def long(self) -> Tensor: return self.to(np.int64)
    def int(self) -> Tensor: return self.to(np.int32)
    def bool(self) -> Tensor: return self.to(np.bool_)
    def is_floating_point(self) -> builtins.bool: return self._data.dtype.kind == "f"
    def element_size(self) -> builtins.int: return self._data.itemsize

    def cpu(self) -> Tensor:
        """This tensor: it is on the CPU already."""
        return self

    def cuda(self, device: Any = None, non_blocking: builtins.bool = False) -> Tensor:
        check_device(device if device is not None else "cuda", "cuda")
        return self

    def new_tensor(self, data: TensorLike, dtype: DTypeLike | None = None, device: Any = None,
                   requires_grad: builtins.bool = False) -> Tensor:
        """A new tensor copying ``data``, of this tensor's dtype unless given (torch's ``new_*`` family)."""
        check_device(device)
        return Tensor(np.array(_as_array(data), dtype=dtype or self.dtype, order="C"), requires_grad=requires_grad)

    def new_full(self, size: Sequence[builtins.int], fill_value: Scalar, dtype: DTypeLike | None = None,
                 device: Any = None, requires_grad: builtins.bool = False) -> Tensor:
        return self.new_tensor(np.full(_shape((size,)), fill_value), dtype, device, requires_grad)

    def new_zeros(self, *size: builtins.int | Sequence[builtins.int], dtype: DTypeLike | None = None,
                  device: Any = None, requires_grad: builtins.bool = False) -> Tensor:
        return self.new_full(_shape(size), 0, dtype, device, requires_grad)

    def new_ones(self, *size: builtins.int | Sequence[builtins.int], dtype: DTypeLike | None = None,
                 device: Any = None, requires_grad: builtins.bool = False) -> Tensor:
        return self.new_full(_shape(size), 1, dtype, device, requires_grad)

    new_empty = new_zeros

    def clone(self) -> Tensor:
        return _node(self._data.copy(), (self,), lambda g: (g,), "clone")

    def contiguous(self) -> Tensor:
        return self if self._data.flags.c_contiguous else self.clone()


def _slots(cls: type) -> tuple[str, ...]:
    """The slot names ``cls`` itself declares."""
    slots = cls.__dict__.get("__slots__", ())
    return (slots,) if isinstance(slots, str) else tuple(slots)


# ---- making tensors and graph nodes --------------------------------------------------------------------
def _init_fields(t: Tensor, data: Array) -> None:
    """Set every field of a fresh tensor: ``data``, no grad, no graph, no hooks."""
    t._data, t._grad, t._requires_grad, t._retain, t._hooks = data, None, False, False, None
    t._post_accumulate_hooks = None
    t._parents, t._backward, t._name = (), None, None


def _wrap(data: Array) -> Tensor:
    """A leaf over ``data`` as it is (no checks, no copy): gradients, ``.data``, op results outside the graph."""
    out = object.__new__(Tensor)
    _init_fields(out, data)
    return out


def _node(data: ArrayLike, parents: tuple[Tensor, ...], backward: Backward, name: str) -> Tensor:
    """An op's result: a tensor holding ``data`` that the engine makes a graph node (keeping
    ``parents``, ``backward`` and the op's ``name``) when grad mode is on and a parent requires grad."""
    return record(_wrap(data if type(data) is np.ndarray else np.asarray(data)), parents, backward, name)


def _functional() -> ModuleType:
    """minigrad.functional, imported on first use (it imports this module)."""
    from . import functional
    return functional


def _shape_error(op: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast")


# ---- helpers shared by ops ----------------------------------------------------------------------------
def _unwrap(x: Tensor | T) -> Array | T:
    return x._data if isinstance(x, Tensor) else x


def _as_array(data: TensorLike, dtype: DTypeLike | None = None) -> Array:
    """``data`` as an ndarray without copying where possible; Python floats become float32."""
    data = _unwrap(data)
    if dtype is None and not isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data)
        return array.astype(np.float32) if array.dtype == np.float64 else array
    return np.asarray(data, dtype=dtype)


def _operand(x: Array | Scalar, like: Tensor) -> int | float | Array:
    """A non-tensor operand: Python numbers stay weakly typed (the tensor's dtype wins, as in torch);
    arrays and NumPy scalars are cast to a float tensor's dtype; a sparse gradient is densified."""
    if isinstance(x, (int, float)):
        return x
    if getattr(x, "is_sparse", False):  # dense (op) sparse: a dense result, as torch's
        x = x.to_dense()._data
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"unsupported operand of type {type(x).__name__} for a tensor")
    return array.astype(like.dtype, copy=False) if like.dtype.kind == "f" else array


def _axes(dim: Dim, ndim: int) -> tuple[int, ...]:
    """``dim`` (None, an int or a sequence of ints; never a bool) as a tuple of non-negative axes."""
    dims = range(ndim) if dim is None else (dim,) if isinstance(dim, (int, np.integer)) else dim
    axes = []
    for d in dims:
        if isinstance(d, (bool, np.bool_)):
            raise TypeError(f"dim must be an int or a sequence of ints, got {dim!r}")
        n = max(ndim, 1)
        if not -n <= d < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
        if d % n in axes:
            raise RuntimeError(f"dim {d % n} appears multiple times in the list of dims")
        axes.append(d % n)
    return tuple(axes)


def _shape(args: Sequence[int | Sequence[int]]) -> tuple[int, ...]:
    """Sizes given as ``f(2, 3)`` or ``f((2, 3))``."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)


def _index(index: Index) -> Any:
    """An index with tensors replaced by their arrays."""
    if isinstance(index, tuple):
        return tuple(_unwrap(i) for i in index)
    return _unwrap(index)


class Parameter(Tensor):
    """A trainable leaf tensor: requires grad, and its ``.data`` is a C-contiguous, writeable float32
    or float64 array that optimizers update in place (shared with the ndarray or Tensor passed in
    when that already is one)."""

    def __init__(self, data: TensorLike | None = None, requires_grad: bool = True) -> None:
        data = _as_array(np.empty(0, np.float32) if data is None else data)
        if data.dtype not in (np.float32, np.float64):
            raise TypeError(f"Parameter: data must be float32 or float64, got {data.dtype} with shape {data.shape}")
        super().__init__(np.require(data, requirements=["C", "W"]), requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


# last: the op modules import the names above
from .ops import (arithmetic as _arithmetic, elementwise as _elementwise, linalg as _linalg,  # noqa: E402
                  movement as _movement, reduce as _reduce)
