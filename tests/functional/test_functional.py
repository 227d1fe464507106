"""minigrad.functional: every op's gradient against finite differences (float64) and its values
against plain NumPy references (loops for convolution and pooling). No torch needed."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor, gradcheck
from minigrad import functional as F


def leaf(*shape, seed=0, scale=1.0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape) * scale, requires_grad=True)


def log_softmax_ref(x, axis):
    z = x - x.max(axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis, keepdims=True))


# ---- activations, linear, embedding ---------------------------------------------------------------------


def test_activation_wrappers_match_methods():
    x = leaf(3, 4)
    for f, m in ((F.relu, x.relu), (F.tanh, x.tanh), (F.sigmoid, x.sigmoid), (F.gelu, x.gelu),
                 (F.softplus, x.softplus), (lambda t: F.leaky_relu(t, 0.2), lambda: x.leaky_relu(0.2))):
        np.testing.assert_array_equal(f(x).numpy(), m().numpy())
    np.testing.assert_allclose(F.silu(x).numpy(), x.numpy() / (1 + np.exp(-x.numpy())))
    assert gradcheck(F.silu, [x])


def test_activation_values():
    x = np.linspace(-30, 30, 13)
    t = Tensor(x)
    np.testing.assert_allclose(t.sigmoid().numpy(), 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(t.softplus().numpy(), np.where(x > 20, x, np.log1p(np.exp(x))), rtol=1e-12)
    np.testing.assert_allclose(t.gelu().numpy(), [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_tanh_gelu_against_its_formula_at_every_scale(dtype):
    """The tanh approximation, computed through exp, against 0.5·x·(1 + tanh(u)) in float64: values and
    slopes finite as long as x² is (float16's whole range: computed in float32, as torch does, and
    returned in float16; beyond, torch's slope is NaN too), and 0-d inputs."""
    computed_in = np.promote_types(dtype, np.float32)
    big = min(float(np.finfo(dtype).max) / 2, math.sqrt(float(np.finfo(computed_in).max)) / 10)
    x = np.array([-big, -1e4, -300, -30, -3, -0.5, 0, 0.5, 3, 30, 300, 1e4, big], dtype)
    c, v = math.sqrt(2 / math.pi), x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        u = c * (v + 0.044715 * v ** 3)
        want = np.where(np.abs(v) > 10, np.maximum(v, 0), 0.5 * v * (1 + np.tanh(u)))
        want_slope = np.where(np.abs(v) > 10, (v > 0).astype(float), 0.5 * (1 + np.tanh(u)) + 0.5 * v * (
            1 - np.tanh(u) ** 2) * c * (1 + 3 * 0.044715 * v ** 2))
    t = Tensor(x, requires_grad=True)
    out = F.gelu(t, approximate="tanh")
    out.sum().backward()
    assert out.dtype == dtype and t.grad.dtype == dtype
    rtol = {np.float16: 1e-3, np.float32: 1e-6, np.float64: 1e-14}[dtype]
    np.testing.assert_allclose(out.numpy().astype(np.float64), want, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(t.grad.numpy().astype(np.float64), want_slope, rtol=rtol, atol=rtol)
    scalar = Tensor(np.array(0.3, dtype), requires_grad=True)
    F.gelu(scalar, approximate="tanh").backward()
    assert scalar.grad.shape == () and abs(float(scalar.grad) - 0.7322955) < 2e-3


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 3e-15), (np.float32, 3e-7)])
def test_exact_gelu_erf_matches_math_erf_everywhere(dtype, rtol):
    """GELU's vectorized erf (two fitted Chebyshev series) against math.erf across both pieces and their
    joins, far tails, signed zeros, subnormals, ±inf and nan, in the input's dtype."""
    from minigrad.functional.activation import _erf
    x = np.concatenate([np.linspace(-9, 9, 180_001), [1 - 1e-12, 1, 6 - 1e-9, 6, 1e-300, -5e-324, 0.0, -0.0]])
    x = x.astype(dtype)
    got = _erf(x)
    want = np.array([math.erf(v) for v in x.astype(np.float64)])
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=rtol, atol=0)
    assert np.signbit(got[-1]) and not np.signbit(got[-2])
    np.testing.assert_array_equal(_erf(np.array([np.inf, -np.inf, np.nan], dtype)), [1, -1, np.nan])
    assert _erf(np.zeros((0, 3), dtype)).shape == (0, 3) and _erf(np.array(0.5, dtype)).shape == ()
    grid = x[:60_000].reshape(300, 200)  # column-major and strided inputs as well
    np.testing.assert_array_equal(_erf(grid.T), _erf(grid).T)
    np.testing.assert_array_equal(_erf(grid[:, ::3]), _erf(grid)[:, ::3])


