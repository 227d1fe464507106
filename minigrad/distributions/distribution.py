"""The base of every distribution, as ``torch.distributions.Distribution``: shapes, argument and
sample checks (torch's messages), and ``sample`` through ``rsample`` or a distribution's own draw."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from . import constraints

_VALIDATE_DEFAULT = True  # as torch's (__debug__): arguments and samples are checked unless switched off


def broadcast_all(**values: Any) -> list[Tensor]:
    """The parameters ``values`` (name -> a Tensor, an array or a number) as floating-point Tensors
    of one broadcast shape, the graph kept: numbers, arrays and integer Tensors take the first float
    Tensor's dtype (float32 without one). Anything else is a TypeError naming the parameter."""
    for name, value in values.items():
        if isinstance(value, (bool, str, bytes)) or value is None or not (
                isinstance(value, (Tensor, int, float, np.ndarray, np.number))):
            raise TypeError(f"{name} must be a Tensor or a number, got {type(value).__name__}")
        if not isinstance(value, Tensor) and np.asarray(value).dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers, got dtype {np.asarray(value).dtype}")
    dtype = next((v.dtype for v in values.values() if isinstance(v, Tensor) and v.dtype.kind == "f"),
                 np.dtype(np.float32))
    tensors = [v if isinstance(v, Tensor) and v.dtype.kind == "f" else
               v.to(dtype) if isinstance(v, Tensor) else Tensor(np.asarray(v, dtype=dtype)) for v in values.values()]
    shape = np.broadcast_shapes(*(t.shape for t in tensors))
    return [t if t.shape == shape else t.expand(*shape) for t in tensors]


class Distribution:
    """A distribution over values of ``batch_shape + event_shape``. Subclasses give ``arg_constraints``
    (parameter name -> constraint), ``support``, and ``rsample`` (a differentiable draw) or
    ``_draw`` (a NumPy array of ``sample_shape + batch_shape + event_shape`` from minigrad's generator)."""

    arg_constraints: dict[str, constraints.Constraint] = {}
    support: constraints.Constraint = constraints.real
    has_rsample = False

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Whether distributions built without ``validate_args`` check their arguments and samples."""
        global _VALIDATE_DEFAULT
        if value not in (True, False):
            raise ValueError(f"validate_args must be True or False, got {value!r}")
        _VALIDATE_DEFAULT = value

    def __init__(self, batch_shape: Sequence[int] = (), event_shape: Sequence[int] = (),
                 validate_args: bool | None = None) -> None:
        self._batch_shape, self._event_shape = tuple(batch_shape), tuple(event_shape)
        if validate_args not in (None, True, False):
            raise TypeError(f"validate_args must be None, True or False, got {validate_args!r}")
        self._validate_args = _VALIDATE_DEFAULT if validate_args is None else validate_args
        if self._validate_args:
            for name, constraint in self.arg_constraints.items():
                if name not in self.__dict__:  # a parameter given the other way (probs for logits)
                    continue
                value = getattr(self, name)
                if not constraint.check(value._data).all():
                    raise ValueError(f"Expected parameter {name} ({type(value).__name__} of shape {value.shape}) of "
                                     f"distribution {self!r} to satisfy the constraint {constraint!r}, but found "
                                     f"invalid values:\n{value}")

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._batch_shape

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self._event_shape

    def _extended_shape(self, sample_shape: Sequence[int] = ()) -> tuple[int, ...]:
        if isinstance(sample_shape, int) or not all(isinstance(n, (int, np.integer)) for n in sample_shape):
            raise TypeError(f"sample_shape must be a tuple of ints, got {sample_shape!r}")
        return tuple(sample_shape) + self._batch_shape + self._event_shape

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """A draw of shape ``sample_shape + batch_shape + event_shape``, outside the graph."""
        with no_grad():
            if self.has_rsample:
                return self.rsample(sample_shape).detach()
            return Tensor(self._draw(self._extended_shape(sample_shape)))

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no reparameterised sample (rsample)")

    def _draw(self, shape: tuple[int, ...]) -> Any:
        raise NotImplementedError

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def entropy(self) -> Tensor:
        raise NotImplementedError

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no mean")

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no variance")

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    def _validate_sample(self, value: Any) -> None:
        """torch's checks of a ``log_prob`` argument (of a distribution without event dimensions: an
        Independent leaves them to its base): a Tensor, broadcastable with the batch, inside the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        try:
            np.broadcast_shapes(value.shape, self._batch_shape + self._event_shape)
        except ValueError:
            raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {value.shape} vs "
                             f"{self._batch_shape + self._event_shape}.") from None
        if not self.support.check(value._data).all():
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape {value.shape}) to be within "
                             f"the support ({self.support!r}) of the distribution {self!r}, but found invalid "
                             f"values:\n{value}")

    def __repr__(self) -> str:
        shown = [f"{name}: {value if value.numel() == 1 else value.shape}"
                 for name in self.arg_constraints if isinstance(value := self.__dict__.get(name), Tensor)]
        return f"{type(self).__name__}({', '.join(shown)})"
