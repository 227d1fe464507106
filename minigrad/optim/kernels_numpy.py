"""NumPy twins of the C++ optimizer kernels (csrc/optim/).

Same function names, same signatures (the array lists, then keyword-only scalars), same in-place
contract as ``minigrad._C``: every call updates a list of tensors (one dtype) in place, after the
same argument checks. Written as a
competent NumPy user would: in-place ufuncs with ``out=``, scratch arrays only where the math needs
them, and the same order of operations as the C++ loops (torch.optim's), so both agree to the bit
in most steps. They are the reference for tests and the honest baseline for speed.

Scalars are Python floats, so NumPy computes in the arrays' dtype (as the kernels cast them).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Sequence, Union

import numpy as np

from .. import _C

if TYPE_CHECKING:
    from .._typing import Array

    Arrays = Union[list[Array], tuple[Array, ...]]  # exactly a list or a tuple of float32 or float64 arrays, of one dtype


def _check(op: str, lists: dict[str, Arrays], read_only: str = "grads", unused: Sequence[str] = ()) -> None:
    """The C++ kernels' own argument checks (``lists``: {name: arrays}, in signature order); a list
    in ``unused`` (an optional state the options do not need) must still be a list or tuple."""
    _C.check_arrays(op, list(lists.items()), read_only=[read_only], unused=list(unused))


def _flat(*lists: Arrays | None) -> Iterator[tuple[Any, ...]]:
    """Each tensor's arrays as 1-D views (a ufunc on 0-d arrays returns a scalar, not an array);
    None for a list the options do not use."""
    for i in range(len(lists[0])):  # type: ignore[arg-type]  # lists[0] is the params
        yield tuple(None if arrays is None else arrays[i].reshape(-1) for arrays in lists)


def _direction(param: Array, grad: Array, weight_decay: float, maximize: bool) -> Array:
    """d = ±g + λθ, on a scratch array when it differs from g (the stored gradient is never written)."""
    if weight_decay != 0:
        d = np.multiply(param, weight_decay)
        return np.subtract(d, grad, out=d) if maximize else np.add(d, grad, out=d)
    return np.negative(grad) if maximize else grad


def _lerp_(start: Array, end: Array, weight: float, scratch: Array) -> None:
    """start ← lerp(start, end, weight) with torch.lerp's two formulas (see csrc/driver.h)."""
    np.subtract(end, start, out=scratch)
    if abs(weight) < 0.5:
        scratch *= weight
        start += scratch
    else:
        scratch *= 1 - start.dtype.type(weight)
        np.subtract(end, scratch, out=start)


def _add_scaled_square_(acc: Array, decay: float, d: Array, scratch: Array) -> None:
    """acc ← decay·acc + (1 − decay)·d²."""
    np.multiply(d, 1 - decay, out=scratch)
    scratch *= d
    acc *= decay
    acc += scratch


def sgd(params: Arrays, grads: Arrays, momentum_buffers: Arrays, *, lr: float, weight_decay: float, momentum: float,
        dampening: float, nesterov: bool, maximize: bool, first_step: bool) -> None:
    """b ← μ·b + (1 − dampening)·d (b ← d on the first step);  d ← d + μ·b (nesterov) or b;  θ ← θ − lr·d."""
    _check("sgd()", dict(params=params, grads=grads, momentum_buffers=momentum_buffers),
           unused=["momentum_buffers"] if momentum == 0 else [])
    for p, g, b in _flat(params, grads, momentum_buffers if momentum != 0 else None):
        d = _direction(p, g, weight_decay, maximize)
        if momentum != 0:
            if first_step:
                np.copyto(b, d)
            else:
                b *= momentum
                b += d if dampening == 0 else np.multiply(d, 1 - dampening)
            d = np.add(d, np.multiply(b, momentum)) if nesterov else b
        p += np.multiply(d, -lr)


def adagrad(params: Arrays, grads: Arrays, state_sums: Arrays, *, clr: float, weight_decay: float, eps: float,
            maximize: bool) -> None:
    """s ← s + d²;  θ ← θ − clr·d / (√s + eps)."""
    _check("adagrad()", dict(params=params, grads=grads, state_sums=state_sums))
    for p, g, s in _flat(params, grads, state_sums):
        d = _direction(p, g, weight_decay, maximize)
        scratch = np.multiply(d, d)
        s += scratch
        std = np.sqrt(s)
        std += eps
        np.multiply(d, -clr, out=scratch)
        scratch /= std
        p += scratch


