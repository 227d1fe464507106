"""Every op against torch: the same float64 inputs and upstream gradient, values and input
gradients equal to 1e-8 relative. Each case is one function written once for both libraries:
``fn(lib, F, *inputs)`` with ``lib`` minigrad or torch and ``F`` their functional module."""
import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad import functional as MF  # noqa: E402

RTOL, ATOL = 1e-8, 1e-10
INDEX = [[2, 0, 2], [1, 1, 0]]
TARGETS = [0, 3, 1, 3, 2]

# (id, fn, input shapes, positive inputs)
CASES = [
    ("add", lambda m, F, a, b: a + b, [(3, 4), (4,)], False),
    ("sub_broadcast", lambda m, F, a, b: a - b, [(2, 1, 4), (3, 1)], False),
    ("mul", lambda m, F, a, b: a * b * 2.5, [(3, 4), (3, 1)], False),
    ("div", lambda m, F, a, b: a / b - 1 / b, [(3, 4), (4,)], True),
    ("pow_tensor", lambda m, F, a, b: a ** b, [(3, 4), (3, 4)], True),
    ("pow_scalar", lambda m, F, a: a ** 3 + a ** 0.5 + 2 ** a, [(3, 4)], True),
    ("exp_log_sqrt", lambda m, F, a: a.exp() + a.log() + a.sqrt(), [(3, 4)], True),
    ("sin_cos", lambda m, F, a: a.sin() * a.cos(), [(3, 4)], False),
    ("abs_neg", lambda m, F, a: (-a).abs(), [(3, 4)], False),
    ("tanh_sigmoid_relu", lambda m, F, a: a.tanh() + a.sigmoid() * a.relu(), [(3, 4)], False),
    ("leaky_relu", lambda m, F, a: F.leaky_relu(a, 0.2), [(3, 4)], False),
    ("gelu", lambda m, F, a: F.gelu(a * 3), [(3, 4)], False),
    ("gelu_tanh", lambda m, F, a: F.gelu(a * 3, approximate="tanh"), [(3, 4)], False),
    ("softplus", lambda m, F, a: F.softplus(a * 10) + F.softplus(a, beta=2, threshold=1), [(3, 4)], False),
    ("silu", lambda m, F, a: F.silu(a), [(3, 4)], False),
    ("clamp", lambda m, F, a: a.clamp(-0.5, 0.5) + a.clamp(min=0.2) + a.clamp(max=-0.1), [(3, 4)], False),
    ("clamp_tensor_bounds", lambda m, F, a, lo, hi: a.clamp(lo, hi) + a.clamp(min=lo) * 2 + a.clamp(max=hi) * 3
     + a.clamp_min(lo[:1]) + a.clamp_max(hi[0]), [(3, 4), (4,), (3, 1)], False),  # min > max in places
    ("maximum_minimum", lambda m, F, a, b: m.maximum(a, b) + m.minimum(a, b) * 2, [(3, 4), (4,)], False),
    ("where", lambda m, F, a, b: m.where(a > b, a, b * 3), [(3, 4), (3, 4)], False),
    ("matmul_2d", lambda m, F, a, b: a @ b, [(3, 4), (4, 5)], False),
    ("matmul_batched_broadcast", lambda m, F, a, b: a @ b, [(2, 1, 3, 4), (5, 4, 2)], False),
    ("matmul_vectors", lambda m, F, a, b, c: (a @ b) @ c, [(4,), (4, 3), (3,)], False),
    ("matmul_empty_inner_batched", lambda m, F, a, b: a @ b, [(2, 3, 0), (0, 5)], False),
    ("matmul_empty_rows", lambda m, F, a, b: a @ b, [(0, 3), (3, 4)], False),
    ("matmul_empty_batch", lambda m, F, a, b: a @ b, [(0, 3, 4), (4, 5)], False),
    ("matmul_empty_vector", lambda m, F, a, b: a @ b, [(0,), (0, 4)], False),
    ("reflected_tensor_operands", lambda m, F, a, b: b.__rpow__(a) + b.__rsub__(a) * b.__rtruediv__(a)
     + b.__radd__(a) * b.__rmul__(a), [(3, 4), (3, 4)], True),
    ("rmatmul_tensor", lambda m, F, a, b: b.__rmatmul__(a), [(2, 3, 4), (4, 5)], False),
    ("sum_mean", lambda m, F, a: a.sum((0, 2)) + a.mean(1, keepdim=True).sum(-1), [(2, 3, 4)], False),
    ("var_std", lambda m, F, a: a.var(1) + a.std((0, 2), keepdim=True).sum() + a.var(unbiased=False),
     [(2, 3, 4)], False),
    ("var_std_overloads", lambda m, F, a: a.var(True) + a.std(False) + a.var(0, True).sum()
     + a.std(1, False, True).sum() + a.var(dim=0, unbiased=False, keepdim=True).sum() + a.std(correction=0)
     + a.var(1, correction=2.5).sum(), [(3, 4)], False),
    ("max_min", lambda m, F, a: a.max(1).values.sum(1) + a.min(2, keepdim=True)[0].sum((1, 2)) + a.max()
     + a.amax((1, 2)), [(2, 3, 4)], False),
    ("logsumexp", lambda m, F, a: a.logsumexp(1) + a.logsumexp((0, 2), keepdim=True).sum(), [(2, 3, 4)], False),
    ("shapes", lambda m, F, a: a.reshape(4, 6).T.unsqueeze(0).permute(2, 0, 1).transpose(0, 2).flatten(1)
     .reshape(2, 12).view(1, 24).squeeze(), [(2, 3, 4)], False),
    ("expand", lambda m, F, a: a.unsqueeze(1).expand(3, 5, 4) * 2, [(3, 4)], False),
    ("getitem", lambda m, F, a: a[1:, ::2] + a[m.tensor(INDEX)].sum(0)[:2, :2] + a[[0, 2, 0]][:2, 1:3], [(3, 4)],
     False),
    ("getitem_mask", lambda m, F, a: a[a > 0].sum() + a[..., 1], [(3, 4)], False),
    ("gather", lambda m, F, a: a.gather(1, m.tensor(INDEX)), [(2, 4)], False),
    ("cat_stack", lambda m, F, a, b: m.cat([a, b, a], 1).sum(0) + m.stack([a, a * 2], -1).sum((0, 2))[:1],
     [(2, 3), (2, 1)], False),
    ("split_chunk", lambda m, F, a: a.split(2, 1)[1].sum() * a.chunk(3, 0)[2] + a.split([1, 3], 1)[0], [(5, 4)], False),
    ("linear", lambda m, F, x, w, b: F.linear(x, w, b), [(2, 3, 4), (5, 4), (5,)], False),
    ("softmax", lambda m, F, a: F.softmax(a, 1) * F.log_softmax(a, 0), [(3, 4, 2)], False),
    ("cross_entropy", lambda m, F, a: F.cross_entropy(a * 3, m.tensor(TARGETS)), [(5, 4)], False),
    ("cross_entropy_options", lambda m, F, a: F.cross_entropy(
        a, m.tensor(TARGETS), weight=m.tensor([0.5, 1.0, 2.0, 1.5], dtype=m.float64), ignore_index=3,
        label_smoothing=0.15, reduction="sum"), [(5, 4)], False),
    ("cross_entropy_spatial", lambda m, F, a: F.cross_entropy(
        a, m.tensor([[[0, 2], [1, 1]]] * 2), reduction="none", label_smoothing=0.1), [(2, 3, 2, 2)], False),
    ("cross_entropy_probs", lambda m, F, a, p: F.cross_entropy(a, F.softmax(p, 1).detach(), label_smoothing=0.2),
     [(5, 4), (5, 4)], False),
    ("cross_entropy_soft_target_gradient", lambda m, F, a, t, w: F.cross_entropy(a, t) + F.cross_entropy(
        a, F.softmax(t, 1), weight=w.abs(), label_smoothing=0.3, reduction="sum"), [(5, 4), (5, 4), (4,)], False),
    ("cross_entropy_soft_target_none", lambda m, F, a, t: F.cross_entropy(
        a, t, weight=m.tensor([0.5, 1.0, 2.0], dtype=m.float64), reduction="none", label_smoothing=0.1),
     [(2, 3, 4), (2, 3, 4)], False),
    ("nll_loss", lambda m, F, a: F.nll_loss(F.log_softmax(a, 1), m.tensor(TARGETS),
                                            weight=m.tensor([1.0, 2.0, 3.0, 0.5], dtype=m.float64)), [(5, 4)], False),
    ("mse_l1", lambda m, F, a, b: F.mse_loss(a, b) + F.l1_loss(a, b, reduction="sum"), [(3, 4), (3, 4)], False),
    ("bce_with_logits", lambda m, F, a, y: F.binary_cross_entropy_with_logits(
        a * 4, y.sigmoid().detach(), weight=y.detach().abs(),
        pos_weight=m.tensor([1.0, 2.0, 0.5, 3.0], dtype=m.float64)),
     [(3, 4), (3, 4)], False),
    ("bce", lambda m, F, a, y: F.binary_cross_entropy(a.sigmoid(), y.sigmoid().detach(), reduction="none"),
     [(3, 4), (3, 4)], False),
    ("conv2d", lambda m, F, x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2)),
     [(2, 3, 7, 6), (4, 3, 3, 2), (4,)], False),
    ("conv2d_groups", lambda m, F, x, w: F.conv2d(x, w, groups=2, padding="same"), [(2, 4, 5, 5), (6, 2, 3, 3)], False),
    ("conv1d", lambda m, F, x, w, b: F.conv1d(x, w, b, stride=2, padding=2, dilation=2), [(2, 3, 11), (4, 3, 3), (4,)],
     False),
    ("max_pool2d", lambda m, F, x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True) + F.max_pool2d(x, 2, 1, dilation=2)[
        ..., :3, :3].sum(), [(2, 3, 6, 7)], False),
    ("avg_pool2d", lambda m, F, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False) + F.avg_pool2d(
        x, 2)[..., :1, :1] + F.avg_pool2d(x, 3, 2, 1).sum(), [(2, 3, 6, 7)], False),
    ("embedding", lambda m, F, w: F.embedding(m.tensor(INDEX), w, padding_idx=1), [(4, 3)], False),
    ("pad", lambda m, F, x: F.pad(x, (1, 2, 0, 1)) + F.pad(x, (1, 2, 0, 1), mode="reflect")
     + F.pad(x, (1, 2, 0, 1), mode="replicate") + F.pad(x, (1, 2, 0, 1), mode="circular"), [(1, 2, 3, 4)], False),
    ("layer_norm", lambda m, F, x, w, b: F.layer_norm(x, (3, 4), w, b, 1e-3), [(2, 3, 4), (3, 4), (3, 4)], False),
    ("batch_norm_train", lambda m, F, x, w, b: F.batch_norm(x, None, None, w, b, True, 0.1, 1e-3),
     [(4, 3, 2, 2), (3,), (3,)], False),
]


