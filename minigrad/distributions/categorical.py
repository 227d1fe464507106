"""The categorical distribution, as ``torch.distributions.Categorical``."""
from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from ..autograd import enable_grad
from ..ops.movement import gather
from ..random import default_generator
from ..tensor import Tensor
from . import constraints
from .bernoulli import clamp_probs, either
from .distribution import Distribution, broadcast_all


class Categorical(Distribution):
    """One of K categories, 0 … K−1, with probabilities along the last dimension of ``probs``
    (normalised to sum to 1) or ``logits`` (normalised: logits − logsumexp); the dimensions before it
    are the batch: log p(k) = logits[k];  H = −Σₖ pₖ log pₖ. Samples are int64."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: bool | None = None) -> None:
        either(probs, logits)
        name = "probs" if probs is not None else "logits"
        (param,) = broadcast_all(**{name: probs if probs is not None else logits})
        if param.ndim < 1:
            raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
        self.__dict__[name] = (param / param.sum(-1, keepdim=True) if name == "probs"
                               else param - param.logsumexp(dim=-1, keepdim=True))  # the other follows when asked
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], (), validate_args)

    @cached_property
    def probs(self) -> Tensor:
        with enable_grad():  # in the graph even when first asked under no_grad (by sample)
            return self.logits.softmax(-1)

    @cached_property
    def logits(self) -> Tensor:
        with enable_grad():
            return clamp_probs(self.probs).log()

    @property
    def param_shape(self) -> tuple[int, ...]:
        return self._batch_shape + (self._num_events,)

    @property
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self) -> Tensor:
        return Tensor(np.full(self._batch_shape, np.nan, dtype=self.probs.dtype))

    @property
    def mode(self) -> Tensor:
        return self.probs.argmax(-1)

    @property
    def variance(self) -> Tensor:
        return Tensor(np.full(self._batch_shape, np.nan, dtype=self.probs.dtype))

    def _draw(self, shape: tuple[int, ...]) -> Any:
        """Inverse CDF: the number of cumulative probabilities below a uniform draw (the last
        category takes what rounding leaves)."""
        cdf = np.cumsum(self.probs._data.astype(np.float64), axis=-1)
        u = default_generator().random(shape)[..., None]
        return np.minimum((cdf < u * cdf[..., -1:]).sum(axis=-1), self._num_events - 1).astype(np.int64)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        shape = np.broadcast_shapes(value.shape, self._batch_shape)
        logits = self.logits if self.logits.shape[:-1] == shape else self.logits.expand(*shape, self._num_events)
        index = np.broadcast_to(value._data.astype(np.int64), shape)[..., None]
        return gather(logits, -1, index).squeeze(-1)

    def entropy(self) -> Tensor:
        logits = self.logits.clamp(min=float(np.finfo(self.logits.dtype).min))  # 0 · −inf is 0 here
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """Every category, 0 … K−1, along a new first dimension (expanded over the batch with ``expand``)."""
        values = np.arange(self._num_events, dtype=np.int64).reshape((-1,) + (1,) * len(self._batch_shape))
        return Tensor(np.broadcast_to(values, (self._num_events,) + self._batch_shape).copy() if expand else values)
