"""minigrad's Tensor: one NumPy array (``.data``) plus reverse-mode autograd.

Tensor methods carry the algebra: arithmetic, elementwise math, reductions, shapes and indexing
(the ops torch keeps in ``torch.nn.functional`` live in ``minigrad.functional``, the factories in
``minigrad.creation``). An op computes its result with NumPy and passes it to ``_node`` with its
inputs, a ``backward(g)`` closure written right under the forward, and its name; the engine
(``minigrad.autograd.engine``) does the rest. In-place ops and optimizer steps bump the version of
the memory they change, which every view of it (``x[0]``, ``reshape``, ``detach``) shares; the engine
checks it. Writes straight into ``.data`` are not tracked.

Dtypes: Python floats become float32, Python ints int64 (as in torch); float64 works throughout;
ops between tensors follow NumPy's promotion. The random generator (``manual_seed``,
``default_generator``) is process-wide, not per thread.
"""
from __future__ import annotations

import math
from collections import namedtuple
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from .autograd.engine import is_grad_enabled, mark_modified, record, run_backward
if TYPE_CHECKING:
    from ._typing import (Array, ArrayLike, Backward, Dim, DTypeLike, Index, ModuleType, Nested, Number, Operand,
                          Scalar, T, TensorLike)

float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64, uint8 = np.int8, np.int16, np.int32, np.int64, np.uint8

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the one generator behind everything random in minigrad (randn, rand, dropout, init,
    DataLoader shuffling). The generator object stays the same, so references to it see the seed."""
    _generator.bit_generator.state = np.random.PCG64(seed).state
    return _generator


def default_generator() -> np.random.Generator:
    """minigrad's global ``np.random.Generator``."""
    return _generator


ValuesIndices = namedtuple("ValuesIndices", "values indices")  # what max(dim) / min(dim) return


