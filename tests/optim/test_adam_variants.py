"""Adamax, NAdam and RAdam: steps computed by hand from their closed forms, NAdam's per-parameter
μ-product, RAdam's rectification switch, state_dict resume (ours and torch's) and argument checks.
The option combinations are in optim_cases.ALL, which the twin, thread, SIMD and torch-parity
tests cover."""
import copy
import inspect
import math

import numpy as np
import pytest

import minigrad.optim as optim
from minigrad import _C
from minigrad.optim import kernels_numpy

from optim_cases import Param, make_params, set_grads, torch_started, train
from test_optim_kernels import SCALARS

NAMES = ["Adamax", "NAdam", "RAdam"]
BACKENDS = ["cpp", "numpy"]


def steps_of(opt, param, grads):
    """Applies one-element gradients a step each; returns the parameter after every step."""
    values = []
    for g in grads:
        param.grad = np.array([g], param.data.dtype)
        opt.step()
        values.append(float(param.numpy()[0]))
    return values


# ---- closed forms, by hand -------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_adamax_by_hand(backend):
    p = Param(np.array([1.0]))
    got = steps_of(optim.Adamax([p], lr=0.1, eps=0.0, backend=backend), p, [3.0, 1.0])
    # step 1: m = 0.3, u = max(0, 3) = 3, θ = 1 − 0.1/0.1 · 0.3/3 = 0.9
    # step 2: m = 0.27 + 0.1, u = max(0.999·3, 1), θ = 0.9 − 0.1/(1 − 0.81) · m/u
    second = 0.9 - 0.1 / (1 - 0.81) * 0.37 / 2.997
    assert got == pytest.approx([0.9, second], rel=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_adamax_weight_decay_and_maximize_by_hand(backend):
    p = Param(np.array([2.0]))
    opt = optim.Adamax([p], lr=0.1, betas=(0.5, 0.5), eps=0.25, weight_decay=0.5, maximize=True, backend=backend)
    got = steps_of(opt, p, [3.0, -1.0])
    # step 1: d = −3 + 1 = −2, m = −1, u = max(0, 2.25) = 2.25, θ = 2 + 0.1/0.5 · 1/2.25
    theta1 = 2 + 0.2 / 2.25
    # step 2: d = 1 + theta1/2, m = −0.5 + d/2, u = max(1.125, |d| + 0.25), θ −= 0.1/0.75 · m/u
    d = 1 + theta1 / 2
    m = -0.5 + d / 2
    assert got == pytest.approx([theta1, theta1 - 0.1 / 0.75 * m / max(1.125, d + 0.25)], rel=1e-14)


def nadam_mus(beta1, psi, steps):
    """μ₁…μ_steps+1 of NAdam's schedule and the running products, in float32 as torch keeps them."""
    mus = [beta1 * (1 - 0.5 * 0.96 ** (t * psi)) for t in range(1, steps + 2)]
    products = [1.0]
    for mu in mus[:steps]:
        products.append(float(np.float32(np.float32(products[-1]) * np.float32(mu))))
    return mus, products


@pytest.mark.parametrize("backend", BACKENDS)
def test_nadam_by_hand(backend):
    p = Param(np.array([1.0]))
    opt = optim.NAdam([p], lr=0.1, eps=0.0, momentum_decay=0.5, backend=backend)
    got = steps_of(opt, p, [2.0, -1.0])
    (mu1, mu2, mu3), (_, pi1, pi2) = nadam_mus(0.9, 0.5, 2)
    # step 1: m = 0.2, v = 0.004, √(v / 0.001) = 2
    theta1 = 1 - 0.1 * (1 - mu1) / (1 - pi1) * 2 / 2 - 0.1 * mu2 / (1 - pi1 * mu2) * 0.2 / 2
    # step 2: m = 0.18 − 0.1, v = 0.999·0.004 + 0.001, bc2 = 1 − 0.999²
    m, v = 0.08, 0.999 * 0.004 + 0.001
    denom = math.sqrt(v / (1 - 0.999 ** 2))
    theta2 = theta1 + 0.1 * (1 - mu2) / (1 - pi2) / denom - 0.1 * mu3 / (1 - pi2 * mu3) * m / denom
    assert got == pytest.approx([theta1, theta2], rel=1e-14)
    assert opt.state[p]["mu_product"] == pi2 and opt.state[p]["step"] == 2
    assert pi2 != mu1 * mu2  # kept in float32, as torch keeps it


@pytest.mark.parametrize("backend", BACKENDS)
def test_nadamw_decays_before_the_step(backend):
    p = Param(np.array([2.0]))
    got = steps_of(optim.NAdam([p], lr=0.1, weight_decay=0.5, decoupled_weight_decay=True, eps=0.0, backend=backend),
                   p, [1.0])
    (mu1, mu2), (_, pi1) = nadam_mus(0.9, 4e-3, 1)
    # θ = 2·(1 − 0.05), then m = 0.1, √(v / bc2) = 1
    assert got == pytest.approx([1.9 - 0.1 * (1 - mu1) / (1 - pi1) - 0.1 * mu2 / (1 - pi1 * mu2) * 0.1], rel=1e-14)


def radam_rho(beta2, t):
    """ρₜ, the length of the approximated simple moving average at step t (the paper's definition)."""
    return 2 / (1 - beta2) - 1 - 2 * t * beta2 ** t / (1 - beta2 ** t)


def radam_rect(beta2, t):
    """RAdam's rectification term at step t (defined for ρₜ > 4)."""
    rho_inf, rho = 2 / (1 - beta2) - 1, radam_rho(beta2, t)
    return math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))


