"""torch.autograd's functions over minigrad's engine: ``grad`` (gradients returned, not accumulated),
``backward`` (several roots at once) and ``Function``, the extension point for an op with a
backward of its own (``ctx.save_for_backward`` in ``forward``, ``ctx.saved_tensors`` in ``backward``).

Gradients are first order: backward closures compute with NumPy, so ``create_graph=True`` (a graph
of the backward pass, for gradients of gradients) is refused with an error that says so.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..tensor import Tensor, _node, _unwrap, _wrap
from .engine import DENSE, no_grad, run_backward

if TYPE_CHECKING:
    from .._typing import Array, TensorLike


def _as_list(tensors: Tensor | Sequence[Tensor], name: str) -> list[Tensor]:
    items = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}[{i}] must be a Tensor, got {type(t).__name__}")
    return items


def _seeds(outputs: list[Tensor], grad_outputs: TensorLike | Sequence[TensorLike | None] | None) -> list[Array]:
    """d(loss)/d(output) for each output: given, or 1 for a one-element output (torch's rule)."""
    given: list[Any]
    if grad_outputs is None:
        given = [None] * len(outputs)
    elif isinstance(grad_outputs, (list, tuple)) and all(g is None or isinstance(g, (Tensor, np.ndarray))
                                                         for g in grad_outputs):
        given = list(grad_outputs)  # one per output
    else:  # one gradient: a Tensor, an ndarray, or (nested lists of) numbers for the one output
        given = [grad_outputs]
    if len(given) != len(outputs):
        raise ValueError(f"grad_outputs has {len(given)} entries, outputs {len(outputs)}")
    seeds = []
    for i, (out, g) in enumerate(zip(outputs, given)):
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs; output {i} has shape "
                                   f"{out.shape}")
            seeds.append(np.ones_like(out._data))
        else:
            array = np.asarray(_unwrap(g), dtype=out.dtype)
            if array.shape != out.shape:
                raise ValueError(f"grad_outputs[{i}] has shape {array.shape}, output {i} has shape {out.shape}")
            seeds.append(array)
    return seeds


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: TensorLike | Sequence[TensorLike | None] | None = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None, materialize_grads: bool = False
         ) -> tuple[Tensor | None, ...]:
    """The gradients of the sum of ``outputs`` (weighted by ``grad_outputs``) with respect to each of
    ``inputs``, returned as new tensors; no ``.grad`` anywhere changes. An input the outputs do not
    depend on raises, unless ``allow_unused`` (then None, or zeros with ``materialize_grads``)."""
    if create_graph:
        raise NotImplementedError("create_graph=True: minigrad's backward passes compute with NumPy and record "
                                  "no graph, so gradients of gradients are not available")
    outputs, inputs = _as_list(outputs, "outputs"), _as_list(inputs, "inputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"inputs[{i}] does not require grad")
    total: list[Array | None] = [None] * len(inputs)
    for k, (out, seed) in enumerate(zip(outputs, _seeds(outputs, grad_outputs))):
        keep = bool(retain_graph) or k < len(outputs) - 1
        for i, g in enumerate(run_backward(out, seed, keep, inputs) or ()):
            if g is not None:
                g = g if isinstance(g, DENSE) else g.to_dense()._data  # returned dense (torch: sparse)
                total[i] = g if total[i] is None else total[i] + g
    results = []
    for i, (t, g) in enumerate(zip(inputs, total)):
        if g is None and not (allow_unused or materialize_grads):
            raise RuntimeError(f"One of the differentiated Tensors (inputs[{i}], shape {t.shape}) appears to not have "
                               "been used in the graph. Set allow_unused=True if this is the desired behavior.")
        if g is None and materialize_grads:
            g = np.zeros_like(t._data)
        results.append(None if g is None else _wrap(np.array(g, dtype=t.dtype, order="C")))
    return tuple(results)


def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: TensorLike | Sequence[TensorLike | None] | None = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Tensor | Sequence[Tensor] | None = None) -> None:
    """Accumulate the gradients of the sum of ``tensors`` into the leaves' ``.grad`` (only into
    ``inputs``' when given), as ``torch.autograd.backward``."""
    if create_graph:
        raise NotImplementedError("create_graph=True: gradients of gradients are not available in minigrad")
    outputs = _as_list(tensors, "tensors")
    if inputs is not None:
        inputs = _as_list(inputs, "inputs")
        for t, g in zip(inputs, grad(outputs, inputs, grad_tensors, retain_graph, allow_unused=True)):
            if g is not None:
                t.grad = g if t.grad is None else t.grad + g
        return
    for k, (out, seed) in enumerate(zip(outputs, _seeds(outputs, grad_tensors))):
        run_backward(out, seed, bool(retain_graph) or k < len(outputs) - 1)


class FunctionCtx:
    """What ``forward`` leaves for ``backward``: saved tensors and any attributes set on it."""
    saved_tensors: tuple[Tensor, ...]
    needs_input_grad: tuple[bool, ...]

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        self.saved_tensors = tensors  # type: ignore[assignment]  # None entries come back as None


class Function:
    """An op with a backward of its own, as torch.autograd.Function: subclass it with static methods

        forward(ctx, *args)          -> a Tensor, computed from the arguments (no graph is recorded)
        backward(ctx, grad_output)   -> one gradient (a Tensor or None) per argument of forward

    and call ``YourOp.apply(*args)``. The result is one graph node whose parents are the tensor
    arguments (one output tensor per Function)."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Tensor:
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Tensor) -> Any:
        raise NotImplementedError("a Function subclass must define backward(ctx, grad_output)")

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        ctx = FunctionCtx()
        ctx.saved_tensors = ()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args)
        if not isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return one Tensor, got {type(out).__name__}")
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]

        def backward(g: Array) -> list[Array | None]:
            with no_grad():  # first order: the user's backward records no graph
                grads = cls.backward(ctx, _wrap(g))
            grads = grads if isinstance(grads, tuple) else (grads,)
            if len(grads) != len(args):
                raise RuntimeError(f"{cls.__name__}.backward returned {len(grads)} gradients; forward took "
                                   f"{len(args)} arguments (return None for those without one)")
            return [None if grads[i] is None else np.asarray(_unwrap(grads[i]), dtype=args[i].dtype)
                    for i in positions]
        return _node(out._data, tuple(args[i] for i in positions), backward, cls.__name__)
