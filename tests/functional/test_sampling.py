"""interpolate and adaptive average pooling: closed forms and finite-difference gradients (float64, no
torch), then values and gradients against torch over modes, sizes, integer and non-integer scale
factors (up and down), align_corners and recompute_scale_factor, and torch's errors."""
import itertools

import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor, gradcheck
from minigrad import functional as F

RTOL = 1e-8


def leaf(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_nearest_and_linear_closed_forms():
    x = Tensor(np.array([[[0.0, 1.0, 4.0]]]))
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=2).numpy(), [[[0, 0, 1, 1, 4, 4]]])
    np.testing.assert_array_equal(F.interpolate(x, size=2).numpy(), [[[0, 1]]])  # floor(o · 3/2)
    np.testing.assert_array_equal(F.interpolate(x, size=2, mode="nearest-exact").numpy(), [[[0, 4]]])
    np.testing.assert_allclose(F.interpolate(x, size=5, mode="linear", align_corners=True).numpy(),
                               [[[0, 0.5, 1, 2.5, 4]]])
    # half-pixel centres: source (o + ½)·3/6 − ½, clamped at 0
    np.testing.assert_allclose(F.interpolate(x, scale_factor=2, mode="linear").numpy(),
                               [[[0, 0.25, 0.75, 1.75, 3.25, 4]]])
    np.testing.assert_allclose(F.interpolate(x, size=1, mode="area").numpy(), [[[5 / 3]]])


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_reproduces_a_plane_with_align_corners(mode):
    i, j = np.meshgrid(np.arange(6.0), np.arange(7.0), indexing="ij")
    plane = Tensor((2 * i - 3 * j + 1)[None, None])
    out = F.interpolate(plane, size=(11, 13), mode=mode, align_corners=True).numpy()[0, 0]
    i, j = np.meshgrid(np.linspace(0, 5, 11), np.linspace(0, 6, 13), indexing="ij")
    inside = (slice(2, -2), slice(2, -2)) if mode == "bicubic" else (slice(None), slice(None))  # edges clamp
    np.testing.assert_allclose(out[inside], (2 * i - 3 * j + 1)[inside], atol=1e-12)


def test_adaptive_avg_pool_closed_forms():
    x = leaf(2, 3, 5, 7)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, 1).numpy(), x.numpy().mean((2, 3), keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, (5, 7)).numpy(), x.numpy(), rtol=1e-12)
    # 5 → 3: windows [0, 2), [1, 4), [3, 5) (floor(i·5/3), ceil((i + 1)·5/3))
    row = x.numpy()[..., :, 0]  # length 5
    expected = np.stack([row[..., 0:2].mean(-1), row[..., 1:4].mean(-1), row[..., 3:5].mean(-1)], -1)
    np.testing.assert_allclose(F.adaptive_avg_pool1d(Tensor(row), 3).numpy(), expected, rtol=1e-12)
    assert F.adaptive_avg_pool2d(x, (None, 2)).shape == (2, 3, 5, 2)
    assert F.adaptive_avg_pool2d(leaf(3, 4, 4), 2).shape == (3, 2, 2)
    assert F.adaptive_avg_pool2d(Tensor(np.zeros((0, 3, 4, 4))), 2).shape == (0, 3, 2, 2)


GRADCHECK = [((2, 2, 5), dict(scale_factor=1.7)), ((2, 2, 5), dict(size=3, mode="nearest-exact")),
             ((2, 2, 4), dict(scale_factor=2.5, mode="linear")),
             ((2, 2, 4), dict(size=7, mode="linear", align_corners=True)),
             ((1, 2, 3, 4), dict(scale_factor=(2, 0.6), mode="bilinear")),
             ((1, 2, 4, 3), dict(size=(3, 5), mode="bilinear", align_corners=True)),
             ((1, 1, 2, 3, 2), dict(scale_factor=1.5, mode="trilinear")),
             ((1, 2, 5, 7), dict(size=(3, 2), mode="area")),
             ((1, 2, 3, 3), dict(scale_factor=3)), ((1, 2, 3, 4), dict(scale_factor=(1.3, 0.8), mode="bicubic")),
             ((1, 1, 4, 3), dict(size=(5, 2), mode="bicubic", align_corners=True))]