class Tensor:
    __slots__ = ("data", "grad", "_requires_grad", "_parents", "_backward", "_name", "_created",
                 "_retain", "__weakref__")  # the underscored fields are the engine's (see minigrad.autograd.engine)
    __array_ufunc__ = None  # `ndarray + tensor` defers to Tensor.__radd__ instead of making an object array
    __hash__ = object.__hash__  # == is elementwise; tensors hash by identity, as in torch
    data: Array; grad: Array | None  # the fields' types (annotations only: the slots above hold the values)
    _parents: tuple[Tensor, ...]; _backward: Backward | None; _name: str | None; _created: int

    def __init__(self, data: TensorLike, requires_grad: bool = False) -> None:
        """Wrap ``data``: an ndarray is kept as it is (no copy); a Tensor shares its data; Python
        numbers and lists are converted (floats to float32)."""
        data = _as_array(data)
        if data.dtype.kind not in "biuf":
            raise TypeError(f"Tensor: unsupported dtype {data.dtype} (use bool, integer or float data)")
        _init_fields(self, data)
        self.requires_grad = requires_grad

    # ---- attributes -------------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if flag and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad; this one is {self.data.dtype} "
                            f"with shape {self.shape}")
        if not self.is_leaf:
            raise RuntimeError("requires_grad can only be changed on leaf tensors; use detach() on a result")
        self._requires_grad = bool(flag)

    @property
    def shape(self) -> tuple[int, ...]: return self.data.shape

    @property
    def ndim(self) -> int: return self.data.ndim

    @property
    def dtype(self) -> np.dtype[Any]: return self.data.dtype

    @property
    def device(self) -> str: return "cpu"

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
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return self.data.size

    def dim(self) -> int:
        return self.data.ndim

    def item(self) -> Number:
        if self.data.size != 1:
            raise ValueError(f"item(): only a one-element tensor converts to a Python number, got shape {self.shape}")
        return self.data.item()

    def numpy(self) -> Array:
        """The data itself (shared memory, as torch's numpy())."""
        return self.data

    def tolist(self) -> Nested:
        return self.data.tolist()

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> Array:
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def __float__(self) -> float: return float(self.item())
    def __int__(self) -> int: return int(self.item())

    def __repr__(self) -> str:
        text = np.array2string(self.data, separator=", ", prefix="tensor(")
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
            if self.data.size != 1:
                raise RuntimeError(f"backward: grad can be created implicitly only for a one-element output, got "
                                   f"shape {self.shape}; pass backward(grad) with a gradient of that shape")
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(_data(grad), dtype=self.data.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward: grad has shape {grad.shape}, the tensor has shape {self.shape}")
        run_backward(self, grad, retain_graph)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, outside the graph."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

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
        update(self.data)
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
        return self._inplace(ufunc.__name__, lambda x: ufunc(x, _data(other), out=x))

    def __iadd__(self, other: Operand) -> Tensor: return self._augmented(other, np.add, Tensor.__add__)
    def __isub__(self, other: Operand) -> Tensor: return self._augmented(other, np.subtract, Tensor.__sub__)
    def __imul__(self, other: Operand) -> Tensor: return self._augmented(other, np.multiply, Tensor.__mul__)
    def __itruediv__(self, other: Operand) -> Tensor: return self._augmented(other, np.true_divide, Tensor.__truediv__)

    def add_(self, other: Operand, alpha: float = 1) -> Tensor:
        return self._inplace("add_", lambda x: np.add(x, _data(other) * alpha, out=x), other)

    def sub_(self, other: Operand, alpha: float = 1) -> Tensor:
        return self.add_(other, -alpha)

    def mul_(self, other: Operand) -> Tensor:
        return self._inplace("mul_", lambda x: np.multiply(x, _data(other), out=x), other)

    def div_(self, other: Operand) -> Tensor:
        return self._inplace("div_", lambda x: np.true_divide(x, _data(other), out=x), other)

    def clamp_(self, min: Operand | None = None, max: Operand | None = None) -> Tensor:
        return self._inplace("clamp_", lambda x: np.clip(x, _data(min), _data(max), out=x))

    def copy_(self, src: TensorLike) -> Tensor:
        return self._inplace("copy_", lambda x: np.copyto(x, _data(src), casting="unsafe"), src)

    def fill_(self, value: Operand) -> Tensor:
        return self._inplace("fill_", lambda x: x.fill(_data(value)))

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
            x[_index(index)] = _data(value)
        self._inplace("setitem", assign, value)

    # ---- arithmetic (broadcasting; gradients are summed back to shape by the engine) ------------
    def __add__(self, other: Operand) -> Tensor:
        if isinstance(other, Tensor):
            try:
                out = self.data + other.data
            except ValueError:
                raise _shape_error("add", self, other) from None
            return _node(out, (self, other), lambda g: (g, g), "add")
        return _node(self.data + _operand(other, self), (self,), lambda g: (g,), "add")

    def __mul__(self, other: Operand) -> Tensor:
        if isinstance(other, Tensor):
            a, b = self.data, other.data
            try:
                out = a * b
            except ValueError:
                raise _shape_error("mul", self, other) from None
            return _node(out, (self, other), lambda g: (g * b, g * a), "mul")
        other = _operand(other, self)
        return _node(self.data * other, (self,), lambda g: (g * other,), "mul")

    def __truediv__(self, other: Operand) -> Tensor:
        if isinstance(other, Tensor):
            return self * other ** -1
        other = _operand(other, self)
        return _node(self.data / other, (self,), lambda g: (g / other,), "div")

    def __pow__(self, exponent: Operand) -> Tensor:
        a = self.data
        if isinstance(exponent, Tensor):
            b = exponent.data
            try:
                out = a ** b
            except ValueError:
                raise _shape_error("pow", self, exponent) from None

            def backward(g: Array) -> tuple[Array | None, ...]:  # where 0 ** b has no derivative, torch's zeros:
                with np.errstate(divide="ignore", invalid="ignore"):  # for the base at b == 0, for b at b >= 0
                    return (np.where(b == 0, 0, g * b * a ** (b - 1)) if self._requires_grad else None,
                            np.where((a == 0) & (b >= 0), 0, g * out * np.log(a)) if exponent._requires_grad else None)
            return _node(out, (self, exponent), backward, "pow")
        exponent = _operand(exponent, self)
        return _node(a ** exponent, (self,), lambda g: (g * exponent * a ** (exponent - 1),), "pow")

    __radd__, __rmul__ = __add__, __mul__

    def __neg__(self) -> Tensor: return self * -1
    def __sub__(self, other: Operand) -> Tensor: return self + (-other)
    def __rsub__(self, other: Operand) -> Tensor: return -self + other
    def __rtruediv__(self, other: Operand) -> Tensor: return self ** -1 * other
    def __rpow__(self, base: Operand) -> Tensor:
        """``base ** self``: a non-tensor base becomes a constant, of the dtype NumPy gives ``base ** self.data``."""
        if not isinstance(base, Tensor):
            base = _operand(base, self)
            base = Tensor(np.asarray(base, np.result_type(base, self.data)))
        return base ** self

    add, sub, mul, div, pow, neg = __add__, __sub__, __mul__, __truediv__, __pow__, __neg__

    def matmul(self, other: Operand) -> Tensor:
        """Matrix product with NumPy's rules: 1-D operands are vectors, leading dims broadcast."""
        other = other if isinstance(other, Tensor) else Tensor(np.asarray(_operand(other, self)))
        a, b = self.data, other.data
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least one dimension, got shapes {a.shape} and {b.shape}")
        k = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if a.shape[-1] != k:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align: the first's last dim "
                             f"({a.shape[-1]}) must equal the second's {'dim -2' if b.ndim > 1 else 'length'} ({k})")
        try:
            out = a @ b
        except ValueError:
            raise ValueError(f"matmul: the batch dims of shapes {a.shape} and {b.shape} do not broadcast") from None

        def backward(g: Array) -> tuple[Array | None, Array | None]:
            if a.ndim == 1:  # a vector is a 1-row matrix, b a 1-column one
                g = np.expand_dims(g, -2 if b.ndim > 1 else 0)
            if b.ndim == 1:
                g = g[..., None]
            ga = gb = None
            if self._requires_grad:
                ga = g @ np.swapaxes(b if b.ndim > 1 else b[:, None], -1, -2)
                ga = ga[..., 0, :] if a.ndim == 1 else ga
            if other._requires_grad:
                if b.ndim == 2 and a.ndim > 2:  # one GEMM over all batch rows (any of them may be empty)
                    gb = np.tensordot(a, g, [list(range(a.ndim - 1))] * 2)
                else:
                    gb = np.swapaxes(a if a.ndim > 1 else a[None], -1, -2) @ g
                gb = gb[..., 0] if b.ndim == 1 else gb
            return ga, gb
        return _node(out, (self, other), backward, "matmul")

    __matmul__ = matmul

    def __rmatmul__(self, other: Operand) -> Tensor:
        return (other if isinstance(other, Tensor) else Tensor(np.asarray(_operand(other, self)))).matmul(self)

    # ---- comparisons (not differentiable) -------------------------------------------------------
    def __lt__(self, other: Operand) -> Tensor: return Tensor(self.data < _data(other))
    def __le__(self, other: Operand) -> Tensor: return Tensor(self.data <= _data(other))
    def __gt__(self, other: Operand) -> Tensor: return Tensor(self.data > _data(other))
    def __ge__(self, other: Operand) -> Tensor: return Tensor(self.data >= _data(other))
    def __eq__(self, other: Operand) -> Tensor: return Tensor(self.data == _data(other))  # type: ignore[override]
    def __ne__(self, other: Operand) -> Tensor: return Tensor(self.data != _data(other))  # type: ignore[override]

    lt, le, gt, ge, eq, ne = __lt__, __le__, __gt__, __ge__, __eq__, __ne__

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return Tensor(np.asarray(np.argmax(self.data, axis=dim, keepdims=keepdim)))

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return Tensor(np.asarray(np.argmin(self.data, axis=dim, keepdims=keepdim)))

    # ---- elementwise functions --------------------------------------------------------------------
    def exp(self) -> Tensor:
        out = np.exp(self.data)
        return _node(out, (self,), lambda g: (g * out,), "exp")

    def log(self) -> Tensor:
        x = self.data
        return _node(np.log(x), (self,), lambda g: (g / x,), "log")

    def sin(self) -> Tensor:
        x = self.data
        return _node(np.sin(x), (self,), lambda g: (g * np.cos(x),), "sin")

    def cos(self) -> Tensor:
        x = self.data
        return _node(np.cos(x), (self,), lambda g: (-g * np.sin(x),), "cos")

    def sqrt(self) -> Tensor:
        return self ** 0.5

    def abs(self) -> Tensor:
        x = self.data
        return _node(np.abs(x), (self,), lambda g: (g * np.sign(x),), "abs")

    def tanh(self) -> Tensor:
        out = np.tanh(self.data)
        return _node(out, (self,), lambda g: (g * (1 - out * out),), "tanh")

    def sigmoid(self) -> Tensor:
        x = self.data
        e = np.exp(-np.abs(x))  # stable on both sides: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) below
        out = np.where(x >= 0, 1, e) / (1 + e)
        return _node(out, (self,), lambda g: (g * out * (1 - out),), "sigmoid")

    def relu(self) -> Tensor:
        out = np.maximum(self.data, 0)
        return _node(out, (self,), lambda g: (g * (out > 0),), "relu")

    # torch has these three only in torch.nn.functional: implemented in minigrad.functional.activation
    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor: return _functional().leaky_relu(self, negative_slope)
    def gelu(self, approximate: str = "none") -> Tensor: return _functional().gelu(self, approximate)
    def softplus(self, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
        return _functional().softplus(self, beta, threshold)

    def clamp(self, min: Operand | None = None, max: Operand | None = None) -> Tensor:
        """``minimum(maximum(x, min), max)`` (``max`` wins where min > max). Tensor bounds broadcast and get the
        gradient where they are the result, by torch's rules: x keeps it at ties; at x < min == max no one does."""
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        x, lo, hi = self.data, _data(min), _data(max)

        def backward(g: Array) -> list[Array]:
            inside = (x >= (-np.inf if lo is None else lo)) & (x <= (np.inf if hi is None else hi))
            to_min = (x < lo) & (True if hi is None else lo < hi) if isinstance(min, Tensor) else None
            to_max = (x > hi) | (False if lo is None else hi < lo) if isinstance(max, Tensor) else None
            return [np.where(mask, g, 0) for mask in (inside, to_min, to_max) if mask is not None]
        return _node(np.clip(x, lo, hi), (self, *(b for b in (min, max) if isinstance(b, Tensor))), backward, "clamp")

    def clamp_min(self, min: Operand) -> Tensor: return self.clamp(min=min)
    def clamp_max(self, max: Operand) -> Tensor: return self.clamp(max=max)

    clip = clamp

    def maximum(self, other: Operand) -> Tensor:
        return _pairwise_max_min(self, other, np.maximum, np.greater)

    def minimum(self, other: Operand) -> Tensor:
        return _pairwise_max_min(self, other, np.minimum, np.less)

    def where(self, condition: TensorLike, other: Operand) -> Tensor:
        return where(condition, self, other)

    # ---- reductions -----------------------------------------------------------------------------
    def sum(self, dim: Dim = None, keepdim: bool = False) -> Tensor:
        axes, shape = _axes(dim, self.ndim), self.data.shape
        out = self.data.sum(axis=axes, keepdims=keepdim)
        return _node(out, (self,), lambda g: (np.broadcast_to(g if keepdim else np.expand_dims(g, axes), shape),),
                     "sum")

    def mean(self, dim: Dim = None, keepdim: bool = False) -> Tensor:
        n = math.prod(self.data.shape[a] for a in _axes(dim, self.ndim))
        return self.sum(dim, keepdim) * (1 / n if n else math.nan)

    def var(self, dim: Dim = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: int | None = None) -> Tensor:
        """Squared deviations over ``dim`` (default all) summed, over n − ``correction`` (default 1); as in torch,
        the bool ``unbiased`` means correction 1 or 0, and a bool first argument is ``unbiased``: ``var(False)``."""
        if isinstance(dim, (bool, np.bool_)) and unbiased is None:
            dim, unbiased = None, dim
        if unbiased is not None and (correction is not None or not isinstance(unbiased, (bool, np.bool_))):
            raise TypeError(f"var/std: unbiased must be a bool, not given with correction; got unbiased={unbiased!r}")
        correction = int(unbiased) if unbiased is not None else 1 if correction is None else correction
        n = math.prod(self.data.shape[a] for a in _axes(dim, self.ndim))
        d = self - self.mean(dim, keepdim=True)
        return (d * d).sum(dim, keepdim) * (1 / (n - correction) if n > correction else math.inf)

    def std(self, dim: Dim = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: int | None = None) -> Tensor:
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def amax(self, dim: Dim = None, keepdim: bool = False) -> Tensor:
        return self._reduce_max_min(np.max, dim, keepdim, "amax")

    def amin(self, dim: Dim = None, keepdim: bool = False) -> Tensor:
        return self._reduce_max_min(np.min, dim, keepdim, "amin")

    def _reduce_max_min(self, reduce: Callable[..., Array], dim: Dim, keepdim: bool, name: str) -> Tensor:
        """amax / amin: ties share the gradient equally."""
        x, axes = self.data, _axes(dim, self.ndim)
        if any(x.shape[a] == 0 for a in axes):
            raise RuntimeError(f"{reduce.__name__}: cannot reduce an empty dimension (shape {x.shape}, dims {axes})")
        out = reduce(x, axis=axes, keepdims=True)

        def backward(g: Array) -> tuple[Array]:
            mask = x == out
            return (mask * (g if keepdim else np.expand_dims(g, axes)) / mask.sum(axes, keepdims=True, dtype=g.dtype),)
        return _node(out if keepdim else out.squeeze(axes), (self,), backward, name)

    def max(self, dim: int | Tensor | None = None, keepdim: bool = False) -> Any:
        """The largest element; with ``dim``, (values, indices) along it; with a tensor, ``maximum``."""
        return self._max_min_overloads(dim, keepdim, self.amax, self.argmax, self.maximum)

    def min(self, dim: int | Tensor | None = None, keepdim: bool = False) -> Any:
        return self._max_min_overloads(dim, keepdim, self.amin, self.argmin, self.minimum)

    def _max_min_overloads(self, dim: int | Tensor | None, keepdim: bool, whole: Callable[[], Tensor],
                           arg: Callable[..., Tensor], pairwise: Callable[[Tensor], Tensor]) -> Any:
        """max / min of a tensor (``pairwise``), of everything (``whole``) or along ``dim`` (values, indices)."""
        if isinstance(dim, Tensor):
            return pairwise(dim)
        if dim is None:
            return whole()
        indices = arg(dim, keepdim=True)
        values = self.gather(dim, indices)
        return ValuesIndices(values, indices) if keepdim else ValuesIndices(values.squeeze(dim), indices.squeeze(dim))

    def logsumexp(self, dim: Dim, keepdim: bool = False) -> Tensor:
        x, axes = self.data, _axes(dim, self.ndim)
        m = np.max(x, axis=axes, keepdims=True) if x.size else np.zeros([1] * x.ndim, x.dtype)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):  # log(0) = -inf for empty or all -inf rows
            out = np.log(np.exp(x - m).sum(axis=axes, keepdims=True)) + m
        return _node(out if keepdim else out.squeeze(axes), (self,),
                     lambda g: ((g if keepdim else np.expand_dims(g, axes)) * np.exp(x - out),), "logsumexp")

    # ---- shapes and indexing ----------------------------------------------------------------------
    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        shape, in_shape = _shape(shape), self.data.shape
        try:
            out = self.data.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: a tensor of shape {in_shape} ({self.data.size} elements) cannot be viewed "
                             f"as shape {shape}") from None
        return _node(out, (self,), lambda g: (g.reshape(in_shape),), "reshape")

    view = reshape

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        dims = _shape(dims)
        if sorted(d % self.ndim for d in dims) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not a permutation of the {self.ndim} dims of shape {self.shape}")
        inverse = np.argsort([d % self.ndim for d in dims])
        return _node(self.data.transpose(dims), (self,), lambda g: (g.transpose(inverse),), "permute")

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(dims)

    def unsqueeze(self, dim: int) -> Tensor:
        shape = list(self.shape)
        shape.insert(dim if dim >= 0 else dim + self.ndim + 1, 1)
        return self.reshape(shape)

    def squeeze(self, dim: Dim = None) -> Tensor:
        axes = [a for a in _axes(dim, self.ndim) if self.shape[a] == 1]
        return self.reshape([n for a, n in enumerate(self.shape) if a not in axes])

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1:])

    def expand(self, *sizes: int | Sequence[int]) -> Tensor:
        """A broadcast view to ``sizes`` (-1 keeps a dim); backward sums back like any broadcast."""
        sizes = _shape(sizes)
        lead = len(sizes) - self.ndim
        shape = tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
        try:
            out = np.broadcast_to(self.data, shape)
        except ValueError:
            raise ValueError(f"expand: a tensor of shape {self.shape} cannot be expanded to {sizes}") from None
        return _node(out, (self,), lambda g: (g,), "expand")

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def __getitem__(self, index: Index) -> Tensor:
        """NumPy indexing; the backward scatters, adding up repeated advanced indices."""
        index = _index(index)
        shape = self.data.shape
        basic = all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))
                    for i in (index if isinstance(index, tuple) else (index,)))

        def backward(g: Array) -> tuple[Array]:
            gx = np.zeros(shape, g.dtype)
            if basic:
                gx[index] = g
            else:
                np.add.at(gx, index, g)
            return (gx,)
        return _node(self.data[index], (self,), backward, "index")

    def gather(self, dim: int, index: Tensor | Array) -> Tensor:
        """torch.gather: ``out[i][j] = self[index[i][j]][j]`` for dim 0 (and so on)."""
        index = _data(index)
        if index.ndim != self.ndim:
            raise ValueError(f"gather: index has {index.ndim} dims, the tensor {self.ndim} (shape {self.shape})")
        full: list[Array] = list(np.indices(index.shape, sparse=True))
        full[_axes(dim, self.ndim)[0]] = index
        return self[tuple(full)]

    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        """Views along ``dim``: pieces of ``split_size`` (the last may be smaller), or of the listed sizes."""
        axis = _axes(dim, self.ndim)[0]
        n = self.shape[axis]
        sizes = split_size_or_sections
        if isinstance(sizes, int):
            if sizes <= 0:
                raise ValueError(f"split: split_size must be positive, got {sizes}")
            sizes = [sizes] * (n // sizes) + ([n % sizes] if n % sizes else [])
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {list(sizes)} do not add up to dim {dim}'s length {n} (shape {self.shape})")
        starts = np.cumsum([0, *sizes])
        return tuple(self[(slice(None),) * axis + (slice(a, b),)] for a, b in zip(starts[:-1], starts[1:]))

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return self.split(max(1, math.ceil(self.shape[_axes(dim, self.ndim)[0]] / chunks)), dim)

    # ---- dtype and copies ---------------------------------------------------------------------------
    def to(self, dtype: DTypeLike | None = None) -> Tensor:
        """A copy cast to ``dtype`` (differentiable between float types); devices other than 'cpu' are refused."""
        if isinstance(dtype, str) and dtype == "cpu" or dtype is None:
            return self
        dtype, in_dtype = np.dtype(dtype), self.data.dtype
        if dtype == in_dtype:
            return self
        parents = (self,) if dtype.kind == "f" else ()
        return _node(self.data.astype(dtype), parents, lambda g: (g.astype(in_dtype),), "to")

    def float(self) -> Tensor: return self.to(np.float32)
    def double(self) -> Tensor: return self.to(np.float64)
    def long(self) -> Tensor: return self.to(np.int64)

    def clone(self) -> Tensor:
        return _node(self.data.copy(), (self,), lambda g: (g,), "clone")

    def contiguous(self) -> Tensor:
        return self if self.data.flags.c_contiguous else self.clone()


# ---- making tensors and graph nodes --------------------------------------------------------------------
def _init_fields(t: Tensor, data: Array) -> None:
    """Set every field of a fresh tensor: ``data``, no grad, no graph."""
    t.data, t.grad, t._requires_grad, t._retain = data, None, False, False
    t._parents, t._backward, t._name = (), None, None


def _node(data: ArrayLike, parents: tuple[Tensor, ...], backward: Backward, name: str) -> Tensor:
    """An op's result: a tensor holding ``data`` that the engine makes a graph node (keeping
    ``parents``, ``backward`` and the op's ``name``) when grad mode is on and a parent requires grad."""
    out = object.__new__(Tensor)
    _init_fields(out, data if type(data) is np.ndarray else np.asarray(data))
    return record(out, parents, backward, name)


def _functional() -> ModuleType:
    """minigrad.functional, imported on first use (it imports this module)."""
    from . import functional
    return functional


def _shape_error(op: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast")


# ---- helpers shared by ops ----------------------------------------------------------------------------
def _data(x: Tensor | T) -> Array | T:
    return x.data if isinstance(x, Tensor) else x


def _as_array(data: TensorLike, dtype: DTypeLike | None = None) -> Array:
    """``data`` as an ndarray without copying where possible; Python floats become float32."""
    data = _data(data)
    if dtype is None and not isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data)
        return array.astype(np.float32) if array.dtype == np.float64 else array
    return np.asarray(data, dtype=dtype)


def _operand(x: Array | Scalar, like: Tensor) -> int | float | Array:
    """A non-tensor operand: Python numbers stay weakly typed (the tensor's dtype wins, as in torch);
    arrays and NumPy scalars are cast to a float tensor's dtype."""
    if isinstance(x, (int, float)):
        return x
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
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"dimension {d} is out of range for a tensor with {ndim} dims")
        axes.append(d % max(ndim, 1))
    return tuple(axes)


