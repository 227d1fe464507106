"""The C++ kernels against their NumPy twins, across threads and SIMD paths, and their argument
checks (which must fire before anything is written)."""
import inspect
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import minigrad
import minigrad.optim as optim
from minigrad import _C
from minigrad.optim import kernels_numpy

from optim_cases import ALL, IDS, Param, make_params, train

TOLERANCE = {np.float32: 1e-6, np.float64: 1e-12}


def trajectories(name, options, dtype, steps=12, **extra):
    """Final parameters after `steps` updates on the cpp and numpy backends, from the same start."""
    finals = []
    for backend in ("cpp", "numpy"):
        params = make_params(dtype)
        train(getattr(optim, name), options, params, steps, backend=backend, **extra)
        finals.append([p.numpy() for p in params])
    return finals


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_cpp_matches_numpy_twin(case, dtype):
    cpp, numpy = trajectories(*case, dtype)
    for a, b in zip(cpp, numpy):
        np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def run_case(case, dtype=np.float32, steps=3):
    name, options = case
    params = make_params(dtype)
    train(getattr(optim, name), options, params, steps)
    return np.concatenate([p.numpy() for p in params])


@pytest.fixture
def restore_threads_and_simd():
    threads, simd, policy = minigrad.get_num_threads(), minigrad.build_info()["simd"], minigrad.get_thread_policy()
    yield
    minigrad.set_num_threads(threads)
    minigrad.set_simd(simd)
    minigrad.set_thread_policy(policy)


@pytest.mark.parametrize("policy", ["fixed", "adaptive"])
@pytest.mark.parametrize("case", ALL[::3], ids=IDS[::3])
def test_one_and_two_threads_are_bitwise_identical(case, policy, restore_threads_and_simd):
    minigrad.set_num_threads(1)
    one = run_case(case)
    minigrad.set_num_threads(2)
    minigrad.set_thread_policy(policy)  # fixed: every call above the grain on the team
    two = run_case(case)
    assert one.tobytes() == two.tobytes()


def test_thread_policy_and_count_may_change_between_any_two_steps(restore_threads_and_simd):
    """Each step runs alone or on the team as the policy decides; a run that switches at every
    step gives the bits of a run on one thread."""
    settings = [(2, "fixed"), (1, "adaptive"), (2, "adaptive"), (2, "adaptive"), (2, "fixed"), (1, "fixed")]
    results = []
    for switching in (False, True):
        params = make_params(np.float32, [70_001, 3, 65_536])
        opt = optim.Adam(params, lr=0.01, amsgrad=True)
        rng = np.random.default_rng(1)
        for step in range(30):
            threads, policy = settings[step % len(settings)] if switching else (1, "fixed")
            minigrad.set_num_threads(threads)
            minigrad.set_thread_policy(policy)
            for p in params:
                p.grad = rng.standard_normal(p.data.shape).astype(np.float32)
            opt.step()
        results.append(np.concatenate([p.numpy() for p in params] + [opt.state[p]["max_exp_avg_sq"] for p in params]))
    assert results[0].tobytes() == results[1].tobytes()