@pytest.mark.parametrize("shape, options", GRADCHECK)
def test_interpolate_gradcheck(shape, options):
    assert gradcheck(lambda x: F.interpolate(x, **options), [leaf(*shape)])


@pytest.mark.parametrize("call", [lambda x: F.adaptive_avg_pool2d(x, (3, 2)), lambda x: F.adaptive_avg_pool2d(x, 7),
                                  lambda x: F.adaptive_avg_pool1d(x[0], 3)])
def test_adaptive_avg_pool_gradcheck(call):
    assert gradcheck(call, [leaf(2, 2, 5, 4)])


def test_nearest_gradient_is_the_adjoint_where_torchs_backward_is_not():
    """With a scale_factor whose floored size equals the input's (or twice it), torch's nearest forward
    samples with the scale but its backward copies (or halves) the index; ours is the true adjoint."""
    x = leaf(1, 1, 3)
    out = F.interpolate(x, scale_factor=1.3)
    np.testing.assert_array_equal(out.numpy(), x.numpy()[..., [0, 0, 1]])
    out.backward(Tensor(np.array([[[1.0, 2.0, 3.0]]])))
    np.testing.assert_array_equal(x.grad.numpy(), [[[3.0, 3.0, 0.0]]])
    assert gradcheck(lambda x: F.interpolate(x, scale_factor=2.1), [leaf(1, 2, 5)])
    assert gradcheck(lambda x: F.interpolate(x, scale_factor=1.3, mode="bicubic"), [leaf(1, 1, 3, 3)])


def test_one_node_per_call():
    x = leaf(1, 2, 3, 4)
    for out, name in ((F.interpolate(x, scale_factor=2, mode="bilinear"), "interpolate"),
                      (F.interpolate(x, size=(2, 3), mode="area"), "interpolate"),
                      (F.adaptive_avg_pool2d(x, 2), "adaptive_avg_pool2d")):
        assert out.grad_fn == name and [id(p) for p in out._parents] == [id(x)]


def test_float32_stays_float32():
    x = Tensor(np.ones((1, 1, 4, 4), np.float32))
    for options in (dict(scale_factor=2), dict(size=3, mode="bilinear"), dict(size=2, mode="area")):
        assert F.interpolate(x, **options).dtype == np.float32
    assert F.adaptive_avg_pool2d(x, 3).dtype == np.float32


# ---- against torch ------------------------------------------------------------------------------------


def compare(torch, ours_fn, theirs_fn, shape, gradients=True, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape)
    ours, theirs = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours_fn(ours), theirs_fn(theirs)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=RTOL, atol=RTOL)
    if gradients:
        g = np.random.default_rng(seed + 1).standard_normal(out.shape)
        out.backward(Tensor(g))
        ref.backward(torch.tensor(g))
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=RTOL, atol=RTOL)


def torch_backward_is_exact(mode, size, out, given_scale):
    """False where torch's backward disagrees with its forward (see the test above; bicubic's too at equal sizes)."""
    if mode == "bicubic":
        return not (given_scale and out == size and given_scale != 1)
    return not (mode == "nearest" and given_scale and out in (size, 2 * size) and given_scale != out / size)


MODES_1D = [("nearest", None), ("nearest-exact", None), ("area", None), ("linear", False), ("linear", True)]
LENGTHS = (1, 3, 5, 8, 13)
SCALES = (0.3, 0.5, 0.77, 1.0, 1.3, 1.5, 2, 2.5, 3, 1 / 3, 4.1)


@pytest.mark.parametrize("mode, align_corners", MODES_1D)
@pytest.mark.parametrize("length", LENGTHS)
def test_interpolate_1d_scale_factors_match_torch(mode, align_corners, length):
    torch = pytest.importorskip("torch")
    for scale, recompute in itertools.product(SCALES, (None, True)):
        out = int(length * scale)
        if out < 1:
            continue
        options = dict(scale_factor=scale, mode=mode, align_corners=align_corners, recompute_scale_factor=recompute)
        exact = torch_backward_is_exact(mode, length, out, None if recompute else scale)
        compare(torch, lambda x: F.interpolate(x, **options), lambda x: torch.nn.functional.interpolate(x, **options),
                (2, 3, length), gradients=exact)


