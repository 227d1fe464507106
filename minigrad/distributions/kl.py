"""KL(p ‖ q) between two distributions, as ``torch.distributions.kl``: a function per pair of types,
registered with ``register_kl``."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..functional import softplus
from ..ops.elementwise import where
from ..tensor import Tensor
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .independent import Independent, sum_rightmost
from .normal import Normal

_KL: dict[tuple[type, type], Callable[[Any, Any], Tensor]] = {}


def register_kl(type_p: type, type_q: type) -> Callable[[Callable[[Any, Any], Tensor]], Callable[[Any, Any], Tensor]]:
    """A decorator: the function computes KL(p ‖ q) for p of ``type_p`` and q of ``type_q`` (or subclasses)."""
    if not (isinstance(type_p, type) and issubclass(type_p, Distribution)
            and isinstance(type_q, type) and issubclass(type_q, Distribution)):
        raise TypeError(f"Expected type_p and type_q to be Distribution subclasses but got {type_p} and {type_q}")

    def decorator(fn: Callable[[Any, Any], Tensor]) -> Callable[[Any, Any], Tensor]:
        _KL[type_p, type_q] = fn
        return fn
    return decorator


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p ‖ q) = E_p[log p − log q], per batch element; NotImplementedError for a pair without one.
    The most specific registered pair wins (by the two types' method resolution orders)."""
    for type_p in type(p).__mro__:
        for type_q in type(q).__mro__:
            if (type_p, type_q) in _KL:
                return _KL[type_p, type_q](p, q)
    raise NotImplementedError(f"No KL(p || q) is implemented for p type {type(p).__name__} and "
                              f"q type {type(q).__name__}")


def _infinite_where(condition: Any, value: Tensor, fill: float) -> Tensor:
    return where(Tensor(np.asarray(condition)), Tensor(np.asarray(fill, dtype=value.dtype)), value)


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    """½ (σₚ²/σ_q² + (μₚ − μ_q)²/σ_q² − 1 − log σₚ²/σ_q²)."""
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    """p (log p − log q) + (1 − p)(log(1 − p) − log(1 − q)), through softplus of the logits; inf where
    q gives no mass to an outcome p has, 0 for an outcome p never has."""
    pp, qp = p.probs._data, q.probs._data
    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = _infinite_where(pp == 0, _infinite_where(qp == 0, t1, np.inf), 0.0)
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    t2 = _infinite_where(pp == 1, _infinite_where(qp == 1, t2, np.inf), 0.0)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    """Σₖ pₖ (log pₖ − log qₖ); inf where q has no mass on a category p has, 0 terms where p has none."""
    t = p.probs * (p.logits - q.logits)
    shape = t.shape
    q_empty, p_empty = np.broadcast_to(q.probs._data == 0, shape), np.broadcast_to(p.probs._data == 0, shape)
    return _infinite_where(p_empty, _infinite_where(q_empty, t, np.inf), 0.0).sum(-1)


@register_kl(Independent, Independent)
def _kl_independent_independent(p: Independent, q: Independent) -> Tensor:
    """The bases' KL summed over the reinterpreted dimensions (which must be as many on both)."""
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("KL between Independents with different reinterpreted_batch_ndims")
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)