def test_python_threads_share_the_kernels_and_their_thread_policy(restore_threads_and_simd):
    """Python threads run the kernels at once (the GIL is released) and race on the policy's
    timings; each thread's result is still the serial one."""
    def train_adam(seed, out):
        params = make_params(np.float64, [40_000, 90_001], seed=seed)
        train(optim.Adam, dict(lr=0.01, weight_decay=0.1), params, 25, seed=seed)
        out[seed] = np.concatenate([p.numpy() for p in params])

    minigrad.set_num_threads(1)
    serial = {}
    for seed in range(4):
        train_adam(seed, serial)
    minigrad.set_num_threads(2)
    minigrad.set_thread_policy("adaptive")
    concurrent = {}
    threads = [threading.Thread(target=train_adam, args=(seed, concurrent)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in range(4):
        assert concurrent[seed].tobytes() == serial[seed].tobytes()


def test_thread_policy_setting(restore_threads_and_simd):
    assert minigrad.get_thread_policy() == minigrad.build_info()["thread_policy"] == "adaptive"
    minigrad.set_thread_policy("fixed")
    assert minigrad.get_thread_policy() == minigrad.build_info()["thread_policy"] == "fixed"
    with pytest.raises(ValueError, match="thread policy must be 'adaptive' or 'fixed', got 'static'"):
        minigrad.set_thread_policy("static")
    with pytest.raises(TypeError):
        minigrad.set_thread_policy(1)
    assert minigrad.get_thread_policy() == "fixed"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ALL[::2], ids=IDS[::2])
def test_every_simd_path_is_bitwise_identical(case, dtype, restore_threads_and_simd):
    results = {}
    for level in minigrad.build_info()["simd_supported"]:
        minigrad.set_simd(level)
        results[level] = run_case(case, dtype)
    reference = results.pop("baseline")
    for level, result in results.items():
        assert result.tobytes() == reference.tobytes(), level


def test_every_simd_path_handles_overflowing_squares_alike(restore_threads_and_simd):
    grads = np.array([1e21, -3e38, 1e19, np.inf, 0.0, 2e20, np.nan, 5.0] * 4, np.float32)
    results = {}
    for level in minigrad.build_info()["simd_supported"]:
        minigrad.set_simd(level)
        p = Param(np.ones_like(grads))
        opt = optim.RMSprop([p], lr=0.01, centered=True)
        for scale in (1, 1, -1):
            p.grad = grads * np.float32(scale)
            opt.step()
        results[level] = p.numpy()
    twin = Param(np.ones_like(grads))
    opt = optim.RMSprop([twin], lr=0.01, centered=True, backend="numpy")
    for scale in (1, 1, -1):
        twin.grad = grads * np.float32(scale)
        opt.step()
    for level, result in results.items():
        assert result.tobytes() == twin.numpy().tobytes(), level


def test_simd_is_chosen_by_environment_variable(tmp_path):
    def simd_with(value):  # run outside the source tree, so the installed package is imported
        env = {**os.environ, "MINIGRAD_SIMD": value}
        return subprocess.run([sys.executable, "-c", "import minigrad; print(minigrad.build_info()['simd'])"],
                              env=env, capture_output=True, text=True, cwd=tmp_path)

    assert simd_with("baseline").stdout.strip() == "baseline"
    bad = simd_with("sse9")
    assert bad.returncode != 0 and "MINIGRAD_SIMD" in bad.stderr and "unknown SIMD level 'sse9'" in bad.stderr


def test_set_simd_rejects_unknown_level():
    with pytest.raises(ValueError, match="unknown SIMD level 'mmx'"):
        minigrad.set_simd("mmx")


def test_build_info_and_threads(restore_threads_and_simd):
    info = minigrad.build_info()
    assert info["version"] == minigrad.__version__
    assert info["simd"] in info["simd_supported"] and set(info["simd_supported"]) <= set(info["simd_compiled"])
    assert info["openmp"] in (True, False) and info["compiler"]
    minigrad.set_num_threads(1)
    assert minigrad.get_num_threads() == 1 and minigrad.build_info()["num_threads"] == 1
    with pytest.raises(ValueError, match="num_threads must be >= 1"):
        minigrad.set_num_threads(0)


def test_build_info_command_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "minigrad", "info"], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout
    assert "openmp" in out and "simd" in out


# ---- argument checks: both backends, every error before any write --------------------------------

KERNELS = [_C, kernels_numpy]
ADAM_SCALARS = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, step_size=1e-2,
                    bias_correction2_sqrt=0.03, amsgrad=False, maximize=False, decoupled_weight_decay=False)