@pytest.mark.parametrize("mode, align_corners", MODES_1D)
def test_interpolate_1d_sizes_match_torch(mode, align_corners):
    torch = pytest.importorskip("torch")
    for length, size in itertools.product(LENGTHS, (1, 2, 4, 5, 9, 17)):
        options = dict(size=size, mode=mode, align_corners=align_corners)
        compare(torch, lambda x: F.interpolate(x, **options), lambda x: torch.nn.functional.interpolate(x, **options),
                (2, 3, length))


@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("nearest-exact", None), ("area", None),
                                                 ("bilinear", False), ("bilinear", True), ("bicubic", False),
                                                 ("bicubic", True)])
@pytest.mark.parametrize("options", [dict(scale_factor=2), dict(scale_factor=(0.6, 1.7)), dict(scale_factor=1.5),
                                     dict(scale_factor=(3, 0.5)), dict(size=(3, 8)), dict(size=4), dict(size=(9, 1))])
@pytest.mark.parametrize("shape", [(2, 2, 4, 5), (1, 3, 7, 2)])
def test_interpolate_2d_matches_torch(mode, align_corners, options, shape):
    torch = pytest.importorskip("torch")
    options = dict(options, mode=mode, align_corners=align_corners)
    scale = options.get("scale_factor")
    scales = scale if isinstance(scale, tuple) else (scale, scale)
    if scale is not None and min(int(n * s) for n, s in zip(shape[2:], scales)) < 1:
        pytest.skip("torch rejects an empty output")
    exact = scale is None or all(torch_backward_is_exact(mode, n, int(n * s), s) for n, s in zip(shape[2:], scales))
    compare(torch, lambda x: F.interpolate(x, **options), lambda x: torch.nn.functional.interpolate(x, **options),
            shape, gradients=exact)


@pytest.mark.parametrize("options", [dict(scale_factor=(1.5, 0.7, 2), mode="trilinear"),
                                     dict(size=(2, 7, 3), mode="trilinear", align_corners=True),
                                     dict(scale_factor=2, mode="nearest"), dict(size=(2, 2, 2), mode="area")])
