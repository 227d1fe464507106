"""The autograd engine: grad mode, version counting, graph nodes and the backward pass.

An op computes its result with NumPy and hands it to ``record`` with its inputs, a
``backward(g)`` closure written right under the forward, and the op's name. When grad mode is on
and an input requires grad, the result becomes a graph node: it keeps its inputs (``_parents``),
the closure (``_backward``) and the name (``_name``, shown as ``grad_fn``). ``backward(g)`` maps
the gradient of the result to a tuple of gradients of the inputs (None where an input needs none).

``run_backward`` sorts the graph topologically (iteratively: a 10,000-step chain is fine), walks
it once in reverse, sums every gradient back to its input's shape in one place (``unbroadcast``),
accumulates into ``.grad`` of leaves (and of tensors that asked to ``retain_grad()``) and frees
the graph unless ``retain_graph=True``. A node's three states:

    leaf          _name is None                       (and _backward is None)
    live node     _name and _backward set
    freed node    _name set, _backward None, no parents: backpropagating through it raises

In-place changes are counted per block of memory, not per tensor (``mark_modified``; optimizers
call it for every parameter they update): a view (``x[0]``, ``reshape``, ``detach``, or an ndarray
wrapped twice) shares the version of the array that owns its memory, as torch's views share their
base's version counter. ``run_backward`` raises if the memory of a tensor that a node consumed or
produced was changed in place after the node ran. The engine works on tensors' fields (``_data``,
``_grad`` and the underscored fields above); it imports Tensor's constructor only where it makes a
gradient tensor (tensor.py imports this module first).
Grad mode is per thread, as in torch: ``no_grad``/``enable_grad`` and ``is_grad_enabled`` act on the
calling thread only, and every new thread starts with grad enabled.
"""
from __future__ import annotations

import functools
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar, cast, overload

import numpy as np

if TYPE_CHECKING:
    from .._typing import Array, Backward, Grad
    from ..tensor import Tensor

    _F = TypeVar("_F", bound=Callable[..., Any])


class _GradMode(threading.local):
    """Each thread's grad mode; the class attribute is the default a new thread reads (no set-up)."""
    enabled = True


_grad_mode = _GradMode()
DENSE = (np.ndarray, np.generic)  # a dense gradient (a NumPy scalar for a 0-d one); else a sparse one (minigrad.sparse)
_clock = 0  # counts in-place changes; a node's _created is the clock when it was made
_changed_at: dict[int, int] = {}  # id(memory owner) -> the clock of the last in-place change to that memory


class no_grad:
    """Record no graph: ``with no_grad(): ...``, or as a decorator (``@no_grad()`` or ``@no_grad``)."""
    _mode = False

    @overload
    def __new__(cls, func: None = None) -> no_grad: ...
    @overload
    def __new__(cls, func: _F) -> _F: ...  # type: ignore[misc]  # as a decorator: the function, wrapped

    def __new__(cls, func: Callable[..., Any] | None = None) -> Any:
        self = super().__new__(cls)
        return self(func) if func is not None else self

    def __enter__(self) -> None:
        self._previous, _grad_mode.enabled = _grad_mode.enabled, self._mode

    def __exit__(self, *exc: object) -> None:
        _grad_mode.enabled = self._previous

    def __call__(self, func: _F) -> _F:
        mode = self._mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            previous, _grad_mode.enabled = _grad_mode.enabled, mode
            try:
                return func(*args, **kwargs)
            finally:
                _grad_mode.enabled = previous
        return cast("_F", wrapper)


class enable_grad(no_grad):
    """Record graphs again inside a ``no_grad`` region."""
    _mode = True


class set_grad_enabled(no_grad):
    """Grad mode on or off as ``mode`` says: at once when called (``set_grad_enabled(False)``), and
    restored on leaving when used as a context manager or decorator, as torch's."""

    def __new__(cls, mode: bool) -> set_grad_enabled:
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        self._previous, self._mode = _grad_mode.enabled, bool(mode)
        _grad_mode.enabled = self._mode

    def __enter__(self) -> None:
        pass  # switched in __init__; __exit__ restores

    def __call__(self, func: _F) -> _F:
        _grad_mode.enabled = self._previous  # as a decorator: switch only around each call
        return super().__call__(func)