# Valid hyperparameters for every kernel, in signature order (the keyword-only part of each call).
SCALARS = {
    "sgd": dict(lr=0.1, weight_decay=0.0, momentum=0.9, dampening=0.0, nesterov=False, maximize=False,
                first_step=False),
    "adagrad": dict(clr=0.1, weight_decay=0.0, eps=1e-10, maximize=False),
    "adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False),
    "rmsprop": dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=True, maximize=False),
    "adam": ADAM_SCALARS,
    "axpy": dict(alpha=0.5),
    "adamax": dict(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, step_size=1e-2, maximize=False),
    "nadam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, bias_correction2=1e-3,
                  grad_step_size=1e-2, exp_avg_step_size=1e-2, maximize=False, decoupled_weight_decay=False),
    "radam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, bias_correction1=0.1,
                  bias_correction2_sqrt=0.03, rect=0.5, rectified=True, maximize=False, decoupled_weight_decay=False),
    "asgd": dict(eta=0.01, lambd=1e-4, mu=0.5, weight_decay=0.0, maximize=False),
    "rprop": dict(etaminus=0.5, etaplus=1.2, step_size_min=1e-6, step_size_max=50.0, maximize=False),
    "lion": dict(lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0, maximize=False),
    "sparse_adam": dict(beta1=0.9, beta2=0.999, eps=1e-8, step_size=1e-2, maximize=False),
    "adafactor": dict(lr=0.01, weight_decay=0.0, eps1=1e-30, eps2=1e-3, d=1.0, rho=0.01, one_minus_beta2=1.0,
                      maximize=False),
    "muon_momentum": dict(momentum=0.95, nesterov=True),
    "muon_update": dict(lr=1e-3, weight_decay=0.1, adjusted_lr=1e-3),
    "schedulefree_adamw": dict(lr=0.01, ckp1=0.5, y_step=-0.01, beta2=0.999, eps=1e-8, weight_decay=0.1,
                               bias_correction2=0.1),
    "schedulefree_sgd": dict(lr=0.1, ckp1=0.5, y_step=-0.1, weight_decay=0.1),
    "lerp": dict(weight=0.25),
    "running_mean": dict(count=3.0),
}


def adam_arrays(n_tensors=3, size=5, dtype=np.float32):
    """params, grads, exp_avgs, exp_avg_sqs (non-negative, as a second moment is)."""
    rng = np.random.default_rng(0)
    return [[rng.random(size).astype(dtype) for _ in range(n_tensors)] for _ in range(4)]


def overlapping_pair():
    shared = np.zeros(8, np.float32)
    return shared[:5], shared[3:]


def snapshot(lists):
    return [np.array(a) for arrays in lists for a in arrays]


def assert_unchanged(lists, before):
    for a, b in zip([a for arrays in lists for a in arrays], before):
        assert np.asarray(a).tobytes() == b.tobytes()


def spoil(index, position, value):
    """A mutation of the argument lists: list `index`, tensor `position` (the last, so that earlier
    tensors would already have been updated if checks came late) replaced by value(old)."""
    def apply(lists):
        lists[index][position] = value(lists[index][position])
        return lists
    return apply