def _run(lib, F, fn, arrays, upstream):
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, F, *inputs)
    out.backward(lib.tensor(upstream(out.shape)))
    return out, inputs


@pytest.mark.parametrize("name, fn, shapes, positive", CASES, ids=[c[0] for c in CASES])
def test_value_and_gradient_match_torch(name, fn, shapes, positive):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    arrays = [rng.standard_normal(s) for s in shapes]
    arrays = [np.abs(a) + 0.5 for a in arrays] if positive else arrays
    upstream = lambda shape: np.asarray(np.random.default_rng(7).standard_normal(tuple(shape)))
    ours, our_inputs = _run(mg, MF, fn, arrays, upstream)
    theirs, their_inputs = _run(torch, TF, fn, arrays, upstream)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=f"{name}: value")
    for i, (a, b) in enumerate(zip(our_inputs, their_inputs)):
        expected = np.zeros(a.shape) if b.grad is None else b.grad.numpy()
        got = np.zeros(a.shape) if a.grad is None else a.grad
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=f"{name}: gradient of input {i}")


def test_singular_points_match_torch():
    """Where an op has no derivative, torch's choice: clamp at ties and crossed bounds, pow at a zero base."""
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 5.0, np.nan, 0.0])
    lo = np.array([-1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 0.0, 3.0, 0.0, 2.0])
    hi = np.array([1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 0.0, 3.0, 1.0, 2.0])
    base, exponent = np.array([0.0, 0.0, 0.0, 2.0]), np.array([0.0, 1.0, 2.0, 0.0])
    for fn, arrays in ((lambda m, F, x, lo, hi: x.clamp(lo, hi) + x.clamp_min(lo) * 2 + x.clamp_max(hi) * 3,
                        [x, lo, hi]),
                       (lambda m, F, a, b: a ** b + 0.0 ** b, [base, exponent])):
        ours, our_inputs = _run(mg, MF, fn, arrays, np.ones)
        theirs, their_inputs = _run(torch, TF, fn, arrays, np.ones)
        np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())
        for a, b in zip(our_inputs, their_inputs):
            np.testing.assert_array_equal(a.grad, b.grad.numpy())


def test_batch_norm_running_stats_match_torch():
    x = np.random.default_rng(0).standard_normal((4, 3, 2, 2))
    ours = (np.zeros(3), np.ones(3))
    theirs = (torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    for _ in range(2):
        MF.batch_norm(mg.tensor(x), *ours, training=True, momentum=0.3)
        TF.batch_norm(torch.tensor(x), *theirs, training=True, momentum=0.3)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b.numpy(), rtol=RTOL)
    np.testing.assert_allclose(MF.batch_norm(mg.tensor(x), *ours).numpy(), TF.batch_norm(torch.tensor(x), *theirs).numpy(),
                               rtol=RTOL)


def test_max_pool_indices_and_one_hot_match_torch():
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 6))
    _, ours = MF.max_pool2d(mg.tensor(x), 3, 2, 1, return_indices=True)
    _, theirs = TF.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    labels = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(MF.one_hot(mg.tensor(labels)).numpy(), TF.one_hot(torch.tensor(labels)).numpy())
