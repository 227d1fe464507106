"""Check a function's backward against central finite differences, in float64."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from ..tensor import Tensor
from .engine import no_grad

if TYPE_CHECKING:
    from .._typing import Array

__all__ = ["GradcheckError", "gradcheck"]


class GradcheckError(RuntimeError):
    pass


def _outputs(result: object) -> list[Tensor]:
    return [t for t in (result if isinstance(result, (tuple, list)) else (result,)) if isinstance(t, Tensor)]


def gradcheck(fn: Callable[..., object], inputs: Tensor | Sequence[object], eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Compare the Jacobian that backward computes with central differences
    ``(f(x + eps·e_i) − f(x − eps·e_i)) / 2eps``, for every input that requires grad (which must be
    float64) and every element of every output Tensor of ``fn(*inputs)``. Passes when
    ``|analytic − numeric| <= atol + rtol·|numeric|`` everywhere; else raises ``GradcheckError``
    (a RuntimeError) naming the input and the worst element, or returns False if not
    ``raise_exception``. Also checks each gradient's shape and dtype."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    wrt = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    for t in wrt:
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck: inputs must be float64 (finite differences are too coarse otherwise), "
                            f"got {t.dtype} with shape {t.shape}")

    def evaluate() -> list[Array]:
        with no_grad():
            return [o._data.astype(np.float64).ravel() for o in _outputs(fn(*inputs))]

    numeric = []
    for t in wrt:  # one column per input element: perturb it in place and evaluate twice
        columns = []
        for i in np.ndindex(t.shape):
            original = t._data[i]
            t._data[i] = original + eps
            plus = evaluate()
            t._data[i] = original - eps
            minus = evaluate()
            t._data[i] = original
            columns.append(np.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)] or [np.zeros(0)]))
        numeric.append(np.stack(columns, 1) if columns else np.zeros((sum(o.size for o in evaluate()), 0)))

    outputs = _outputs(fn(*inputs))
    analytic = [np.zeros_like(n) for n in numeric]
    row = 0
    for out in outputs:
        for j in range(out.numel()):
            if out.requires_grad:
                for t in wrt:
                    t.grad = None
                seed = np.zeros(out.numel(), out.dtype)
                seed[j] = 1
                out.backward(seed.reshape(out.shape), retain_graph=True)
                for k, t in enumerate(wrt):
                    if t.grad is not None:
                        if t.grad.shape != t.shape or t.grad.dtype != t.dtype:
                            raise GradcheckError(f"gradcheck: input {k}'s grad has shape {t.grad.shape} and dtype "
                                                 f"{t.grad.dtype}; expected {t.shape} and {t.dtype}")
                        analytic[k][row] = (t.grad.to_dense() if t.grad.is_sparse else t.grad)._data.ravel()
            row += 1
    for t in wrt:
        t.grad = None

    for k, (a, n) in enumerate(zip(analytic, numeric)):
        error = np.abs(a - n) - (atol + rtol * np.abs(n))
        if error.size and error.max() > 0:
            out_index, in_index = np.unravel_index(error.argmax(), error.shape)
            message = (f"gradcheck: Jacobian mismatch for input {k} (shape {wrt[k].shape}) at output element "
                       f"{out_index}, input element {in_index}: analytic {a[out_index, in_index]:.10g}, numeric "
                       f"{n[out_index, in_index]:.10g} (atol {atol}, rtol {rtol})")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True