BAD_INPUTS = [
    (spoil(0, -1, lambda a: a.astype(np.int64)), TypeError, r"params\[2\] has dtype int64"),
    (spoil(0, -1, lambda a: a.astype(np.float64)), TypeError, r"params\[2\] has dtype float64 but params\[0\] has float32"),
    (spoil(2, -1, lambda a: a.astype(np.float64)), TypeError, r"exp_avgs\[2\] has dtype float64 but params\[2\] has float32"),
    (spoil(1, -1, lambda a: a.astype(">f4")), TypeError, r"grads\[2\] has dtype >f4"),
    (spoil(0, -1, lambda a: np.zeros(10, np.float32)[::2]), ValueError, r"params\[2\] is not C-contiguous"),
    (spoil(1, -1, lambda a: np.zeros(6, np.float32)), ValueError, r"grads\[2\] has shape \(6,\) but params\[2\] has shape \(5,\)"),
    (spoil(2, -1, lambda a: np.zeros((5, 1), np.float32)), ValueError, r"exp_avgs\[2\] has shape \(5, 1\)"),
    (spoil(1, -1, lambda a: a.tolist()), TypeError, r"grads\[2\] must be a numpy.ndarray, got list"),
    (spoil(0, -1, lambda a: np.frombuffer(a.tobytes(), np.float32)), ValueError, r"params\[2\] is read-only"),
    (spoil(3, -1, lambda a: np.frombuffer(a.tobytes(), np.float32)), ValueError, r"exp_avg_sqs\[2\] is read-only"),
    (lambda lists: [lists[0], lists[1], lists[2], lists[3][:2]], ValueError, r"exp_avg_sqs has 2 arrays but params has 3"),
    (lambda lists: [lists[0][-1], lists[1], lists[2], lists[3]], TypeError, r"params must be a list or tuple of numpy arrays, got numpy.ndarray"),
    (lambda lists: [lists[0], lists[1], lists[2][:2] + [lists[0][0]], lists[3]], ValueError, r"params\[0\] and exp_avgs\[2\] overlap"),
    (lambda lists: [lists[0][:1] + list(overlapping_pair()), *lists[1:]], ValueError, r"params\[1\] and params\[2\] overlap"),
    (lambda lists: [lists[0], lists[1], lists[2], lists[3][:2] + [lists[1][0]]], ValueError, r"grads\[0\] and exp_avg_sqs\[2\] overlap"),
]


@pytest.mark.parametrize("kernels", KERNELS, ids=["cpp", "numpy"])
@pytest.mark.parametrize("mutate, error, message", BAD_INPUTS)
def test_bad_arguments_raise_before_any_write(kernels, mutate, error, message):
    lists = mutate(adam_arrays())
    arrays = [a for a in lists if isinstance(a, list)]
    before = snapshot(arrays)
    with pytest.raises(error, match=message):
        kernels.adam(*lists, [], **ADAM_SCALARS)
    assert_unchanged(arrays, before)


@pytest.mark.parametrize("kernels", KERNELS, ids=["cpp", "numpy"])
def test_read_only_grads_and_unused_optional_lists_are_fine(kernels):
    params, grads, m, v = adam_arrays()
    grads = [np.frombuffer(g.tobytes(), g.dtype) for g in grads]
    before = [p.copy() for p in params]
    kernels.adam(params, grads, m, v, ["ignored: amsgrad is off"], **ADAM_SCALARS)
    assert all((p != b).all() for p, b in zip(params, before))


@pytest.mark.parametrize("kernels", KERNELS, ids=["cpp", "numpy"])
def test_empty_call_and_misaligned_array(kernels):
    kernels.adam([], [], [], [], [], **ADAM_SCALARS)
    params, grads, m, v = adam_arrays(n_tensors=1)
    raw = np.zeros(6 * 4 + 1, np.uint8)
    misaligned = raw[1:].view(np.float32)[:5]
    if kernels is _C:  # NumPy can compute on misaligned data; the C++ loops refuse it
        with pytest.raises(ValueError, match=r"params\[0\] is not aligned"):
            kernels.adam([misaligned], grads, m, v, [], **ADAM_SCALARS)


@pytest.mark.parametrize("kernels", KERNELS, ids=["cpp", "numpy"])
def test_every_kernel_checks_its_state_lists(kernels):
    p, g, s = (np.ones(3, np.float32) for _ in range(3))
    short = np.ones(2, np.float32)
    with pytest.raises(ValueError, match=r"momentum_buffers\[0\] has shape"):
        kernels.sgd([p], [g], [short], **SCALARS["sgd"])
    kernels.sgd([p], [g], [], **{**SCALARS["sgd"], "momentum": 0.0})  # no momentum: no buffers needed
    with pytest.raises(ValueError, match=r"state_sums\[0\] has shape"):
        kernels.adagrad([p], [g], [short], **SCALARS["adagrad"])
    with pytest.raises(ValueError, match=r"acc_deltas has 0 arrays but params has 1"):
        kernels.adadelta([p], [g], [s], [], **SCALARS["adadelta"])
    with pytest.raises(ValueError, match=r"grad_avgs has 0 arrays"):
        kernels.rmsprop([p], [g], [s], [], [], **SCALARS["rmsprop"])
    with pytest.raises(ValueError, match=r"max_exp_avg_sqs has 0 arrays"):
        kernels.adam([p], [g], [s], [s.copy()], [], **{**ADAM_SCALARS, "amsgrad": True})
    with pytest.raises(ValueError, match=r"xs\[0\] and ys\[0\] overlap"):
        kernels.axpy([p], [p], alpha=1.0)


