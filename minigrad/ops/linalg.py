"""Matrix products as torch's module-level functions: ``matmul`` (Tensor.matmul, NumPy's rules),
``mm`` (2-D only), ``bmm`` and ``baddbmm`` (3-D batches only) and ``einsum`` with its backward."""
from __future__ import annotations

import string
from typing import TYPE_CHECKING, Any

import numpy as np

from ..tensor import _C_TYPE_NAMES, _TYPE_NAMES, Tensor, _node, _operand

if TYPE_CHECKING:
    from .._typing import Array, Operand, Scalar


def matmul(input: Tensor, other: Operand) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands are vectors, leading dims broadcast."""
    other = other if isinstance(other, Tensor) else Tensor(np.asarray(_operand(other, input)))
    a, b = input._data, other._data
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
        if input._requires_grad:
            ga = g @ np.swapaxes(b if b.ndim > 1 else b[:, None], -1, -2)
            ga = ga[..., 0, :] if a.ndim == 1 else ga
        if other._requires_grad:
            if b.ndim == 2 and a.ndim > 2:  # one GEMM over all batch rows (any of them may be empty)
                gb = np.tensordot(a, g, [list(range(a.ndim - 1))] * 2)
            else:
                gb = np.swapaxes(a if a.ndim > 1 else a[None], -1, -2) @ g
            gb = gb[..., 0] if b.ndim == 1 else gb
        return ga, gb
    return _node(out, (input, other), backward, "matmul")


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """The product of two matrices (no broadcasting, as torch's ``mm``)."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"mm: both arguments must be matrices, got shapes {input.shape} and {mat2.shape}")
    return input.matmul(mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix products of (b, n, m) and (b, m, p) tensors (no broadcasting, as torch's ``bmm``)."""
    _check_batches(input, mat2)
    if input.dtype != mat2.dtype:
        raise RuntimeError(f"expected scalar type {_TYPE_NAMES[input.dtype.name]} but found "
                           f"{_TYPE_NAMES[mat2.dtype.name]}")
    return input.matmul(mat2)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Scalar = 1, alpha: Scalar = 1) -> Tensor:
    """``beta·input + alpha·(batch1 @ batch2)`` for (b, n, m) and (b, m, p) batches; ``input`` broadcasts to
    (b, n, p) and is ignored when beta is 0 (its NaN do not propagate), as torch's. One node:
    g·beta to ``input`` (summed back to its shape), alpha·g @ batch2ᵀ and alpha·batch1ᵀ @ g to the batches."""
    if not input.dtype == batch1.dtype == batch2.dtype:
        raise RuntimeError(f"Input dtypes must be the same, got: input {_C_TYPE_NAMES[input.dtype.name]}, batch1: "
                           f"{_C_TYPE_NAMES[batch1.dtype.name]}, batch2: {_C_TYPE_NAMES[batch2.dtype.name]}")
    _check_batches(batch1, batch2)
    target = batch1.shape[:2] + batch2.shape[2:]
    if input.ndim > 3:
        raise RuntimeError(f"The number of sizes provided (3) must be greater or equal to the number of dimensions "
                           f"in the tensor ({input.ndim})")
    for d in reversed(range(3 - input.ndim, 3)):
        n = input.shape[d - 3]
        if n != 1 and n != target[d]:
            raise RuntimeError(f"The expanded size of the tensor ({target[d]}) must match the existing size ({n}) at "
                               f"non-singleton dimension {d}.  Target sizes: {list(target)}.  Tensor sizes: "
                               f"{list(input.shape)}")
    a, b = batch1._data, batch2._data
    out = a @ b if alpha == 1 else alpha * (a @ b)
    if beta != 0:
        out = out + (input._data if beta == 1 else beta * input._data)

    def backward(g: Array) -> tuple[Array, Array, Array]:
        ga = g @ b.transpose(0, 2, 1)
        gb = a.transpose(0, 2, 1) @ g
        return g * beta, ga if alpha == 1 else ga * alpha, gb if alpha == 1 else gb * alpha
    return _node(out, (input, batch1, batch2), backward, "baddbmm")


def _check_batches(batch1: Tensor, batch2: Tensor) -> None:
    """torch's checks of two batches of matrices that ``bmm`` multiplies."""
    for name, t in (("batch1", batch1), ("batch2", batch2)):
        if t.ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    expected = [batch1.shape[0], batch1.shape[2]]
    if list(batch2.shape[:2]) != expected:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: {expected} but got: "
                           f"{list(batch2.shape[:2])}.")


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation over tensors (``einsum("bij,bjk->bik", a, b)``; the operands may also come as one
    list), with torch's rules: an explicit or implicit output, ``...`` for broadcast dims, a letter repeated
    within an operand for its diagonal, size-1 dims broadcast. The gradient of each operand is the einsum of
    the output's gradient with the other operands, put back on the diagonal where a letter repeats."""
    tensors = list(operands[0]) if len(operands) == 1 and isinstance(operands[0], (list, tuple)) else list(operands)
    tensors = [t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in tensors]
    subscripts, output = _einsum_letters(equation.replace(" ", ""), [t.ndim for t in tensors])
    arrays = [t._data for t in tensors]
    sizes: dict[str, int] = {}  # each letter's size: size-1 dims broadcast
    for k, (s, a) in enumerate(zip(subscripts, arrays)):
        own: dict[str, int] = {}
        for c, n in zip(s, a.shape):
            if own.setdefault(c, n) != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {k} but the sizes don't match, "
                                   f"{n} != {own[c]}")
        for c, n in own.items():
            seen = sizes.setdefault(c, n)
            if seen != n and 1 not in (seen, n):
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {k} which does not broadcast "
                                   f"with previously seen size {seen}")
            sizes[c] = n if seen == 1 else seen
    spec = ",".join(subscripts)
    out = np.asarray(np.einsum(f"{spec}->{output}", *arrays))

    def backward(g: Array) -> list[Array | None]:
        grads: list[Array | None] = []
        for i, (s, t) in enumerate(zip(subscripts, tensors)):
            if not t._requires_grad:
                grads.append(None)
                continue
            others = [(subscripts[j], arrays[j]) for j in range(len(arrays)) if j != i]
            reached = set(output).union(*(o for o, _ in others))
            letters = "".join(dict.fromkeys(s))  # each letter once: a repeated one is the diagonal
            kept = "".join(c for c in letters if c in reached)  # letters summed in this operand only: broadcast back
            partial = np.einsum(",".join([output] + [o for o, _ in others]) + "->" + kept, g, *(a for _, a in others))
            shape = [partial.shape[kept.index(c)] if c in kept else 1 for c in letters]
            partial = np.broadcast_to(partial.reshape(shape), [sizes[c] for c in letters])
            if len(letters) < len(s):
                grid = np.indices(partial.shape, sparse=True)
                diagonal = np.zeros([sizes[c] for c in s], g.dtype)
                diagonal[tuple(grid[letters.index(c)] for c in s)] = partial
                partial = diagonal
            grads.append(partial)  # the engine sums size-1 dims that broadcast back
        return grads
    return _node(out, tuple(tensors), backward, "einsum")