class inference_mode(no_grad):
    """``no_grad`` under torch's name for inference (``inference_mode(False)`` records graphs):
    minigrad has no separate inference tensors, so results can also be used in a graph later."""

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):  # @inference_mode without parentheses
            return super().__new__(cls, mode)
        self = object.__new__(cls)
        self._mode = not mode
        return self


def is_grad_enabled() -> bool:
    """Whether the calling thread records graphs."""
    return _grad_mode.enabled


def _memory_owner(array: Array) -> Array:
    """The ndarray that owns ``array``'s memory: ``array`` itself unless it is a view."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


_clock_lock = threading.Lock()


def mark_modified(*ts: Tensor) -> None:
    """Note that each ``t._data`` (``t``: a tensor, or anything with that ndarray) was changed in place:
    nodes that saved it, or any view of its memory, before now refuse to backpropagate. One call
    for all the parameters an optimizer step updated: this runs on every step. Under a lock: two
    threads stepping at once must neither share a clock value nor move the clock backwards."""
    global _clock
    changed = _changed_at
    with _clock_lock:
        _clock += 1
        clock = _clock
        for t in ts:
            owner = _memory_owner(t._data)
            key = id(owner)
            if key not in changed:  # forget the entry when the memory goes (its id may be reused)
                weakref.finalize(owner, changed.pop, key, None).atexit = False
            changed[key] = clock


def version(t: Tensor) -> int:
    """The clock of the last in-place change to ``t``'s memory (0 if none): torch's ``t._version``
    up to numbering, shared by every view of the same memory."""
    return _changed_at.get(id(_memory_owner(t._data)), 0) if _changed_at else 0


def record(out: Tensor, parents: tuple[Tensor, ...], backward: Backward, name: str) -> Tensor:
    """Make the fresh result ``out`` of op ``name`` a graph node (keeping ``parents`` and
    ``backward``) when grad mode is on and a parent requires grad; return ``out``."""
    if _grad_mode.enabled:
        for p in parents:
            if p._requires_grad:
                out._requires_grad, out._parents, out._backward, out._name, out._created = (
                    True, parents, backward, name, _clock)
                break
    return out


def unbroadcast(grad: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``grad`` back to ``shape``: the adjoint of NumPy broadcasting, for every op at once."""
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1)
    return grad.sum(axis=axes).reshape(shape)


def topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor ``root`` depends on through edges that require grad, each after its parents
    (an iterative depth-first search, so long chains do not hit the recursion limit)."""
    order, seen, stack = [], {id(root)}, [(root, iter(root._parents))]
    while stack:
        node, parents = stack[-1]
        if node._backward is None and node._name is not None:
            raise RuntimeError(f"backward: trying to backward through the graph a second time: the saved values of "
                               f"'{node._name}' (output shape {node.shape}) were freed by the first "
                               "backward; pass retain_graph=True to it if you need to backward twice")
        for p in parents:
            if p._requires_grad and id(p) not in seen:
                seen.add(id(p))
                stack.append((p, iter(p._parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def run_backward(root: Tensor, grad: Array, retain_graph: bool,
                 inputs: Sequence[Tensor] | None = None) -> list[Grad | None] | None:
    """Backpropagate ``grad`` (d loss / d root, already of root's shape and dtype) through the graph,
    accumulating into leaves' ``.grad``; or, given ``inputs``, into nothing: then the gradients of
    those tensors are returned (None for one the graph does not reach), as ``autograd.grad``."""
    from ..tensor import _wrap  # once per pass (tensor.py imports this module first)
    grads: dict[int, Grad] = {id(root): grad}
    wanted = {id(t) for t in inputs} if inputs is not None else None
    captured: dict[int, Grad] = {}
    for node in reversed(topological_order(root)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if node._hooks:
            g = _run_hooks(node, g)
        backward = node._backward
        if wanted is not None:
            if id(node) in wanted:
                captured[id(node)] = g
        elif backward is None or node._retain:
            accumulate(node, g, _wrap)
            if node._post_accumulate_hooks:  # (a leaf's: a non-leaf cannot have them)
                for hook in list(node._post_accumulate_hooks.values()):
                    hook(node)
        if backward is None:
            continue
        if not isinstance(g, DENSE):  # a sparse gradient reaching an op (a weight made by ops): densified
            g = g.to_dense()._data
        created = node._created
        changed_since = created < _clock  # any in-place change since the node ran (else nothing to look up)
        if changed_since and version(node) > created:
            raise _modified_error(node, node)
        for p, pg in zip(node._parents, backward(g)):
            if changed_since and version(p) > created:
                raise _modified_error(p, node)
            if pg is None or not p._requires_grad:
                continue
            if isinstance(pg, DENSE) and pg.shape != p._data.shape:  # (a sparse one has the shape)
                pg = unbroadcast(pg, p._data.shape)
            key = id(p)
            if key in grads:  # (dense first: dense + sparse is dense, sparse + dense is refused, as torch's add)
                grads[key] = pg + grads[key] if isinstance(pg, DENSE) else grads[key] + pg
            else:
                grads[key] = pg
        if not retain_graph:  # free the saved arrays; _name stays for grad_fn and the error above
            node._backward, node._parents = None, ()
    return None if inputs is None else [captured.get(id(t)) for t in inputs]


def accumulate(t: Tensor, g: Grad, wrap: Callable[[Array], Tensor]) -> None:
    """t.grad += g, in place; a first gradient is copied (it may be shared with other tensors'
    gradients) into a C-contiguous array of t's dtype, held by a new tensor (``wrap``). A sparse
    gradient (``minigrad.sparse``) follows torch: sparse + sparse stays sparse (a new one), a dense
    one with a sparse one is dense (added in place into a dense ``.grad``)."""
    grad, dtype = t._grad, t._data.dtype
    if isinstance(g, DENSE):
        if grad is None:
            t._grad = wrap(np.array(g, dtype=dtype, order="C"))
        elif grad.is_sparse:
            t._grad = wrap(np.asarray(g + grad, dtype=dtype))  # dense + sparse: a new dense array
        else:
            grad._data += g
    elif grad is None:
        t._grad = g.astype(dtype)
    elif grad.is_sparse:
        t._grad = grad + g
    else:
        g.add_to_(grad._data)


def _run_hooks(t: Tensor, g: Grad) -> Grad:
    """The gradient of ``t`` through each hook of ``t.register_hook`` in turn: a hook sees it as a
    tensor (a sparse one as it is) and may return a replacement of the same shape (None keeps it)."""
    from ..tensor import Tensor, _wrap
    for hook in list((t._hooks or {}).values()):
        result = hook(_wrap(g) if isinstance(g, DENSE) else g)  # type: ignore[arg-type]  # sparse: as it is
        if result is None:
            continue
        if not (isinstance(result, Tensor) or getattr(result, "is_sparse", False)) or result.shape != g.shape:
            raise TypeError(f"a gradient hook of a tensor of shape {t.shape} must return None or a tensor of that "
                            f"shape, got {getattr(result, 'shape', type(result).__name__)}")
        g = result._data if isinstance(result, Tensor) else result
    return g


def _modified_error(t: Tensor, node: Tensor) -> RuntimeError:
    return RuntimeError(f"one of the variables needed for gradient computation has been modified by an inplace "
                        f"operation: a tensor of shape {t.shape} that '{node._name}' (output shape {node.shape}) "
                        "needs, or a view of its memory, was changed in place (an in-place op or an optimizer "
                        "step) after that op ran; clone() it before modifying, or modify it before using it")
