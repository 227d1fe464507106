"""The activations, losses, distances, pools and dropout added for torch parity: closed forms and
finite-difference gradients (float64, no torch), then values and gradients against torch (each such
test skips without it), including at the kinks where torch picks a subgradient."""
import math
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor, gradcheck
from minigrad import functional as F

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def leaf(*shape, seed=0, scale=1.0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape) * scale, requires_grad=True)


def away_from(x, kinks, margin=0.05):
    """``x`` with every element nudged at least ``margin`` away from each kink (for finite differences)."""
    for k in kinks:
        x = np.where(np.abs(x - k) < margin, k + margin * np.sign(x - k + 1e-300) * 2, x)
    return x


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


ACTIVATIONS = {  # name: (call, numpy reference, kinks)
    "elu": (lambda t: F.elu(t, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)), [0]),
    "selu": (F.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)), [0]),
    "celu": (lambda t: F.celu(t, 2.0), lambda x: np.maximum(x, 0) + np.minimum(0, 2 * np.expm1(x / 2)), [0]),
    "mish": (F.mish, lambda x: x * np.tanh(np.log1p(np.exp(x))), []),
    "hardtanh": (lambda t: F.hardtanh(t, -0.5, 2.0), lambda x: np.clip(x, -0.5, 2.0), [-0.5, 2.0]),
    "relu6": (F.relu6, lambda x: np.minimum(np.maximum(x, 0), 6), [0, 6]),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x + 3, 0, 6) / 6, [-3, 3]),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6, [-3, 3]),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x)), []),
    "logsigmoid": (F.logsigmoid, lambda x: np.log(sigmoid(x)), []),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_closed_form_and_gradient(name):
    call, ref, kinks = ACTIVATIONS[name]
    x = away_from(np.linspace(-7, 7, 57), kinks)
    t = Tensor(x, requires_grad=True)
    np.testing.assert_allclose(call(t).numpy(), ref(x), rtol=1e-12, atol=1e-15)
    assert gradcheck(call, [t])
    assert call(Tensor(x.astype(np.float32))).dtype == np.float32


def test_activation_inplace_flags_are_accepted_and_out_of_place():
    x = mg.tensor([-1.0, 0.5, 7.0])
    for f in (F.elu, F.selu, F.celu, F.mish, F.hardtanh, F.relu6, F.hardsigmoid, F.hardswish, F.relu, F.silu):
        out = f(x, inplace=True)
        assert out is not x and x.tolist() == [-1.0, 0.5, 7.0]


def test_logsigmoid_and_mish_are_stable():
    x = Tensor(np.array([-1000.0, 0.0, 1000.0]), requires_grad=True)
    np.testing.assert_allclose(F.logsigmoid(x).numpy(), [-1000, -math.log(2), 0])
    F.logsigmoid(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 0.5, 0])
    np.testing.assert_allclose(F.mish(Tensor(np.array([-1000.0, 1000.0]))).numpy(), [0, 1000])


def test_activation_errors():
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(mg.tensor([1.0]), 2.0, 1.0)
    with pytest.raises(ZeroDivisionError):
        F.celu(mg.tensor([1.0]), 0.0)


@pytest.mark.parametrize("ndim, dim", [(0, 0), (1, 0), (2, 1), (3, 0), (4, 1)])
def test_softmax_implicit_dim_warns_and_picks_torchs(ndim, dim):
    x = leaf(*(2, 3, 4, 2)[:ndim])
    for f in (F.softmax, F.log_softmax):
        with pytest.warns(UserWarning, match=f"Implicit dimension choice for {f.__name__}"):
            implicit = f(x)
        np.testing.assert_array_equal(implicit.numpy(), f(x, dim).numpy())
    assert F.softmax(x, 0 if ndim == 0 else -1, dtype=np.float32).dtype == np.float32


# ---- losses ---------------------------------------------------------------------------------------------


def smooth_l1_ref(d, beta):
    a = np.abs(d)
    return np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta) if beta else a


def huber_ref(d, delta):
    a = np.abs(d)
    return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))


