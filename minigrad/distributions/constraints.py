"""Where a distribution's parameters and values may lie, as ``torch.distributions.constraints``:
``check(array)`` is True where a value satisfies it (over the event for event constraints), and
the repr is torch's, so that error messages read the same."""
from __future__ import annotations

from typing import Any

import numpy as np


class Constraint:
    event_dim = 0  # the right-most dimensions one check covers

    def check(self, value: Any) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__.lstrip('_')}()"


class _Real(Constraint):
    """Any number but NaN (infinities included, as torch's)."""

    def check(self, value: Any) -> Any:
        return value == value


class _Boolean(Constraint):
    def check(self, value: Any) -> Any:
        return (value == 0) | (value == 1)


class _GreaterThan(Constraint):
    def __init__(self, lower_bound: float) -> None:
        self.lower_bound = lower_bound

    def check(self, value: Any) -> Any:
        return self.lower_bound < value

    def __repr__(self) -> str:
        return f"GreaterThan(lower_bound={self.lower_bound})"


class _Interval(Constraint):
    def __init__(self, lower_bound: float, upper_bound: float) -> None:
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value: Any) -> Any:
        return (self.lower_bound <= value) & (value <= self.upper_bound)

    def __repr__(self) -> str:
        return f"Interval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerInterval(_Interval):
    def check(self, value: Any) -> Any:
        return (value % 1 == 0) & super().check(value)

    def __repr__(self) -> str:
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _Simplex(Constraint):
    """Non-negative along the last dimension, summing to 1 (within 1e-6)."""
    event_dim = 1

    def check(self, value: Any) -> Any:
        return (value >= 0).all(axis=-1) & (np.abs(value.sum(axis=-1) - 1) < 1e-6)


class _IndependentConstraint(Constraint):
    """``base`` over ``reinterpreted_batch_ndims`` more right-most dimensions, all of them at once."""

    def __init__(self, base: Constraint, reinterpreted_batch_ndims: int) -> None:
        self.base, self.reinterpreted_batch_ndims = base, reinterpreted_batch_ndims
        self.event_dim = base.event_dim + reinterpreted_batch_ndims

    def check(self, value: Any) -> Any:
        result = self.base.check(value)
        return result.all(axis=tuple(range(-self.reinterpreted_batch_ndims, 0))) if self.reinterpreted_batch_ndims \
            else result

    def __repr__(self) -> str:
        return f"IndependentConstraint({self.base!r}, {self.reinterpreted_batch_ndims})"


real = _Real()
boolean = _Boolean()
positive = _GreaterThan(0.0)
unit_interval = _Interval(0.0, 1.0)
simplex = _Simplex()
real_vector = _IndependentConstraint(real, 1)
greater_than = _GreaterThan
interval = _Interval
integer_interval = _IntegerInterval
independent = _IndependentConstraint
