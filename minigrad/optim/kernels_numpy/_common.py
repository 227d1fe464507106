"""What the NumPy twins share: the C++ kernels' argument checks, 1-D views, and the small
in-place steps several updates are made of."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence, Union

import numpy as np

from ... import _C

if TYPE_CHECKING:
    from ..._typing import Array

    Arrays = Union[list[Array], tuple[Array, ...]]  # exactly a list or a tuple of float32 or float64 arrays, of one dtype
    MaybeArrays = Union[list[Optional[Array]], tuple[Optional[Array], ...]]  # None where a shape needs none


def check(op: str, lists: dict[str, Union[Arrays, MaybeArrays]], read_only: str = "grads", unused: Sequence[str] = (),
          factored: Sequence[str] = ()) -> None:
    """The C++ kernels' own argument checks (``lists``: {name: arrays}, in signature order); a list
    in ``unused`` (an optional state the options do not need) must still be a list or tuple;
    ``factored`` names Adafactor's [row factor, column factor, unfactored] lists."""
    _C.check_arrays(op, list(lists.items()), read_only=[read_only], unused=list(unused), factored=list(factored))


def flat(*lists: Arrays | None) -> Iterator[tuple[Any, ...]]:
    """Each tensor's arrays as 1-D views (a ufunc on 0-d arrays returns a scalar, not an array);
    None for a list the options do not use."""
    for i in range(len(lists[0])):  # type: ignore[arg-type]  # lists[0] is the params
        yield tuple(None if arrays is None else arrays[i].reshape(-1) for arrays in lists)


def direction(param: Array, grad: Array, weight_decay: float, maximize: bool) -> Array:
    """d = ±g + λθ, on a scratch array when it differs from g (the stored gradient is never written)."""
    if weight_decay != 0:
        d = np.multiply(param, weight_decay)
        return np.subtract(d, grad, out=d) if maximize else np.add(d, grad, out=d)
    return np.negative(grad) if maximize else grad


def lerp_(start: Array, end: Array, weight: float, scratch: Array) -> None:
    """start ← lerp(start, end, weight) with torch.lerp's two formulas (see csrc/driver.h)."""
    np.subtract(end, start, out=scratch)
    if abs(weight) < 0.5:
        scratch *= weight
        start += scratch
    else:
        scratch *= 1 - start.dtype.type(weight)
        np.subtract(end, scratch, out=start)


def add_scaled_square_(acc: Array, decay: float, d: Array, scratch: Array) -> None:
    """acc ← decay·acc + (1 − decay)·d²."""
    np.multiply(d, 1 - decay, out=scratch)
    scratch *= d
    acc *= decay
    acc += scratch


def adam_moments_(p: Array, g: Array, m: Array, v: Array, *, lr: float, beta1: float, beta2: float,
                  weight_decay: float, maximize: bool, decoupled_weight_decay: bool) -> tuple[Array, Array]:
    """The half every Adam-family update shares: θ ← θ(1 − lr·λ) if decoupled, else d ← d + λθ;
    m ← lerp(m, d, 1−β1);  v ← β2·v + (1−β2)d².  Returns d and a scratch array of p's shape."""
    if decoupled_weight_decay and weight_decay != 0:
        p *= 1 - lr * weight_decay
    d = direction(p, g, 0 if decoupled_weight_decay else weight_decay, maximize)
    scratch = np.empty_like(p)
    lerp_(m, d, 1 - beta1, scratch)
    add_scaled_square_(v, beta2, d, scratch)
    return d, scratch