def _einsum_letters(equation: str, ndims: list[int]) -> tuple[list[str], str]:
    """Each operand's subscripts and the output's, with ``...`` spelled out as letters the equation does not use
    (right-aligned across operands, as broadcasting) and the implicit output made explicit: the broadcast dims,
    then the letters used once, in alphabetical order. torch's errors for a malformed equation."""
    inputs, arrow, output = equation.partition("->")
    subscripts = inputs.split(",")
    if len(subscripts) != len(ndims):
        raise RuntimeError(f"einsum(): {'fewer' if len(ndims) < len(subscripts) else 'more'} operands were provided "
                           "than specified in the equation")
    spare = [c for c in string.ascii_letters if c not in equation]
    broadcast = max([n - len(s.replace("...", "")) for s, n in zip(subscripts, ndims) if "..." in s], default=0)
    dots = "".join(spare[:broadcast])
    for k, (s, n) in enumerate(zip(subscripts, ndims)):
        letters = len(s.replace("...", ""))
        if "..." not in s and letters != n:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({letters}) does not match the "
                               f"number of dimensions ({n}) for operand {k} and no ellipsis was given")
        if letters > n:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({letters}) is more than the "
                               f"number of dimensions ({n}) for operand {k}")
        subscripts[k] = s.replace("...", dots[len(dots) - (n - letters):] if n > letters else "")
    if not arrow:
        used = "".join(subscripts)
        return subscripts, dots + "".join(sorted(c for c in set(used) - set(dots) if used.count(c) == 1))
    output = output.replace("...", dots)
    for c in output:
        if output.count(c) > 1:
            raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output")
        if not any(c in s for s in subscripts):
            raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input operand")
    return subscripts, output