@pytest.mark.parametrize("backend", BACKENDS)
def test_radam_switches_to_the_rectified_step_when_rho_exceeds_5(backend):
    # A constant gradient 1: m/(1 − β1ᵗ) = 1 and √(1 − β2ᵗ)/√v = 1, so an unrectified step moves θ by
    # lr and a rectified one by lr·rect. With β2 = 0.8 (ρ∞ = 9), ρₜ first exceeds 5 at t = 7.
    p = Param(np.array([0.0]))
    got = steps_of(optim.RAdam([p], lr=0.1, betas=(0.3, 0.8), eps=0.0, backend=backend), p, [1.0] * 9)
    assert [radam_rho(0.8, t) > 5 for t in range(1, 10)] == [False] * 6 + [True] * 3
    expected = [-0.1 * t for t in range(1, 7)]
    for t in (7, 8, 9):
        expected.append(expected[-1] - 0.1 * radam_rect(0.8, t))
    assert got == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_radam_weight_decay_by_hand(backend):
    p, q = Param(np.array([2.0])), Param(np.array([2.0]))
    l2 = steps_of(optim.RAdam([p], lr=0.1, weight_decay=0.5, backend=backend), p, [1.0])
    decoupled = steps_of(optim.RAdam([q], lr=0.1, weight_decay=0.5, decoupled_weight_decay=True, backend=backend),
                         q, [1.0])
    # ρ₁ = 1: the plain step θ − lr·m/(1 − β1) = θ − lr·d, with d = 1 + 0.5·2 (L2) or θ·(1 − 0.05) first
    assert l2 == pytest.approx([2 - 0.1 * 2.0], rel=1e-15)
    assert decoupled == pytest.approx([1.9 - 0.1], rel=1e-15)


# ---- NAdam's μ-product: per parameter, as torch keeps it ---------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_nadam_parameters_with_their_own_histories_take_their_own_step_sizes(backend):
    """A joins at step 1, B at step 2, C's state is loaded with B's step count but another μ-product:
    each must move as it would alone, so one group makes three kernel calls."""
    rng = np.random.default_rng(0)
    grads = [[rng.standard_normal(3) for _ in range(3)] for _ in range(4)]
    start = [rng.standard_normal(3) for _ in range(3)]
    together = [Param(s.copy()) for s in start]
    alone = [Param(s.copy()) for s in start]
    opt = optim.NAdam(together, lr=0.1, momentum_decay=0.2, backend=backend)
    opts = [optim.NAdam([p], lr=0.1, momentum_decay=0.2, backend=backend) for p in alone]
    for step, step_grads in enumerate(grads):
        if step == 1:  # C: B's state and step count, with a different μ-product
            c_state = dict(step=0, mu_product=0.5, exp_avg=np.zeros(3), exp_avg_sq=np.zeros(3))
            for o, index in ((opt, 2), (opts[2], 0)):
                sd = o.state_dict()
                sd["state"][index] = copy.deepcopy(c_state)
                o.load_state_dict(sd)
        for i, (p, q, g) in enumerate(zip(together, alone, step_grads)):
            joined = i == 0 or step >= 1
            p.grad = q.grad = g.copy() if joined else None
        opt.step()
        for o in opts:
            if o.param_groups[0]["params"][0].grad is not None:
                o.step()
    for p, q in zip(together, alone):
        assert p.numpy().tobytes() == q.numpy().tobytes()
    products = [opt.state[p]["mu_product"] for p in together]
    assert products == [opts[i].state[q]["mu_product"] for i, q in enumerate(alone)]
    assert len(set(products)) == 3 and [opt.state[p]["step"] for p in together] == [4, 3, 3]


