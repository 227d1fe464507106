"""ScheduleFreeAdamW and ScheduleFreeSGD: the reference implementation's trajectories (the
``schedulefree`` package, where installed), train()/eval() switching, closed forms, C++ against the
NumPy twin across sizes, threads and SIMD paths, checkpoints, and errors before any write."""
import copy

import numpy as np
import pytest

import minigrad
import minigrad.optim as optim
from minigrad import _C
from minigrad.optim import kernels_numpy

from optim_cases import SIZES, Param, _product, make_params, set_grads
from test_optim_kernels import restore_threads_and_simd  # noqa: F401  (a fixture)

ADAMW = (_product("ScheduleFreeAdamW", lr=[0.01], betas=[(0.9, 0.999), (0.3, 0.8)], weight_decay=[0, 0.1],
                  warmup_steps=[0, 5])
         + _product("ScheduleFreeAdamW", r=[1.0], weight_lr_power=[0.0, 1.5], eps=[1e-3]))
SGD = (_product("ScheduleFreeSGD", lr=[0.1], momentum=[0.9, 0.3], weight_decay=[0, 0.1], warmup_steps=[0, 5])
       + _product("ScheduleFreeSGD", lr=[0.05], r=[0.5], weight_lr_power=[0.0, 3.0]))
CASES = ADAMW + SGD
IDS = [name + "(" + ",".join(f"{k}={v}" for k, v in options.items()) + ")" for name, options in CASES]
REFERENCE = {"ScheduleFreeAdamW": "AdamWScheduleFree", "ScheduleFreeSGD": "SGDScheduleFree"}
PARITY_SIZES = [0, 1, 7, 33, 3001]  # the large size is for twin agreement and threads (below)
GROUP_ENTRIES = ("k", "weight_sum", "lr_max", "scheduled_lr", "train_mode")


def train(cls, options, params, steps, seed=1, eval_every=None, **extra):
    """``steps`` updates from gradients drawn from ``seed``, in train mode; with ``eval_every``,
    an eval()/train() round trip after every that many steps. Returns the optimizer."""
    opt = cls(params, **options, **extra)
    opt.train()
    rng = np.random.default_rng(seed)
    for step in range(steps):
        set_grads(params, rng)
        opt.step()
        if eval_every and step % eval_every == eval_every - 1:
            opt.eval()
            opt.train()
    return opt


# ---- the reference implementation ------------------------------------------------------------------

def reference_run(case, dtype, steps, backend, foreach, eval_every):
    """Ours and the reference over the same start and gradients; yields (ours, theirs, params, twins)
    after each step, with both optimizers in eval mode after every ``eval_every``-th step."""
    schedulefree, torch = pytest.importorskip("schedulefree"), pytest.importorskip("torch")
    name, options = case
    params = make_params(dtype, PARITY_SIZES)
    twins = [torch.tensor(p.numpy().copy(), requires_grad=True) for p in params]
    ours = getattr(optim, name)(params, **options, backend=backend)
    theirs = getattr(schedulefree, REFERENCE[name])(twins, **options, foreach=foreach)
    rng = np.random.default_rng(1)
    for step in range(steps):
        ours.train()
        theirs.train()
        for p, t in zip(params, twins):
            p.grad = rng.standard_normal(p.data.shape).astype(dtype)
            t.grad = torch.from_numpy(p.grad.numpy().copy())
        ours.step()
        theirs.step()
        if eval_every and step % eval_every == eval_every - 1:
            ours.eval()
            theirs.eval()
        yield ours, theirs, params, twins


def assert_same_as_reference(ours, theirs, params, twins, tolerance):
    for p, t in zip(params, twins):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=tolerance, atol=tolerance)
        assert set(ours.state[p]) == set(theirs.state[t])
        for key, value in theirs.state[t].items():
            np.testing.assert_allclose(ours.state[p][key], value.numpy(), rtol=tolerance, atol=tolerance, err_msg=key)
    for group, reference in zip(ours.param_groups, theirs.param_groups):
        for key in GROUP_ENTRIES:
            assert group[key] == pytest.approx(reference[key], rel=1e-15), key


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_same_trajectory_as_the_reference_float64(case, backend):
    for state in reference_run(case, np.float64, 40, backend, foreach=False, eval_every=None):
        pass
    assert_same_as_reference(*state, 1e-10)


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("case", CASES[::3], ids=IDS[::3])
def test_same_trajectory_as_the_reference_through_train_eval_switches(case, backend):
    """eval() every 7th step (compared there, in eval mode: the parameters hold x), then train() again;
    the reference's default foreach path."""
    for step, state in enumerate(reference_run(case, np.float64, 40, backend, foreach=True, eval_every=7)):
        if step % 7 == 6:
            assert not state[0].param_groups[0]["train_mode"]
            assert_same_as_reference(*state, 1e-10)
    assert_same_as_reference(*state, 1e-10)


