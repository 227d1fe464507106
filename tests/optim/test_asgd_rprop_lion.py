"""ASGD, Rprop and Lion: steps computed by hand, Lion against its paper's update, ASGD's per-parameter
η and μ, state_dict resume, and bad arrays refused before any write (against torch, and loading
torch's state_dicts: test_optim_torch_parity.py)."""
import copy

import numpy as np
import pytest

import minigrad.optim as optim
from minigrad import _C
from minigrad.optim import kernels_numpy

from optim_cases import Param, make_params, set_grads

BACKENDS = ["cpp", "numpy"]


def f32(x):
    """x rounded to float32, as torch stores ASGD's η and μ."""
    return float(np.float32(x))


def step_with(opt, params, grads):
    for p, g in zip(params, grads):
        p.grad = None if g is None else np.array(g, p.data.dtype)
    opt.step()


# ---- ASGD ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_asgd_steps_and_running_mean_by_hand(backend):
    lr, lambd, alpha, wd = 0.1, 0.2, 0.75, 0.05
    p = Param(np.array([1.0, -2.0]))
    opt = optim.ASGD([p], lr=lr, lambd=lambd, alpha=alpha, t0=0.0, weight_decay=wd, maximize=True, backend=backend)
    theta, eta, iterates = np.array([1.0, -2.0]), f32(lr), []
    for t, g in enumerate([[0.5, 1.0], [-1.0, 0.25], [0.25, 0.5], [2.0, -1.0], [0.0, 3.0]], start=1):
        step_with(opt, [p], [g])
        d = -np.array(g) + wd * theta  # maximize, then L2 decay with θ before the step
        theta = theta * (1 - lambd * eta) - eta * d
        iterates.append(theta)
        eta = f32(lr / (1 + lambd * lr * t) ** alpha)
        np.testing.assert_allclose(p.numpy(), theta, rtol=1e-15)
        state = opt.state[p]
        assert (state["step"], state["eta"], state["mu"]) == (t, eta, f32(1 / max(1, t)))
        # μ = 1/(t − t0) from the second step: ax is the mean of the iterates since the first step's
        np.testing.assert_allclose(state["ax"], np.mean(iterates[1:] if t > 1 else iterates, axis=0), rtol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_asgd_defaults_copy_the_iterate_into_ax(backend):
    p = Param(np.array([3.0]))
    opt = optim.ASGD([p], backend=backend)
    for g in (1.0, -2.0, 0.5):
        step_with(opt, [p], [[g]])
        assert opt.state[p]["mu"] == 1.0 and opt.state[p]["ax"].tobytes() == p.numpy().tobytes()
    assert set(opt.state_dict()["state"][0]) == {"step", "eta", "mu", "ax"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_asgd_parameters_at_different_steps_in_one_group_keep_their_own_eta_and_mu(backend):
    options = dict(lr=0.05, lambd=0.5, t0=1.0)
    a, b = Param(np.ones(3)), Param(np.ones(3))
    together = optim.ASGD([a, b], **options, backend=backend)
    a_alone, b_alone = Param(np.ones(3)), Param(np.ones(3))
    apart = [optim.ASGD([a_alone], **options, backend=backend), optim.ASGD([b_alone], **options, backend=backend)]
    rng = np.random.default_rng(0)
    for step in range(7):
        grads = [rng.standard_normal(3), None if step < 3 else rng.standard_normal(3)]  # b starts late
        step_with(together, [a, b], grads)
        for opt, p, g in zip(apart, (a_alone, b_alone), grads):
            if g is not None:
                step_with(opt, [p], [g])
    assert together.state[a]["step"] == 7 and together.state[b]["step"] == 4
    for p, q, opt in ((a, a_alone, apart[0]), (b, b_alone, apart[1])):
        assert p.numpy().tobytes() == q.numpy().tobytes()
        assert {k: v for k, v in together.state[p].items() if k != "ax"} == \
            {k: v for k, v in opt.state[q].items() if k != "ax"}


# ---- Rprop -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("backend", BACKENDS)
def test_rprop_sign_logic_and_clamping_by_hand(backend, dtype):
    p = Param(np.zeros(4, dtype))
    opt = optim.Rprop([p], lr=0.1, etas=(0.5, 1.2), step_sizes=(0.03, 0.13), backend=backend)
    # step 1: prev = 0, so s = 0 everywhere: step sizes stay lr, θ moves by −sign(g)·lr
    # step 2: s = (+, −, −, 0): ×1.2, ×0.5, ×0.5, ×1; where s < 0, d = 0: no move, prev ← 0
    # step 3: s = (+, 0, 0, −): 0.144 clamps to 0.13; ×1, ×1; 0.1·0.5
    # step 4: s = (+, +, −, 0): 0.156 → 0.13; 0.06; 0.025 → 0.03; the 4th had d = 0: s = 0
    expected = [([1, -1, 2, 0], [-0.1, 0.1, -0.1, 0], [0.1, 0.1, 0.1, 0.1], [1, -1, 2, 0]),
                ([1, 1, -3, 5], [-0.22, 0.1, -0.1, -0.1], [0.12, 0.05, 0.05, 0.1], [1, 0, 0, 5]),
                ([1, 1, 1, -1], [-0.35, 0.05, -0.15, -0.1], [0.13, 0.05, 0.05, 0.05], [1, 1, 1, 0]),
                ([2, 3, -1, -4], [-0.48, -0.01, -0.15, -0.05], [0.13, 0.06, 0.03, 0.05], [2, 3, 0, -4])]
    tolerance = 1e-6 if dtype == np.float32 else 1e-14
    for grad, theta, step_size, prev in expected:
        step_with(opt, [p], [grad])
        state = opt.state[p]
        for actual, wanted in ((p.numpy(), theta), (state["step_size"], step_size), (state["prev"], prev)):
            np.testing.assert_allclose(actual, wanted, rtol=tolerance, atol=tolerance)
    assert state["step"] == 4 and set(opt.state_dict()["state"][0]) == {"step", "prev", "step_size"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_rprop_maximize_climbs(backend):
    p = Param(np.array([1.0, 1.0]))
    opt = optim.Rprop([p], lr=0.25, maximize=True, backend=backend)
    step_with(opt, [p], [[2.0, -3.0]])
    np.testing.assert_array_equal(p.numpy(), [1.25, 0.75])
    np.testing.assert_array_equal(opt.state[p]["prev"], [-2.0, 3.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_rprop_nan_gradient_as_torch(backend):
    """torch.sign(NaN) is 0: a NaN gradient leaves its element and step size where they were, and the
    NaN it leaves in prev makes the next step's sign 0 too (the values are torch 2.13's)."""
    p = Param(np.zeros(3))
    opt = optim.Rprop([p], backend=backend)
    step_with(opt, [p], [[1.0, np.nan, 1.0]])
    np.testing.assert_array_equal(p.numpy(), [-0.01, 0.0, -0.01])
    np.testing.assert_array_equal(opt.state[p]["prev"], [1.0, np.nan, 1.0])
    step_with(opt, [p], [[1.0, 1.0, -1.0]])
    np.testing.assert_allclose(p.numpy(), [-0.022, -0.01, -0.01], rtol=1e-15)
    np.testing.assert_allclose(opt.state[p]["step_size"], [0.012, 0.01, 0.005], rtol=1e-15)


# ---- Lion ------------------------------------------------------------------------------------------

def paper_lion(theta, m, grads, lr, beta1, beta2, wd):
    """Algorithm 2 of Chen et al. (2023), as printed: the independent reference."""
    for g in grads:
        c = beta1 * m + (1 - beta1) * g
        theta = theta - lr * (np.sign(c) + wd * theta)
        m = beta2 * m + (1 - beta2) * g
    return theta, m


@pytest.mark.parametrize("options", [dict(), dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.3)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_lion_follows_the_paper_over_many_steps(backend, options):
    params = make_params(np.float64, [1, 7, 1000])
    start = [p.numpy().copy() for p in params]
    opt = optim.Lion(params, **options, backend=backend)
    rng = np.random.default_rng(4)
    grads = [[rng.standard_normal(p.data.shape) for p in params] for _ in range(150)]
    for step in grads:
        step_with(opt, params, step)
    lr, (beta1, beta2), wd = opt.defaults["lr"], opt.defaults["betas"], opt.defaults["weight_decay"]
    for i, p in enumerate(params):
        theta, m = paper_lion(start[i], np.zeros_like(start[i]), [step[i] for step in grads], lr, beta1, beta2, wd)
        np.testing.assert_allclose(p.numpy(), theta, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(opt.state[p]["exp_avg"], m, rtol=1e-12, atol=1e-15)
        assert opt.state[p]["step"] == 150


@pytest.mark.parametrize("backend", BACKENDS)
def test_lion_first_two_steps_by_hand(backend):
    lr, beta1, beta2, wd = 0.5, 0.9, 0.99, 0.1
    p = Param(np.array([2.0, -1.0, 0.0, 4.0]))
    opt = optim.Lion([p], lr=lr, betas=(beta1, beta2), weight_decay=wd, backend=backend)
    # from m = 0, c = (1 − β1)·g: the first step is θ(1 − lr·λ) − lr·sign(g), and m = (1 − β2)·g
    step_with(opt, [p], [[3.0, -0.5, 0.0, -2.0]])
    np.testing.assert_allclose(p.numpy(), [2 * 0.95 - 0.5, -0.95 + 0.5, 0.0, 4 * 0.95 + 0.5], rtol=1e-15)
    np.testing.assert_allclose(opt.state[p]["exp_avg"], [0.03, -0.005, 0.0, -0.02], rtol=1e-12)
    # then c = β1·(1 − β2)·g1 + (1 − β1)·g2: g2 = (−0.2, 0.03, 0, 0.1) gives c = (0.007, −0.0015, 0, −0.008)
    before = p.numpy().copy()
    step_with(opt, [p], [[-0.2, 0.03, 0.0, 0.1]])
    np.testing.assert_allclose(p.numpy(), before * 0.95 - 0.5 * np.array([1, -1, 0, -1]), rtol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lion_sign_of_zero_and_nan(backend):
    p = Param(np.array([1.0, 2.0, 3.0]))
    opt = optim.Lion([p], lr=0.1, backend=backend)
    step_with(opt, [p], [[0.0, np.nan, -1.0]])  # sign(0) = 0: no move; a NaN propagates to θ and m
    np.testing.assert_array_equal(p.numpy(), [1.0, np.nan, 3.1])
    assert np.isnan(opt.state[p]["exp_avg"][1]) and opt.state[p]["exp_avg"][0] == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_lion_maximize_is_descent_on_the_negated_gradient(backend):
    up, down = Param(np.array([1.0, -1.0])), Param(np.array([1.0, -1.0]))
    opts = [optim.Lion([up], lr=0.1, maximize=True, backend=backend), optim.Lion([down], lr=0.1, backend=backend)]
    for g in ([1.0, -2.0], [0.5, 3.0], [-1.0, 1.0]):
        step_with(opts[0], [up], [g])
        step_with(opts[1], [down], [[-x for x in g]])
    assert up.numpy().tobytes() == down.numpy().tobytes()


def test_lion_defaults_and_validation_messages():
    p = Param(np.zeros(2))
    assert optim.Lion([p]).defaults == dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False)
    for options, message in [(dict(lr=-1), "Invalid learning rate: -1"),
                             (dict(betas=(1.0, 0.99)), "Invalid beta parameter at index 0: 1.0"),
                             (dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
                             (dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5")]:
        with pytest.raises(ValueError) as error:
            optim.Lion([p], **options)
        assert str(error.value) == message


# ---- state_dict ------------------------------------------------------------------------------------

CASES = [("ASGD", dict(lr=0.02, lambd=0.3, t0=2.0, weight_decay=0.1)),
         ("Rprop", dict(etas=(0.3, 1.5), step_sizes=(1e-3, 0.05))),
         ("Lion", dict(lr=0.01, weight_decay=0.1))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, options", CASES)
def test_resume_from_a_state_dict_is_exact(name, options, backend):
    cls = getattr(optim, name)
    straight, first = make_params(np.float32), make_params(np.float32)
    opts = [cls(straight, **options, backend=backend), cls(first, **options, backend=backend)]
    rngs = [np.random.default_rng(1), np.random.default_rng(1)]
    for _ in range(5):
        for params, opt, rng in zip((straight, first), opts, rngs):
            set_grads(params, rng)
            opt.step()
    saved = copy.deepcopy(opts[1].state_dict())
    resumed = [Param(p.numpy().copy()) for p in first]
    opt = cls(resumed, **options, backend=backend)
    opt.load_state_dict(saved)
    for _ in range(4):
        set_grads(straight, rngs[0])
        opts[0].step()
        set_grads(resumed, rngs[1])
        opt.step()
    for p, q in zip(straight, resumed):
        assert p.numpy().tobytes() == q.numpy().tobytes()
        assert opts[0].state[p]["step"] == opt.state[q]["step"] == 9


def test_asgd_load_state_dict_refuses_a_bad_eta_before_changing_anything():
    p = Param(np.ones(3))
    opt = optim.ASGD([p], t0=0.0)
    step_with(opt, [p], [[1.0, 2.0, 3.0]])
    saved = copy.deepcopy(opt.state_dict())
    step_with(opt, [p], [[1.0, 2.0, 3.0]])
    before = copy.deepcopy(opt.state_dict())
    for bad in (np.ones(3), "0.01"):
        spoiled = copy.deepcopy(saved)
        spoiled["state"][0]["eta"] = bad
        with pytest.raises(TypeError, match="state 'eta' of parameter 0 must be a number"):
            opt.load_state_dict(spoiled)
    after = opt.state_dict()
    assert after["state"][0]["step"] == 2 and after["state"][0]["eta"] == before["state"][0]["eta"]
    opt.load_state_dict(saved)
    assert opt.state[p]["step"] == 1 and opt.state[p]["eta"] == saved["state"][0]["eta"]


# ---- bad arrays: refused before anything is written ------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, options", CASES)
def test_a_bad_gradient_changes_nothing(name, options, backend):
    params = [Param(np.ones(3)), Param(np.full(4, 2.0))]
    opt = getattr(optim, name)(params, **options, backend=backend)
    step_with(opt, params, [[0.5, -1.0, 2.0], [1.0, 1.0, -1.0, 0.5]])
    before = copy.deepcopy(([p.numpy() for p in params], opt.state_dict()["state"]))
    for bad, error in ((np.ones(5), ValueError), (np.ones(4, np.float32), TypeError)):
        params[0].grad, params[1].grad = np.ones(3), np.ones(4)
        params[1].grad.data = bad  # the grad setter refuses it; the array can still change
        with pytest.raises(error, match=r"grads\[1\]"):
            opt.step()
    data, state = [p.numpy() for p in params], opt.state_dict()["state"]
    assert all(a.tobytes() == b.tobytes() for a, b in zip(data, before[0]))
    for i in (0, 1):
        assert state[i].keys() == before[1][i].keys()
        for key, value in state[i].items():
            assert np.asarray(value).tobytes() == np.asarray(before[1][i][key]).tobytes(), key


KERNEL_CALLS = [("asgd", 3, dict(eta=0.01, lambd=1e-4, mu=0.5, weight_decay=0.1, maximize=False)),
                ("rprop", 4, dict(etaminus=0.5, etaplus=1.2, step_size_min=1e-6, step_size_max=50.0, maximize=True)),
                ("lion", 3, dict(lr=0.1, beta1=0.9, beta2=0.99, weight_decay=0.1, maximize=False))]


@pytest.mark.parametrize("kernels", [_C, kernels_numpy], ids=BACKENDS)
@pytest.mark.parametrize("name, n_lists, scalars", KERNEL_CALLS)
def test_kernels_check_every_list_before_writing(kernels, name, n_lists, scalars):
    for spoiled_list in range(1, n_lists):
        lists = [[np.full(5, 0.5 + k), np.full(3, 0.25 + k)] for k in range(n_lists)]
        lists[spoiled_list][-1] = np.ones(4)  # the last tensor: the first would be written if checks came late
        before = [a.copy() for arrays in lists for a in arrays]
        with pytest.raises(ValueError, match=r"\[1\] has shape \(4,\) but params\[1\] has shape \(3,\)"):
            getattr(kernels, name)(*lists, **scalars)
        assert all(a.tobytes() == b.tobytes() for a, b in zip([a for arrays in lists for a in arrays], before))
