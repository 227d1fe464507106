"""group_norm: the closed form and finite-difference gradients (float64, no torch), then values and
input/weight/bias gradients against torch, and torch's errors."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor, gradcheck
from minigrad import functional as F


def leaf(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def reference(x, groups, weight, bias, eps):
    n, c = x.shape[:2]
    g = x.reshape(n, groups, -1)
    xhat = ((g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + eps)).reshape(x.shape)
    shape = (c,) + (1,) * (x.ndim - 2)
    return xhat * weight.reshape(shape) + bias.reshape(shape)


@pytest.mark.parametrize("shape, groups", [((2, 6), 3), ((2, 6, 5), 2), ((3, 4, 2, 3), 4), ((1, 4, 3, 2), 1)])
def test_group_norm_closed_form(shape, groups):
    x, w, b = leaf(*shape), leaf(shape[1], seed=1), leaf(shape[1], seed=2)
    out = F.group_norm(x, groups, w, b, eps=1e-3)
    np.testing.assert_allclose(out.numpy(), reference(x.numpy(), groups, w.numpy(), b.numpy(), 1e-3), rtol=1e-12)
    plain = F.group_norm(x, groups).numpy().reshape(shape[0], groups, -1)
    np.testing.assert_allclose(plain.mean(2), 0, atol=1e-12)


@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_group_norm_gradcheck(affine):
    x = leaf(2, 6, 3)
    w = leaf(6, seed=1) if affine != "none" else None
    b = leaf(6, seed=2) if affine == "both" else None
    assert gradcheck(lambda x, w, b: F.group_norm(x, 3, w, b), [x, w, b])


def test_group_norm_is_one_node():
    x, w, b = leaf(2, 4, 3), leaf(4, seed=1), leaf(4, seed=2)
    out = F.group_norm(x, 2, w, b)
    assert out.grad_fn == "group_norm" and [id(p) for p in out._parents] == [id(x), id(w), id(b)]


def test_empty_batch_and_float32():
    assert F.group_norm(Tensor(np.zeros((0, 6, 3))), 3).shape == (0, 6, 3)
    out = F.group_norm(Tensor(np.ones((2, 4, 3), np.float32)), 2, Tensor(np.ones(4, np.float32)))
    assert out.dtype == np.float32


@pytest.mark.parametrize("shape, groups", [((2, 6), 3), ((2, 6, 5), 1), ((2, 6, 5), 6), ((3, 4, 5, 2), 2),
                                           ((1, 8, 2, 2, 2), 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(shape, groups, affine):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape) * 3 + 1] + [rng.standard_normal(shape[1]) for _ in range(2 if affine else 0)]
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = F.group_norm(ours[0], groups, *ours[1:], eps=1e-4)
    ref = torch.nn.functional.group_norm(theirs[0], groups, *theirs[1:], eps=1e-4)
    g = rng.standard_normal(shape)
    out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-8, atol=1e-10)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("call", [
    lambda F, t: F.group_norm(t(np.ones(3)), 1),
    lambda F, t: F.group_norm(t(np.ones((2, 6, 4))), 4),
    lambda F, t: F.group_norm(t(np.ones((2, 6, 4))), 3, t(np.ones(3))),
    lambda F, t: F.group_norm(t(np.ones((2, 6, 4))), 3, None, t(np.ones(0))),
    lambda F, t: F.group_norm(t(np.ones((2, 6, 4))), 3, t(np.ones((6, 1)))),
])
def test_bad_arguments_raise_torchs_error(call):
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as theirs:
        call(torch.nn.functional, torch.tensor)
    with pytest.raises(theirs.type) as ours:
        call(F, mg.tensor)
    assert str(ours.value) == str(theirs.value)