def _shape(args: Sequence[int | Sequence[int]]) -> tuple[int, ...]:
    """Sizes given as ``f(2, 3)`` or ``f((2, 3))``."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)


def _index(index: Index) -> Any:
    """An index with tensors replaced by their arrays."""
    if isinstance(index, tuple):
        return tuple(_data(i) for i in index)
    return _data(index)


def _pairwise_max_min(self: Tensor, other: Operand, choose: np.ufunc, wins: np.ufunc) -> Tensor:
    """maximum / minimum: the gradient goes to the chosen operand, split equally on ties."""
    other = other if isinstance(other, Tensor) else Tensor(np.asarray(_operand(other, self)))
    a, b = self.data, other.data
    try:
        out = choose(a, b)
    except ValueError:
        raise _shape_error(choose.__name__, self, other) from None

    def backward(g: Array) -> tuple[Array, Array]:
        share = np.where(a == b, 0.5, wins(a, b)).astype(g.dtype)
        return g * share, g * (1 - share)
    return _node(out, (self, other), backward, choose.__name__)


# ---- functions of several tensors ----------------------------------------------------------------------
def cat(tensors: Sequence[TensorLike], dim: int = 0) -> Tensor:
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    axis = _axes(dim, tensors[0].ndim)[0]
    try:
        out = np.concatenate([t.data for t in tensors], axis)
    except ValueError:
        raise ValueError(f"cat: shapes {[t.shape for t in tensors]} differ outside dim {dim}") from None
    bounds = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    return _node(out, tuple(tensors), lambda g: np.split(g, bounds, axis), "cat")


def stack(tensors: Sequence[TensorLike], dim: int = 0) -> Tensor:
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if len({t.shape for t in tensors}) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def where(condition: TensorLike, input: Operand, other: Operand) -> Tensor:
    """``input`` where ``condition`` holds, else ``other`` (tensors or numbers; broadcasting)."""
    like = input if isinstance(input, Tensor) else other
    x, y = (t if isinstance(t, Tensor) else Tensor(np.asarray(_operand(t, like), like.dtype)) for t in (input, other))
    c = np.asarray(_data(condition), dtype=bool)
    try:
        out = np.where(c, x.data, y.data)
    except ValueError:
        raise ValueError(f"where: shapes {c.shape}, {x.shape} and {y.shape} do not broadcast") from None
    return _node(out, (x, y), lambda g: (np.where(c, g, 0), np.where(c, 0, g)), "where")


def maximum(input: Tensor, other: Operand) -> Tensor:
    return input.maximum(other)


def minimum(input: Tensor, other: Operand) -> Tensor:
    return input.minimum(other)


class Parameter(Tensor):
    """A trainable leaf tensor: requires grad, and its ``.data`` is a C-contiguous, writeable float32
    or float64 array that optimizers update in place (shared with the ndarray or Tensor passed in
    when that already is one)."""

    def __init__(self, data: TensorLike | None = None, requires_grad: bool = True) -> None:
        data = _as_array(np.empty(0, np.float32) if data is None else data)
        if data.dtype not in (np.float32, np.float64):
            raise TypeError(f"Parameter: data must be float32 or float64, got {data.dtype} with shape {data.shape}")
        super().__init__(np.require(data, requirements=["C", "W"]), requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
