"""Matrix products as torch's module-level functions: ``matmul`` (Tensor.matmul, NumPy's rules),
``mm`` (2-D only), ``bmm`` (3-D batches only) and ``einsum`` with its backward."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..tensor import Tensor, _node

if TYPE_CHECKING:
    from .._typing import Array


def matmul(input: Tensor, other: Tensor) -> Tensor:
    return input.matmul(other)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """The product of two matrices (no broadcasting, as torch's ``mm``)."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"mm: both arguments must be matrices, got shapes {input.shape} and {mat2.shape}")
    return input.matmul(mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix products of (b, n, m) and (b, m, p) tensors (no broadcasting, as torch's ``bmm``)."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm: expected 3-D tensors with the same batch size, got shapes {input.shape} and "
                         f"{mat2.shape}")
    return input.matmul(mat2)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation over tensors (``einsum("ij,jk->ik", a, b)``; operands may also come as one
    list). The gradient of each operand is the einsum of the output's gradient with the other operands.
    Subscripts are letters, with an explicit or implicit output; ``...`` and a letter repeated within
    one operand (diagonals) raise a ValueError."""
    tensors = list(operands[0]) if len(operands) == 1 and isinstance(operands[0], (list, tuple)) else list(operands)
    tensors = [t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in tensors]
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    subscripts = inputs.split(",")
    if "." in equation or any(len(set(s)) != len(s) for s in subscripts):
        raise ValueError(f"einsum: '...' and repeated subscripts within an operand are not supported: {equation!r}")
    if len(subscripts) != len(tensors):
        raise ValueError(f"einsum: the equation has {len(subscripts)} operands, {len(tensors)} were given")
    if not arrow:  # implicit output: the letters used once, in alphabetical order
        output = "".join(sorted(c for c in set(inputs) - {","} if inputs.count(c) == 1))
    arrays = [t._data for t in tensors]
    out = np.asarray(np.einsum(f"{inputs}->{output}", *arrays))
    sizes = {c: n for s, a in zip(subscripts, arrays) for c, n in zip(s, a.shape)}

    def backward(g: Array) -> list[Array | None]:
        grads: list[Array | None] = []
        for i, (s, t) in enumerate(zip(subscripts, tensors)):
            if not t._requires_grad:
                grads.append(None)
                continue
            others = [(subscripts[j], arrays[j]) for j in range(len(arrays)) if j != i]
            reached = set(output).union(*(o for o, _ in others))
            kept = "".join(c for c in s if c in reached)  # letters summed in this operand only come back by broadcast
            spec = ",".join([output] + [o for o, _ in others]) + "->" + kept
            partial = np.einsum(spec, g, *(a for _, a in others))
            shape = [sizes[c] if c in reached else 1 for c in s]
            grads.append(np.broadcast_to(partial.reshape(shape), t.shape))
        return grads
    return _node(out, tuple(tensors), backward, "einsum")
