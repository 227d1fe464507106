"""Shared test fixtures for the optimizer tests: every optimizer × option combination, and a
parameter over given arrays."""
import itertools

import numpy as np

from minigrad import Parameter


def Param(data, grad=None):
    """A Parameter over ``data`` itself (no copy; its array is updated in place) with gradient ``grad``
    (None skips the parameter)."""
    p = Parameter(data)
    p.grad = grad
    return p


def _product(name, **choices):
    keys = list(choices)
    return [(name, dict(zip(keys, values))) for values in itertools.product(*choices.values())]


def _id(case):
    name, options = case
    return name + "(" + ",".join(f"{k}={v}" for k, v in options.items()) + ")"


SGD = [c for c in _product("SGD", lr=[0.1], momentum=[0, 0.9], dampening=[0, 0.3], nesterov=[False, True],
                           weight_decay=[0, 0.1], maximize=[False, True])
       if not (c[1]["nesterov"] and (c[1]["momentum"] == 0 or c[1]["dampening"] != 0))]
ADAGRAD = _product("Adagrad", lr=[0.1], lr_decay=[0, 0.05], weight_decay=[0, 0.1], initial_accumulator_value=[0, 0.2],
                   maximize=[False, True])
ADADELTA = _product("Adadelta", lr=[1.0, 0.5], rho=[0.9, 0.3], weight_decay=[0, 0.1], maximize=[False, True])
# alpha=0.3 and beta1=0.3 take torch.lerp's second formula (weight ≥ 0.5).
RMSPROP = _product("RMSprop", lr=[0.01], alpha=[0.99, 0.3], weight_decay=[0, 0.1], momentum=[0, 0.8],
                   centered=[False, True], maximize=[False, True])
ADAM = _product("Adam", lr=[0.01], betas=[(0.9, 0.999), (0.3, 0.8)], weight_decay=[0, 0.1], amsgrad=[False, True],
                maximize=[False, True], decoupled_weight_decay=[False, True])
ADAMW = _product("AdamW", lr=[0.01], weight_decay=[0.01, 0.2], amsgrad=[False, True])
# Decoupled weight decay only with a weight decay (without one it is the same run). NAdam's
# momentum_decay=0.3 moves μₜ far from β1 within the run; RAdam's β2=0.8 turns rectification on
# at step 7 (ρ∞ = 9), β2=0.5 never does (ρ∞ = 3).
ADAMAX = _product("Adamax", lr=[0.01], betas=[(0.9, 0.999), (0.3, 0.8)], weight_decay=[0, 0.1], maximize=[False, True])
NADAM = [c for c in _product("NAdam", lr=[0.01], betas=[(0.9, 0.999), (0.3, 0.8)], momentum_decay=[4e-3, 0.3],
                             weight_decay=[0, 0.1], decoupled_weight_decay=[False, True], maximize=[False, True])
         if c[1]["weight_decay"] or not c[1]["decoupled_weight_decay"]]
RADAM = [c for c in _product("RAdam", lr=[0.01], betas=[(0.9, 0.999), (0.3, 0.8), (0.9, 0.5)], weight_decay=[0, 0.1],
                             decoupled_weight_decay=[False, True], maximize=[False, True])
         if c[1]["weight_decay"] or not c[1]["decoupled_weight_decay"]]
# t0=0 averages from the third step on (μ = 1/(t − 1)); lambd=0.5 makes the η decay visible.
ASGD = _product("ASGD", lr=[0.01], lambd=[1e-4, 0.5], t0=[1e6, 0.0], weight_decay=[0, 0.1], maximize=[False, True])
# step_sizes=(1e-3, 0.02) clamps at both ends within a few steps.
RPROP = _product("Rprop", lr=[0.01], etas=[(0.5, 1.2), (0.3, 1.5)], step_sizes=[(1e-6, 50), (1e-3, 0.02)],
                 maximize=[False, True])
LION = _product("Lion", lr=[0.01], betas=[(0.9, 0.99), (0.3, 0.8)], weight_decay=[0, 0.1], maximize=[False, True])
ALL = SGD + ADAGRAD + ADADELTA + RMSPROP + ADAM + ADAMW + ADAMAX + NADAM + RADAM + ASGD + RPROP + LION
IDS = [_id(c) for c in ALL]

# One param group holding every interesting size: empty, one element, odd lengths shorter than a
# SIMD vector, and more than the threading grain with an odd tail (so two threads split it).
SIZES = [0, 1, 7, 33, 100_003]


def make_params(dtype, sizes=SIZES, seed=0):
    rng = np.random.default_rng(seed)
    return [Param(rng.standard_normal(n).astype(dtype)) for n in sizes]


def set_grads(params, rng):
    for p in params:
        p.grad = rng.standard_normal(p.data.shape).astype(p.data.dtype)


def train(optimizer_cls, options, params, steps, seed=1, **extra):
    """Runs `steps` updates with gradients drawn from `seed`; returns the optimizer."""
    opt = optimizer_cls(params, **options, **extra)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        set_grads(params, rng)
        opt.step()
    return opt


def torch_started(theirs, twins, params, grads):
    """Steps torch's optimizer ``theirs`` over ``twins`` (torch tensors) once per list of ``grads``,
    copies the twins' values into ``params`` and returns torch's state_dict converted through NumPy:
    what a user resuming torch's checkpoint on minigrad loads."""
    import torch
    for step in grads:
        for t, g in zip(twins, step):
            t.grad = torch.from_numpy(g.copy())
        theirs.step()
    for p, t in zip(params, twins):
        p.data[...] = t.detach().numpy()
    saved = theirs.state_dict()
    return {"state": {i: {k: v.numpy() for k, v in s.items()} for i, s in saved["state"].items()},
            "param_groups": saved["param_groups"]}
