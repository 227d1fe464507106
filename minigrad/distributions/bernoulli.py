"""The Bernoulli distribution, as ``torch.distributions.Bernoulli``."""
from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from ..autograd import enable_grad
from ..functional import binary_cross_entropy_with_logits
from ..random import default_generator
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, broadcast_all


def clamp_probs(probs: Tensor) -> Tensor:
    """``probs`` kept within [ε, 1 − ε] (ε the dtype's machine epsilon), so that their logs are finite."""
    eps = float(np.finfo(probs.dtype).eps)
    return probs.clamp(eps, 1 - eps)


def either(probs: Any, logits: Any) -> None:
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")


class Bernoulli(Distribution):
    """1 with probability p = ``probs`` = sigmoid(``logits``), else 0 (give one of the two):
    log p(x) = x log p + (1 − x) log(1 − p) (as −BCE-with-logits);  H = −p log p − (1 − p) log(1 − p).
    Samples are 0/1 in the parameter's dtype."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: bool | None = None) -> None:
        either(probs, logits)
        (param,) = broadcast_all(**({"probs": probs} if probs is not None else {"logits": logits}))
        self.__dict__["probs" if probs is not None else "logits"] = param  # the other one follows when asked
        super().__init__(param.shape, (), validate_args)

    @cached_property
    def probs(self) -> Tensor:
        with enable_grad():  # in the graph even when first asked under no_grad (by sample)
            return self.logits.sigmoid()

    @cached_property
    def logits(self) -> Tensor:
        with enable_grad():
            p = clamp_probs(self.probs)
            return p.log() - (1 - p).log()

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        """1 where p > ½, 0 where p < ½, NaN at ½ (no single mode), as torch's."""
        p = self.probs._data
        return Tensor(np.where(p == 0.5, np.nan, (p > 0.5)).astype(p.dtype))

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def _draw(self, shape: tuple[int, ...]) -> Any:
        probs = self.probs._data
        return (default_generator().random(shape) < probs).astype(probs.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(logits=self.logits, value=value)
        return -binary_cross_entropy_with_logits(logits, value.to(logits.dtype), reduction="none")

    def entropy(self) -> Tensor:
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")
