import math

import numpy as np
import pytest

from minigrad import Parameter
from minigrad.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_, get_total_norm


def Param(grad):
    """A parameter whose gradient is ``grad`` (an array, or None)."""
    p = Parameter(np.zeros_like(grad) if grad is not None else np.zeros(1))
    p.grad = grad
    return p


def make_params(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [Param(rng.standard_normal(shape).astype(dtype)) for shape in [(3, 4), (5,), (), (2, 2, 2)]]


def test_clips_the_joint_two_norm_in_place():
    params = make_params()
    grads = [p.grad.numpy() for p in params]
    before = [g.copy() for g in grads]
    expected = math.sqrt(sum(float(np.sum(g ** 2)) for g in before))
    total = clip_grad_norm_(params, max_norm=1.0)
    assert total == pytest.approx(expected, rel=1e-12)
    coef = 1.0 / (expected + 1e-6)
    for p, g, b in zip(params, grads, before):
        assert p.grad.numpy() is g  # updated in place
        np.testing.assert_allclose(g, b * coef, rtol=1e-12)
    assert math.sqrt(sum(float(np.sum(g ** 2)) for g in grads)) == pytest.approx(1.0, abs=1e-5)


def test_no_change_below_max_norm_and_none_grads_skipped():
    params = make_params() + [Param(None)]
    before = [p.grad.numpy().copy() for p in params[:-1]]
    total = clip_grad_norm_(iter(params), max_norm=1e6)  # any iterable, consumed once
    assert total > 0
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.grad, b)
    assert params[-1].grad is None


@pytest.mark.parametrize("norm_type, reduce", [
    (1, lambda a: np.sum(np.abs(a))),
    (3.0, lambda a: np.sum(np.abs(a) ** 3) ** (1 / 3)),
    (math.inf, lambda a: np.max(np.abs(a))),
    ("inf", lambda a: np.max(np.abs(a))),
])
def test_other_norms(norm_type, reduce):
    params = make_params()
    everything = np.concatenate([p.grad.numpy().ravel() for p in params])
    total = clip_grad_norm_(params, max_norm=0.1, norm_type=norm_type)
    assert total == pytest.approx(reduce(everything), rel=1e-12)
    clipped = np.concatenate([p.grad.numpy().ravel() for p in params])
    assert reduce(clipped) == pytest.approx(0.1, rel=1e-5)


def test_single_parameter_and_empty():
    p = Param(np.array([3.0, 4.0]))
    assert clip_grad_norm_(p, max_norm=1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad, [0.6, 0.8], rtol=1e-6)
    assert clip_grad_norm_([Param(None)], max_norm=1.0) == 0.0
    assert clip_grad_norm_([], max_norm=1.0) == 0.0


def test_keeps_float32():
    params = make_params(np.float32)
    clip_grad_norm_(params, max_norm=0.5)
    assert all(p.grad.dtype == np.float32 for p in params)


@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply")
def test_non_finite_norm():
    params = [Param(np.array([1.0, np.inf])), Param(np.array([2.0]))]
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(params, max_norm=1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(params[1].grad, [2.0])  # untouched when raising
    assert clip_grad_norm_(params, max_norm=1.0) == math.inf
    assert np.isnan(params[0].grad.numpy()[1]) and params[1].grad.numpy()[0] == 0.0  # scaled by 0, as torch
    params = [Param(np.array([np.nan, 1.0]))]
    assert math.isnan(clip_grad_norm_(params, max_norm=1.0))
    assert np.isnan(params[0].grad.numpy()).all()


def test_clip_grad_value():
    p, q = Param(np.array([-3.0, 0.5, 2.0, np.nan])), Param(None)
    g = p.grad
    clip_grad_value_([p, q], clip_value=1.0)
    assert p.grad is g
    np.testing.assert_array_equal(g, [-1.0, 0.5, 1.0, np.nan])
    single = Param(np.array([5.0], dtype=np.float32))
    clip_grad_value_(single, 2)
    assert single.grad.dtype == np.float32 and single.grad[0] == 2.0


# ---- parity with torch.nn.utils ----

@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("norm_type", [0.5, 1.0, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.01, 1e9])
def test_clip_grad_norm_matches_torch(dtype, rtol, norm_type, max_norm):
    torch = pytest.importorskip("torch")
    ours = make_params(dtype, seed=1)
    theirs = [torch.nn.Parameter(torch.from_numpy(p.numpy().copy())) for p in ours]
    for t, p in zip(theirs, ours):
        t.grad = torch.from_numpy(p.grad.numpy().copy())
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total == pytest.approx(expected.item(), rel=rtol)
    for t, p in zip(theirs, ours):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=rtol, atol=0)


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch")
    ours = make_params(np.float32, seed=2)
    theirs = [torch.nn.Parameter(torch.from_numpy(p.numpy().copy())) for p in ours]
    for t, p in zip(theirs, ours):
        t.grad = torch.from_numpy(p.grad.numpy().copy())
    clip_grad_value_(ours, 0.3)
    torch.nn.utils.clip_grad_value_(theirs, 0.3)
    for t, p in zip(theirs, ours):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("norm_type", [1.0, 2.0, math.inf])
def test_get_total_norm_matches_torch_and_changes_nothing(dtype, rtol, norm_type):
    torch = pytest.importorskip("torch")
    grads = [p.grad for p in make_params(dtype, seed=3)]
    before = [g.numpy().copy() for g in grads]
    total = get_total_norm(grads + [None], norm_type=norm_type)
    expected = torch.nn.utils.get_total_norm([torch.from_numpy(g) for g in before], norm_type=norm_type)
    assert total.dtype == dtype and total.shape == () and total.item() == pytest.approx(expected.item(), rel=rtol)
    for g, b in zip(grads, before):
        np.testing.assert_array_equal(g, b)


def test_get_total_norm_of_nothing_sparse_and_bad_input():
    import minigrad as mg
    assert get_total_norm([]).item() == 0.0 and get_total_norm([]).dtype == np.float32
    sparse = mg.sparse_coo_tensor(np.array([[0, 0, 2]]), np.array([[3.0], [1.0], [0.0]]), (3, 1))
    assert get_total_norm(sparse).item() == pytest.approx(4.0)  # the coalesced row 0 holds 3 + 1
    with pytest.raises(TypeError, match="tensors must be Tensors, got ndarray at position 1"):
        get_total_norm([None, np.ones(2)])
    with pytest.raises(TypeError, match="tensors must be floating point, got int64 at position 0"):
        get_total_norm([mg.tensor([1, 2])])
    mixed = get_total_norm([mg.tensor([1.0], dtype=mg.float16), mg.tensor([1e6], dtype=mg.float32)])
    assert mixed.dtype == np.float32 and mixed.item() == pytest.approx(1e6)  # promoted, as torch's
    with pytest.raises(RuntimeError, match="non-finite"):
        get_total_norm([mg.tensor([np.inf])], error_if_nonfinite=True)
