"""conv_transpose1d/2d: the adjoint of conv2d (a closed form, no torch), finite-difference gradients in
float64, then values and input/weight/bias gradients against torch over a grid of stride, padding,
output_padding, dilation and groups, and torch's errors for bad arguments."""
import itertools

import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor, gradcheck
from minigrad import functional as F

RTOL = 1e-8


def leaf(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def geometries(dims):
    """(stride, padding, output_padding, dilation, groups) combinations torch accepts, per spatial dim."""
    for stride, padding, extra, dilation, groups in itertools.product((1, 2, 3), (0, 2), (0, 1, 2), (1, 2), (1, 2)):
        if extra < stride or extra < dilation:
            yield stride, padding, extra, dilation, groups
    if dims == 2:  # different geometry per dim
        yield (2, 1), (1, 0), (1, 0), (1, 2), 1


@pytest.mark.parametrize("stride, padding, output_padding, dilation, groups", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 2), (3, 2, 2, 2, 1), ((2, 1), (0, 1), (1, 0), (1, 3), 2)])
def test_conv_transpose2d_is_the_adjoint_of_conv2d(stride, padding, output_padding, dilation, groups):
    """<conv_transpose2d(x, w), y> = <x, conv2d(y, w)> for every y of the output's shape."""
    x, w = leaf(2, 4, 5, 4, seed=1).detach(), leaf(4, 3, 3, 2, seed=2).detach()
    out = F.conv_transpose2d(x, w, None, stride, padding, output_padding, groups, dilation)
    y = leaf(*out.shape, seed=3).detach()
    back = F.conv2d(y, w, None, stride, padding, dilation, groups)
    assert back.shape == x.shape
    assert float((out * y).sum()) == pytest.approx(float((x * back).sum()), rel=1e-12)


def test_conv_transpose2d_single_pixel_stamps_the_kernel():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 2] = 2.0
    w = np.arange(6.0).reshape(1, 1, 2, 3)
    out = F.conv_transpose2d(Tensor(x), Tensor(w), stride=2).numpy()
    expected = np.zeros((1, 1, 6, 7))
    expected[0, 0, 2:4, 4:7] = 2 * w[0, 0]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("stride, padding, output_padding, dilation, groups", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 2), (2, 0, 1, 2, 1), ((3, 1), (1, 0), (2, 0), (1, 2), 2)])
def test_conv_transpose2d_gradcheck(stride, padding, output_padding, dilation, groups):
    x, w, b = leaf(2, 4, 3, 3, seed=1), leaf(4, 2, 2, 3, seed=2), leaf(2 * groups, seed=3)
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation),
                     [x, w, b])


@pytest.mark.parametrize("stride, padding, output_padding, dilation, groups", [(1, 0, 0, 1, 1), (2, 1, 1, 2, 2)])
def test_conv_transpose1d_gradcheck(stride, padding, output_padding, dilation, groups):
    x, w, b = leaf(2, 4, 5, seed=1), leaf(4, 3, 3, seed=2), leaf(3 * groups, seed=3)
    assert gradcheck(lambda x, w, b: F.conv_transpose1d(x, w, b, stride, padding, output_padding, groups, dilation),
                     [x, w, b])


def test_conv_transpose2d_is_one_node():
    x, w, b = leaf(1, 4, 3, 3), leaf(4, 2, 2, 2, seed=1), leaf(2, seed=2)
    out = F.conv_transpose2d(x, w, b, stride=2)
    assert out.grad_fn == "conv_transpose2d" and [id(p) for p in out._parents] == [id(x), id(w), id(b)]


def test_unbatched_and_empty_batch_shapes():
    w = leaf(4, 3, 3, 3)
    assert F.conv_transpose2d(leaf(4, 5, 5), w, stride=2).shape == (3, 11, 11)
    assert F.conv_transpose2d(Tensor(np.zeros((0, 4, 5, 5))), w).shape == (0, 3, 7, 7)
    assert F.conv_transpose1d(leaf(4, 5), leaf(4, 2, 3), stride=3, output_padding=1).shape == (2, 16)
    out = F.conv_transpose2d(Tensor(np.ones((2, 4, 3, 3), np.float32)), Tensor(np.ones((4, 3, 2, 2), np.float32)))
    assert out.dtype == np.float32


