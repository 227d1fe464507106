"""scaled_dot_product_attention: closed forms and finite differences (float64, no torch), then values
and gradients against torch's (each such test skips without it) over shapes, broadcasting, masks,
causality, scale and grouped heads; bad arguments get torch's errors."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor, gradcheck
from minigrad import functional as F


def leaf(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_one_key_returns_its_value_and_equal_scores_average():
    q, k, v = leaf(2, 3, 4), leaf(2, 1, 4, seed=1), leaf(2, 1, 5, seed=2)
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v).numpy(), np.repeat(v.numpy(), 3, axis=1))
    keys = Tensor(np.zeros((1, 4, 3)))  # every score 0: the mean of the values
    values = leaf(1, 4, 2, seed=3)
    out = F.scaled_dot_product_attention(leaf(1, 2, 3), keys, values)
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(values.numpy().mean(1, keepdims=True), (1, 2, 2)))


def test_closed_form_with_scale_and_additive_mask():
    q, k, v = leaf(3, 4, seed=1), leaf(5, 4, seed=2), leaf(5, 2, seed=3)
    mask = np.random.default_rng(4).standard_normal((3, 5))
    s = q.numpy() @ k.numpy().T * 0.3 + mask
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=Tensor(mask), scale=0.3)
    np.testing.assert_allclose(out.numpy(), p @ v.numpy(), rtol=1e-12)


def test_causal_query_sees_only_earlier_keys():
    q, k, v = leaf(1, 4, 3), leaf(1, 4, 3, seed=1), leaf(1, 4, 2, seed=2)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(out.numpy()[0, 0], v.numpy()[0, 0])  # the first query sees only the first key
    changed = v.numpy().copy()
    changed[0, 3] += 10  # the last value: only the last query sees it
    after = F.scaled_dot_product_attention(q, k, Tensor(changed), is_causal=True)
    np.testing.assert_allclose(after.numpy()[0, :3], out.numpy()[0, :3])


def test_a_fully_masked_row_gives_zeros_and_no_gradient():
    q, k, v = leaf(3, 4), leaf(5, 4, seed=1), leaf(5, 2, seed=2)
    mask = np.ones((3, 5), bool)
    mask[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=Tensor(mask))
    assert (out.numpy()[1] == 0).all() and np.isfinite(out.numpy()).all()
    out.sum().backward()
    assert (q.grad.numpy()[1] == 0).all() and np.isfinite(k.grad.numpy()).all()


@pytest.mark.parametrize("options", [{}, dict(is_causal=True), dict(scale=0.7), dict(mask="bool"), dict(mask="float")])
def test_gradcheck(options):
    rng = np.random.default_rng(5)
    mask = options.pop("mask", None)
    attn = None
    if mask == "bool":
        keep = rng.random((3, 4)) > 0.3
        keep[:, 0] = True
        attn = Tensor(keep)
    elif mask == "float":
        attn = leaf(2, 1, 3, 4, seed=6)  # broadcast over heads; its gradient is checked too
    inputs = [leaf(2, 2, 3, 5, seed=1), leaf(2, 2, 4, 5, seed=2), leaf(2, 2, 4, 3, seed=3)]
    if mask == "float":
        inputs.append(attn)
        assert gradcheck(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), inputs)
    else:
        assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=attn, **options), inputs)


def test_dropout_keeps_the_expectation_and_its_gradient_follows_the_drawn_mask():
    q, k, v = leaf(1, 2, 3), leaf(1, 6, 3, seed=1), leaf(1, 6, 4, seed=2)
    plain = F.scaled_dot_product_attention(q, k, v).numpy()
    mg.manual_seed(0)
    mean = np.mean([F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy() for _ in range(4000)], axis=0)
    np.testing.assert_allclose(mean, plain, atol=0.06)

    def seeded(q, k, v):  # the same mask on every call: a function gradcheck can differentiate
        mg.manual_seed(1)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    assert gradcheck(seeded, [q, k, v])


def test_grouped_query_heads_share_key_value_heads():
    q, k, v = leaf(1, 4, 3, 2), leaf(1, 2, 5, 2, seed=1), leaf(1, 2, 5, 3, seed=2)
    out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    repeated = [Tensor(np.repeat(x.numpy(), 2, axis=1)) for x in (k, v)]
    np.testing.assert_allclose(out.numpy(), F.scaled_dot_product_attention(q, *repeated).numpy(), rtol=1e-12)


def test_bad_arguments():
    q, k, v = leaf(1, 3, 4), leaf(1, 5, 4), leaf(1, 5, 6)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=Tensor(np.ones((3, 5), bool)), is_causal=True)
    with pytest.raises(RuntimeError, match="Expected query, key, and value to have the same dtype, but got "
                                           "query.dtype: double key.dtype: float"):
        F.scaled_dot_product_attention(q, k.float(), v)
    with pytest.raises(RuntimeError, match="must share E"):
        F.scaled_dot_product_attention(q, leaf(1, 5, 3), v)
    with pytest.raises(RuntimeError, match="dropout probability"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.5)


# ---- against torch -------------------------------------------------------------------------------

CASES = [((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), None, {}),
         ((4, 5), (6, 5), (6, 3), None, {}),                                  # no batch dims
         ((2, 1, 4, 5), (1, 3, 6, 5), (1, 3, 6, 2), None, {}),                # batch dims broadcast
         ((2, 3, 4, 5), (2, 3, 4, 5), (2, 3, 4, 5), None, dict(is_causal=True)),
         ((2, 3, 4, 5), (2, 3, 7, 5), (2, 3, 7, 5), None, dict(is_causal=True)),  # L < S: upper-left triangle
         ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), "bool", {}),
         ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), "float", dict(scale=0.25)),
         ((1, 4, 3, 2), (1, 2, 5, 2), (1, 2, 5, 3), None, dict(enable_gqa=True)),
         ((2, 0, 4, 5), (2, 0, 6, 5), (2, 0, 6, 7), None, {}),                # empty batch
         ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), "bool-rows", {})]         # fully masked rows


@pytest.mark.parametrize("q_shape, k_shape, v_shape, mask, options", CASES)
def test_values_and_gradients_equal_torch(q_shape, k_shape, v_shape, mask, options):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s) for s in (q_shape, k_shape, v_shape)]
    mask_array = None
    if mask is not None:
        shape = (q_shape[-2], k_shape[-2])
        mask_array = rng.random(shape) > 0.4 if mask.startswith("bool") else rng.standard_normal(shape)
        if mask == "bool-rows":
            mask_array[1] = False
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = F.scaled_dot_product_attention(*ours, attn_mask=None if mask is None else Tensor(mask_array), **options)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *theirs, attn_mask=None if mask is None else torch.tensor(mask_array), **options)
    weights = rng.standard_normal(expected.shape)
    (out * Tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_float32_stays_float32_and_matches_torch():
    torch = pytest.importorskip("torch")
    arrays = [np.random.default_rng(s).standard_normal((2, 4, 8)).astype(np.float32) for s in range(3)]
    out = F.scaled_dot_product_attention(*(Tensor(a) for a in arrays))
    assert out.dtype == np.float32
    expected = torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(a) for a in arrays))
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert math.isclose(float(out.numpy().sum()), float(expected.sum()), rel_tol=1e-4)
