"""ConvTranspose1d/2d, Upsample, AdaptiveAvgPool1d/2d and GroupNorm as torch's layers: parameter
shapes, state_dict keys, initialisation, repr, outputs and every gradient with torch's weights copied
in (float64, 1e-7), ``output_size=`` and torch's constructor errors."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn

RTOL = ATOL = 1e-7


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_conv_transpose_parameters_and_init_without_torch():
    mg.manual_seed(0)
    m = nn.ConvTranspose2d(8, 12, (3, 2), groups=4)
    assert m.weight.shape == (8, 3, 3, 2) and m.bias.shape == (12,)
    assert list(m.state_dict()) == ["weight", "bias"]
    bound = 1 / np.sqrt(3 * 3 * 2)  # fan_in = out_channels/groups · kernel size, for the weight and the bias
    assert np.abs(m.weight.numpy()).max() <= bound and np.abs(m.weight.numpy()).max() > 0.8 * bound
    assert np.abs(m.bias.numpy()).max() <= bound
    assert list(nn.ConvTranspose1d(4, 6, 3, bias=False).state_dict()) == ["weight"]
    assert nn.ConvTranspose1d(4, 6, 3).weight.shape == (4, 6, 3)


def test_group_norm_parameters_without_torch():
    m = nn.GroupNorm(2, 6)
    np.testing.assert_array_equal(m.weight.numpy(), 1)
    np.testing.assert_array_equal(m.bias.numpy(), 0)
    assert list(nn.GroupNorm(2, 6, affine=False).state_dict()) == []
    assert list(nn.GroupNorm(2, 6, bias=False).state_dict()) == ["weight"]


def test_modules_without_parameters_have_empty_state():
    for m in (nn.Upsample(scale_factor=2), nn.AdaptiveAvgPool2d(3), nn.AdaptiveAvgPool1d(2)):
        assert m.state_dict() == {} and list(m.parameters()) == []


# ---- against torch ------------------------------------------------------------------------------------


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def pair(torch, name, *args, **kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs).double(), getattr(torch.nn, name)(*args, **kwargs).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (key, value), (_, reference) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert value.shape == tuple(reference.shape), key
    # random weights (not torch's ones/zeros) so the gradients test the affine parts too
    rng = np.random.default_rng(5)
    ours.load_state_dict({k: rng.standard_normal(tuple(v.shape)) for k, v in theirs.state_dict().items()})
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    assert repr(ours) == repr(theirs)
    return ours, theirs


def compare(torch, ours, theirs, x, **forward):
    ours_in, theirs_in = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(ours_in, **forward), theirs(theirs_in, **forward)
    assert out.shape == tuple(ref.shape)
    g = randn(*out.shape, seed=3)
    (out * mg.tensor(g)).sum().backward()
    (ref * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ours_in.grad.numpy(), theirs_in.grad.numpy(), rtol=RTOL, atol=ATOL)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("options", [dict(), dict(stride=2, padding=1, output_padding=1),
                                     dict(stride=(2, 3), padding=(0, 1), dilation=(2, 1), groups=2, bias=False),
                                     dict(stride=3, output_padding=2, groups=4), dict(kernel_size=(1, 4), stride=2)])
def test_conv_transpose2d_matches_torch(torch, options):
    options = dict(dict(kernel_size=3), **options)
    compare(torch, *pair(torch, "ConvTranspose2d", 4, 8, **options), randn(2, 4, 5, 6))


@pytest.mark.parametrize("options", [dict(), dict(stride=2, padding=1, output_padding=1, dilation=3, groups=2)])
def test_conv_transpose1d_matches_torch(torch, options):
    compare(torch, *pair(torch, "ConvTranspose1d", 4, 6, 3, **options), randn(3, 4, 7))
    compare(torch, *pair(torch, "ConvTranspose1d", 4, 6, 3, **options), randn(4, 7))


@pytest.mark.parametrize("output_size", [(10, 10), (10, 9), [1, 6, 9, 10], (6, 10, 10)])
def test_conv_transpose2d_output_size(torch, output_size):
    ours, theirs = pair(torch, "ConvTranspose2d", 4, 6, 3, stride=2, padding=1)
    x = randn(*((1, 4, 5, 5) if len(output_size) != 3 else (4, 5, 5)))
    compare(torch, ours, theirs, x, output_size=output_size)


def test_conv_transpose1d_output_size(torch):
    compare(torch, *pair(torch, "ConvTranspose1d", 4, 6, 3, stride=3), randn(2, 4, 5), output_size=[17])


@pytest.mark.parametrize("output_size, x_shape", [((12, 12), (1, 4, 5, 5)), ((1, 2, 3), (1, 4, 5, 5)),
                                                  ((8, 10), (1, 4, 5, 5)), ((1, 6, 10, 10), (4, 5, 5))])
def test_conv_transpose_bad_output_size(torch, output_size, x_shape):
    ours, theirs = pair(torch, "ConvTranspose2d", 4, 6, 3, stride=2, padding=1)
    with pytest.raises(ValueError) as reference:
        theirs(torch.zeros(x_shape, dtype=torch.float64), output_size=output_size)
    with pytest.raises(ValueError) as error:
        ours(mg.zeros(x_shape, dtype=mg.float64), output_size=output_size)
    # torch names the input's spatial size as a torch.Size, minigrad as a tuple
    expected = str(reference.value).replace("torch.Size([", "(").replace("]))", "))")
    assert str(error.value) == expected


@pytest.mark.parametrize("args, kwargs", [((4, 6, 3), dict(padding_mode="reflect")), ((4, 6, 3), dict(groups=4)),
                                          ((3, 6, 3), dict(groups=2)), ((3, 6, 3), dict(groups=0))])
def test_conv_transpose_constructor_errors(torch, args, kwargs):
    for name in ("ConvTranspose1d", "ConvTranspose2d"):
        with pytest.raises(ValueError) as reference:
            getattr(torch.nn, name)(*args, **kwargs)
        with pytest.raises(ValueError) as error:
            getattr(nn, name)(*args, **kwargs)
        assert str(error.value) == str(reference.value)


def test_conv_transpose_default_initialisation_matches_torch_statistically(torch):
    mg.manual_seed(0)
    torch.manual_seed(0)
    for name, args in [("ConvTranspose2d", (16, 32, 3)), ("ConvTranspose1d", (24, 40, 5, 1, 0, 0, 4))]:
        ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        bound = 1 / np.sqrt(np.prod(theirs.weight.shape[1:]))  # U(±1/√fan_in), fan_in = out/groups · kernel
        for (key, value), (_, reference) in zip(ours.state_dict().items(), theirs.state_dict().items()):
            value, reference = value.numpy(), reference.numpy()
            assert value.shape == reference.shape and value.dtype == reference.dtype, key
            assert np.abs(value).max() <= bound and np.abs(reference).max() <= bound, key
            assert value.std() == pytest.approx(reference.std(), rel=0.15), key
            assert value.std() == pytest.approx(bound / np.sqrt(3), rel=0.15), key


@pytest.mark.parametrize("shape, groups, options", [((2, 6, 5), 3, {}), ((3, 8, 4, 3), 2, dict(eps=1e-3)),
                                                    ((2, 4), 4, {}), ((2, 6, 2, 2), 3, dict(affine=False)),
                                                    ((2, 6, 3), 2, dict(bias=False))])
def test_group_norm_matches_torch(torch, shape, groups, options):
    compare(torch, *pair(torch, "GroupNorm", groups, shape[1], **options), randn(*shape) * 2 + 1)


def test_group_norm_errors(torch):
    with pytest.raises(ValueError, match=r"^num_channels \(6\) must be divisible by num_groups \(4\)$"):
        nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError) as reference:
        torch.nn.GroupNorm(3, 6)(torch.zeros(2, 4, 3))
    with pytest.raises(RuntimeError) as error:
        nn.GroupNorm(3, 6)(mg.zeros(2, 4, 3))
    assert str(error.value) == str(reference.value)


@pytest.mark.parametrize("name, args, kwargs, shape", [
    ("Upsample", (), dict(scale_factor=2), (2, 3, 4, 5)),
    ("Upsample", (), dict(scale_factor=(1.5, 0.5), mode="bilinear"), (2, 3, 4, 5)),
    ("Upsample", (), dict(size=(7, 3), mode="bilinear", align_corners=True), (2, 3, 4, 5)),
    ("Upsample", (), dict(scale_factor=2.5, mode="linear", recompute_scale_factor=True), (2, 3, 4)),
    ("Upsample", ((3, 4, 5),), dict(mode="trilinear"), (1, 2, 2, 3, 2)),
    ("Upsample", (), dict(scale_factor=2, mode="bicubic", align_corners=False), (2, 3, 4, 5)),
    ("UpsamplingNearest2d", (), dict(scale_factor=3), (2, 3, 4, 5)),
    ("UpsamplingBilinear2d", ((5, 9),), {}, (2, 3, 4, 5)),
    ("AdaptiveAvgPool2d", ((3, None),), {}, (2, 3, 7, 5)),
    ("AdaptiveAvgPool2d", (1,), {}, (3, 7, 5)),
    ("AdaptiveAvgPool1d", (3,), {}, (2, 3, 7)),
])
def test_sampling_modules_match_torch(torch, name, args, kwargs, shape):
    compare(torch, *pair(torch, name, *args, **kwargs), randn(*shape))


def test_upsample_error_is_torchs(torch):
    with pytest.raises(NotImplementedError) as reference:
        torch.nn.Upsample(scale_factor=2)(torch.zeros(2, 3))
    with pytest.raises(NotImplementedError) as error:
        nn.Upsample(scale_factor=2)(mg.zeros(2, 3))
    assert str(error.value) == str(reference.value)