LOSSES = {  # name: (call with options, reference on (input, target))
    "smooth_l1": (lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.5),
                  lambda x, y: smooth_l1_ref(x - y, 0.5)),
    "smooth_l1_beta0": (lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.0), lambda x, y: np.abs(x - y)),
    "huber": (lambda x, y, r: F.huber_loss(x, y, r, delta=0.7), lambda x, y: huber_ref(x - y, 0.7)),
    "kl_div": (lambda x, y, r: F.kl_div(x, y, reduction=r), lambda x, y: y * (np.log(y) - x)),
    "kl_div_log_target": (lambda x, y, r: F.kl_div(x, y, reduction=r, log_target=True),
                          lambda x, y: np.exp(y) * (y - x)),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", LOSSES)
def test_loss_closed_form_and_gradient(name, reduction):
    call, ref = LOSSES[name]
    x = Tensor(away_from(np.random.default_rng(0).standard_normal((4, 5)), [-0.5, 0.5, 0.7, -0.7, 0]),
               requires_grad=True)
    y = Tensor(np.random.default_rng(1).uniform(0.1, 1, (4, 5)), requires_grad=True)
    x._data += y._data  # differences of both signs, away from the kinks
    expected = ref(x.numpy(), y.numpy())
    expected = {"mean": expected.mean(), "sum": expected.sum(), "none": expected}[reduction]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's "mean"
        np.testing.assert_allclose(call(x, y, reduction).numpy(), expected, rtol=1e-12)
        assert gradcheck(lambda x, y: call(x, y, reduction), [x, y])


def test_kl_div_batchmean_zero_targets_and_warning():
    x, y = leaf(4, 3), np.array([[0.0, 0.5, 0.5]] * 4)
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(x, y)
    expected = (y[:, 1:] * (np.log(y[:, 1:]) - x.numpy()[:, 1:])).sum() / 4  # 0·log 0 counts as 0
    np.testing.assert_allclose(F.kl_div(x, y, reduction="batchmean").numpy(), expected)
    assert gradcheck(lambda x: F.kl_div(x, y, reduction="batchmean"), [x])
    with pytest.raises(ValueError, match="reduction"):
        F.kl_div(x, y, reduction="max")


def test_loss_errors_and_size_warning():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="smooth_l1_loss does not support negative values for beta"):
        F.smooth_l1_loss(x, x, beta=-1)
    with pytest.raises(RuntimeError, match="huber_loss does not support non-positive values for delta"):
        F.huber_loss(x, x, delta=0)
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        F.huber_loss(x, x, weight=np.ones(2))
    for f in (F.smooth_l1_loss, F.huber_loss):
        with pytest.warns(UserWarning, match="Using a target size"):
            f(x, np.ones((2, 3)))
        with pytest.raises(ValueError, match="reduction must be"):
            f(x, x, reduction="max")


def test_huber_weight():
    x, y, w = leaf(2, 3), np.zeros((2, 3)), np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(F.huber_loss(x, y, "sum", weight=w).numpy(), (huber_ref(x.numpy(), 1) * w).sum())


# ---- distances ------------------------------------------------------------------------------------------


def test_normalize_cosine_similarity_pairwise_distance_closed_forms():
    a, b = leaf(3, 4, seed=1), leaf(3, 4, seed=2)
    an, bn = a.numpy(), b.numpy()
    np.testing.assert_allclose(F.normalize(a).numpy(), an / np.linalg.norm(an, axis=1, keepdims=True))
    np.testing.assert_allclose(F.normalize(a, 1, 0).numpy(), an / np.abs(an).sum(0))
    cos = (an * bn).sum(1) / np.linalg.norm(an, axis=1) / np.linalg.norm(bn, axis=1)
    np.testing.assert_allclose(F.cosine_similarity(a, b).numpy(), cos)
    np.testing.assert_allclose(F.pairwise_distance(a, b).numpy(), np.linalg.norm(an - bn + 1e-6, axis=-1))
    for f in (lambda a, b: F.normalize(a, 3.0, 0) * b, F.cosine_similarity, lambda a, b: F.pairwise_distance(a, b, 1.5),
              lambda a, b: F.cosine_similarity(a, b[:1], dim=-1)):
        assert gradcheck(f, [a, b])