@pytest.mark.parametrize("case", CASES[::2], ids=IDS[::2])
def test_same_trajectory_as_the_reference_float32(case):
    for state in reference_run(case, np.float32, 10, "cpp", foreach=False, eval_every=4):
        pass
    assert_same_as_reference(*state, 1e-4)


@pytest.mark.parametrize("name", ["ScheduleFreeAdamW", "ScheduleFreeSGD"])
def test_step_in_eval_mode_raises_as_the_reference(name):
    schedulefree, torch = pytest.importorskip("schedulefree"), pytest.importorskip("torch")
    twin = torch.zeros(3, requires_grad=True)
    twin.grad = torch.ones(3)
    reference = getattr(schedulefree, REFERENCE[name])([twin])
    with pytest.raises(Exception) as theirs:
        reference.step(lambda: pytest.fail("the reference calls no closure in eval mode"))
    p = Param(np.zeros(3), np.ones(3))
    opt = getattr(optim, name)([p])
    with pytest.raises(Exception) as ours:
        opt.step(lambda: pytest.fail("no closure in eval mode"))
    assert str(ours.value) == str(theirs.value) and isinstance(ours.value, type(theirs.value))
    assert not opt.state and opt.param_groups[0]["k"] == 0 and (p.numpy() == 0).all()


@pytest.mark.parametrize("name", ["ScheduleFreeAdamW", "ScheduleFreeSGD"])
def test_same_defaults_and_state_dict_layout_as_the_reference(name):
    schedulefree, torch = pytest.importorskip("schedulefree"), pytest.importorskip("torch")
    ours = getattr(optim, name)(make_params(np.float64, [3]))
    twin = torch.zeros(3, requires_grad=True)
    theirs = getattr(schedulefree, REFERENCE[name])([twin])
    assert ours.defaults == {k: v for k, v in theirs.defaults.items() if k != "foreach"}
    ours.train()
    theirs.train()
    ours.param_groups[0]["params"][0].grad = np.ones(3)
    twin.grad = torch.ones(3)
    ours.step()
    theirs.step()
    sd, reference = ours.state_dict(), theirs.state_dict()
    assert set(sd["state"][0]) == set(reference["state"][0])
    assert set(sd["param_groups"][0]) == set(reference["param_groups"][0]) - {"foreach"}


def test_same_validation_messages_as_the_reference():
    schedulefree, torch = pytest.importorskip("schedulefree"), pytest.importorskip("torch")
    for options in (dict(momentum=1.0), dict(lr=-1.0), dict(weight_decay=-0.5), dict(momentum=0)):
        with pytest.raises(ValueError) as theirs:
            schedulefree.SGDScheduleFree([torch.zeros(3, requires_grad=True)], **options)
        with pytest.raises(ValueError) as ours:
            optim.ScheduleFreeSGD(make_params(np.float64, [3]), **options)
        assert str(ours.value) == str(theirs.value)


def test_loads_the_reference_state_dict_converted_through_numpy():
    schedulefree, torch = pytest.importorskip("schedulefree"), pytest.importorskip("torch")
    case = ("ScheduleFreeAdamW", dict(lr=0.01, weight_decay=0.1, warmup_steps=3))
    runs = reference_run(case, np.float64, 6, "cpp", foreach=False, eval_every=None)
    for _ in range(5):
        ours, theirs, params, twins = next(runs)
    saved = theirs.state_dict()
    converted = {"state": {i: {k: v.numpy().copy() for k, v in s.items()} for i, s in saved["state"].items()},
                 "param_groups": saved["param_groups"]}
    resumed = [Param(t.detach().numpy().copy()) for t in twins]
    opt = optim.ScheduleFreeAdamW(resumed, **case[1])
    opt.load_state_dict(converted)
    ours, theirs, params, twins = next(runs)  # step 6 of both runs
    for p, q in zip(params, resumed):
        q.grad = p.grad.numpy().copy()  # the reference divides its gradients in place
    opt.step()
    for q, t in zip(resumed, twins):
        np.testing.assert_allclose(q.numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)


# ---- closed forms (no reference needed) ---------------------------------------------------------------