def adadelta(params: Arrays, grads: Arrays, square_avgs: Arrays, acc_deltas: Arrays, *, lr: float, rho: float,
             eps: float, weight_decay: float, maximize: bool) -> None:
    """v ← ρv + (1−ρ)d²;  Δ ← √(u + eps) / √(v + eps) · d;  u ← ρu + (1−ρ)Δ²;  θ ← θ − lr·Δ."""
    _check("adadelta()", dict(params=params, grads=grads, square_avgs=square_avgs, acc_deltas=acc_deltas))
    for p, g, v, u in _flat(params, grads, square_avgs, acc_deltas):
        d = _direction(p, g, weight_decay, maximize)
        scratch = np.empty_like(p)
        _add_scaled_square_(v, rho, d, scratch)
        std = np.add(v, eps)
        np.sqrt(std, out=std)
        delta = np.add(u, eps)
        np.sqrt(delta, out=delta)
        delta /= std
        delta *= d
        _add_scaled_square_(u, rho, delta, scratch)
        delta *= -lr
        p += delta


def rmsprop(params: Arrays, grads: Arrays, square_avgs: Arrays, grad_avgs: Arrays, momentum_buffers: Arrays, *,
            lr: float, alpha: float, eps: float, weight_decay: float, momentum: float, centered: bool,
            maximize: bool) -> None:
    """v ← αv + (1−α)d²;  avg ← √(v − ḡ²) with ḡ ← lerp(ḡ, d, 1−α) if centered, else √v;  avg ← avg + eps;
    with momentum b ← μb + d/avg, θ ← θ − lr·b;  else θ ← θ − lr·d/avg."""
    _check("rmsprop()", dict(params=params, grads=grads, square_avgs=square_avgs, grad_avgs=grad_avgs,
                             momentum_buffers=momentum_buffers),
           unused=[name for name, used in (("grad_avgs", centered), ("momentum_buffers", momentum > 0)) if not used])
    for p, g, v, gavg, b in _flat(params, grads, square_avgs, grad_avgs if centered else None,
                                  momentum_buffers if momentum > 0 else None):
        d = _direction(p, g, weight_decay, maximize)
        scratch = np.empty_like(p)
        _add_scaled_square_(v, alpha, d, scratch)
        if centered:
            _lerp_(gavg, d, 1 - alpha, scratch)
            avg = np.multiply(gavg, gavg)
            np.subtract(v, avg, out=avg)
            np.copyto(avg, v, where=np.isposinf(v) & np.isfinite(gavg))  # ∞ − (ḡ² overflowed) is ∞, as in torch
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(v)
        avg += eps
        if momentum > 0:
            b *= momentum
            b += np.divide(d, avg, out=scratch)
            np.multiply(b, -lr, out=scratch)
        else:
            np.multiply(d, -lr, out=scratch)
            scratch /= avg
        p += scratch


def adam(params: Arrays, grads: Arrays, exp_avgs: Arrays, exp_avg_sqs: Arrays, max_exp_avg_sqs: Arrays, *, lr: float,
         beta1: float, beta2: float, eps: float, weight_decay: float, step_size: float, bias_correction2_sqrt: float,
         amsgrad: bool, maximize: bool, decoupled_weight_decay: bool) -> None:
    """θ ← θ(1 − lr·λ) if decoupled, else d ← d + λθ;  m ← lerp(m, d, 1−β1);  v ← β2·v + (1−β2)d²;
    amsgrad: v̂ ← max(v̂, v);  θ ← θ − step_size·m / (√v / √bc2 + eps)."""
    _check("adam()", dict(params=params, grads=grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs,
                          max_exp_avg_sqs=max_exp_avg_sqs), unused=[] if amsgrad else ["max_exp_avg_sqs"])
    for p, g, m, v, vmax in _flat(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs if amsgrad else None):
        if decoupled_weight_decay and weight_decay != 0:
            p *= 1 - lr * weight_decay
        d = _direction(p, g, 0 if decoupled_weight_decay else weight_decay, maximize)
        scratch = np.empty_like(p)
        _lerp_(m, d, 1 - beta1, scratch)
        _add_scaled_square_(v, beta2, d, scratch)
        second = v
        if amsgrad:
            second = np.maximum(vmax, v, out=vmax)
        denom = np.sqrt(second)
        denom /= bias_correction2_sqrt
        denom += eps
        np.multiply(m, -step_size, out=scratch)
        scratch /= denom
        p += scratch


def axpy(xs: Arrays, ys: Arrays, *, alpha: float) -> None:
    """x ← x + α·y: the in-place bandwidth reference."""
    _check("axpy()", dict(xs=xs, ys=ys), read_only="ys")
    for x, y in _flat(xs, ys):
        x += np.multiply(y, alpha)