def test_linear_on_transposed_and_empty_features():
    """A transposed input, and in_features or out_features of 0 (zeros plus bias, as torch's)."""
    x, w, b = leaf(5, 3), leaf(4, 5, seed=1), leaf(4, seed=2)
    assert gradcheck(lambda x, w, b: F.linear(x.t(), w.t(), b), (x, w.t().detach().requires_grad_(), b))
    out = F.linear(Tensor(np.zeros((2, 0))), Tensor(np.zeros((3, 0))), Tensor(np.ones(3)))
    np.testing.assert_array_equal(out.numpy(), np.ones((2, 3)))
    x0 = leaf(2, 4)
    F.linear(x0, Tensor(np.zeros((0, 4)), requires_grad=True)).sum().backward()
    np.testing.assert_array_equal(x0.grad.numpy(), np.zeros((2, 4)))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax(dim):
    x = leaf(3, 4, 5)
    assert gradcheck(lambda x: F.softmax(x, dim), [x]) and gradcheck(lambda x: F.log_softmax(x, dim), [x])
    np.testing.assert_allclose(F.softmax(x, dim).numpy().sum(dim), 1)
    np.testing.assert_allclose(F.log_softmax(x, dim).numpy(), log_softmax_ref(x.numpy(), dim), rtol=1e-12)


def test_softmax_is_stable():
    x = mg.tensor([[1000.0, 0.0, -1000.0]])
    assert np.all(np.isfinite(F.log_softmax(x, 1).numpy())) and np.allclose(F.softmax(x, 1).numpy(), [[1, 0, 0]])


@pytest.mark.parametrize("x_shape, bias", [((4, 3), True), ((4, 3), False), ((2, 4, 3), True), ((3,), True)])
def test_linear(x_shape, bias):
    x, w, b = leaf(*x_shape, seed=1), leaf(5, 3, seed=2), leaf(5, seed=3)
    inputs = [x, w, b] if bias else [x, w]
    assert gradcheck(lambda *a: F.linear(*a), inputs)
    expected = x.numpy() @ w.data.T + (b.numpy() if bias else 0)
    np.testing.assert_allclose(F.linear(*inputs).numpy(), expected)


def test_linear_shape_error():
    with pytest.raises(ValueError, match=r"linear: input of shape \(4, 3\).*weight of shape \(5, 2\)"):
        F.linear(mg.ones(4, 3), mg.ones(5, 2))


def test_embedding():
    w = leaf(6, 3)
    index = mg.tensor([[0, 2, 2], [5, 0, 1]])
    np.testing.assert_array_equal(F.embedding(index, w).numpy(), w.numpy()[index.numpy()])
    assert gradcheck(lambda w: F.embedding(index, w), [w])
    F.embedding(index, w, padding_idx=2).sum().backward()
    np.testing.assert_array_equal(w.grad[:, 0], [2, 1, 0, 0, 0, 1])
    with pytest.raises(IndexError, match=r"\[0, 6\)"):
        F.embedding(mg.tensor([6]), w)


def test_one_hot():
    np.testing.assert_array_equal(F.one_hot(mg.tensor([0, 2, 1])).numpy(), np.eye(3)[[0, 2, 1]])
    assert F.one_hot(mg.tensor([1]), 4).shape == (1, 4) and F.one_hot(mg.tensor([1]), 4).dtype == np.int64
    with pytest.raises(ValueError, match="class values"):
        F.one_hot(mg.tensor([3]), 2)