@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_sgd_by_hand(backend):
    p = Param(np.array([1.0]))
    opt = optim.ScheduleFreeSGD([p], lr=0.1, momentum=0.9, backend=backend)
    opt.train()
    p.grad = np.array([1.0])
    opt.step()
    # k=0: weight = 0.1², ckp1 = 1;  y = z + 0.1·(0.9·0 − 1)·1 = 0.9;  z = 1 − 0.1 = 0.9
    assert p.numpy()[0] == pytest.approx(0.9, rel=1e-15) and opt.state[p]["z"][0] == pytest.approx(0.9, rel=1e-15)
    p.grad = np.array([2.0])
    opt.step()
    # k=1: ckp1 = 1/2;  y = lerp(0.9, 0.9, ½) + 0.1·(0.45 − 1)·2 = 0.79;  z = 0.9 − 0.2 = 0.7
    assert p.numpy()[0] == pytest.approx(0.79, rel=1e-14) and opt.state[p]["z"][0] == pytest.approx(0.7, rel=1e-14)
    opt.eval()  # x is the mean of the z's: (0.9 + 0.7) / 2
    assert p.numpy()[0] == pytest.approx(0.8, rel=1e-14)
    opt.eval()  # already in eval mode: nothing moves
    assert p.numpy()[0] == pytest.approx(0.8, rel=1e-14)
    opt.train()
    assert p.numpy()[0] == pytest.approx(0.79, rel=1e-14)
    assert opt.param_groups[0]["k"] == 2 and opt.param_groups[0]["weight_sum"] == pytest.approx(0.02, rel=1e-15)


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_adamw_by_hand_with_warmup(backend):
    p = Param(np.array([1.0]))
    opt = optim.ScheduleFreeAdamW([p], lr=0.1, betas=(0.5, 0.75), eps=0.0, warmup_steps=2, backend=backend)
    opt.train()
    p.grad = np.array([2.0])
    opt.step()
    # lr = 0.05;  v = 0.25·4 = 1, bc2 = 0.25: d = 2/√4 = 1;  ckp1 = 1: y = 1 − 0.05 = 0.95;  z = 0.95
    assert p.numpy()[0] == pytest.approx(0.95, rel=1e-15) and opt.param_groups[0]["scheduled_lr"] == 0.05
    p.grad = np.array([1.0])
    opt.step()
    # lr = 0.1 = lr_max;  weights 0.05², 0.1²: ckp1 = 0.8;  v = 0.75 + 0.25 = 1, bc2 = 1 − 0.5625: d = √0.4375
    d = np.sqrt(0.4375)
    assert opt.state[p]["z"][0] == pytest.approx(0.95 - 0.1 * d, rel=1e-14)
    assert p.numpy()[0] == pytest.approx(0.95 + 0.1 * (0.5 * 0.2 - 1) * d, rel=1e-14)


def test_no_gradient_no_state_but_the_schedule_moves_on():
    a, b = Param(np.ones(2)), Param(np.ones(3))
    opt = optim.ScheduleFreeSGD([a, b], lr=0.1)
    opt.train()
    a.grad = np.ones(2)
    opt.step()
    assert b not in opt.state and opt.param_groups[0]["k"] == 1
    opt.eval()  # b has no z: it stays
    assert (b.numpy() == 1).all()


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_nonfinite_guard_leaves_the_schedule(backend):
    p = Param(np.ones(2))
    opt = optim.ScheduleFreeAdamW([p], skip_nonfinite=True, backend=backend)
    opt.train()
    p.grad = np.array([1.0, np.nan])
    opt.step()
    assert opt.skipped_steps == 1 and opt.param_groups[0]["k"] == 0 and opt.param_groups[0]["weight_sum"] == 0


# ---- C++ against the twin, threads, SIMD ---------------------------------------------------------------

def finals(case, dtype, backend, sizes=SIZES, steps=12):
    name, options = case
    params = make_params(dtype, sizes)
    opt = train(getattr(optim, name), options, params, steps, eval_every=5, backend=backend)
    opt.eval()
    return np.concatenate([p.numpy() for p in params] + [opt.state[p]["z"] for p in params])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cpp_matches_numpy_twin(case, dtype):
    cpp, twin = finals(case, dtype, "cpp"), finals(case, dtype, "numpy")
    assert cpp.tobytes() == twin.tobytes()


