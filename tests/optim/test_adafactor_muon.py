"""Adafactor and Muon: the optimizers whose updates reduce over a parameter's shape (Adafactor's
row and column second moments, Muon's Newton–Schulz on 2-D matrices), so the 1-D fixtures of
optim_cases do not reach them. Closed forms, twin agreement, threads and SIMD, torch parity,
state_dict and the argument checks."""
import copy
import itertools

import numpy as np
import pytest

import minigrad
import minigrad.optim as optim
from minigrad import _C
from minigrad.optim import kernels_numpy
from minigrad.optim.muon import newton_schulz

from optim_cases import Param, torch_started

# Vectors (0-d to past the grain), matrices (square, odd, a single element, empty, one row or
# column past the grain) and a batch of matrices.
# (700, 16, 3, 3): a conv weight, 11,200 3×3 matrices, whose work items span many matrices each and whose
# blocks cross matrix boundaries; (50, 7, 130): matrices grouped a few per column strip
ADAFACTOR_SHAPES = [(), (0,), (1,), (7,), (33,), (100_003,), (5, 7), (1, 1), (0, 5), (4, 0), (2, 0, 3),
                    (3, 4, 6), (301, 333), (3, 40_001), (40_001, 3), (700, 16, 3, 3), (50, 7, 130)]
MUON_SHAPES = [(5, 7), (9, 4), (1, 1), (16, 16), (0, 3), (3, 0), (301, 333)]
NONEMPTY = [s for s in ADAFACTOR_SHAPES if np.prod(s) > 0]
EMPTY = [s for s in ADAFACTOR_SHAPES if np.prod(s) == 0]  # torch's Adafactor divides by the size
SMALL = [s for s in NONEMPTY if np.prod(s) < 2000] + [(60, 70), (2, 9, 11)]

ADAFACTOR_CASES = [dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, maximize=maximize)
                   for (lr, beta2_decay), eps, d, weight_decay, maximize in itertools.product(
                       [(0.01, -0.8), (0.3, -0.3)], [(None, 1e-3), (1e-12, 0.1)], [1.0, 3.0], [0.0, 0.1],
                       [False, True])]
MUON_CASES = [dict(lr=0.02, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov, adjust_lr_fn=adjust,
                   ns_steps=ns_steps)
              for weight_decay, momentum, nesterov, adjust, ns_steps in itertools.product(
                  [0.0, 0.1], [0.95, 0.3], [True, False], [None, "original", "match_rms_adamw"], [5, 2])]


def make(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [Param(rng.standard_normal(s).astype(dtype)) for s in shapes]


def train(cls, options, params, steps, seed=1, **extra):
    opt = cls(params, **options, **extra)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for p in params:
            p.grad = rng.standard_normal(p.data.shape).astype(p.data.dtype)
        opt.step()
    return opt


def finals(cls, options, shapes, dtype, steps=4, **extra):
    params = make(shapes, dtype)
    train(cls, options, params, steps, **extra)
    return [p.numpy() for p in params]


@pytest.fixture
def restore_threads_and_simd():
    threads, simd, policy = minigrad.get_num_threads(), minigrad.build_info()["simd"], minigrad.get_thread_policy()
    yield
    minigrad.set_num_threads(threads)
    minigrad.set_simd(simd)
    minigrad.set_thread_policy(policy)


# ---- closed forms ----------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("shape", [(6,), (4, 5), (2, 3, 4)])
def test_adafactor_first_step_is_a_sign_step(backend, shape):
    """At t = 1 the second moment is g² itself (w = 1), exactly for a rank-one g² when factored
    (R·C / mean(R) = g² for g = a ⊗ b): U = sign(g), RMS(U) = 1, so θ ← θ − max(eps2, RMS(θ))·min(lr, 1)·sign(g)."""
    rng = np.random.default_rng(3)
    theta = rng.standard_normal(shape)
    a, b = rng.uniform(0.5, 2, shape[:-1]), rng.choice([-1.0, 1.0], shape[-1]) * rng.uniform(0.5, 2, shape[-1])
    g = a[..., None] * b if len(shape) > 1 else b
    p = Param(theta.copy(), g)
    optim.Adafactor([p], lr=0.1, backend=backend).step()
    expected = theta - max(1e-3, np.sqrt(np.mean(theta ** 2))) * 0.1 * np.sign(g)
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_adafactor_clips_and_decays_by_hand(backend):
    """One element, step 1, lr = 2 (so ρ = min(2, 1) = 1), λ = 0.25: α = max(eps2, |θ|)·1 = 3;
    θ ← 3·(1 − 2·0.25) = 1.5;  U = g/|g| = −1;  RMS(U)/d = 1/2 ≤ 1: no clipping;  θ ← 1.5 + 3 = 4.5."""
    p = Param(np.array([3.0]), np.array([-0.5]))
    optim.Adafactor([p], lr=2.0, d=2.0, weight_decay=0.25, backend=backend).step()
    assert p.numpy().tolist() == [4.5]


def test_newton_schulz_acts_on_singular_values_alone():
    """For M = 2Q (Q orthogonal, 4×4) X₀ = Q/2: every singular value follows s ← a·s + b·s³ + c·s⁵."""
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))
    s = 0.5
    for _ in range(5):
        s = 3.4445 * s - 4.775 * s ** 3 + 2.0315 * s ** 5
    np.testing.assert_allclose(newton_schulz(2 * q, (3.4445, -4.775, 2.0315), 5, 1e-7), s * q, atol=1e-12)