def test_interpolate_3d_matches_torch(options):
    torch = pytest.importorskip("torch")
    compare(torch, lambda x: F.interpolate(x, **options), lambda x: torch.nn.functional.interpolate(x, **options),
            (1, 2, 3, 4, 5))


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear", "linear-align"])
def test_float32_values_match_torch_to_an_ulp(mode):
    """torch samples in float32 for float32 inputs (nearest even for float64): the same positions."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    options = dict(mode=mode[:6] if mode == "linear-align" else mode)
    if mode == "linear-align":
        options["align_corners"] = True
    for length, scale in itertools.product(range(1, 50, 3), (0.3, 0.7, 1.1, 2.2, 2.9, 3.3, 1 / 7)):
        if int(length * scale) < 1:
            continue
        x = rng.standard_normal((1, 1, length)).astype(np.float32)
        ours = F.interpolate(Tensor(x), scale_factor=scale, **options).numpy()
        theirs = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=scale, **options).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=4e-7)


@pytest.mark.parametrize("shape, size", [((2, 3, 5, 7), (2, 3)), ((2, 3, 5, 7), (5, 7)), ((2, 3, 6, 6), 4),
                                         ((2, 3, 7, 3), (None, 2)), ((2, 3, 3, 3), (7, 5)), ((3, 9, 9), 4),
                                         ((1, 1, 3, 4), 1)])
def test_adaptive_avg_pool2d_matches_torch(shape, size):
    torch = pytest.importorskip("torch")
    compare(torch, lambda x: F.adaptive_avg_pool2d(x, size),
            lambda x: torch.nn.functional.adaptive_avg_pool2d(x, size), shape)


@pytest.mark.parametrize("shape, size", [((2, 3, 7), 3), ((3, 5), 5), ((2, 2, 4), 9), ((2, 2, 4), (2,))])
def test_adaptive_avg_pool1d_matches_torch(shape, size):
    torch = pytest.importorskip("torch")
    compare(torch, lambda x: F.adaptive_avg_pool1d(x, size),
            lambda x: torch.nn.functional.adaptive_avg_pool1d(x, size), shape)


BAD = {  # name: (shape, call on (F, x))
    "size_and_scale": ((2, 3, 5), lambda F, x: F.interpolate(x, size=3, scale_factor=2)),
    "neither": ((2, 3, 5), lambda F, x: F.interpolate(x)),
    "align_corners_with_nearest": ((2, 3, 5), lambda F, x: F.interpolate(x, size=3, align_corners=True)),
    "align_corners_with_area": ((2, 3, 5), lambda F, x: F.interpolate(x, size=3, mode="area", align_corners=False)),
    "size_length": ((2, 3, 5, 5), lambda F, x: F.interpolate(x, size=(3, 4, 5))),
    "scale_length": ((2, 3, 5, 5), lambda F, x: F.interpolate(x, scale_factor=[2.0])),
    "float_size": ((2, 3, 4, 4), lambda F, x: F.interpolate(x, size=(2, 2.5))),
    "recompute_with_size": ((2, 3, 5), lambda F, x: F.interpolate(x, size=3, recompute_scale_factor=True)),
    "bilinear_3d": ((2, 3, 5), lambda F, x: F.interpolate(x, scale_factor=2, mode="bilinear")),
    "linear_4d": ((2, 3, 5, 5), lambda F, x: F.interpolate(x, scale_factor=2, mode="linear")),
    "trilinear_4d": ((2, 3, 5, 5), lambda F, x: F.interpolate(x, scale_factor=2, mode="trilinear")),
    "bilinear_5d": ((1, 1, 2, 2, 2), lambda F, x: F.interpolate(x, scale_factor=2, mode="bilinear")),
    "bicubic_3d": ((2, 3, 5), lambda F, x: F.interpolate(x, scale_factor=2, mode="bicubic")),
    "2d_input": ((3, 5), lambda F, x: F.interpolate(x, scale_factor=2)),
    "unknown_mode": ((2, 3, 5), lambda F, x: F.interpolate(x, scale_factor=2, mode="cubic")),
    "antialias_nearest": ((2, 3, 5, 5), lambda F, x: F.interpolate(x, scale_factor=2, antialias=True)),
    "empty_output_1d": ((2, 3, 5), lambda F, x: F.interpolate(x, scale_factor=0.1)),
    "empty_output_2d": ((2, 3, 5, 7), lambda F, x: F.interpolate(x, size=(2, 0), mode="bilinear")),
    "empty_output_3d": ((2, 3, 4, 4, 4), lambda F, x: F.interpolate(x, scale_factor=0.1)),
    "negative_scale": ((2, 3, 5), lambda F, x: F.interpolate(x, scale_factor=-2)),
    "no_channels": ((2, 0, 4, 4), lambda F, x: F.interpolate(x, scale_factor=2, mode="bilinear")),
    "pool2d_dims": ((3, 4), lambda F, x: F.adaptive_avg_pool2d(x, 2)),
    "pool2d_output_length": ((2, 3, 4, 4), lambda F, x: F.adaptive_avg_pool2d(x, (2, 2, 2))),
    "pool2d_negative": ((2, 3, 4, 4), lambda F, x: F.adaptive_avg_pool2d(x, -1)),
    "pool2d_empty_input": ((2, 3, 0, 4), lambda F, x: F.adaptive_avg_pool2d(x, 2)),
    "pool1d_dims": ((3,), lambda F, x: F.adaptive_avg_pool1d(x, 2)),
    "pool1d_output_length": ((2, 3, 4), lambda F, x: F.adaptive_avg_pool1d(x, (2, 2))),
    "pool1d_none": ((2, 3, 4), lambda F, x: F.adaptive_avg_pool1d(x, None)),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_arguments_raise_torchs_error(name):
    torch = pytest.importorskip("torch")
    shape, call = BAD[name]
    x = np.random.default_rng(0).standard_normal(shape)
    with pytest.raises(Exception) as theirs:
        call(torch.nn.functional, torch.tensor(x))
    with pytest.raises(theirs.type) as ours:
        call(F, mg.tensor(x))
    assert str(ours.value) == str(theirs.value)


def test_unsupported_modes_say_so():
    with pytest.raises(NotImplementedError, match="lanczos"):
        F.interpolate(leaf(1, 1, 3, 3), scale_factor=2, mode="lanczos")
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(leaf(1, 1, 3, 3), scale_factor=0.5, mode="bilinear", antialias=True)