# ---- against torch ------------------------------------------------------------------------------------


def run_both(torch, ours_fn, theirs_fn, *arrays):
    """Values and every gradient of ours_fn and theirs_fn on the same float64 arrays (None skipped)."""
    ours = [None if a is None else Tensor(a, requires_grad=True) for a in arrays]
    theirs = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = ours_fn(*ours), theirs_fn(*theirs)
    assert out.shape == tuple(ref.shape)
    g = np.random.default_rng(7).standard_normal(out.shape)
    out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=RTOL, atol=RTOL)
    for o, t in zip(ours, theirs):
        if o is not None:
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=RTOL, atol=RTOL)


@pytest.mark.parametrize("stride, padding, output_padding, dilation, groups", list(geometries(2)))
def test_conv_transpose2d_matches_torch(stride, padding, output_padding, dilation, groups):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 4, 5, 4)), rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(3 * groups) if stride != 2 else None  # some without bias
    args = (stride, padding, output_padding, groups, dilation)
    run_both(torch, lambda x, w, b: F.conv_transpose2d(x, w, b, *args),
             lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, *args), x, w, b)


@pytest.mark.parametrize("stride, padding, output_padding, dilation, groups", list(geometries(1)))
def test_conv_transpose1d_matches_torch(stride, padding, output_padding, dilation, groups):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 4, 6)), rng.standard_normal((4, 2, 3)), rng.standard_normal(2 * groups)
    args = (stride, padding, output_padding, groups, dilation)
    run_both(torch, lambda x, w, b: F.conv_transpose1d(x, w, b, *args),
             lambda x, w, b: torch.nn.functional.conv_transpose1d(x, w, b, *args), x, w, b)


def test_unbatched_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    run_both(torch, lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1),
             lambda x, w: torch.nn.functional.conv_transpose2d(x, w, stride=2, padding=1),
             rng.standard_normal((4, 3, 5)), rng.standard_normal((4, 2, 3, 3)))
    run_both(torch, lambda x, w: F.conv_transpose1d(x, w, stride=2, output_padding=1),
             lambda x, w: torch.nn.functional.conv_transpose1d(x, w, stride=2, output_padding=1),
             rng.standard_normal((4, 5)), rng.standard_normal((4, 2, 3)))


BAD_CALLS = {  # name: (F, x shape, weight shape, options)
    "output_padding_not_below_stride_or_dilation": ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3),
                                                    dict(stride=2, output_padding=2)),
    "output_padding_1d": ("conv_transpose1d", (2, 4, 5), (4, 3, 3), dict(output_padding=1)),
    "channels": ("conv_transpose2d", (2, 5, 5, 5), (4, 3, 3, 3), {}),
    "input_dims": ("conv_transpose2d", (4, 5), (4, 3, 3, 3), {}),
    "input_dims_1d": ("conv_transpose1d", (4, 5, 6, 7), (4, 3, 3), {}),
    "bias_size": ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(bias=(4,))),
    "groups": ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(groups=3)),
    "stride": ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(stride=0)),
    "padding": ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(padding=-1)),
    "negative_output_padding": ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(output_padding=-1)),
    "stride_length": ("conv_transpose1d", (2, 4, 5), (4, 3, 3), dict(stride=(1, 1))),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_bad_arguments_raise_torchs_error(name):
    torch = pytest.importorskip("torch")
    function, x_shape, w_shape, options = BAD_CALLS[name]
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    bias = options.pop("bias", None)
    b = None if bias is None else rng.standard_normal(bias)
    with pytest.raises(Exception) as theirs:
        getattr(torch.nn.functional, function)(torch.tensor(x), torch.tensor(w),
                                               None if b is None else torch.tensor(b), **options)
    with pytest.raises(theirs.type) as ours:
        getattr(F, function)(mg.tensor(x), mg.tensor(w), None if b is None else mg.tensor(b), **options)
    assert str(ours.value) == str(theirs.value)


def test_output_smaller_than_one_pixel_raises():
    with pytest.raises(RuntimeError, match="output size"):
        F.conv_transpose2d(leaf(1, 4, 1, 1), leaf(4, 3, 1, 1), padding=1)
