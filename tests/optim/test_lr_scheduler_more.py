"""The schedulers of issue 14: ConstantLR, MultiplicativeLR, PolynomialLR, CosineAnnealingWarmRestarts,
CyclicLR, SequentialLR, ChainedScheduler. Closed forms written here, exact sequences against torch
over long runs (SGD's momentum and Adam's betas cycled too), resumes from state_dict, epochs passed
to step(), torch's messages for bad arguments, and an lr that is a Tensor."""
import copy
import math
import re
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.checkpoint import load, save
from minigrad.optim import lr_scheduler as sched
from test_lr_scheduler import Optimizer, lrs_over
from test_lr_scheduler import _torch_and_ours as torch_and_ours


class Decay:
    """A callable object: its attributes go into state_dict."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, epoch):
        return self.rate if epoch % 3 else 1.02


# name -> (scheduler over optimizer o, in library L = minigrad's or torch's lr_scheduler module); each runs
# STEPS steps in the parity test, past every phase change
CASES = {
    "ConstantLR": lambda L, o: L.ConstantLR(o),
    "ConstantLR(0.5, 40)": lambda L, o: L.ConstantLR(o, factor=0.5, total_iters=40),
    "ConstantLR(1.0)": lambda L, o: L.ConstantLR(o, factor=1.0, total_iters=3),
    "ConstantLR(0, 500)": lambda L, o: L.ConstantLR(o, factor=0.0, total_iters=500),
    "MultiplicativeLR": lambda L, o: L.MultiplicativeLR(o, lambda e: 0.97),
    "MultiplicativeLR(per group)": lambda L, o: L.MultiplicativeLR(o, [lambda e: 0.9 + 0.001 * e, Decay(0.95)]),
    "PolynomialLR": lambda L, o: L.PolynomialLR(o),
    "PolynomialLR(60, 0.5)": lambda L, o: L.PolynomialLR(o, total_iters=60, power=0.5),
    "PolynomialLR(45, 3)": lambda L, o: L.PolynomialLR(o, total_iters=45, power=3.0),
    "CosineAnnealingWarmRestarts(1)": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=1),
    "CosineAnnealingWarmRestarts(7)": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=7, eta_min=1e-3),
    "CosineAnnealingWarmRestarts(3, 2)": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
    "CosineAnnealingWarmRestarts(2, 3)": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3),
    "CyclicLR": lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5),
    "CyclicLR(triangular2)": lambda L, o: L.CyclicLR(o, base_lr=[0.01, 0.002], max_lr=[0.1, 0.3], step_size_up=4,
                                                     step_size_down=9, mode="triangular2"),
    "CyclicLR(exp_range)": lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=6, mode="exp_range",
                                                   gamma=0.98, base_momentum=[0.8, 0.85], max_momentum=0.95),
    "CyclicLR(scale_fn, cycle)": lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=3, step_size_down=2,
                                                         scale_fn=lambda x: 1 / x, scale_mode="cycle"),
    "CyclicLR(scale_fn, iterations)": lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="nonsense",
                                                              scale_fn=Decay(0.99), scale_mode="iterations"),
    "CyclicLR(no momentum)": lambda L, o: L.CyclicLR(o, 0.001, 0.1, step_size_up=1, step_size_down=1,
                                                     cycle_momentum=False),
    "SequentialLR": lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, 0.1, total_iters=10), L.ExponentialLR(o, 0.9)],
                                                milestones=[5]),
    "SequentialLR(3)": lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.2, total_iters=6), L.MultiplicativeLR(
        o, lambda e: 0.95), L.CosineAnnealingLR(o, T_max=8, eta_min=0.001)], milestones=[6, 20]),
    "SequentialLR(restarts)": lambda L, o: L.SequentialLR(o, [L.PolynomialLR(o, 10, 2.0), L.StepLR(o, 4, 0.5),
                                                              L.CosineAnnealingWarmRestarts(o, T_0=5)],
                                                          milestones=[12, 30]),
    "SequentialLR(chained)": lambda L, o: L.SequentialLR(o, [L.ChainedScheduler(  # (torch can't restart one)
        [L.ConstantLR(o, 0.5, total_iters=4), L.ExponentialLR(o, 0.97)]), L.ExponentialLR(o, 0.8)], milestones=[9]),
    "ChainedScheduler": lambda L, o: L.ChainedScheduler([L.ConstantLR(o, 0.1, total_iters=10),
                                                         L.ExponentialLR(o, 0.9)]),
    "ChainedScheduler(3, optimizer)": lambda L, o: L.ChainedScheduler(
        [L.LinearLR(o, 0.3, total_iters=15), L.StepLR(o, 7, 0.6), L.MultiplicativeLR(o, lambda e: 0.99)], o),
}
STEPS = 120


def assert_same_groups(theirs, ours):
    for tg, og in zip(theirs.param_groups, ours.param_groups):
        for key in ("lr", "momentum", "betas", "initial_lr"):
            if key in tg:
                assert tg[key] == og[key], (key, tg[key], og[key])


def resumed(make, opt, scheduler, tmp_path):
    """A new scheduler in place of ``scheduler``, built the way one resumes (build, then load the
    optimizer's groups and the scheduler's state from a checkpoint file)."""
    save({"groups": opt.param_groups, "scheduler": scheduler.state_dict()}, tmp_path / "ckpt")
    state = load(tmp_path / "ckpt")
    opt.param_groups = copy.deepcopy(state["groups"])
    new = make(sched, opt)
    opt.param_groups = state["groups"]
    new.load_state_dict(state["scheduler"])
    return new


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("name", CASES)
def test_matches_torch_exactly_and_resumes(name, optimizer, tmp_path):
    torch = pytest.importorskip("torch")
    make = CASES[name]
    theirs_opt, ours_opt = torch_and_ours(torch, optimizer)
    theirs, ours = make(torch.optim.lr_scheduler, theirs_opt), make(sched, ours_opt)
    for step in range(STEPS):
        assert_same_groups(theirs_opt, ours_opt)
        assert theirs.get_last_lr() == ours.get_last_lr(), step
        if step in (17, 61):
            ours = resumed(make, ours_opt, ours, tmp_path)
        theirs_opt.step()
        theirs.step()
        ours.step()


@pytest.mark.parametrize("name", CASES)
def test_state_dict_is_torchs(name):
    """The same keys as torch's state_dict (less the two flags torch keeps for its get_lr warnings), and
    the same values where they are numbers."""
    torch = pytest.importorskip("torch")
    theirs_opt, ours_opt = torch_and_ours(torch, "SGD")
    theirs, ours = CASES[name](torch.optim.lr_scheduler, theirs_opt), CASES[name](sched, ours_opt)
    for _ in range(9):
        theirs_opt.step()
        theirs.step()
        ours.step()

    def plain(state):
        state = {k: v for k, v in state.items() if k not in ("_is_initial", "_get_lr_called_within_step")}
        if "_schedulers" in state:
            state["_schedulers"] = [plain(s) for s in state["_schedulers"]]
        return state

    assert plain(theirs.state_dict()) == plain(ours.state_dict())


# ---- epochs passed to step() ----

@pytest.mark.parametrize("name, make", [
    ("ConstantLR", lambda L, o: L.ConstantLR(o, factor=0.25, total_iters=6)),
    ("PolynomialLR", lambda L, o: L.PolynomialLR(o, total_iters=12, power=1.5)),
    ("MultiplicativeLR", lambda L, o: L.MultiplicativeLR(o, lambda e: 1 - 0.01 * e)),  # no closed form: get_lr
    ("CyclicLR", lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="triangular2")),
    ("CosineAnnealingWarmRestarts", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=1, eta_min=0.01)),
    ("CosineAnnealingWarmRestarts(T_mult=2)", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2)),
])
def test_step_with_epoch_matches_torch(name, make):
    torch = pytest.importorskip("torch")
    theirs_opt, ours_opt = torch_and_ours(torch, "SGD")
    theirs, ours = make(torch.optim.lr_scheduler, theirs_opt), make(sched, ours_opt)
    epochs = [5, 3, 17, 8, 25, 0, 6, 12, 11, 40, 1, 2, 93]
    if name.startswith("Cosine"):
        epochs += [0.5, 2.25, 7.75, 20.1, 44.9]  # fractional epochs: batch / batches
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in epochs:
            theirs.step(epoch)
            ours.step(epoch)
            assert theirs.get_last_lr() == ours.get_last_lr(), epoch
            assert theirs.last_epoch == ours.last_epoch
            assert_same_groups(theirs_opt, ours_opt)
            theirs.step()  # and on from there
            ours.step()
            assert theirs.get_last_lr() == ours.get_last_lr(), epoch


def test_step_with_epoch_warns_except_for_warm_restarts():
    with pytest.warns(UserWarning, match="deprecated"):
        sched.PolynomialLR(Optimizer(1.0), total_iters=4).step(2)
    s = sched.CosineAnnealingWarmRestarts(Optimizer(1.0), T_0=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.step(2.5)  # its documented way to step within an epoch
    assert s.T_cur == 2.5 and s.last_epoch == 2
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        s.step(-1)


# ---- closed forms, written here ----

def test_constant_lr_closed_form():
    lrs = lrs_over(sched.ConstantLR(Optimizer(0.3, 0.1), factor=0.5, total_iters=4), 10)
    assert lrs == [[0.15, 0.05]] * 4 + [[0.3, 0.1]] * 6


def test_polynomial_lr_closed_form():
    for t, (lr,) in enumerate(lrs_over(sched.PolynomialLR(Optimizer(0.2), total_iters=10, power=2.0), 15)):
        assert lr == pytest.approx(0.2 * (1 - min(t, 10) / 10) ** 2, rel=1e-12, abs=1e-18)


def test_multiplicative_lr_is_a_running_product():
    lrs = lrs_over(sched.MultiplicativeLR(Optimizer(1.0), lambda e: 1 / (e + 1)), 8)
    assert [lr for lr, in lrs] == pytest.approx([1 / math.factorial(t + 1) for t in range(8)])


def test_warm_restarts_closed_form():
    """Periods 3, 6, 12, ...: T_cur counts from each restart."""
    eta_min, base = 0.01, 0.5
    expected, start, period = [], 0, 3
    while len(expected) < 40:
        expected += [eta_min + (base - eta_min) * (1 + math.cos(math.pi * k / period)) / 2 for k in range(period)]
        start, period = start + period, period * 2
    lrs = lrs_over(sched.CosineAnnealingWarmRestarts(Optimizer(base), T_0=3, T_mult=2, eta_min=eta_min), 40)
    assert [lr for lr, in lrs] == pytest.approx(expected[:40], rel=1e-12)


def test_cyclic_lr_triangle_waves():
    """triangular: up 4, down 6, repeated; triangular2 halves each cycle's height; exp_range scales by gamma^t;
    the momentum mirrors the lr between max and base."""
    def wave(t):  # 0 at the cycle's start, 1 at its peak
        x = t % 10
        return x / 4 if x <= 4 else (10 - x) / 6

    opt = Optimizer(1.0, momentum=0.0)
    s = sched.CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=4, step_size_down=6, base_momentum=0.8,
                       max_momentum=0.9)
    for t in range(35):
        assert s.get_last_lr()[0] == pytest.approx(0.1 + 0.4 * wave(t), rel=1e-12)
        assert opt.param_groups[0]["momentum"] == pytest.approx(0.9 - 0.1 * wave(t), rel=1e-12)
        s.step()
    s = sched.CyclicLR(Optimizer(1.0), 0.1, 0.5, step_size_up=4, step_size_down=6, mode="triangular2",
                       cycle_momentum=False)
    for t, (lr,) in enumerate(lrs_over(s, 35)):
        assert lr == pytest.approx(0.1 + 0.4 * wave(t) / 2 ** (t // 10), rel=1e-12)
    s = sched.CyclicLR(Optimizer(1.0), 0.1, 0.5, step_size_up=4, step_size_down=6, mode="exp_range", gamma=0.9,
                       cycle_momentum=False)
    for t, (lr,) in enumerate(lrs_over(s, 35)):
        assert lr == pytest.approx(0.1 + 0.4 * wave(t) * 0.9 ** t, rel=1e-12)


def test_cyclic_lr_cycles_beta1_and_replaces_the_lr():
    opt = Optimizer(0.7, betas=(0.9, 0.999))
    s = sched.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2)
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["betas"] == (0.9, 0.999)
    s.step()
    s.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1) and opt.param_groups[0]["betas"] == (
        pytest.approx(0.8), 0.999)
    assert s.base_lrs == [0.01] and opt.param_groups[0]["initial_lr"] == 0.01


def test_sequential_lr_closed_form():
    """Warm-up at a constant 0.1·lr for 5 steps, then exponential decay restarted at the milestone."""
    s = sched.SequentialLR(opt := Optimizer(1.0), [sched.ConstantLR(opt, 0.1, total_iters=5),
                                                   sched.ExponentialLR(opt, 0.5)], milestones=[5])
    assert [lr for lr, in lrs_over(s, 9)] == pytest.approx([0.1] * 5 + [0.5 ** k for k in range(4)], rel=1e-15)


def test_chained_scheduler_multiplies_factors():
    opt = Optimizer(1.0)
    s = sched.ChainedScheduler([sched.ConstantLR(opt, 0.1, total_iters=3), sched.ExponentialLR(opt, 0.5)])
    assert [lr for lr, in lrs_over(s, 6)] == pytest.approx([0.1 * 0.5 ** t if t < 3 else 0.5 ** t for t in range(6)],
                                                           rel=1e-12)
    assert s.get_last_lr() == [opt.param_groups[0]["lr"]]


def test_state_dicts_drop_functions_and_keep_callable_objects():
    opt = Optimizer(1.0, 1.0, momentum=0.9)
    s = sched.MultiplicativeLR(opt, [lambda e: 0.9, Decay(0.8)])
    assert s.state_dict()["lr_lambdas"] == [None, {"rate": 0.8}]
    s.lr_lambdas[1].rate = 0.5
    other = sched.MultiplicativeLR(Optimizer(1.0, 1.0), [lambda e: 0.9, Decay(0.7)])
    other.load_state_dict(s.state_dict())
    assert other.lr_lambdas[1].rate == 0.5
    c = sched.CyclicLR(opt, 0.1, 1.0, scale_fn=Decay(0.9), scale_mode="iterations")
    state = c.state_dict()
    assert state["_scale_fn_custom"] == {"rate": 0.9} and "optimizer" not in state
    c = sched.CyclicLR(opt, 0.1, 1.0, mode="exp_range")
    assert c.state_dict()["_scale_fn_custom"] is None and c.scale_mode == "iterations"
    nested = sched.SequentialLR(opt, [sched.ConstantLR(opt), sched.MultiplicativeLR(opt, Decay(0.3))], [2])
    assert nested.state_dict()["_schedulers"][1]["lr_lambdas"] == [{"rate": 0.3}] * 2


# ---- bad arguments: torch's exceptions and messages ----

BAD = [
    ("ConstantLR(factor>1)", lambda L, o: L.ConstantLR(o, factor=1.5)),
    ("ConstantLR(factor<0)", lambda L, o: L.ConstantLR(o, factor=-0.1)),
    ("MultiplicativeLR(not callable)", lambda L, o: L.MultiplicativeLR(o, [lambda e: 1.0, 0.5])),
    ("MultiplicativeLR(count)", lambda L, o: L.MultiplicativeLR(o, [lambda e: 1.0])),
    ("CosineAnnealingWarmRestarts(T_0=0)", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=0)),
    ("CosineAnnealingWarmRestarts(T_0=2.5)", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2.5)),
    ("CosineAnnealingWarmRestarts(T_mult=0)", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0)),
    ("CosineAnnealingWarmRestarts(T_mult=1.5)", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5)),
    ("CosineAnnealingWarmRestarts(eta_min)", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="0")),
    ("CyclicLR(mode)", lambda L, o: L.CyclicLR(o, 0.1, 1.0, mode="sawtooth")),
    ("CyclicLR(base_lr count)", lambda L, o: L.CyclicLR(o, [0.1], 1.0)),
    ("CyclicLR(max_lr count)", lambda L, o: L.CyclicLR(o, 0.1, [1.0, 2.0, 3.0])),
    ("CyclicLR(base_momentum count)", lambda L, o: L.CyclicLR(o, 0.1, 1.0, base_momentum=[0.8])),
    ("SequentialLR(none)", lambda L, o: L.SequentialLR(o, [], milestones=[])),
    ("SequentialLR(milestones)", lambda L, o: L.SequentialLR(o, [L.ConstantLR(o), L.ExponentialLR(o, 0.9)], [])),
    ("SequentialLR(plateau)", lambda L, o: L.SequentialLR(o, [L.ConstantLR(o), L.ReduceLROnPlateau(o)], [3])),
    ("SequentialLR(not a scheduler)", lambda L, o: L.SequentialLR(o, [L.ConstantLR(o), 3], [3])),
    ("ChainedScheduler(none)", lambda L, o: L.ChainedScheduler([])),
    ("ChainedScheduler(plateau)", lambda L, o: L.ChainedScheduler([L.ConstantLR(o), L.ReduceLROnPlateau(o)])),
    ("ChainedScheduler(not a scheduler)", lambda L, o: L.ChainedScheduler([L.ConstantLR(o), "x"])),
]


@pytest.mark.parametrize("make", [pytest.param(make, id=name) for name, make in BAD])
def test_bad_arguments_raise_torchs_errors(make):
    torch = pytest.importorskip("torch")
    theirs_opt, ours_opt = torch_and_ours(torch, "SGD")
    with pytest.raises(Exception) as theirs:
        make(torch.optim.lr_scheduler, theirs_opt)
    with pytest.raises(type(theirs.value), match="^" + re.escape(str(theirs.value)) + "$"):
        make(sched, ours_opt)


def test_schedulers_of_another_optimizer_are_refused():
    opt = Optimizer(0.1)
    mine, other = sched.ConstantLR(opt), sched.ExponentialLR(Optimizer(0.2), 0.9)
    for make in (lambda: sched.SequentialLR(opt, [mine, other], [2]), lambda: sched.ChainedScheduler([mine, other])):
        with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer, but got "
                                             "scheduler ExponentialLR at index 1 has .*, which is different from "
                                             "Optimizer.$"):
            make()


def test_cycle_momentum_needs_momentum_or_betas():
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1 with `cycle_momentum` option"):
        sched.CyclicLR(Optimizer(0.1), 0.01, 0.1)
    sched.CyclicLR(Optimizer(0.1), 0.01, 0.1, cycle_momentum=False)


def test_constant_lr_with_factor_zero_divides_by_zero_at_the_end_as_torchs():
    s = sched.ConstantLR(Optimizer(0.1), factor=0.0, total_iters=2)
    s.step()
    with pytest.raises(ZeroDivisionError):
        s.step()


# ---- a Tensor lr is written in place ----

TENSOR_LR_CASES = ["ConstantLR(0.5, 40)", "MultiplicativeLR", "PolynomialLR(45, 3)",
                   "CosineAnnealingWarmRestarts(3, 2)", "CyclicLR(scale_fn, cycle)", "SequentialLR(3)",
                   "ChainedScheduler"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", TENSOR_LR_CASES + ["StepLR", "CosineAnnealingLR", "OneCycleLR", "ReduceLROnPlateau"])
def test_tensor_lr_matches_torch_and_stays_the_same_tensor(name, dtype):
    torch = pytest.importorskip("torch")
    make = CASES.get(name) or {
        "StepLR": lambda L, o: L.StepLR(o, step_size=3, gamma=0.7),
        "CosineAnnealingLR": lambda L, o: L.CosineAnnealingLR(o, T_max=9, eta_min=0.001),
        "OneCycleLR": lambda L, o: L.OneCycleLR(o, max_lr=0.5, total_steps=60),
        "ReduceLROnPlateau": lambda L, o: L.ReduceLROnPlateau(o, patience=1),
    }[name]
    theirs_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=torch.tensor(0.1, dtype=getattr(
        torch, dtype)), momentum=0.9, foreach=False)
    ours_opt = Optimizer(mg.tensor(0.1, dtype=getattr(mg, dtype)), momentum=0.9)
    lr = ours_opt.param_groups[0]["lr"]
    theirs, ours = make(torch.optim.lr_scheduler, theirs_opt), make(sched, ours_opt)
    for step in range(50):
        got = ours.get_last_lr()
        assert [float(v) for v in theirs.get_last_lr()] == [float(v) for v in got], step
        assert ours_opt.param_groups[0]["lr"] is lr and lr.dtype == getattr(mg, dtype)
        assert all(v is not lr for v in got)  # copies: changing them changes nothing
        theirs_opt.step()
        args = (1.0,) if name == "ReduceLROnPlateau" else ()  # a metric that stops improving
        theirs.step(*args)
        ours.step(*args)
    assert float(lr) == float(theirs_opt.param_groups[0]["lr"])


# ---- with minigrad's optimizers ----

@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_cyclic_lr_drives_a_minigrad_optimizer_as_torchs(optimizer):
    """Parameters after 40 steps of SGD (momentum cycled) or Adam (beta1 cycled) under CyclicLR: torch's (float64)."""
    torch = pytest.importorskip("torch")
    x0 = np.linspace(-1, 1, 7)

    def run(lib, to_numpy):
        p = lib.nn.Parameter(lib.tensor(x0.copy()))
        kwargs = dict(lr=0.1, momentum=0.9) if optimizer == "SGD" else dict(lr=0.1)
        opt = getattr(lib.optim, optimizer)([p], **kwargs)
        s = lib.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.2, step_size_up=3, mode="triangular2")
        for _ in range(40):
            opt.zero_grad()
            ((p * p - 0.5) ** 2).sum().backward()
            opt.step()
            s.step()
        return to_numpy(p)

    ours = run(mg, lambda p: p.numpy())
    theirs = run(torch, lambda p: p.detach().numpy())
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
