"""minigrad.Tensor: gradients of every op against finite differences (float64), factories and
dtypes, and the errors bad input gives. No torch needed (the engine's contract is in
tests/autograd/test_engine.py)."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor, gradcheck


def leaf(*shape, seed=0, positive=False, transpose=False):
    """A float64 leaf that requires grad; ``transpose`` makes its data non-contiguous."""
    data = np.random.default_rng(seed).standard_normal(shape[::-1] if transpose else shape)
    data = data.T if transpose else data
    return Tensor(np.abs(data) + 0.5 if positive else data, requires_grad=True)


# (name, function, input shapes, options) — each is gradchecked; "positive" inputs for log/sqrt/pow
UNARY = [
    ("exp", lambda x: x.exp(), {}),
    ("sin", lambda x: x.sin(), {}),
    ("cos", lambda x: x.cos(), {}),
    ("log", lambda x: x.log(), {"positive": True}),
    ("sqrt", lambda x: x.sqrt(), {"positive": True}),
    ("abs", lambda x: x.abs(), {}),
    ("neg", lambda x: -x, {}),
    ("tanh", lambda x: x.tanh(), {}),
    ("sigmoid", lambda x: x.sigmoid(), {}),
    ("relu", lambda x: x.relu(), {}),
    ("leaky_relu", lambda x: x.leaky_relu(0.1), {}),
    ("gelu", lambda x: x.gelu(), {}),
    ("gelu_tanh", lambda x: x.gelu(approximate="tanh"), {}),
    ("softplus", lambda x: x.softplus(), {}),
    ("softplus_beta", lambda x: x.softplus(beta=2.0, threshold=1.0), {}),
    ("clamp", lambda x: x.clamp(-0.5, 0.7), {}),
    ("clamp_min", lambda x: x.clamp(min=0.1), {}),
    ("pow_scalar", lambda x: x ** 3, {}),
    ("pow_fraction", lambda x: x ** 1.5, {"positive": True}),
    ("rpow", lambda x: 2.0 ** x, {}),
    ("scalar_arith", lambda x: (3 - x) * 2 / 4 + 1, {}),
    ("rdiv", lambda x: 1 / x, {"positive": True}),
    ("sum_all", lambda x: x.sum(), {}),
    ("sum_dims", lambda x: x.sum((0, 2), keepdim=True), {}),
    ("sum_neg_dim", lambda x: x.sum(-1), {}),
    ("mean", lambda x: x.mean(1), {}),
    ("mean_dims", lambda x: x.mean((0, 1)), {}),
    ("var", lambda x: x.var(1), {}),
    ("var_biased_dims", lambda x: x.var((0, 2), unbiased=False, keepdim=True), {}),
    ("std", lambda x: x.std(), {}),
    ("amax", lambda x: x.amax((1, 2)), {}),
    ("max_all", lambda x: x.max(), {}),
    ("max_dim", lambda x: x.max(1).values, {}),
    ("min_dim_keep", lambda x: x.min(2, keepdim=True)[0], {}),
    ("logsumexp", lambda x: x.logsumexp(1), {}),
    ("logsumexp_dims", lambda x: x.logsumexp((0, 2), keepdim=True), {}),
    ("reshape", lambda x: x.reshape(4, -1) * 1, {}),
    ("view_tuple", lambda x: x.contiguous().view((6, 4)), {}),  # a transposed tensor cannot be viewed
    ("permute", lambda x: x.permute(2, 0, 1), {}),
    ("transpose", lambda x: x.transpose(0, 2), {}),
    ("T", lambda x: x.T, {}),
    ("unsqueeze", lambda x: x.unsqueeze(-1), {}),
    ("squeeze", lambda x: x[:, :1].squeeze(1), {}),
    ("flatten", lambda x: x.flatten(1), {}),
    ("expand", lambda x: x[:, :1].expand(2, 3, 4), {}),
    ("expand_new_dims", lambda x: x.expand(2, 2, 3, 4), {}),
    ("getitem_basic", lambda x: x[1, ::2, None, 1:], {}),
    ("getitem_ellipsis", lambda x: x[..., -1], {}),
    ("getitem_int_array", lambda x: x[np.array([0, 1, 0, 1])], {}),
    ("getitem_repeated", lambda x: x[:, [2, 0, 2, 2]], {}),
    ("getitem_tensor_index", lambda x: x[mg.tensor([1, 1, 0]), :, mg.tensor([3, 0, 3])], {}),
    ("getitem_mask", lambda x: x[x.numpy() > 0], {}),
    ("gather", lambda x: x.gather(2, mg.tensor(np.array([[[0, 3], [1, 1], [2, 0]]] * 2))), {}),
    ("split", lambda x: x.split([1, 2], dim=1)[1] * x.split(2, dim=2)[1].sum(), {}),
    ("chunk", lambda x: x.chunk(2, dim=-1)[0], {}),
    ("iterate", lambda x: sum(row.sum() for row in x), {}),
    ("clone_contiguous", lambda x: x.permute(2, 1, 0).contiguous().clone(), {}),
]


@pytest.mark.parametrize("name, fn, options", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("transpose", [False, True], ids=["contiguous", "non-contiguous"])
def test_unary_gradients(name, fn, options, transpose):
    x = leaf(2, 3, 4, positive=options.get("positive", False), transpose=transpose)
    assert gradcheck(fn, [x])


BINARY = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("pow", lambda a, b: a ** b),
    ("maximum", lambda a, b: a.maximum(b)),
    ("minimum", lambda a, b: mg.minimum(a, b)),
    ("where", lambda a, b: mg.where(a.numpy() > 0, a, b)),
    ("max_tensor", lambda a, b: a.max(b)),
]
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3)), ((1, 3, 1), (2, 1, 5))]


@pytest.mark.parametrize("name, fn", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("shapes", SHAPES, ids=[f"{a}x{b}" for a, b in SHAPES])
def test_binary_gradients_with_broadcasting(name, fn, shapes):
    a, b = leaf(*shapes[0], seed=1, positive=True), leaf(*shapes[1], seed=2, positive=True)
    assert gradcheck(fn, [a, b])


def test_binary_with_constants_and_arrays():
    a = leaf(3, 4)
    const = np.random.default_rng(5).standard_normal(4)
    assert gradcheck(lambda a: (a + const) * const - const / (a * a + 1) + (const - a), [a])
    assert gradcheck(lambda a: mg.where(a.numpy() > 0, a, 0.0) + mg.where(a.numpy() < 0, 1.0, a), [a])


MATMUL_SHAPES = [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
                 ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=[f"{a}@{b}" for a, b in MATMUL_SHAPES])
def test_matmul_gradients(shapes):
    a, b = leaf(*shapes[0], seed=1), leaf(*shapes[1], seed=2)
    assert gradcheck(lambda a, b: a @ b, [a, b])


def test_matmul_non_contiguous_and_only_one_side_requiring_grad():
    a, b = leaf(5, 3, transpose=True), Tensor(np.random.default_rng(3).standard_normal((3, 4)))
    assert gradcheck(lambda a: a @ b, [a])
    assert gradcheck(lambda a: b.T @ a.T, [a])


EMPTY_MATMUL_SHAPES = [((0, 3), (3, 4)), ((2, 0), (0, 4)), ((0,), (0, 4)), ((3,), (3, 0)), ((2, 3, 0), (0, 5)),
                       ((0, 3, 4), (4, 5)), ((2, 3, 4), (4, 0)), ((0, 0), (5, 0, 0)), ((4,), (0, 4, 3)), ((0,), (0,))]


@pytest.mark.parametrize("shapes", EMPTY_MATMUL_SHAPES, ids=[f"{a}@{b}" for a, b in EMPTY_MATMUL_SHAPES])
def test_matmul_with_empty_operands_gives_zero_gradients(shapes):
    a, b = leaf(*shapes[0], seed=1), leaf(*shapes[1], seed=2)
    out = a @ b
    np.testing.assert_array_equal(out.numpy(), a.numpy() @ b.numpy())  # zeros wherever the summed dim is empty
    out.backward(np.ones(out.shape))
    for t in (a, b):
        assert t.grad.shape == t.shape and t.grad.dtype == t.dtype and not t.grad.numpy().any()


# ---- clamp with tensor bounds, std / var overloads, reflected operators ---------------------------------


def test_clamp_gradcheck_with_broadcast_tensor_bounds():
    x, lo, hi = leaf(3, 4, seed=1), leaf(4, seed=2), leaf(3, 1, seed=3)  # min > max in some places
    assert (lo.numpy() > hi.numpy()).any()
    assert gradcheck(lambda x, lo, hi: x.clamp(lo, hi), [x, lo, hi])
    assert gradcheck(lambda x, lo: x.clamp(min=lo) + x.clamp_min(lo) * 2 + x.clamp(lo, 0.3), [x, lo])
    assert gradcheck(lambda x, hi: x.clamp(max=hi) + x.clamp_max(hi) * 2 + x.clip(-0.3, hi), [x, hi])


def test_clamp_ties_and_crossed_bounds_follow_torch():
    """At x == bound the gradient stays with x; where min > max the result is max and max gets it; at
    x < min == max nothing gets it; a NaN x gives NaN and no gradient (torch 2's rules)."""
    x = mg.tensor([-2.0, -1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 5.0, np.nan, 0.0], dtype=mg.float64, requires_grad=True)
    lo = mg.tensor([-1.0, -1.0, -1.0, -1.0, -1.0, 1.0, 0.0, 3.0, 0.0, 2.0], dtype=mg.float64, requires_grad=True)
    hi = mg.tensor([1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 0.0, 3.0, 1.0, 2.0], dtype=mg.float64, requires_grad=True)
    out = x.clamp(lo, hi)
    out.sum().backward()
    np.testing.assert_array_equal(out.numpy(), [-1, -1, 0, 1, 1, -1, 0, 3, np.nan, 2])
    np.testing.assert_array_equal(x.grad, [0, 1, 1, 1, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(lo.grad, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(hi.grad, [0, 0, 0, 0, 1, 1, 0, 1, 0, 0])
    x.grad = lo.grad = None
    x.clamp_min(lo).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 1, 1, 1, 1, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(lo.grad, [1, 0, 0, 0, 0, 1, 0, 0, 0, 1])


@pytest.mark.parametrize("name", ["var", "std"])
def test_std_var_overloads_match_numpy(name):
    """torch's overloads: var(unbiased), var(dim, unbiased, keepdim), var(dim, *, correction, keepdim)."""
    x = leaf(3, 4)
    a, f, root = x.numpy(), getattr(x, name), np.sqrt if name == "std" else np.asarray
    for ours, expected in ((f(True), np.var(a, ddof=1)), (f(False), np.var(a)), (f(None, True), np.var(a, ddof=1)),
                           (f(0, True), np.var(a, 0, ddof=1)), (f(1, False, True), np.var(a, 1, keepdims=True)),
                           (f(dim=0, unbiased=False, keepdim=True), np.var(a, 0, keepdims=True)),
                           (f(correction=0), np.var(a)), (f((0, 1), correction=2.5), np.var(a, ddof=2.5))):
        assert ours.shape == np.shape(expected)
        np.testing.assert_allclose(ours.numpy(), root(expected), rtol=1e-12)
    assert gradcheck(lambda x: getattr(x, name)(True) + getattr(x, name)(0, False).sum(), [x])
    assert gradcheck(lambda x: getattr(x, name)(correction=3) + getattr(x, name)(dim=1, unbiased=False).sum(), [x])


def test_a_bool_is_never_a_dim():
    x = leaf(3, 4)
    for bad in (lambda: x.sum(True), lambda: x.var(True, False), lambda: x.std((0, True)), lambda: x.mean(dim=False)):
        with pytest.raises(TypeError, match="dim must be an int"):
            bad()
    with pytest.raises(TypeError, match="unbiased"):
        x.var(0, unbiased=1)
    with pytest.raises(TypeError, match="unbiased"):
        x.std(0, True, correction=0)


def test_reflected_operators_with_tensor_operands_give_both_gradients():
    a, b, c = leaf(3, 4, seed=1, positive=True), leaf(3, 4, seed=2, positive=True), leaf(4, 2, seed=3)
    for fn in (lambda a, b: b.__rpow__(a), lambda a, b: b.__rsub__(a), lambda a, b: b.__rtruediv__(a),
               lambda a, b: b.__radd__(a), lambda a, b: b.__rmul__(a)):
        assert gradcheck(fn, [a, b])
    assert gradcheck(lambda a, c: c.__rmatmul__(a), [a, c])
    np.testing.assert_allclose(b.__rpow__(a).numpy(), a.numpy() ** b.numpy())
    np.testing.assert_allclose(c.__rmatmul__(a).numpy(), a.numpy() @ c.numpy())


def test_reflected_operators_with_arrays_and_numbers():
    x = leaf(3, 4, positive=True)
    const = np.random.default_rng(5).uniform(0.5, 2, (3, 4))
    assert gradcheck(lambda x: const ** x + 2.5 ** x - const / x + (const - x) * (3 - x) + (const @ x.T).sum(), [x])
    assert (2.5 ** mg.tensor([1, 2])).tolist() == [2.5, 6.25]  # the base is not cut to the tensor's integer dtype
    assert (2.5 ** mg.ones(2)).dtype == np.float32 and (np.ones(2) ** mg.ones(2)).dtype == np.float32


def test_pow_where_zero_base_has_no_derivative_gives_zero_as_torch():
    base = mg.tensor([0.0, 0.0, 0.0, 2.0], dtype=mg.float64, requires_grad=True)
    exponent = mg.tensor([0.0, 1.0, 2.0, 0.0], dtype=mg.float64, requires_grad=True)
    (base ** exponent).sum().backward()
    np.testing.assert_array_equal(base.grad, [0, 1, 0, 0])
    np.testing.assert_array_equal(exponent.grad, [0, 0, 0, np.log(2)])
    exponent.grad = None
    (0.0 ** exponent).sum().backward()
    np.testing.assert_array_equal(exponent.grad, [0, 0, 0, 0])


def test_cat_and_stack():
    a, b, c = leaf(2, 3, seed=1), leaf(2, 1, seed=2), leaf(2, 3, seed=3)
    assert gradcheck(lambda a, b, c: mg.cat([a, b, c], dim=1), [a, b, c])
    assert gradcheck(lambda a, c: mg.stack([a, c, a], dim=-1), [a, c])
    assert mg.cat([a, c], dim=0).shape == (4, 3) and mg.stack([a, c]).shape == (2, 2, 3)


def test_empty_dims():
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    assert x.sum().item() == 0 and x.sum(0).shape == (3,)
    (x.sum(1) * 2).sum().backward()
    assert x.grad.shape == (0, 3)
    assert np.isnan(x.mean().item())
    assert np.all(x.logsumexp(0).numpy() == -np.inf)
    y = leaf(2, 3)
    assert gradcheck(lambda y: mg.cat([y, y[:0]], 0) + y[:, :0].sum(), [y])


def test_comparisons_and_argmax_are_not_differentiable():
    x = leaf(2, 3)
    for t in (x > 0, x <= 0.5, x == x, x != 1, x.argmax(1), x.argmin()):
        assert not t.requires_grad
    assert (x > 0).dtype == np.bool_ and x.argmax(1).dtype == np.int64
    np.testing.assert_array_equal(x.argmax(dim=1, keepdim=True).numpy(), x.numpy().argmax(1)[:, None])
    assert {x: 1}[x] == 1  # hashable by identity


# ---- construction, dtypes, conversions ---------------------------------------------------------------------


def test_constructor_and_factories():
    a = np.ones((2, 3), np.float32)
    assert Tensor(a).numpy() is a  # no copy
    assert mg.tensor(a).numpy() is not a
    assert mg.tensor([1.5, 2]).dtype == np.float32 and mg.tensor([1, 2]).dtype == np.int64
    assert mg.tensor([1, 2], dtype=mg.float64).dtype == np.float64 and mg.tensor(True).dtype == np.bool_
    assert mg.tensor(np.arange(3.0)).dtype == np.float64
    for t in (mg.zeros(2, 3), mg.ones((2, 3)), mg.empty(2, 3), mg.randn(2, 3), mg.rand(2, 3), mg.full((2, 3), 1.5)):
        assert t.shape == (2, 3) and t.dtype == np.float32 and t.numpy().flags.c_contiguous
    assert mg.full((2,), 3).dtype == np.int64 and mg.arange(5).dtype == np.int64
    assert mg.arange(0, 1, 0.25).shape == (4,) and mg.arange(0.0, 2).dtype == np.float32
    assert mg.randint(0, 10, (5,)).dtype == np.int64 and mg.randint(3, (4,)).numpy().max() < 3
    x = mg.randn(2, 3, dtype=mg.float64)
    for t in (mg.zeros_like(x), mg.ones_like(x), mg.empty_like(x), mg.randn_like(x), mg.rand_like(x),
              mg.full_like(x, 2.0)):
        assert t.shape == x.shape and t.dtype == np.float64
    assert mg.eye(3).numpy().trace() == 3
    assert mg.zeros(3, requires_grad=True).requires_grad


def test_manual_seed_drives_all_randomness():
    generator = mg.default_generator()
    mg.manual_seed(123)
    a = (mg.randn(4).numpy(), mg.rand(2).numpy(), mg.functional.dropout(mg.ones(8), 0.5).numpy())
    mg.manual_seed(123)
    b = (mg.randn(4).numpy(), mg.rand(2).numpy(), mg.functional.dropout(mg.ones(8), 0.5).numpy())
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert mg.default_generator() is generator


def test_parameter():
    data = np.ones((2, 2), np.float32)
    p = mg.Parameter(data)
    assert p.requires_grad and p.is_leaf and p.numpy() is data
    assert mg.Parameter(mg.ones(3)).requires_grad
    q = mg.Parameter(np.ones((3, 4)).T)  # non-contiguous: copied into C order
    assert q.numpy().flags.c_contiguous and q.dtype == np.float64
    assert repr(p).startswith("Parameter containing:")
    with pytest.raises(TypeError, match="float32 or float64"):
        mg.Parameter(np.arange(3))


def test_conversions():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.shape == (2, 2) and x.ndim == 2 and x.dtype == np.float32 and x.size() == (2, 2) and x.size(1) == 2
    assert x.numel() == 4 and x.dim() == 2 and len(x) == 2 and x.numpy() is x.numpy()
    assert np.asarray(x) is x.numpy() and np.asarray(x, dtype=np.float64).dtype == np.float64
    assert x[1, 1].item() == 4.0 and float(x[0, 0]) == 1.0 and bool(x[0, 0]) and x.tolist()[1] == [3.0, 4.0]
    assert x.double().dtype == np.float64 and x.long().dtype == np.int64 and x.float() is x and x.to("cpu") is x
    assert "tensor([[1., 2.]," in repr(x) and "requires_grad=True" in repr(x.requires_grad_())
    y = leaf(3)
    (y.float() * 2).sum().backward()  # the gradient is cast back through the dtype change
    assert y.grad.dtype == np.float64 and (y.grad == 2).all()
    assert isinstance(np.ones(2) + mg.ones(2), Tensor)  # ndarray (op) tensor defers to the tensor


# ---- bad input ------------------------------------------------------------------------------------------


def test_errors_name_shapes_and_ops():
    a, b = mg.ones(2, 3), mg.ones(4, 5)
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4, 5\)"):
        a + b
    with pytest.raises(ValueError, match=r"mul: shapes \(2, 3\) and \(4, 5\)"):
        a * b
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) do not align"):
        a @ b
    with pytest.raises(ValueError, match="batch dims"):
        mg.ones(2, 3, 4) @ mg.ones(3, 4, 5)
    with pytest.raises(ValueError, match="at least one dimension"):
        mg.ones(()) @ mg.ones(3)
    with pytest.raises(ValueError, match=r"reshape: a tensor of shape \(2, 3\)"):
        a.reshape(4)
    with pytest.raises(ValueError, match="cat"):
        mg.cat([a, b], 0)
    with pytest.raises(ValueError, match="expand"):
        a.expand(3, 3)
    with pytest.raises(ValueError, match="permutation"):
        a.permute(0, 0)
    with pytest.raises(IndexError, match="out of range"):
        a.sum(2)


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        mg.tensor([1, 2], requires_grad=True)
    t = mg.arange(3)
    with pytest.raises(TypeError, match="floating-point"):
        t.requires_grad = True
    with pytest.raises(RuntimeError, match="leaf"):
        (leaf(2) * 2).requires_grad_(False)
    with pytest.raises(TypeError):
        Tensor(np.array(["a"]))