@pytest.mark.parametrize("case", CASES[::2], ids=IDS[::2])
def test_one_and_two_threads_and_every_simd_path_are_bitwise_identical(case, restore_threads_and_simd):
    minigrad.set_thread_policy("fixed")
    results = {}
    for level in minigrad.build_info()["simd_supported"]:
        minigrad.set_simd(level)
        for threads in (1, 2):
            minigrad.set_num_threads(threads)
            results[level, threads] = finals(case, np.float32, "cpp", sizes=[70_001, 7, 65_536], steps=4)
    reference = results.pop(("baseline", 1))
    for key, result in results.items():
        assert result.tobytes() == reference.tobytes(), key


# ---- checkpoints ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("save_in_eval_mode", [False, True])
@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("case", CASES[::4], ids=IDS[::4])
def test_state_dict_round_trip_mid_training_is_exact(case, backend, save_in_eval_mode):
    name, options = case
    cls = getattr(optim, name)
    straight = make_params(np.float32)
    train(cls, options, straight, 8, backend=backend)

    first = make_params(np.float32)
    opt = train(cls, options, first, 5, backend=backend)
    if save_in_eval_mode:  # the reference's advice: checkpoints hold x
        opt.eval()
    saved = copy.deepcopy(opt.state_dict())
    resumed = [Param(p.numpy().copy()) for p in first]
    del opt, first
    opt = cls(resumed, **options, backend=backend)
    opt.load_state_dict(saved)
    opt.train()
    rng = np.random.default_rng(1)
    for _ in range(5):  # the gradients of the first five steps, drawn again
        set_grads(resumed, rng)
    for _ in range(3):
        set_grads(resumed, rng)
        opt.step()
    for p, q in zip(straight, resumed):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=0, atol=1e-5 if save_in_eval_mode else 0)


# ---- errors before any write ----------------------------------------------------------------------------

KERNELS = [_C, kernels_numpy]
SCALARS = {
    "schedulefree_adamw": dict(lr=0.01, ckp1=0.5, y_step=-0.01, beta2=0.999, eps=1e-8, weight_decay=0.1,
                               bias_correction2=0.1),
    "schedulefree_sgd": dict(lr=0.1, ckp1=0.5, y_step=-0.1, weight_decay=0.1),
}


def arrays(n_lists, dtype=np.float32):
    rng = np.random.default_rng(0)
    return [[rng.random(5).astype(dtype) for _ in range(3)] for _ in range(n_lists)]


@pytest.mark.parametrize("kernels", KERNELS, ids=["cpp", "numpy"])
@pytest.mark.parametrize("name", sorted(SCALARS))
@pytest.mark.parametrize("spoil, error, message", [
    (lambda lists: lists[2].__setitem__(-1, lists[2][-1].astype(np.float64)), TypeError, r"zs\[2\] has dtype float64"),
    (lambda lists: lists[2].__setitem__(-1, np.zeros(6, np.float32)), ValueError, r"zs\[2\] has shape \(6,\)"),
    (lambda lists: lists[0].__setitem__(-1, np.frombuffer(lists[0][-1].tobytes(), np.float32)), ValueError,
     r"params\[2\] is read-only"),
    (lambda lists: lists[2].__setitem__(-1, lists[0][0]), ValueError, r"params\[0\] and zs\[2\] overlap"),
    (lambda lists: lists[1].pop(), ValueError, r"grads has 2 arrays but params has 3"),
])
def test_bad_arrays_raise_before_any_write(kernels, name, spoil, error, message):
    lists = arrays(4 if name == "schedulefree_adamw" else 3)
    spoil(lists)
    before = [np.array(a) for arrays_ in lists for a in arrays_]
    with pytest.raises(error, match=message):
        getattr(kernels, name)(*lists, **SCALARS[name])
    assert all(a.tobytes() == b.tobytes() for a, b in zip([a for arrays_ in lists for a in arrays_], before))


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_a_bad_gradient_changes_nothing_not_even_the_schedule(backend):
    params = [Param(np.ones(3, np.float32)), Param(np.ones(4, np.float32))]
    opt = optim.ScheduleFreeAdamW(params, backend=backend)
    opt.train()
    for p in params:
        p.grad = np.ones(p.data.shape, np.float32)
    opt.step()
    before = copy.deepcopy((opt.state_dict(), [p.numpy() for p in params]))
    params[1].grad.data = np.ones(4, np.float64)
    with pytest.raises(TypeError, match=r"grads\[1\] has dtype float64"):
        opt.step()
    after = (opt.state_dict(), [p.numpy() for p in params])
    assert after[0]["param_groups"] == before[0]["param_groups"]
    for i in (0, 1):
        assert all(after[0]["state"][i][k].tobytes() == before[0]["state"][i][k].tobytes() for k in ("z", "exp_avg_sq"))
        assert after[1][i].tobytes() == before[1][i].tobytes()