# ---- state_dict: resume, torch's layout, torch's dicts -------------------------------------------------

RESUME_CASES = [("Adamax", dict(lr=0.01, weight_decay=0.1)),
                ("NAdam", dict(lr=0.01, momentum_decay=0.3, weight_decay=0.1, decoupled_weight_decay=True)),
                ("RAdam", dict(lr=0.01, betas=(0.3, 0.8), weight_decay=0.1))]  # rectified from step 7


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, options", RESUME_CASES, ids=NAMES)
def test_resume_after_k_steps_is_bitwise_identical(name, options, backend):
    cls = getattr(optim, name)
    straight = make_params(np.float32)
    train(cls, options, straight, 10, backend=backend)
    first = make_params(np.float32)
    opt = cls(first, **options, backend=backend)
    rng = np.random.default_rng(1)
    for _ in range(5):
        set_grads(first, rng)
        opt.step()
    saved = copy.deepcopy(opt.state_dict())
    resumed = [Param(p.numpy().copy()) for p in first]
    opt = cls(resumed, **options, backend=backend)
    opt.load_state_dict(saved)
    for _ in range(5):
        set_grads(resumed, rng)
        opt.step()
    for p, q in zip(straight, resumed):
        assert p.numpy().tobytes() == q.numpy().tobytes()


torch_cases = pytest.mark.parametrize("name, options", RESUME_CASES, ids=NAMES)


@torch_cases
def test_state_dict_layout_matches_torch(name, options):
    torch = pytest.importorskip("torch")
    p, t = Param(np.ones(3)), torch.ones(3, dtype=torch.float64, requires_grad=True)
    ours = getattr(optim, name)([p], **options, foreach=False)
    theirs = getattr(torch.optim, name)([t], **options, foreach=False)
    p.grad, t.grad = np.ones(3), torch.ones(3, dtype=torch.float64)
    ours.step()
    theirs.step()
    assert set(ours.state_dict()["state"][0]) == set(theirs.state_dict()["state"][0])
    ours_group, theirs_group = ours.state_dict()["param_groups"][0], theirs.state_dict()["param_groups"][0]
    assert ours_group == theirs_group  # (signatures: tests/optim/test_optimizer_params.py)


@pytest.mark.parametrize("backend", BACKENDS)
@torch_cases
def test_loads_a_torch_state_dict(name, options, backend):
    torch = pytest.importorskip("torch")
    params = make_params(np.float64, [4, 3])
    twins = [torch.tensor(p.numpy().copy(), requires_grad=True) for p in params]
    theirs = getattr(torch.optim, name)(twins, **options, foreach=False)
    rng = np.random.default_rng(0)
    grads = [[rng.standard_normal(p.data.shape) for p in params] for _ in range(10)]
    converted = torch_started(theirs, twins, params, grads[:4])
    ours = getattr(optim, name)(params, **options, backend=backend)
    ours.load_state_dict(converted)
    for step in grads[4:]:
        for p, t, g in zip(params, twins, step):
            p.grad, t.grad = g.copy(), torch.from_numpy(g.copy())
        ours.step()
        theirs.step()
    for p, t in zip(params, twins):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-12)
        for key, value in theirs.state[t].items():
            np.testing.assert_allclose(ours.state[p][key], value.numpy(), rtol=1e-12, err_msg=key)


@pytest.mark.parametrize("name", NAMES)
def test_nonfinite_values_propagate_as_in_torch(name):
    torch = pytest.importorskip("torch")
    grads = np.array([1e30, -3e38, np.inf, -np.inf, np.nan, 0.0, 1e-30, 5.0], np.float32)
    for backend in BACKENDS:
        p, t = Param(np.ones(8, np.float32)), torch.ones(8, requires_grad=True)
        ours = getattr(optim, name)([p], lr=0.01, backend=backend)
        theirs = getattr(torch.optim, name)([t], lr=0.01, foreach=False)
        for scale in (1, -1, 1, 1, 1, 1, 1):
            p.grad = grads * np.float32(scale)
            t.grad = torch.from_numpy(p.grad.numpy().copy())
            with np.errstate(all="ignore"):
                ours.step()
            theirs.step()
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-6, equal_nan=True)