def test_distances_at_zero_and_errors():
    zero = mg.zeros((2, 3), dtype=np.float64)
    np.testing.assert_array_equal(F.normalize(zero).numpy(), 0)
    np.testing.assert_array_equal(F.cosine_similarity(zero, leaf(2, 3)).numpy(), 0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.cosine_similarity(leaf(2, 3), leaf(2, 3), dim=2)


# ---- pools, dropout2d, conv padding ---------------------------------------------------------------------


@pytest.mark.parametrize("args", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                  dict(kernel_size=2, stride=3, ceil_mode=True)])
def test_pool1d_is_a_pool2d_of_height_one(args):
    x = leaf(2, 3, 8)
    two_d = {k: (1, v) if k in ("kernel_size", "stride") else (0, v) if k == "padding" else v for k, v in args.items()}
    for one, two in ((F.max_pool1d, F.max_pool2d), (F.avg_pool1d, F.avg_pool2d)):
        np.testing.assert_array_equal(one(x, **args).numpy(), two(x.unsqueeze(2), **two_d).squeeze(2).numpy())
        assert gradcheck(lambda x: one(x, **args), [x])
        np.testing.assert_array_equal(one(x[0], **args).numpy(), one(x, **args)[0].numpy())  # unbatched (C, L)
    values, indices = F.max_pool1d(x, return_indices=True, **args)
    np.testing.assert_array_equal(np.take_along_axis(x.numpy(), indices.numpy(), -1), values.numpy())
    with pytest.raises(ValueError, match="max_pool1d: expected an input of shape"):
        F.max_pool1d(leaf(1, 2, 3, 4), 2)


def test_dropout2d_zeroes_whole_channels():
    mg.manual_seed(0)
    x = mg.ones((8, 16, 3, 3), dtype=np.float64, requires_grad=True)
    y = F.dropout2d(x, 0.25)
    per_channel = y.numpy().reshape(8, 16, -1)
    assert set(np.unique(per_channel)) == {0, 1 / 0.75}
    assert (per_channel.min(-1) == per_channel.max(-1)).all()  # one decision per channel
    assert 0.1 < (per_channel[..., 0] == 0).mean() < 0.4
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())
    assert F.dropout2d(x, 0.25, training=False) is x and (F.dropout2d(x, 1.0).numpy() == 0).all()
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        assert (F.dropout2d(mg.ones((2, 4, 5)), 0.5).numpy().std(-1) == 0).all()
    with pytest.warns(UserWarning, match="2-D input to dropout2d"):
        F.dropout2d(mg.ones((2, 4)))
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout2d(x, 1.5)


def test_conv2d_padding_string_errors():
    x, w = leaf(1, 2, 5, 5), leaf(3, 2, 3, 3)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        F.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match="Invalid padding string 'full'"):
        F.conv2d(x, w, padding="full")


# ---- against torch --------------------------------------------------------------------------------------


def run(lib, fn, arrays, upstream):
    """fn(functional module, *tensors) on float64 copies of ``arrays``; the output (as tuples) and the
    input gradients after backward with ``upstream``."""
    TF = lib.nn.functional if lib is not mg else F
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(TF, *inputs)
    (out * lib.tensor(upstream)).sum().backward()
    return out.detach().numpy(), [np.asarray(t.grad.numpy()) for t in inputs]


def assert_matches_torch(fn, arrays, rtol=1e-10):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out_shape = fn(F, *[Tensor(a) for a in arrays]).shape
        upstream = np.random.default_rng(7).standard_normal(out_shape)
        ours, theirs = run(mg, fn, arrays, upstream), run(torch, fn, arrays, upstream)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=rtol, atol=1e-12)
    for g, h in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(g, h, rtol=rtol, atol=1e-12)


