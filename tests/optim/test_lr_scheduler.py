import copy
import math
import warnings

import numpy as np
import pytest

from minigrad.checkpoint import load, save
from minigrad.optim import lr_scheduler as sched


class Optimizer:
    """Stand-in: all a scheduler needs is torch-style ``param_groups``."""

    def __init__(self, *lrs, **hyper):
        self.param_groups = [{"lr": lr, **copy.deepcopy(hyper)} for lr in lrs]


def lrs_over(scheduler, steps):
    """The lr of every group before each of ``steps`` steps."""
    out = []
    for _ in range(steps):
        out.append([group["lr"] for group in scheduler.optimizer.param_groups])
        scheduler.step()
    return out


def test_step_lr():
    s = sched.StepLR(Optimizer(1.0, 0.5), step_size=3, gamma=0.5)
    assert [lr for lr, _ in lrs_over(s, 10)] == [1, 1, 1, .5, .5, .5, .25, .25, .25, .125]
    assert s.get_last_lr() == [2.0 ** -3 * 1.0, 2.0 ** -3 * 0.5]


def test_multi_step_lr_counts_repeated_milestones():
    s = sched.MultiStepLR(Optimizer(1.0), milestones=[5, 2, 5], gamma=0.5)
    assert [lr for lr, in lrs_over(s, 7)] == [1, 1, .5, .5, .5, .125, .125]


@pytest.mark.parametrize("make, closed_form", [
    (lambda o: sched.ExponentialLR(o, gamma=0.9), lambda base, t: base * 0.9 ** t),
    (lambda o: sched.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
     lambda base, t: 0.01 + (base - 0.01) * (1 + math.cos(math.pi * t / 10)) / 2),
    (lambda o: sched.LinearLR(o, start_factor=0.25, end_factor=0.75, total_iters=8),
     lambda base, t: base * (0.25 + 0.5 * min(t, 8) / 8)),
    (lambda o: sched.LambdaLR(o, lr_lambda=lambda t: 1 / (1 + t)), lambda base, t: base / (1 + t)),
])
def test_chainable_schedules_follow_their_closed_form(make, closed_form):
    s = make(Optimizer(0.1, 0.03))
    for t, lrs in enumerate(lrs_over(s, 35)):  # 3.5 cosine half-periods: down, up, down, up
        assert lrs == pytest.approx([closed_form(0.1, t), closed_form(0.03, t)], rel=1e-12, abs=1e-15)


def test_step_with_epoch_uses_the_closed_form():
    s = sched.StepLR(Optimizer(1.0), step_size=2, gamma=0.5)
    with pytest.warns(UserWarning, match="deprecated"):
        s.step(7)
    assert s.last_epoch == 7 and s.get_last_lr() == [0.125]


def test_schedulers_compose_multiplicatively():
    opt = Optimizer(1.0)
    a = sched.StepLR(opt, step_size=2, gamma=0.5)
    b = sched.ExponentialLR(opt, gamma=0.5)
    for _ in range(4):
        a.step()
        b.step()
    assert opt.param_groups[0]["lr"] == 0.5 ** 2 * 0.5 ** 4


def test_one_cycle_lr_and_momentum():
    opt = Optimizer(0.1, 0.2, momentum=0.9)
    s = sched.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=100)
    g = opt.param_groups[0]
    assert (g["lr"], g["momentum"]) == (pytest.approx(1.0 / 25, rel=1e-12), 0.95)
    for _ in range(29):  # the peak is at step pct_start * total_steps - 1
        s.step()
    assert s.get_last_lr() == pytest.approx([1.0, 2.0], rel=1e-12)
    assert g["momentum"] == pytest.approx(0.85, rel=1e-12)
    for _ in range(70):
        s.step()
    assert s.get_last_lr() == pytest.approx([1.0 / 25 / 1e4, 2.0 / 25 / 1e4], rel=1e-12)
    assert g["momentum"] == pytest.approx(0.95, rel=1e-12)
    s.step()  # torch allows one step past the end
    with pytest.raises(ValueError, match="Tried to step 101 times"):
        s.step()


def test_one_cycle_drives_beta1_and_checks_for_momentum():
    opt = Optimizer(0.1, betas=(0.9, 0.999))
    sched.OneCycleLR(opt, max_lr=0.5, epochs=2, steps_per_epoch=5, max_momentum=0.97)
    assert opt.param_groups[0]["betas"] == (0.97, 0.999)
    with pytest.raises(ValueError, match="momentum or beta1"):
        sched.OneCycleLR(Optimizer(0.1), max_lr=0.5, total_steps=10)
    sched.OneCycleLR(Optimizer(0.1), max_lr=0.5, total_steps=10, cycle_momentum=False)
    with pytest.raises(ValueError, match="total_steps OR"):
        sched.OneCycleLR(Optimizer(0.1), max_lr=0.5, cycle_momentum=False)
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        sched.OneCycleLR(Optimizer(0.1), max_lr=[0.5, 0.6], total_steps=10, cycle_momentum=False)


