"""Same trajectories as torch.optim (2.13, foreach=False), for every optimizer and option
combination, both backends, float64 and float32. Runs where torch is installed."""
import numpy as np
import pytest

import minigrad.optim as optim

from optim_cases import ALL, IDS, Param, make_params, torch_started

torch = pytest.importorskip("torch")

# torch fuses some multiply-adds (e.g. d + λθ, addcmul) and we never do: in float32 a step whose d
# nearly cancels differs in the last bits, which the next divisions amplify (after 40 float32 steps
# up to ~3e-3 relative on elements near zero), so float32 is compared over fewer steps.
TOLERANCE = {np.float64: 1e-10, np.float32: 1e-4}
STEPS = {np.float64: 40, np.float32: 10}
# Optimizers torch.optim has (Lion is tested against its paper's update in test_asgd_rprop_lion.py).
TORCH_CASES = [(case, name) for case, name in zip(ALL, IDS) if hasattr(torch.optim, case[0])]


def assert_same_as_torch(ours, theirs, params, twins, tolerance):
    """Parameters and every state entry torch keeps (arrays and numbers) agree."""
    for p, t in zip(params, twins):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=tolerance, atol=tolerance)
        for key, value in theirs.state[t].items():
            np.testing.assert_allclose(ours.state[p][key], value.numpy(), rtol=tolerance, atol=tolerance, err_msg=key)


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", [c for c, _ in TORCH_CASES], ids=[i for _, i in TORCH_CASES])
def test_same_trajectory_as_torch(case, dtype, backend):
    name, options = case
    params = make_params(dtype)
    twins = [torch.tensor(p.numpy().copy(), requires_grad=True) for p in params]
    ours = getattr(optim, name)(params, **options, backend=backend)
    theirs = getattr(torch.optim, name)(twins, **options, foreach=False)
    rng = np.random.default_rng(1)
    for _ in range(STEPS[dtype]):
        for p, t in zip(params, twins):
            p.grad = rng.standard_normal(p.data.shape).astype(dtype)
            t.grad = torch.from_numpy(p.grad.numpy().copy())
        ours.step()
        theirs.step()
    assert_same_as_torch(ours, theirs, params, twins, TOLERANCE[dtype])


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_centered_rmsprop_with_overflowing_squares_as_torch(backend, momentum):
    grads = np.array([1e21, 1e22, 3e38, 1e19, 1.0, -2e20], np.float32)
    p = Param(np.ones(6, np.float32))
    t = torch.ones(6, requires_grad=True)
    ours = optim.RMSprop([p], lr=0.01, centered=True, momentum=momentum, backend=backend)
    theirs = torch.optim.RMSprop([t], lr=0.01, centered=True, momentum=momentum, foreach=False)
    for step in range(4):
        p.grad = grads * np.float32((-1) ** step)
        t.grad = torch.from_numpy(p.grad.numpy().copy())
        ours.step()
        theirs.step()
    np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-6)
    assert np.all(np.isfinite(p.numpy()))


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW",
                                  "Adamax", "NAdam", "RAdam", "ASGD", "Rprop", "SparseAdam"])
def test_same_defaults_as_torch(name):
    ours = getattr(optim, name)(make_params(np.float32, [3])).defaults
    theirs = getattr(torch.optim, name)([torch.zeros(3, requires_grad=True)]).defaults
    assert {k: theirs[k] for k in ours} == ours


@pytest.mark.parametrize("name, options", [("SGD", dict(lr=-1)), ("Adam", dict(betas=(0.9, 1.0))),
                                           ("Adagrad", dict(initial_accumulator_value=-1)),
                                           ("Adadelta", dict(rho=2.0)), ("RMSprop", dict(alpha=-1)),
                                           ("SGD", dict(nesterov=True)),
                                           ("Adamax", dict(eps=-1)), ("NAdam", dict(momentum_decay=-0.1)),
                                           ("NAdam", dict(betas=(1.0, 0.999))), ("RAdam", dict(weight_decay=-1)),
                                           ("RAdam", dict(betas=(0.9, -0.1))),
                                           ("ASGD", dict(lr=-0.5)), ("ASGD", dict(weight_decay=-1)),
                                           ("Rprop", dict(lr=-1)), ("Rprop", dict(etas=(1.0, 1.2))),
                                           ("Rprop", dict(etas=(0.5, 1.0))), ("SparseAdam", dict(eps=0.0))])
def test_same_validation_messages_as_torch(name, options):
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(3, requires_grad=True)], **options)
    with pytest.raises(ValueError) as ours:
        getattr(optim, name)(make_params(np.float32, [3]), **options)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("name, options", [("Adam", dict(lr=0.01, amsgrad=True)),
                                           ("ASGD", dict(lr=0.02, lambd=0.3, t0=2.0, weight_decay=0.1)),
                                           ("Rprop", dict(etas=(0.3, 1.5), step_sizes=(1e-3, 0.05)))])
def test_loads_a_torch_state_dict(name, options):
    params = make_params(np.float64, [4, 3])
    twins = [torch.tensor(p.numpy().copy(), requires_grad=True) for p in params]
    theirs = getattr(torch.optim, name)(twins, **options, foreach=False)
    rng = np.random.default_rng(0)
    grads = [[rng.standard_normal(p.data.shape) for p in params] for _ in range(6)]
    converted = torch_started(theirs, twins, params, grads[:3])
    ours = getattr(optim, name)(params, **options)
    ours.load_state_dict(converted)
    for step in grads[3:]:
        for p, t, g in zip(params, twins, step):
            p.grad, t.grad = g.copy(), torch.from_numpy(g.copy())
        ours.step()
        theirs.step()
    assert_same_as_torch(ours, theirs, params, twins, 1e-12)


def test_asgd_follows_torch_when_lr_changes_and_params_skip_steps():
    params = make_params(np.float64, [5, 3])
    twins = [torch.tensor(p.numpy().copy(), requires_grad=True) for p in params]
    ours = optim.ASGD(params, lr=0.05, lambd=0.3, t0=2.0, weight_decay=0.1)
    theirs = torch.optim.ASGD(twins, lr=0.05, lambd=0.3, t0=2.0, weight_decay=0.1, foreach=False)
    rng = np.random.default_rng(2)
    for step in range(12):
        for opt in (ours, theirs):
            opt.param_groups[0]["lr"] = 0.05 / (1 + step)
        for i, (p, t) in enumerate(zip(params, twins)):
            skip = i == 1 and step in (2, 3, 7)
            p.grad = None if skip else rng.standard_normal(p.data.shape)
            t.grad = None if skip else torch.from_numpy(p.grad.numpy().copy())
        ours.step()
        theirs.step()
    assert_same_as_torch(ours, theirs, params, twins, 1e-12)