# ---- checks before any write ----------------------------------------------------------------------------

def kernel_lists(name, n_tensors=3, size=5):
    """Valid argument lists of a kernel: arrays of values in (0, 1) (a valid state for each)."""
    rng = np.random.default_rng(0)
    n_lists = len([p for p in inspect.signature(getattr(kernels_numpy, name)).parameters.values()
                   if p.kind is p.POSITIONAL_OR_KEYWORD])
    return [[rng.uniform(0.1, 1, size).astype(np.float32) for _ in range(n_tensors)] for _ in range(n_lists)]


@pytest.mark.parametrize("kernels", [_C, kernels_numpy], ids=BACKENDS)
@pytest.mark.parametrize("name", ["adamax", "nadam", "radam"])
@pytest.mark.parametrize("spoil, error, message", [
    (lambda lists: lists[3].__setitem__(2, np.frombuffer(lists[3][2].tobytes(), np.float32)), ValueError,
     r"\[2\] is read-only"),
    (lambda lists: lists[2].__setitem__(2, np.zeros(6, np.float32)), ValueError,
     r"exp_avgs\[2\] has shape \(6,\) but params\[2\] has shape \(5,\)"),
    (lambda lists: lists[1].__setitem__(2, lists[1][2].astype(np.float64)), TypeError,
     r"grads\[2\] has dtype float64 but params\[2\] has float32"),
    (lambda lists: lists[3].__setitem__(2, lists[0][0]), ValueError, r"params\[0\] and exp_\w+\[2\] overlap"),
    (lambda lists: lists[3].pop(), ValueError, r"exp_\w+ has 2 arrays but params has 3"),
])
def test_bad_arrays_raise_before_any_write(kernels, name, spoil, error, message):
    lists = kernel_lists(name)
    spoil(lists)
    before = [a.copy() for arrays in lists for a in arrays]
    with pytest.raises(error, match=message):
        getattr(kernels, name)(*lists, **SCALARS[name])
    assert all(a.tobytes() == b.tobytes() for a, b in zip([a for arrays in lists for a in arrays], before))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_a_bad_state_array_fails_the_step_before_any_write(name, backend):
    params = [Param(np.ones(3, np.float32)), Param(np.ones(4, np.float32))]
    opt = getattr(optim, name)(params, lr=0.1, backend=backend)
    for _ in range(2):
        for p in params:
            p.grad = np.full(p.data.shape, 0.5, np.float32)
        opt.step()
    state_name = opt._state_names(opt.param_groups[0])[-1]
    opt.state[params[1]][state_name] = opt.state[params[1]][state_name].astype(np.float64)
    before = copy.deepcopy(([p.numpy() for p in params], opt.state_dict()["state"]))
    with pytest.raises(TypeError, match=rf"state\['{state_name}'\]\[1\] has dtype float64 but params\[1\] has float32"):
        opt.step()
    after = ([p.numpy() for p in params], opt.state_dict()["state"])
    assert all(a.tobytes() == b.tobytes() for a, b in zip(after[0], before[0]))
    for i in (0, 1):
        for key, value in before[1][i].items():
            assert np.asarray(after[1][i][key]).tobytes() == np.asarray(value).tobytes(), key


@pytest.mark.parametrize("value, error, message", [
    (None, TypeError, "state 'mu_product' of parameter 1 is missing"),
    ("0.5", TypeError, "must be a number, got str"),
    (np.ones(2), TypeError, "must be a number, got ndarray"),
    (1.5, ValueError, "state 'mu_product' of parameter 1 must be between 0 and 1, got 1.5"),
    (float("nan"), ValueError, "must be between 0 and 1, got nan"),
])
def test_nadam_refuses_a_bad_mu_product_before_changing_anything(value, error, message):
    params = [Param(np.ones(2)), Param(np.full(2, 2.0))]
    opt = optim.NAdam(params, lr=0.1)
    for p in params:
        p.grad = np.ones(2)
    opt.step()
    bad = copy.deepcopy(opt.state_dict())
    bad["state"][1]["mu_product"] = value
    if value is None:
        del bad["state"][1]["mu_product"]
    bad["param_groups"][0]["lr"] = 0.5
    before = copy.deepcopy(opt.state_dict())
    with pytest.raises(error, match=message):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    assert [after["state"][i]["mu_product"] for i in (0, 1)] == [before["state"][i]["mu_product"] for i in (0, 1)]