def test_reduce_lr_on_plateau(tmp_path):
    opt = Optimizer(1.0, 0.001)
    s = sched.ReduceLROnPlateau(opt, patience=2, cooldown=1, min_lr=[0, 0.0005])
    lrs = []
    for metric in [5, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3]:
        s.step(metric)
        lrs.append(s.get_last_lr()[0])
    # bad steps 1, 2, 3 > patience: reduce; one cooldown step, then 1, 2, 3 bad again
    assert lrs == pytest.approx([1, 1, 1, 1, .1, .1, .1, .1, .1, .1, .1, .01])
    assert opt.param_groups[1]["lr"] == 0.0005  # clamped at its min_lr
    save(s.state_dict(), tmp_path / "plateau")
    assert load(tmp_path / "plateau") == s.state_dict()
    s = sched.ReduceLROnPlateau(Optimizer(1.0), mode="max", threshold_mode="abs", threshold=0.5, patience=0)
    for metric in [1.0, 1.4, 2.0]:
        s.step(metric)
    assert s.get_last_lr() == [0.1]  # 1.4 is not better than 1.0 + 0.5; 2.0 is
    with pytest.raises(ValueError, match="Factor"):
        sched.ReduceLROnPlateau(Optimizer(1.0), factor=1.0)
    with pytest.raises(ValueError, match="mode"):
        sched.ReduceLROnPlateau(Optimizer(1.0), mode="up")


def test_resuming_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(Optimizer(0.1), step_size=2, last_epoch=4)


FACTORIES = {
    "StepLR": lambda o: sched.StepLR(o, step_size=4, gamma=0.7),
    "MultiStepLR": lambda o: sched.MultiStepLR(o, milestones=[3, 9, 9, 14], gamma=0.3),
    "ExponentialLR": lambda o: sched.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda o: sched.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    "LambdaLR": lambda o: sched.LambdaLR(o, lr_lambda=lambda t: 0.95 ** t),
    "LinearLR": lambda o: sched.LinearLR(o, start_factor=0.2, total_iters=10),
    "OneCycleLR": lambda o: sched.OneCycleLR(o, max_lr=[0.5, 1.0], total_steps=30, three_phase=True),
}


@pytest.mark.parametrize("name", FACTORIES)
def test_state_dict_round_trip_mid_schedule(name, tmp_path):
    """Save at step 13 (through a checkpoint file), resume in a new optimizer and scheduler: same lrs."""
    make = FACTORIES[name]
    reference = lrs_over(make(Optimizer(0.1, 0.05, momentum=0.9)), 30)

    opt = Optimizer(0.1, 0.05, momentum=0.9)
    s = make(opt)
    lrs_over(s, 13)
    save({"optimizer_groups": opt.param_groups, "scheduler": s.state_dict()}, tmp_path / "ckpt")

    resumed_opt = Optimizer(0.1, 0.05, momentum=0.9)
    resumed = make(resumed_opt)  # as in torch: build the scheduler, then load the optimizer's state
    state = load(tmp_path / "ckpt")
    resumed_opt.param_groups = state["optimizer_groups"]
    resumed.load_state_dict(state["scheduler"])
    assert lrs_over(resumed, 17) == reference[13:]


def test_lambda_lr_state_keeps_callable_objects_only():
    class Warmup:
        def __init__(self, steps):
            self.steps = steps

        def __call__(self, t):
            return min(1.0, (t + 1) / self.steps)

    s = sched.LambdaLR(Optimizer(1.0, 1.0), lr_lambda=[lambda t: 1.0, Warmup(4)])
    state = s.state_dict()
    assert state["lr_lambdas"] == [None, {"steps": 4}]
    assert "optimizer" not in state
    other = sched.LambdaLR(Optimizer(1.0, 1.0), lr_lambda=[lambda t: 1.0, Warmup(100)])
    other.load_state_dict(state)
    assert other.lr_lambdas[1].steps == 4
    assert callable(other.lr_lambdas[0])
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas"):
        sched.LambdaLR(Optimizer(1.0, 1.0), lr_lambda=[lambda t: 1.0])


def test_get_last_lr_is_a_copy():
    s = sched.StepLR(Optimizer(0.1), step_size=1)
    s.get_last_lr().append(5)
    assert s.get_last_lr() == [0.1]


# ---- parity with torch.optim.lr_scheduler ----

PARITY_CASES = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 8, 8, 20], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=1)),
    ("LambdaLR", dict(lr_lambda=lambda t: 1 / (1 + t))),
    ("LinearLR", dict(start_factor=0.25, end_factor=0.9, total_iters=12)),
    ("LinearLR", dict()),
    ("OneCycleLR", dict(max_lr=[0.5, 1.0], total_steps=31)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=31, three_phase=True, anneal_strategy="linear",
                        base_momentum=0.8, div_factor=10.0)),
]