# ---- the C++ kernels and their twins -------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options, shapes", [(options, SMALL + EMPTY) for options in ADAFACTOR_CASES[1::5]] +
                         [(ADAFACTOR_CASES[-1], ADAFACTOR_SHAPES)])
def test_adafactor_cpp_matches_numpy_twin(options, shapes, dtype):
    cpp = finals(optim.Adafactor, options, shapes, dtype, backend="cpp")
    numpy = finals(optim.Adafactor, options, shapes, dtype, backend="numpy")
    tolerance = 1e-6 if dtype == np.float32 else 1e-13  # the sums run in another order
    for a, b in zip(cpp, numpy):
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", MUON_CASES[::9])
def test_muon_cpp_matches_numpy_twin(options, dtype):
    cpp = finals(optim.Muon, options, MUON_SHAPES, dtype, backend="cpp")
    numpy = finals(optim.Muon, options, MUON_SHAPES, dtype, backend="numpy")
    for a, b in zip(cpp, numpy):  # the same elementwise order of operations: the same bits
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("cls, options, shapes", [(optim.Adafactor, ADAFACTOR_CASES[-1], ADAFACTOR_SHAPES),
                                                  (optim.Adafactor, ADAFACTOR_CASES[0], ADAFACTOR_SHAPES),
                                                  (optim.Muon, MUON_CASES[0], MUON_SHAPES)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_and_simd_paths_are_bitwise_identical(cls, options, shapes, dtype, restore_threads_and_simd):
    minigrad.set_thread_policy("fixed")
    results = []
    for threads, level in [(1, "baseline")] + [(2, level) for level in minigrad.build_info()["simd_supported"]]:
        minigrad.set_num_threads(threads)
        minigrad.set_simd(level)
        results.append(b"".join(a.tobytes() for a in finals(cls, options, shapes, dtype, steps=3)))
    assert all(r == results[0] for r in results[1:])


def test_adafactor_leaves_empty_tensors_as_they_are():
    params = make([(0,), (0, 5), (4, 0), (2, 0, 3)], np.float64)
    opt = train(optim.Adafactor, {}, params, 2)
    assert [opt.state[p]["col_var"].tolist() for p in params[1:2]] == [[[0.0] * 5]]
    assert all(p.numpy().size == 0 for p in params)


def adafactor_lists(shapes, dtype=np.float32):
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    rows = [np.zeros(s[:-1] + (1,), dtype) if len(s) > 1 else None for s in shapes]
    cols = [np.zeros(s[:-2] + (1, s[-1]), dtype) if len(s) > 1 else None for s in shapes]
    variances = [np.zeros(s, dtype) if len(s) < 2 else None for s in shapes]
    return [params, grads, rows, cols, variances]


def spoil(index, value):
    """Replaces the last tensor's entry of list `index` (the earlier tensors would have been updated
    already if a check came late)."""
    def apply(lists):
        lists[index][-1] = value(lists[index][-1])
    return apply


def read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


BAD_ADAFACTOR_ARRAYS = [
    (spoil(2, lambda a: np.zeros((4, 1, 1), np.float32)), ValueError,
     r"row_vars\[2\] has shape \(4, 1, 1\) but params\[2\] has shape \(3, 4, 6\) \(expected \(3, 4, 1\)\)"),
    (spoil(3, lambda a: np.zeros((3, 4, 1), np.float32)), ValueError,
     r"col_vars\[2\] has shape .* \(expected \(3, 1, 6\)\)"),
    (spoil(4, lambda a: np.zeros((3, 4, 6), np.float32)), ValueError,
     r"variances\[2\] must be None: .* is factored"),
    (spoil(2, lambda a: None), TypeError, r"row_vars\[2\] must be a numpy.ndarray, got NoneType"),
    (spoil(3, lambda a: a.astype(np.float64)), TypeError,
     r"col_vars\[2\] has dtype float64 but params\[2\] has float32"),
    (spoil(2, read_only), ValueError, r"row_vars\[2\] is read-only"),
    (spoil(3, lambda a: np.zeros((3, 2, 6), np.float32)[:, :1]), ValueError, r"col_vars\[2\] is not C-contiguous"),
]


@pytest.mark.parametrize("kernels", [_C, kernels_numpy], ids=["cpp", "numpy"])
@pytest.mark.parametrize("mutate, error, message", BAD_ADAFACTOR_ARRAYS)
def test_adafactor_bad_arrays_raise_before_any_write(kernels, mutate, error, message):
    lists = adafactor_lists([(7,), (5, 7), (3, 4, 6)])
    mutate(lists)
    before = [None if a is None else a.copy() for arrays in lists for a in arrays]
    with pytest.raises(error, match=message):
        kernels.adafactor(*lists, lr=0.01, weight_decay=0.1, eps1=1e-30, eps2=1e-3, d=1.0, rho=0.01,
                          one_minus_beta2=1.0, maximize=False)
    for a, b in zip([a for arrays in lists for a in arrays], before):
        assert (a is None and b is None) or a.tobytes() == b.tobytes()


@pytest.mark.parametrize("kernels", [_C, kernels_numpy], ids=["cpp", "numpy"])
def test_adafactor_state_may_not_overlap(kernels):
    params, grads, rows, cols, variances = adafactor_lists([(4, 4)])
    shared = np.zeros(8, np.float32)
    rows, cols = [shared[:4].reshape(4, 1)], [shared[2:6].reshape(1, 4)]
    with pytest.raises(ValueError, match=r"overlap in memory"):
        kernels.adafactor(params, grads, rows, cols, variances, lr=0.01, weight_decay=0.0, eps1=1e-30, eps2=1e-3,
                          d=1.0, rho=0.01, one_minus_beta2=1.0, maximize=False)
    assert not shared.any()


@pytest.mark.parametrize("kernels", [_C, kernels_numpy], ids=["cpp", "numpy"])
def test_muon_kernels_check_their_arrays(kernels):
    g, b, u = (np.ones((3, 4), np.float32) for _ in range(3))
    with pytest.raises(ValueError, match=r"updates\[0\] has shape \(4, 3\) but grads\[0\] has shape \(3, 4\)"):
        kernels.muon_momentum([g], [b], [np.ones((4, 3), np.float32)], momentum=0.9, nesterov=True)
    with pytest.raises(ValueError, match=r"momentum_buffers\[0\] is read-only"):
        kernels.muon_momentum([g], [read_only(b)], [u], momentum=0.9, nesterov=True)
    with pytest.raises(ValueError, match=r"params\[0\] and orthos\[0\] overlap"):
        kernels.muon_update([g], [g], lr=0.1, weight_decay=0.1, adjusted_lr=0.1)
    assert (g == 1).all() and (b == 1).all()


# ---- the classes: torch's contract ---------------------------------------------------------------

def test_muon_takes_only_matrices():
    with pytest.raises(ValueError, match=r"Muon only supports 2D parameters whereas we found a parameter with "
                                         r"size: \(3,\)"):
        optim.Muon([Param(np.zeros((2, 2))), Param(np.zeros(3))])
    opt = optim.Muon([Param(np.zeros((2, 2)))])
    with pytest.raises(ValueError, match="Muon only supports 2D"):
        opt.add_param_group({"params": [Param(np.zeros((2, 2, 2)))]})


def test_adafactor_state_has_torchs_names_and_shapes():
    params = make([(5,), (3, 4), (2, 3, 4)], np.float32)
    opt = train(optim.Adafactor, {}, params, 1)
    shapes = [{k: np.shape(v) for k, v in opt.state[p].items()} for p in params]
    assert shapes == [{"variance": (5,), "step": ()}, {"row_var": (3, 1), "col_var": (1, 4), "step": ()},
                      {"row_var": (2, 3, 1), "col_var": (2, 1, 4), "step": ()}]
    assert [s["step"] for s in opt.state_dict()["state"].values()] == [1, 1, 1]


@pytest.mark.parametrize("cls, options, shapes", [(optim.Adafactor, ADAFACTOR_CASES[-1], SMALL),
                                                  (optim.Muon, MUON_CASES[1], MUON_SHAPES)])
@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_state_dict_round_trip_mid_training_is_exact(cls, options, shapes, backend):
    straight = make(shapes, np.float64)
    train(cls, options, straight, 6, backend=backend)
    resumed = make(shapes, np.float64)
    first = train(cls, options, resumed, 3, backend=backend)
    saved = copy.deepcopy(first.state_dict())
    second = cls(resumed, **options, backend=backend)
    second.load_state_dict(saved)
    rng = np.random.default_rng(1)
    for _ in range(3):  # the first three draws of seed 1 went to `first`
        for p in resumed:
            rng.standard_normal(p.data.shape)
    for _ in range(3):
        for p in resumed:
            p.grad = rng.standard_normal(p.data.shape)
        second.step()
    for a, b in zip(straight, resumed):
        assert a.numpy().tobytes() == b.numpy().tobytes()


def test_adafactor_refuses_a_factored_state_of_the_wrong_shape():
    params = make([(3, 4)], np.float64)
    opt = train(optim.Adafactor, {}, params, 1)
    saved = copy.deepcopy(opt.state_dict())
    saved["state"][0]["col_var"] = np.zeros((3, 1))
    before = copy.deepcopy(opt.state_dict())
    with pytest.raises(ValueError, match=r"state 'col_var' of parameter 0 has shape \(3, 1\) but the parameter of "
                                         r"shape \(3, 4\) needs \(1, 4\)"):
        opt.load_state_dict(saved)
    after = opt.state_dict()
    assert after["state"][0]["col_var"].shape == (1, 4) and after["param_groups"] == before["param_groups"]


# ---- torch -------------------------------------------------------------------------------------------

torch = pytest.importorskip("torch")
import torch.optim._muon as torch_muon  # noqa: E402


def torch_newton_schulz_in_full_precision(grad, ns_coefficients, ns_steps, eps):
    """torch's _zeropower_via_newtonschulz, operation for operation, without its cast to bfloat16."""
    a, b, c = ns_coefficients
    x = grad.T if grad.size(0) > grad.size(1) else grad
    x = x / x.norm().clamp(min=eps)
    for _ in range(ns_steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if grad.size(0) > grad.size(1) else x


@pytest.fixture
def full_precision_torch_muon(monkeypatch):
    monkeypatch.setattr(torch_muon, "_zeropower_via_newtonschulz", torch_newton_schulz_in_full_precision)


TOLERANCE = {np.float64: 1e-10, np.float32: 1e-4}
STEPS = {np.float64: 40, np.float32: 10}


def same_as_torch(cls, options, shapes, dtype, backend, steps=None, tolerance=None, torch_options=None):
    params = make(shapes, dtype)
    twins = [torch.tensor(p.numpy().copy(), requires_grad=True) for p in params]
    ours = cls(params, **options, backend=backend)
    theirs = getattr(torch.optim, cls.__name__)(twins, **options, **(torch_options or {}))
    rng = np.random.default_rng(1)
    for _ in range(steps or STEPS[dtype]):
        for p, t in zip(params, twins):
            p.grad = rng.standard_normal(p.data.shape).astype(dtype)
            t.grad = torch.from_numpy(p.grad.numpy().copy())
        ours.step()
        theirs.step()
    tolerance = tolerance or TOLERANCE[dtype]
    for p, t in zip(params, twins):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=tolerance, atol=tolerance)
        for key, value in theirs.state[t].items():
            np.testing.assert_allclose(ours.state[p][key], value.numpy(), rtol=tolerance, atol=tolerance, err_msg=key)
    return ours, theirs


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", ADAFACTOR_CASES, ids=str)
def test_adafactor_same_trajectory_as_torch(options, dtype, backend):
    same_as_torch(optim.Adafactor, options, SMALL, dtype, backend, torch_options=dict(foreach=False))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adafactor_large_tensors_same_as_torch(dtype):
    same_as_torch(optim.Adafactor, ADAFACTOR_CASES[-1], [s for s in NONEMPTY if np.prod(s) > 2000], dtype, "cpp",
                  steps=3)


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_adafactor_eps1_from_the_first_parameter_as_torch(backend):
    """torch's eps1=None becomes the machine epsilon of the group's first parameter, for all of them."""
    params = [Param(np.full(3, 1e-12, np.float32)), Param(np.full((2, 3), 1e-12))]
    twins = [torch.tensor(p.numpy().copy(), requires_grad=True) for p in params]
    ours, theirs = optim.Adafactor(params, backend=backend), torch.optim.Adafactor(twins)
    for p, t in zip(params, twins):
        p.grad = np.full(p.data.shape, 1e-9, p.data.dtype)
        t.grad = torch.from_numpy(p.grad.numpy().copy())
    ours.step()
    theirs.step()
    np.testing.assert_allclose(params[1].numpy(), twins[1].detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", MUON_CASES, ids=str)
def test_muon_same_trajectory_as_full_precision_torch(options, dtype, backend, full_precision_torch_muon):
    same_as_torch(optim.Muon, options, [s for s in MUON_SHAPES if s != (3, 0) and np.prod(s) < 2000], dtype, backend)


def test_muon_is_torchs_up_to_bfloat16():
    """torch orthogonalises in bfloat16 (8 bits of mantissa): its steps and ours differ by about that."""
    params = make([(16, 16), (9, 4)], np.float32)
    start = [p.numpy().copy() for p in params]
    ours, theirs = same_as_torch(optim.Muon, dict(lr=0.02), [(16, 16), (9, 4)], np.float32, "cpp", steps=1,
                                 tolerance=0.02 * 0.02 * 2)  # lr · (a bfloat16 step's error on elements ≲ 2)
    assert ours and theirs and start


def test_same_defaults_and_messages_as_torch():
    assert optim.Adafactor(make([(3,)], np.float32)).defaults == torch.optim.Adafactor(
        [torch.zeros(3, requires_grad=True)]).defaults
    assert optim.Muon(make([(3, 3)], np.float32)).defaults == torch.optim.Muon(
        [torch.zeros(3, 3, requires_grad=True)]).defaults
    bad = [(optim.Adafactor, dict(lr=-1)), (optim.Adafactor, dict(beta2_decay=0.5)),
           (optim.Adafactor, dict(eps=(-1, 1e-3))), (optim.Adafactor, dict(eps=(None, -1))),
           (optim.Adafactor, dict(d=0.5)), (optim.Adafactor, dict(weight_decay=-1)),
           (optim.Muon, dict(lr=-1)), (optim.Muon, dict(momentum=-1)), (optim.Muon, dict(weight_decay=-1)),
           (optim.Muon, dict(adjust_lr_fn="fast"))]
    for cls, options in bad:
        with pytest.raises(ValueError) as theirs:
            getattr(torch.optim, cls.__name__)([torch.zeros(3, 3, requires_grad=True)], **options)
        with pytest.raises(ValueError) as ours:
            cls(make([(3, 3)], np.float32), **options)
        assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("cls, options, shapes", [(optim.Adafactor, ADAFACTOR_CASES[-1], SMALL),
                                                  (optim.Muon, MUON_CASES[1], MUON_SHAPES[:4])])
def test_loads_a_torch_state_dict(cls, options, shapes, full_precision_torch_muon):
    params = make(shapes, np.float64)
    twins = [torch.tensor(p.numpy().copy(), requires_grad=True) for p in params]
    theirs = getattr(torch.optim, cls.__name__)(twins, **options)
    rng = np.random.default_rng(0)
    grads = [[rng.standard_normal(p.data.shape) for p in params] for _ in range(6)]
    converted = torch_started(theirs, twins, params, grads[:3])
    ours = cls(params, **options)
    ours.load_state_dict(converted)
    for step in grads[3:]:
        for p, t, g in zip(params, twins, step):
            p.grad = g.copy()
            t.grad = torch.from_numpy(g.copy())
        ours.step()
        theirs.step()
    for p, t in zip(params, twins):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_adafactor_step_without_any_gradient_does_nothing(backend):
    """After zero_grad (gradients None) a step changes nothing and raises nothing, as torch's."""
    p = minigrad.nn.Parameter(np.ones((3, 4)))
    opt = optim.Adafactor([p], backend=backend)
    p.grad = np.ones((3, 4))
    opt.step()
    before, state = p.numpy().copy(), {k: np.copy(v) for k, v in opt.state[p].items()}
    opt.zero_grad()
    opt.step()
    np.testing.assert_array_equal(p.numpy(), before)
    assert all(np.array_equal(opt.state[p][k], v) for k, v in state.items())