# ---- one signature on both backends: the array lists, then keyword-only scalars ------------------

_C_UTILITIES = {"check_arrays", "check_sparse_adam",
                "set_simd", "set_num_threads", "get_num_threads", "set_thread_policy",
                "get_thread_policy", "build_info"}


def twin_names():
    return sorted(kernels_numpy.__all__)


def parameters(function):
    """(positional names, keyword-only names); the compiled kernels carry a text signature."""
    params = inspect.signature(function).parameters.values()
    return ([p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD],
            [p.name for p in params if p.kind is p.KEYWORD_ONLY])


def test_both_backends_export_the_same_kernels_with_the_same_parameters():
    compiled = {name for name in dir(_C) if not name.startswith("_") and callable(getattr(_C, name))}
    assert sorted(compiled - _C_UTILITIES) == twin_names() == sorted(SCALARS)
    for name in twin_names():
        positional, keyword_only = parameters(getattr(_C, name))
        assert (positional, keyword_only) == parameters(getattr(kernels_numpy, name)), name
        assert keyword_only == list(SCALARS[name]), name  # every scalar, and nothing else, is keyword-only


@pytest.mark.parametrize("kernels", KERNELS, ids=["cpp", "numpy"])
@pytest.mark.parametrize("name", sorted(SCALARS))
def test_scalars_passed_by_position_raise_type_error(kernels, name):
    kernel = getattr(kernels, name)
    n_lists = len(parameters(kernel)[0])
    lists = [[np.full(4, 1 / (k + 1))] for k in range(n_lists)]  # a valid state for every kernel
    if name == "sparse_adam":  # its rows: indices (k,) int64 and values (k,)
        lists[3:] = [[np.array([0, 2])], [np.array([0.5, -1.0])]]
    if name == "adafactor":  # a vector's second moment is not factored: no row or column factor
        lists[2:4] = [[None], [None]]
    before = snapshot(lists)
    with pytest.raises(TypeError):
        kernel(*lists, *SCALARS[name].values())
    assert_unchanged(lists, before)
    kernel(*lists, **SCALARS[name])  # the same values by keyword: a step
    assert any(a.tobytes() != b.tobytes() for a, b in zip([a for arrays in lists for a in arrays], before))


def test_axpy_twins_agree():
    x = np.arange(100_003, dtype=np.float64)
    y = np.linspace(0, 1, 100_003)
    twin = x.copy()
    _C.axpy([x], [y], alpha=0.5)
    kernels_numpy.axpy([twin], [y], alpha=0.5)
    assert x.tobytes() == twin.tobytes()
    np.testing.assert_array_equal(x, np.arange(100_003) + 0.5 * y)


def test_many_small_tensors_of_mixed_sizes_split_across_threads(restore_threads_and_simd):
    sizes = [0, 3, 40_000, 1, 17, 70_001, 0, 5, 65_536]
    results = []
    for threads in (1, 2):
        minigrad.set_num_threads(threads)
        params = make_params(np.float32, sizes)
        train(optim.RMSprop, dict(centered=True, momentum=0.5), params, 3)
        results.append(np.concatenate([p.numpy() for p in params]))
    twin = make_params(np.float32, sizes)
    train(optim.RMSprop, dict(centered=True, momentum=0.5), twin, 3, backend="numpy")
    assert results[0].tobytes() == results[1].tobytes() == np.concatenate([p.numpy() for p in twin]).tobytes()