def _torch_and_ours(torch, optimizer):
    """A torch optimizer with two param groups, and a stand-in holding copies of its groups."""
    groups = [{"params": [torch.nn.Parameter(torch.zeros(2))]},
              {"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 0.05}]
    if optimizer == "SGD":
        theirs = torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    else:
        theirs = torch.optim.Adam(groups, lr=0.1)
    ours = Optimizer()
    ours.param_groups = [{k: v for k, v in g.items() if k != "params"} for g in theirs.param_groups]
    return theirs, ours


def _assert_same_hyper(theirs, ours):
    for tg, og in zip(theirs.param_groups, ours.param_groups):
        for key in ("lr", "momentum", "betas"):
            if key in tg:
                assert tg[key] == og[key], (key, tg[key], og[key])


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("name, kwargs", PARITY_CASES)
def test_matches_torch_exactly(name, kwargs, optimizer):
    torch = pytest.importorskip("torch")
    theirs_opt, ours_opt = _torch_and_ours(torch, optimizer)
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **kwargs)
    ours = getattr(sched, name)(ours_opt, **kwargs)
    for step in range(30):
        _assert_same_hyper(theirs_opt, ours_opt)
        assert theirs.get_last_lr() == ours.get_last_lr()
        if step == 12:  # resume ours from its state dict, mid-schedule
            saved_groups, saved_state = copy.deepcopy(ours_opt.param_groups), ours.state_dict()
            ours_opt.param_groups = copy.deepcopy(saved_groups)
            ours = getattr(sched, name)(ours_opt, **kwargs)
            ours_opt.param_groups = saved_groups
            ours.load_state_dict(saved_state)
        theirs_opt.step()
        theirs.step()
        ours.step()


@pytest.mark.parametrize("name, kwargs", [c for c in PARITY_CASES if c[0] not in ("LambdaLR", "OneCycleLR")])
def test_closed_form_step_epoch_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    theirs_opt, ours_opt = _torch_and_ours(torch, "SGD")
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **kwargs)
    ours = getattr(sched, name)(ours_opt, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in [5, 3, 17, 8, 25]:
            theirs.step(epoch)
            ours.step(epoch)
            assert theirs.get_last_lr() == ours.get_last_lr()


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(mode="max", factor=0.5, patience=2, threshold=0.1, threshold_mode="abs", cooldown=2),
    dict(patience=0, min_lr=[0.01, 0.02], eps=1e-3, cooldown=1),
])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    theirs_opt, ours_opt = _torch_and_ours(torch, "SGD")
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **kwargs)
    ours = sched.ReduceLROnPlateau(ours_opt, **kwargs)
    metrics = [3.0, 2.0, 2.5, 2.0, 2.0, 1.99, 1.9999, 2.1, 3.0, 1.0] * 4 + [0.5] * 20
    for step, metric in enumerate(metrics):
        theirs.step(metric)
        ours.step(metric)
        _assert_same_hyper(theirs_opt, ours_opt)
        assert theirs.get_last_lr() == ours.get_last_lr()
        if step == 20:
            state = ours.state_dict()
            ours = sched.ReduceLROnPlateau(ours_opt, **kwargs)
            ours.load_state_dict(state)
    assert {k: v for k, v in theirs.state_dict().items()} == ours.state_dict()


def test_with_minigrad_optimizer_through_a_checkpoint(tmp_path):
    """OneCycleLR over minigrad's SGD; stop after 4 steps, resume from a checkpoint file: same run."""
    from minigrad.optim import SGD

    from minigrad import Parameter

    def train(opt, scheduler, steps):
        for _ in range(steps):
            for group in opt.param_groups:
                for p in group["params"]:
                    p.grad = np.sin(p.numpy()) + 0.1
            opt.step()
            scheduler.step()

    def make():
        opt = SGD([Parameter(np.linspace(-1, 1, 5))], lr=0.1, momentum=0.9, nesterov=True)
        return opt, sched.OneCycleLR(opt, max_lr=0.5, total_steps=10)

    ref_opt, ref_sched = make()
    train(ref_opt, ref_sched, 10)

    opt, scheduler = make()
    train(opt, scheduler, 4)
    save({"params": [p.numpy() for p in opt.param_groups[0]["params"]], "optimizer": opt.state_dict(),
          "scheduler": scheduler.state_dict()}, tmp_path / "ckpt")
    opt, scheduler = make()
    state = load(tmp_path / "ckpt")
    opt.param_groups[0]["params"][0].data[...] = state["params"][0]
    opt.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    train(opt, scheduler, 6)
    assert scheduler.get_last_lr() == ref_sched.get_last_lr()
    assert opt.param_groups[0]["momentum"] == ref_opt.param_groups[0]["momentum"]
    np.testing.assert_array_equal(opt.param_groups[0]["params"][0].numpy(), ref_opt.param_groups[0]["params"][0].numpy())
