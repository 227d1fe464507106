"""Arithmetic with broadcasting, the ops behind Tensor's operators (``a + b`` calls ``add(a, b)``).
The engine sums each gradient back to its operand's shape; a Python number operand is a constant."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..tensor import Tensor, _node, _operand, _shape_error, _unwrap

if TYPE_CHECKING:
    from .._typing import Array, Operand


def add(input: Tensor, other: Operand) -> Tensor:
    """a + b;  da = g, db = g."""
    if isinstance(other, Tensor):
        try:
            out = input._data + other._data
        except ValueError:
            raise _shape_error("add", input, other) from None
        return _node(out, (input, other), lambda g: (g, g), "add")
    return _node(input._data + _operand(other, input), (input,), lambda g: (g,), "add")


def mul(input: Tensor, other: Operand) -> Tensor:
    """a·b;  da = g·b, db = g·a."""
    if isinstance(other, Tensor):
        a, b = input._data, other._data
        try:
            out = a * b
        except ValueError:
            raise _shape_error("mul", input, other) from None
        return _node(out, (input, other), lambda g: (g * b, g * a), "mul")
    other = _operand(other, input)
    return _node(input._data * other, (input,), lambda g: (g * other,), "mul")


def div(input: Tensor, other: Operand) -> Tensor:
    """True division a / b = a·b⁻¹: integer (and bool) tensors divide as float32, as torch's."""
    if input.dtype.kind != "f" and not (isinstance(other, Tensor) and other.dtype.kind == "f"):
        return div(input.to(np.float32), other.to(np.float32) if isinstance(other, Tensor) else other)
    if isinstance(other, Tensor):
        return mul(input, pow(other, -1))
    other = _operand(other, input)
    return _node(input._data / other, (input,), lambda g: (g / other,), "div")


def pow(input: Tensor, exponent: Operand) -> Tensor:
    """aᵇ;  da = g·b·aᵇ⁻¹, db = g·aᵇ·ln a."""
    a = input._data
    if isinstance(exponent, Tensor):
        b = exponent._data
        try:
            out = a ** b
        except ValueError:
            raise _shape_error("pow", input, exponent) from None

        def backward(g: Array) -> tuple[Array | None, ...]:  # where 0 ** b has no derivative, torch's zeros:
            with np.errstate(divide="ignore", invalid="ignore"):  # for the base at b == 0, for b at b >= 0
                return (np.where(b == 0, 0, g * b * a ** (b - 1)) if input._requires_grad else None,
                        np.where((a == 0) & (b >= 0), 0, g * out * np.log(a)) if exponent._requires_grad else None)
        return _node(out, (input, exponent), backward, "pow")
    exponent = _operand(exponent, input)
    return _node(a ** exponent, (input,), lambda g: (g * exponent * a ** (exponent - 1),), "pow")


def rpow(input: Tensor, base: Operand) -> Tensor:
    """``base ** input``: a non-tensor base becomes a constant, of the dtype NumPy gives ``base ** input.data``."""
    if not isinstance(base, Tensor):
        base = _operand(base, input)
        base = Tensor(np.asarray(base, np.result_type(base, input._data)))
    return pow(base, input)


def remainder(input: Tensor, other: Operand) -> Tensor:
    """Python's (and torch's) remainder, with the sign of the divisor: a − ⌊a / b⌋·b;  da = g, db = −g·⌊a / b⌋."""
    other = other if isinstance(other, Tensor) else Tensor(np.asarray(_operand(other, input)))
    a, b = input._data, other._data
    out = np.remainder(a, b)
    return _node(out, (input, other), lambda g: (g, -g * np.floor_divide(a, b)), "remainder")


def floor_divide(input: Tensor, other: Operand) -> Tensor:
    """⌊a / b⌋ (not differentiable: its gradient is zero almost everywhere)."""
    return Tensor(np.asarray(np.floor_divide(input._data, _unwrap(other))))