def test_dropout():
    mg.manual_seed(0)
    x = mg.ones(1000, requires_grad=True)
    y = F.dropout(x, 0.25)
    kept = y.numpy() != 0
    assert 0.65 < kept.mean() < 0.85 and np.allclose(y.numpy()[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.numpy())  # the gradient is the same mask
    assert F.dropout(x, 0.5, training=False) is x and np.all(F.dropout(x, 1.0).numpy() == 0)
    with pytest.raises(ValueError, match="p must be"):
        F.dropout(x, 1.5)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad(mode):
    x = leaf(2, 3, 4)
    widths = (1, 2, 2, 1)
    numpy_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    np.testing.assert_array_equal(F.pad(x, widths, mode).numpy(),
                                  np.pad(x.numpy(), ((0, 0), (2, 1), (1, 2)), mode=numpy_mode))
    assert gradcheck(lambda x: F.pad(x, widths, mode), [x])


def test_pad_negative_crops_and_value():
    x = leaf(3, 4)
    np.testing.assert_array_equal(F.pad(x, (-1, 2), value=7.0).numpy(), np.pad(x.numpy()[:, 1:], ((0, 0), (0, 2)),
                                                                           constant_values=7))
    assert gradcheck(lambda x: F.pad(x, (-1, 2, 1, -1)), [x])


# ---- losses -------------------------------------------------------------------------------------------------


def cross_entropy_ref(x, t, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    """torch's definition, row by row, in plain NumPy."""
    logp = log_softmax_ref(x, 1)
    n_classes = x.shape[1]
    w = np.ones(n_classes) if weight is None else weight
    losses, denom = [], 0.0
    for i, c in enumerate(t):
        if c == ignore_index:
            losses.append(0.0)
            continue
        losses.append(-(1 - eps) * w[c] * logp[i, c] - eps / n_classes * (w * logp[i]).sum())
        denom += w[c]
    losses = np.array(losses)
    return {"mean": losses.sum() / denom, "sum": losses.sum(), "none": losses}[reduction]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_cross_entropy(reduction, weighted, eps):
    x = leaf(5, 4)
    t = np.array([0, 3, -100, 1, 3])
    weight = np.array([0.5, 1.0, 2.0, 1.5]) if weighted else None
    out = F.cross_entropy(x, mg.tensor(t), weight=weight, reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(out.numpy(), cross_entropy_ref(x.numpy(), t, weight, -100, reduction, eps), rtol=1e-12)
    assert gradcheck(lambda x: F.cross_entropy(x, t, weight=weight, reduction=reduction, label_smoothing=eps), [x])


def test_cross_entropy_shapes_and_probabilities():
    x = leaf(2, 3, 4, 5)  # (N, C, H, W)
    t = np.random.default_rng(1).integers(0, 3, (2, 4, 5))
    flat = F.cross_entropy(Tensor(np.moveaxis(x.numpy(), 1, -1).reshape(-1, 3)), t.reshape(-1), reduction="none")
    np.testing.assert_allclose(F.cross_entropy(x, t, reduction="none").numpy(), flat.numpy().reshape(2, 4, 5))
    assert gradcheck(lambda x: F.cross_entropy(x, t, label_smoothing=0.1), [x])
    v = leaf(4)  # unbatched
    np.testing.assert_allclose(F.cross_entropy(v, np.array(2)).numpy(), -log_softmax_ref(v.numpy()[None], 1)[0, 2])
    p = np.random.default_rng(2).dirichlet(np.ones(3), size=(2, 4, 5)).transpose(0, 3, 1, 2)
    soft = F.cross_entropy(x, p)
    np.testing.assert_allclose(soft.numpy(), -(p * log_softmax_ref(x.numpy(), 1)).sum(1).mean())
    assert gradcheck(lambda x: F.cross_entropy(x, p, label_smoothing=0.3), [x])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_cross_entropy_probability_targets_get_their_gradient(reduction, weighted, eps):
    """loss = −Σ_c w_c·q_c·log p_c with q = (1 − eps)·target + eps/C, so d loss / d target =
    −(1 − eps)·w·log p, divided by the number of rows for 'mean'."""
    x, t = leaf(2, 3, 4, seed=1), leaf(2, 3, 4, seed=2)  # (N, C, d); torch does not ask targets to sum to 1
    w = np.array([0.5, 1.0, 2.0]) if weighted else np.ones(3)
    loss = lambda x, t, weight=None: F.cross_entropy(x, t, weight=weight, reduction=reduction, label_smoothing=eps)
    logp, rows = log_softmax_ref(x.numpy(), 1), 2 * 4
    losses = -(w[:, None] * ((1 - eps) * t.numpy() + eps / 3) * logp).sum(1)
    expected = {"mean": losses.sum() / rows, "sum": losses.sum(), "none": losses}[reduction]
    weight = Tensor(w, requires_grad=True) if weighted else None
    np.testing.assert_allclose(loss(x, t, weight).numpy(), expected, rtol=1e-12)
    loss(x, t, weight).sum().backward()
    np.testing.assert_allclose(t.grad, -(1 - eps) * w[:, None] * logp / (rows if reduction == "mean" else 1),
                               rtol=1e-12)
    assert gradcheck(loss, [x, t] + ([weight] if weighted else []))  # the weight gets its gradient too


def test_cross_entropy_is_stable_and_checks_targets():
    x = mg.tensor([[1000.0, -1000.0]], requires_grad=True)
    loss = F.cross_entropy(x, mg.tensor([1]))
    loss.backward()
    assert loss.item() == 2000.0 and np.all(np.isfinite(x.grad.numpy()))
    with pytest.raises(IndexError, match=r"\[0, 2\)"):
        F.cross_entropy(x, mg.tensor([2]))
    with pytest.raises(ValueError, match=r"target of shape \(2,\) does not match input of shape \(1, 2\)"):
        F.cross_entropy(x, mg.tensor([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, mg.tensor([0]), reduction="avg")
    with pytest.raises(ValueError, match="ignore_index"):
        F.cross_entropy(x, mg.tensor([[0.3, 0.7]]), ignore_index=0)


def test_nll_loss():
    x = leaf(4, 3)
    logp = F.log_softmax(x, 1)
    t = np.array([2, 0, 1, 2])
    np.testing.assert_allclose(F.nll_loss(logp, t).numpy(), F.cross_entropy(x, t).numpy(), rtol=1e-12)
    w = np.array([1.0, 2.0, 3.0])
    assert gradcheck(lambda x: F.nll_loss(x, t, weight=w, ignore_index=0, reduction="sum"), [x])
    minus_inf = Tensor(np.array([[-np.inf, 0.0]]))  # log 0 elsewhere does not poison the loss
    assert F.nll_loss(minus_inf, np.array([1])).item() == 0


def test_regression_losses():
    x, y = leaf(3, 4, seed=1), leaf(3, 4, seed=2)
    np.testing.assert_allclose(F.mse_loss(x, y).numpy(), ((x.numpy() - y.numpy()) ** 2).mean())
    np.testing.assert_allclose(F.l1_loss(x, y, reduction="sum").numpy(), np.abs(x.numpy() - y.numpy()).sum())
    assert F.mse_loss(x, y, reduction="none").shape == (3, 4)
    assert gradcheck(lambda x, y: F.mse_loss(x, y) + F.l1_loss(x, y), [x, y])


def test_binary_cross_entropy():
    x = leaf(3, 4)
    y = np.random.default_rng(1).random((3, 4))
    p = 1 / (1 + np.exp(-x.numpy()))
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, y, reduction="none").numpy(), expected)
    np.testing.assert_allclose(F.binary_cross_entropy(Tensor(p), y).numpy(), expected.mean())
    pos_weight, weight = np.array([1.0, 2.0, 0.5, 3.0]), np.array([2.0, 1.0, 1.0, 1.0])
    expected = -weight * (pos_weight * y * np.log(p) + (1 - y) * np.log(1 - p))
    loss = F.binary_cross_entropy_with_logits(x, y, weight, reduction="sum", pos_weight=pos_weight)
    np.testing.assert_allclose(loss.numpy(), expected.sum())
    assert gradcheck(lambda x: F.binary_cross_entropy_with_logits(x, y, pos_weight=pos_weight), [x])
    assert gradcheck(lambda x: F.binary_cross_entropy(x.sigmoid(), y), [x])
    big = F.binary_cross_entropy_with_logits(mg.tensor([100.0, -100.0]), mg.tensor([0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(big.numpy(), [100, 100])


# ---- normalization --------------------------------------------------------------------------------------


def test_layer_norm():
    x, w, b = leaf(2, 3, 4, seed=1), leaf(3, 4, seed=2), leaf(3, 4, seed=3)
    out = F.layer_norm(x, (3, 4), w, b, eps=1e-5)
    mean, var = x.numpy().mean((1, 2), keepdims=True), x.numpy().var((1, 2), keepdims=True)
    np.testing.assert_allclose(out.numpy(), (x.numpy() - mean) / np.sqrt(var + 1e-5) * w.numpy() + b.numpy(), rtol=1e-12)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (3, 4), w, b), [x, w, b])
    assert gradcheck(lambda x: F.layer_norm(x, 4), [x])
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(x, (5,))


def test_batch_norm_training_and_running_stats():
    x, w, b = leaf(4, 3, 2, 2, seed=1, scale=2), leaf(3, seed=2), leaf(3, seed=3)
    running_mean, running_var = np.zeros(3), np.ones(3)
    out = F.batch_norm(x, running_mean, running_var, w, b, training=True, momentum=0.1)
    mean, var = x.numpy().mean((0, 2, 3)), x.numpy().var((0, 2, 3))
    shaped = lambda a: a.reshape(1, 3, 1, 1)
    np.testing.assert_allclose(out.numpy(), (x.numpy() - shaped(mean)) / np.sqrt(shaped(var) + 1e-5) * shaped(w.numpy())
                               + shaped(b.numpy()), rtol=1e-12)
    np.testing.assert_allclose(running_mean, 0.1 * mean)
    np.testing.assert_allclose(running_var, 0.9 + 0.1 * var * 16 / 15)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, w, b])
    evaluated = F.batch_norm(x, running_mean, running_var, w, b, training=False)
    np.testing.assert_allclose(evaluated.numpy(), (x.numpy() - shaped(running_mean)) / np.sqrt(shaped(running_var) + 1e-5)
                               * shaped(w.numpy()) + shaped(b.numpy()), rtol=1e-12)
    assert gradcheck(lambda x: F.batch_norm(x, running_mean, running_var, training=False), [x])
    two_d = leaf(5, 3)
    assert gradcheck(lambda x: F.batch_norm(x, None, None, training=True), [two_d])
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(leaf(1, 3), None, None, training=True)


# ---- convolution and pooling ----------------------------------------------------------------------------------


def conv2d_ref(x, w, b, stride, padding, dilation, groups):
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    OH, OW = (H - dh * (KH - 1) - 1) // sh + 1, (W - dw * (KW - 1) - 1) // sw + 1
    out = np.zeros((N, O, OH, OW))
    per_group = O // groups
    for o in range(O):
        c0 = o // per_group * Cg
        for i in range(OH):
            for j in range(OW):
                patch = x[:, c0:c0 + Cg, i * sh: i * sh + dh * (KH - 1) + 1: dh, j * sw: j * sw + dw * (KW - 1) + 1: dw]
                out[:, o, i, j] = (patch * w[o]).sum((1, 2, 3)) + (0 if b is None else b[o])
    return out


CONV_CASES = [  # (x shape, w shape, stride, padding, dilation, groups, bias)
    ((2, 3, 6, 5), (4, 3, 3, 3), (1, 1), (0, 0), (1, 1), 1, True),
    ((2, 3, 6, 5), (4, 3, 3, 2), (2, 1), (1, 2), (1, 1), 1, False),
    ((1, 4, 7, 7), (6, 2, 3, 3), (2, 2), (1, 1), (2, 1), 2, True),
    ((2, 2, 5, 5), (2, 1, 1, 1), (1, 1), (0, 0), (1, 1), 2, True),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d(case):
    x_shape, w_shape, stride, padding, dilation, groups, bias = case
    x, w, b = leaf(*x_shape, seed=1), leaf(*w_shape, seed=2), leaf(w_shape[0], seed=3)
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    out = F.conv2d(x, w, b if bias else None, **args)
    np.testing.assert_allclose(out.numpy(), conv2d_ref(x.numpy(), w.numpy(), b.numpy() if bias else None, stride, padding,
                                                    dilation, groups), rtol=1e-10, atol=1e-12)
    assert out.numpy().flags.c_contiguous
    if bias:
        assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **args), [x, w, b])
    else:
        assert gradcheck(lambda x, w: F.conv2d(x, w, **args), [x, w])


def test_conv2d_same_padding_unbatched_and_errors():
    x, w = leaf(3, 5, 6, seed=1), leaf(2, 3, 4, 3, seed=2)  # (C, H, W), an even kernel height
    out = F.conv2d(x, w, padding="same")
    assert out.shape == (2, 5, 6)
    padded = np.pad(x.numpy()[None], ((0, 0), (0, 0), (1, 2), (1, 1)))
    np.testing.assert_allclose(out.numpy(), conv2d_ref(padded, w.numpy(), None, (1, 1), (0, 0), (1, 1), 1)[0])
    assert gradcheck(lambda x, w: F.conv2d(x, w, padding="same"), [x, w])
    assert F.conv2d(x, w, padding="valid").shape == (2, 2, 4)
    with pytest.raises(ValueError, match=r"conv2d: input of shape \(1, 3, 5, 6\).*weight of shape \(2, 2, 4, 3\)"):
        F.conv2d(x.unsqueeze(0), leaf(2, 2, 4, 3))
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.conv2d(leaf(1, 3, 2, 2), w)


def test_conv1d():
    x, w, b = leaf(2, 3, 9, seed=1), leaf(4, 3, 3, seed=2), leaf(4, seed=3)
    out = F.conv1d(x, w, b, stride=2, padding=1, dilation=2)
    expected = conv2d_ref(x.numpy()[:, :, None], w.numpy()[:, :, None], b.numpy(), (1, 2), (0, 1), (1, 2), 1)[:, :, 0]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)
    assert gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2), [x, w, b])


