"""The modules added for torch parity (activations, losses, distances, Dropout2d, Unflatten, 1-d
pools, Conv2d's string padding) and nn.init's trunc_normal_ and orthogonal_: behaviour without torch,
then outputs, gradients and reprs against torch's modules (each such test skips without torch)."""
import math
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import functional as F

ACTIVATIONS = [  # (name, args, kwargs, the functional call it must equal)
    ("ELU", (0.5,), {}, lambda x: F.elu(x, 0.5)), ("CELU", (), {"alpha": 2.0}, lambda x: F.celu(x, 2.0)),
    ("SELU", (), {"inplace": True}, F.selu), ("Mish", (), {}, F.mish),
    ("Hardtanh", (-2.0, 3.0), {}, lambda x: F.hardtanh(x, -2, 3)), ("ReLU6", (), {"inplace": True}, F.relu6),
    ("SiLU", (), {}, F.silu), ("Softplus", (2.0, 5.0), {}, lambda x: F.softplus(x, 2.0, 5.0)),
    ("Softsign", (), {}, F.softsign), ("LogSigmoid", (), {}, F.logsigmoid), ("Hardsigmoid", (), {}, F.hardsigmoid),
    ("Hardswish", (), {}, F.hardswish), ("ReLU", (True,), {}, F.relu),
    ("LeakyReLU", (0.2,), {"inplace": True}, lambda x: F.leaky_relu(x, 0.2)),
]


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("name, args, kwargs, functional", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_module_is_its_function(name, args, kwargs, functional):
    x = mg.tensor(randn(3, 4) * 4)
    module = getattr(nn, name)(*args, **kwargs)
    np.testing.assert_array_equal(module(x).numpy(), functional(x).numpy())
    assert list(module.parameters()) == []


def test_hardtanh_rejects_inverted_bounds():
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        nn.Hardtanh(1.0, -1.0)


LOSSES = [  # (module, functional, input transform, target)
    (nn.SmoothL1Loss(beta=0.5), lambda x, y: F.smooth_l1_loss(x, y, beta=0.5), lambda x: x, randn(4, 3, seed=1)),
    (nn.HuberLoss("sum", 2.0), lambda x, y: F.huber_loss(x, y, "sum", 2.0), lambda x: x, randn(4, 3, seed=1)),
    (nn.KLDivLoss("batchmean"), lambda x, y: F.kl_div(x, y, reduction="batchmean"), lambda x: F.log_softmax(x, 1),
     np.full((4, 3), 1 / 3)),
    (nn.KLDivLoss(reduction="none", log_target=True), lambda x, y: F.kl_div(x, y, reduction="none", log_target=True),
     lambda x: x, randn(4, 3, seed=1)),
    (nn.BCELoss(weight=np.arange(3.0)), lambda x, y: F.binary_cross_entropy(x, y, weight=np.arange(3.0)),
     lambda x: x.sigmoid(), np.random.default_rng(2).uniform(size=(4, 3))),
    (nn.L1Loss(), F.l1_loss, lambda x: x, randn(4, 3, seed=1)),
]


@pytest.mark.parametrize("module, functional, prepare, target", LOSSES, ids=lambda v: type(v).__name__)
def test_loss_module_is_its_function(module, functional, prepare, target):
    x = mg.tensor(randn(4, 3), requires_grad=True)
    np.testing.assert_array_equal(module(prepare(x), mg.tensor(target)).numpy(),
                                  functional(prepare(x), mg.tensor(target)).numpy())


@pytest.mark.parametrize("cls", [nn.SmoothL1Loss, nn.HuberLoss, nn.BCELoss, nn.KLDivLoss])
def test_loss_modules_check_reduction(cls):
    with pytest.raises(ValueError, match="reduction must be"):
        cls(reduction="batch")
    assert (cls is nn.KLDivLoss) == ("'batchmean'" in str(pytest.raises(ValueError, cls, reduction="x").value))


def test_distance_modules():
    a, b = mg.tensor(randn(3, 4)), mg.tensor(randn(3, 4, seed=1))
    np.testing.assert_array_equal(nn.CosineSimilarity(0, 1e-3)(a, b).numpy(),
                                  F.cosine_similarity(a, b, 0, 1e-3).numpy())
    np.testing.assert_array_equal(nn.PairwiseDistance(1.0, keepdim=True)(a, b).numpy(),
                                  F.pairwise_distance(a, b, 1.0, keepdim=True).numpy())


def test_dropout2d_module():
    mg.manual_seed(1)
    layer = nn.Dropout2d(0.5)
    x = mg.ones((4, 6, 2, 2), dtype=np.float64)
    y = layer(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and (y.min((2, 3)) == y.max((2, 3))).all()
    assert layer.eval()(x) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.Dropout2d(-0.1)
    assert repr(nn.Dropout2d(0.2, inplace=True)) == "Dropout2d(p=0.2, inplace=True)"


@pytest.mark.parametrize("dim, size, shape, expected", [(1, (2, 3), (4, 6, 5), (4, 2, 3, 5)),
                                                        (-1, [5, -1], (2, 10), (2, 5, 2)),
                                                        (0, (1, 4), (4,), (1, 4))])
def test_unflatten(dim, size, shape, expected):
    x = mg.tensor(randn(*shape), requires_grad=True)
    y = nn.Unflatten(dim, size)(x)
    assert y.shape == expected
    np.testing.assert_array_equal(y.numpy().reshape(shape), x.numpy())
    y.sum().backward()
    assert x.grad.shape == shape
    assert nn.Flatten(dim if dim >= 0 else dim + len(expected) - 1, dim + len(size) - 1 if dim >= 0 else -1)(y).shape \
        == shape


def test_unflatten_errors():
    with pytest.raises(TypeError, match="unflattened_size must be a tuple of ints"):
        nn.Unflatten(1, 6)
    with pytest.raises(IndexError, match="Dimension out of range"):
        nn.Unflatten(3, (2, 3))(mg.ones((2, 6)))


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("cls, shape, kernel", [(nn.Conv2d, (2, 3, 7, 6), (4, 3)), (nn.Conv1d, (2, 3, 7), 4)])
def test_conv_padding_strings(padding, cls, shape, kernel):
    conv = cls(3, 5, kernel, padding=padding, dilation=2).double()
    out = conv(mg.tensor(randn(*shape)))
    k = (kernel,) if isinstance(kernel, int) else kernel
    assert out.shape[2:] == (shape[2:] if padding == "same" else tuple(n - 2 * (m - 1) for n, m in zip(shape[2:], k)))
    assert f"padding={padding}" in repr(conv)


def test_conv_padding_string_errors():
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(2, 2, 3, stride=(1, 2), padding="same")
    with pytest.raises(ValueError, match="Invalid padding string 'full'"):
        nn.Conv1d(2, 2, 3, padding="full")


def test_pool1d_modules():
    x = mg.tensor(randn(2, 3, 9))
    np.testing.assert_array_equal(nn.MaxPool1d(3, 2, 1)(x).numpy(), F.max_pool1d(x, 3, 2, 1).numpy())
    values, indices = nn.MaxPool1d(2, return_indices=True)(x)
    assert values.shape == indices.shape == (2, 3, 4)
    np.testing.assert_array_equal(nn.AvgPool1d(4, 3, 2, True, False)(x).numpy(),
                                  F.avg_pool1d(x, 4, 3, 2, ceil_mode=True, count_include_pad=False).numpy())


# ---- init ------------------------------------------------------------------------------------------------


def truncated_moments(mean, std, a, b):
    """Mean and standard deviation of N(mean, std²) truncated to [a, b] (closed form)."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    mass = 0.5 * (math.erf(beta / math.sqrt(2)) - math.erf(alpha / math.sqrt(2)))
    shift = (pdf(alpha) - pdf(beta)) / mass
    var = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / mass - shift ** 2
    return mean + std * shift, std * math.sqrt(var)


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04), (1.0, 2.0, 0.0, 5.0),
                                             (0.0, 1.0, 1.8, 4.0)])  # the last: under 5% of the mass
def test_trunc_normal_bounds_and_moments(mean, std, a, b):
    mg.manual_seed(0)
    w = nn.init.trunc_normal_(nn.Parameter(np.zeros((200, 100))), mean, std, a, b).numpy()
    assert a <= w.min() and w.max() <= b
    expected_mean, expected_std = truncated_moments(mean, std, a, b)
    assert abs(w.mean() - expected_mean) < 0.02 * std and abs(w.std() - expected_std) < 0.02 * std


def test_trunc_normal_warns_far_from_interval():
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        nn.init.trunc_normal_(mg.zeros((10,)), 5.0, 1.0, -1.0, 1.0)


@pytest.mark.parametrize("shape, gain", [((6, 4), 1.0), ((4, 6), 2.0), ((8, 3, 2, 2), 0.5)])
def test_orthogonal(shape, gain):
    mg.manual_seed(0)
    w = nn.init.orthogonal_(nn.Parameter(np.zeros(shape, np.float32)), gain).numpy().reshape(shape[0], -1)
    small = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T  # orthonormal columns, or rows
    np.testing.assert_allclose(small, gain ** 2 * np.eye(min(w.shape)), atol=1e-5)


def test_orthogonal_errors_and_empty():
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions are supported"):
        nn.init.orthogonal_(mg.zeros((3,)))
    assert nn.init.orthogonal_(mg.zeros((0, 3))).shape == (0, 3)


# ---- against torch ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, args, kwargs, functional", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_module_matches_torch(name, args, kwargs, functional):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    x = randn(3, 5) * 4
    xt = torch.tensor(x, requires_grad=True)
    xm = mg.tensor(x, requires_grad=True)
    theirs(xt.clone()).sum().backward()  # (torch's inplace modules may not modify a leaf)
    ours(xm).sum().backward()
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-7)
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("name, args, inputs", [
    ("SmoothL1Loss", dict(beta=0.3), lambda: [randn(4, 3), randn(4, 3, seed=1)]),
    ("HuberLoss", dict(reduction="none", delta=0.5), lambda: [randn(4, 3), randn(4, 3, seed=1)]),
    ("KLDivLoss", dict(reduction="batchmean"), lambda: [randn(4, 3), np.random.default_rng(1).uniform(size=(4, 3))]),
    ("BCELoss", dict(reduction="sum"), lambda: [np.random.default_rng(3).uniform(size=(4, 3)),
                                                np.random.default_rng(1).uniform(size=(4, 3))]),
    ("CosineSimilarity", dict(dim=0), lambda: [randn(4, 3), randn(4, 3, seed=1)]),
    ("PairwiseDistance", dict(p=1.0), lambda: [randn(4, 3), randn(4, 3, seed=1)]),
    ("MaxPool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), lambda: [randn(2, 3, 10)]),
    ("AvgPool1d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False), lambda: [randn(2, 3, 10)]),
    ("Unflatten", dict(dim=1, unflattened_size=(2, 3)), lambda: [randn(4, 6)]),
])
def test_module_matches_torch(name, args, inputs):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(**args), getattr(torch.nn, name)(**args)
    assert repr(ours) == repr(theirs)
    arrays = inputs()
    ours_in = [mg.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = ours(*ours_in), theirs(*theirs_in)
    upstream = randn(*out.shape, seed=9)
    (out * mg.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10)
    for o, t in zip(ours_in, theirs_in):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls, shape, kernel, padding", [("Conv2d", (2, 3, 7, 6), (4, 3), "same"),
                                                         ("Conv2d", (2, 3, 7, 6), 2, "valid"),
                                                         ("Conv1d", (2, 3, 9), 4, "same")])
def test_conv_padding_strings_match_torch(cls, shape, kernel, padding):
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, cls)(3, 4, kernel, padding=padding, dilation=2).double()
    ours = getattr(nn, cls)(3, 4, kernel, padding=padding, dilation=2).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert repr(ours) == repr(theirs)
    x = randn(*shape)
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(xm), theirs(xt)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_init_statistics_match_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    mg.manual_seed(0)
    theirs = torch.nn.init.trunc_normal_(torch.empty(300, 200, dtype=torch.float64), 0.5, 1.5, -1.0, 3.0).numpy()
    ours = nn.init.trunc_normal_(mg.zeros((300, 200), dtype=np.float64), 0.5, 1.5, -1.0, 3.0).numpy()
    assert abs(ours.mean() - theirs.mean()) < 0.03 and abs(ours.std() - theirs.std()) < 0.03
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q_theirs = torch.nn.init.orthogonal_(torch.empty(5, 8, dtype=torch.float64), 3.0).numpy()
    q_ours = nn.init.orthogonal_(mg.zeros((5, 8), dtype=np.float64), 3.0).numpy()
    np.testing.assert_allclose(q_ours @ q_ours.T, q_theirs @ q_theirs.T, atol=1e-10)


@pytest.mark.parametrize("options", [{}, {"affine": True}, {"track_running_stats": True},
                                     {"affine": True, "track_running_stats": True}])
def test_instance_norm_as_torch(options):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3, 5, 5))
    out = nn.InstanceNorm2d(3, dtype=np.float64, **options)(mg.tensor(a))
    flat = out.numpy().reshape(4, 3, -1)  # each (sample, channel) standardized over its pixels
    np.testing.assert_allclose(flat.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(flat.var(-1), 1 - 1e-5 / (a.reshape(4, 3, -1).var(-1) + 1e-5), rtol=1e-9)
    assert mg.gradcheck(lambda x: nn.InstanceNorm2d(3, dtype=np.float64, affine=True)(x),
                     [mg.tensor(a[:2, :, :3, :3], requires_grad=True)])
    torch = pytest.importorskip("torch")
    ours = nn.InstanceNorm2d(3, dtype=np.float64, **options)
    theirs = torch.nn.InstanceNorm2d(3, dtype=torch.float64, **options)
    x, y = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    weights = rng.standard_normal(a.shape)
    (ours(x) * mg.tensor(weights)).sum().backward()
    (theirs(y) * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-9, atol=1e-12)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-9, err_msg=key)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(mg.tensor(a)).numpy(), theirs(torch.tensor(a)).detach().numpy(), rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(nn.InstanceNorm1d(3, dtype=np.float64)(mg.tensor(a[0])).numpy(),
                               torch.nn.InstanceNorm1d(3, dtype=torch.float64)(torch.tensor(a[0])).numpy(), atol=1e-12)


def test_sync_batch_norm_outside_a_distributed_world_is_batch_norm():
    mg.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Sequential(nn.Flatten(), nn.BatchNorm1d(12)))
    weight = net[1].weight
    x = mg.randn(4, 2, 4, 4)
    expected = net(x).numpy()
    running = net[1].running_mean.numpy().copy()
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert converted is net and type(net[1]) is nn.SyncBatchNorm and type(net[2][1]) is nn.SyncBatchNorm
    assert net[1].weight is weight and np.array_equal(net[1].running_mean.numpy(), running)
    np.testing.assert_allclose(net(x).numpy(), expected, rtol=1e-6)  # (the running statistics moved once more)
    assert int(net[1].num_batches_tracked.item()) == 2
    with pytest.raises(ValueError, match=r"SyncBatchNorm: expected 2D or 3D or 4D or 5D input \(got 1D input\)"):
        nn.SyncBatchNorm(3)(mg.randn(3))