KINKS = np.array([-7.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 6.0, 7.0, -2.5, 1.7, -0.2, 4.2])
TORCH_ACTIVATIONS = {
    "elu": lambda F, x: F.elu(x, 0.7), "selu": lambda F, x: F.selu(x), "celu": lambda F, x: F.celu(x, 2.0),
    "mish": lambda F, x: F.mish(x), "hardtanh": lambda F, x: F.hardtanh(x, -0.5, 2.0),
    "relu6": lambda F, x: F.relu6(x), "hardsigmoid": lambda F, x: F.hardsigmoid(x),
    "hardswish": lambda F, x: F.hardswish(x), "softsign": lambda F, x: F.softsign(x),
    "logsigmoid": lambda F, x: F.logsigmoid(x), "silu": lambda F, x: F.silu(x),
}


@pytest.mark.parametrize("name", TORCH_ACTIVATIONS)
def test_activation_matches_torch_including_kinks(name):
    # torch's hardsigmoid backward multiplies by 1/6 rounded to float32, even in float64
    assert_matches_torch(TORCH_ACTIVATIONS[name], [KINKS], rtol=1e-7 if name == "hardsigmoid" else 1e-10)


DIFF = np.array([[-2.0, -1.0, -0.5, 0.0, 0.3], [0.5, 0.7, 1.0, 1.5, 3.0]])
TORCH_LOSSES = {
    "smooth_l1": lambda F, x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.5),
    "smooth_l1_beta0": lambda F, x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.0),
    "huber": lambda F, x, y, r: F.huber_loss(x, y, reduction=r, delta=0.7),
    "kl_div": lambda F, x, y, r: F.kl_div(x, y.abs(), reduction=r),
    "kl_div_log_target": lambda F, x, y, r: F.kl_div(x, y, reduction=r, log_target=True),
}


@pytest.mark.parametrize("name, reduction", [(name, r) for name in TORCH_LOSSES for r in ("mean", "sum", "none")]
                         + [("kl_div", "batchmean"), ("kl_div_log_target", "batchmean")])
def test_loss_matches_torch(name, reduction):
    y = np.random.default_rng(3).uniform(-1, 1, DIFF.shape)
    assert_matches_torch(lambda F, x, y: TORCH_LOSSES[name](F, x, y, reduction), [DIFF + y, y])


@pytest.mark.parametrize("name, fn, shapes", [
    ("normalize", lambda F, a: F.normalize(a), [(3, 4)]),
    ("normalize_p1_dim0", lambda F, a: F.normalize(a, 1.0, 0), [(3, 4)]),
    ("cosine", lambda F, a, b: F.cosine_similarity(a, b), [(3, 4), (3, 4)]),
    ("cosine_broadcast", lambda F, a, b: F.cosine_similarity(a, b, dim=-1, eps=0.1), [(2, 3, 4), (3, 4)]),
    ("pairwise", lambda F, a, b: F.pairwise_distance(a, b, 3.0, keepdim=True), [(5, 4), (5, 4)]),
    ("max_pool1d", lambda F, a: F.max_pool1d(a, 3, 2, 1), [(2, 3, 9)]),
    ("avg_pool1d", lambda F, a: F.avg_pool1d(a, 3, 2, 1, ceil_mode=True, count_include_pad=False), [(2, 3, 8)]),
    ("softmax_implicit", lambda F, a: F.softmax(a), [(2, 3, 4)]),
    ("log_softmax_implicit", lambda F, a: F.log_softmax(a), [(2, 3, 4, 2)]),
    ("conv2d_same_even", lambda F, a, w: F.conv2d(a, w, padding="same", dilation=(1, 2)), [(1, 2, 6, 7), (3, 2, 4, 2)]),
    ("conv1d_same", lambda F, a, w: F.conv1d(a, w, padding="same"), [(2, 2, 7), (3, 2, 4)]),
])
def test_composite_matches_torch(name, fn, shapes):
    rng = np.random.default_rng(5)
    assert_matches_torch(fn, [rng.standard_normal(s) for s in shapes])


def test_max_pool1d_indices_match_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 3, 9))
    _, ours = F.max_pool1d(mg.tensor(x), 3, 2, 1, return_indices=True)
    _, theirs = torch.nn.functional.max_pool1d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