def pool_ref(x, k, s, p, reduce, ceil_mode=False, count_include_pad=True, dilation=1):
    """Window by window, with torch's output size and divisor rules."""
    N, C, H, W = x.shape
    size = lambda n: ((n + 2 * p - dilation * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1)
    OH, OW = size(H), size(W)
    OH -= ceil_mode and (OH - 1) * s >= H + p
    OW -= ceil_mode and (OW - 1) * s >= W + p
    out = np.zeros((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            rows = [r for r in range(i * s - p, i * s - p + dilation * (k - 1) + 1, dilation)]
            cols = [c for c in range(j * s - p, j * s - p + dilation * (k - 1) + 1, dilation)]
            inside_r, inside_c = [r for r in rows if 0 <= r < H], [c for c in cols if 0 <= c < W]
            window = x[:, :, inside_r][:, :, :, inside_c]
            if reduce == "max":
                out[:, :, i, j] = window.max((2, 3))
            else:
                in_pad = lambda idx, n: [v for v in idx if v < n + p]
                count = (len(in_pad(rows, H)) * len(in_pad(cols, W)) if count_include_pad
                         else len(inside_r) * len(inside_c))
                out[:, :, i, j] = window.sum((2, 3)) / count
    return out


POOL_CASES = [(2, None, 0, False), (3, 2, 1, False), (3, 2, 1, True), (2, 1, 1, False), (3, 3, 0, True)]


@pytest.mark.parametrize("k, s, p, ceil_mode", POOL_CASES)
def test_max_pool2d(k, s, p, ceil_mode):
    x = leaf(2, 3, 7, 6)
    out = F.max_pool2d(x, k, s, p, ceil_mode=ceil_mode)
    np.testing.assert_array_equal(out.numpy(), pool_ref(x.numpy(), k, s or k, p, "max", ceil_mode))
    assert gradcheck(lambda x: F.max_pool2d(x, k, s, p, ceil_mode=ceil_mode), [x])


@pytest.mark.parametrize("k, s, p, ceil_mode", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d(k, s, p, ceil_mode, count_include_pad):
    x = leaf(2, 3, 7, 6)
    out = F.avg_pool2d(x, k, s, p, ceil_mode, count_include_pad)
    np.testing.assert_allclose(out.numpy(), pool_ref(x.numpy(), k, s or k, p, "avg", ceil_mode, count_include_pad))
    assert gradcheck(lambda x: F.avg_pool2d(x, k, s, p, ceil_mode, count_include_pad), [x])


def test_pool_options():
    x = leaf(1, 2, 7, 7)
    np.testing.assert_array_equal(F.max_pool2d(x, 2, 2, dilation=2).numpy(), pool_ref(x.numpy(), 2, 2, 0, "max", dilation=2))
    assert gradcheck(lambda x: F.max_pool2d(x, 3, 2, 1, dilation=2), [x])
    np.testing.assert_allclose(F.avg_pool2d(x, 2, divisor_override=3).numpy(),
                               x.numpy()[:, :, :6, :6].reshape(1, 2, 3, 2, 3, 2).sum((3, 5)) / 3)
    values, indices = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(np.take_along_axis(x.numpy().reshape(1, 2, -1), indices.numpy().reshape(1, 2, -1), 2),
                                  values.numpy().reshape(1, 2, -1))
    ties = mg.zeros(1, 1, 2, 2, requires_grad=True)
    F.max_pool2d(ties, 2).sum().backward()  # the first maximum gets the gradient, as in torch
    np.testing.assert_array_equal(ties.grad.numpy().ravel(), [1, 0, 0, 0])
    with pytest.raises(ValueError, match="at most half the kernel"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        F.avg_pool2d(leaf(2, 7, 7), 2)
