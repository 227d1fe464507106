"""The tensor ops of attention, transformer and detection code (issue 15) against torch: scatter /
scatter_add / index_select / gather, flip, roll, tril / triu, cumsum, sort / argsort / topk, norm,
bmm / baddbmm, einsum, repeat, masked_fill. Values and gradients (float64) on a spread of shapes
(negative dims, broadcasting, empty and 0-d), torch's own OpInfo sample inputs, and bad arguments
with torch's error type and text, raised before anything changes."""
import inspect
import math
import re

import numpy as np
import pytest

import minigrad as mg
from torch_samples import to_minigrad  # (tests/, on sys.path through conftest.py)

torch = pytest.importorskip("torch")

def index(L, values):
    return L.tensor(np.array(values, np.int64))


# name -> (f(L, *tensors) with L = minigrad or torch, shapes of the float64 inputs that require grad)
PARITY = {
    "gather": (lambda L, x: L.gather(x, -1, index(L, [[0, 2], [1, 1], [2, 0]])), [(3, 4)]),
    "gather_smaller": (lambda L, x: x.gather(0, index(L, [[2, 0]])), [(3, 4)]),
    "gather_0d": (lambda L, x: x.gather(0, index(L, [0, 0, 0])), [()]),
    "gather_empty": (lambda L, x: x.gather(1, index(L, np.zeros((2, 0)))), [(2, 3)]),
    "scatter_src": (lambda L, x, s: L.scatter(x, 1, index(L, [[3, 0], [1, 2]]), s), [(2, 4), (2, 2)]),
    "scatter_value": (lambda L, x: x.scatter(-2, index(L, [[2, 0, 1]]), 7.5), [(3, 4)]),
    "scatter_value_kw": (lambda L, x: L.scatter(x, 0, index(L, [[1], [0]]), value=-1.0), [(2, 2)]),
    "scatter_empty_index": (lambda L, x, s: x.scatter(0, index(L, np.zeros((0, 2))), s), [(2, 3), (1, 2)]),
    "scatter_0d": (lambda L, x, s: x.scatter(0, index(L, [0]), s), [(), (1,)]),
    "scatter_add": (lambda L, x, s: L.scatter_add(x, 0, index(L, [[0, 1, 0], [0, 0, 2], [1, 1, 1]]), s),
                    [(3, 4), (3, 3)]),
    "scatter_add_3d": (lambda L, x, s: x.scatter_add(1, index(L, np.array([[[0, 2], [2, 2]]] * 2)), s),
                       [(2, 3, 2), (2, 2, 2)]),
    "index_select": (lambda L, x: L.index_select(x, 1, index(L, [3, 0, 3, 1])), [(2, 4, 3)]),
    "index_select_neg_dim": (lambda L, x: x.index_select(-1, index(L, [1, 1])), [(3, 2)]),
    "index_select_0d_index": (lambda L, x: x.index_select(0, index(L, 2)), [(3, 2)]),
    "index_select_0d": (lambda L, x: x.index_select(0, index(L, [0])), [()]),
    "index_select_empty": (lambda L, x: x.index_select(0, index(L, np.zeros(0))), [(3, 2)]),
    "flip": (lambda L, x: L.flip(x, (0, 2)), [(2, 3, 4)]),
    "flip_neg": (lambda L, x: L.flip(x, [-1]), [(3, 4)]),
    "flip_method": (lambda L, x: x.flip(0, 1), [(3, 4)]),
    "flip_none": (lambda L, x: L.flip(x, ()), [(3,)]),
    "flip_0d": (lambda L, x: L.flip(x, (0,)), [()]),
    "flip_empty": (lambda L, x: L.flip(x, (1,)), [(0, 3)]),
    "roll": (lambda L, x: L.roll(x, 2, 1), [(2, 5)]),
    "roll_multi": (lambda L, x: L.roll(x, (-1, 7), (0, -1)), [(3, 2, 4)]),
    "roll_repeated_dim": (lambda L, x: L.roll(x, (1, 1), (0, 0)), [(4, 2)]),
    "roll_flat": (lambda L, x: x.roll(-3), [(2, 5)]),
    "roll_0d": (lambda L, x: x.roll(1), [()]),
    "roll_empty": (lambda L, x: x.roll(1, 0), [(0, 3)]),
    "tril": (lambda L, x: L.tril(x), [(4, 3)]),
    "tril_batched": (lambda L, x: L.tril(x, diagonal=1), [(2, 3, 3, 4)]),
    "tril_far": (lambda L, x: x.tril(-5), [(3, 4)]),
    "triu": (lambda L, x: L.triu(x, -1), [(2, 4, 3)]),
    "triu_empty": (lambda L, x: x.triu(), [(0, 2, 3)]),
    "cumsum": (lambda L, x: L.cumsum(x, 0), [(4, 3)]),
    "cumsum_neg": (lambda L, x: x.cumsum(-1), [(2, 3, 5)]),
    "cumsum_0d": (lambda L, x: x.cumsum(0), [()]),
    "cumsum_empty": (lambda L, x: x.cumsum(1), [(0, 3)]),
    "sort": (lambda L, x: L.sort(x, 1).values, [(3, 5)]),
    "sort_desc_neg": (lambda L, x: x.sort(dim=-2, descending=True)[0], [(4, 3)]),
    "sort_stable": (lambda L, x: x.sort(stable=True, descending=True).values, [(6,)]),
    "sort_0d": (lambda L, x: x.sort().values, [()]),
    "sort_empty": (lambda L, x: x.sort(0).values, [(0, 2)]),
    "topk": (lambda L, x: L.topk(x, 3).values, [(2, 6)]),
    "topk_smallest": (lambda L, x: x.topk(2, dim=0, largest=False).values, [(4, 3)]),
    "topk_k0": (lambda L, x: x.topk(0).values, [(2, 3)]),
    "topk_0d": (lambda L, x: x.topk(1).values, [()]),
    "norm": (lambda L, x: L.norm(x), [(3, 4)]),
    "norm_fro_dims": (lambda L, x: L.norm(x, "fro", dim=(0, 2)), [(2, 3, 2)]),
    "norm_2_keepdim": (lambda L, x: x.norm(2, dim=-1, keepdim=True), [(3, 4)]),
    "norm_1": (lambda L, x: x.norm(1, dim=0), [(3, 4)]),
    "norm_inf": (lambda L, x: x.norm(math.inf), [(3, 4)]),
    "norm_-inf": (lambda L, x: x.norm(-math.inf, dim=1), [(3, 4)]),
    "norm_3": (lambda L, x: x.norm(3, dim=[0, 1]), [(3, 4, 2)]),
    "norm_1.5": (lambda L, x: x.norm(1.5), [(5,)]),
    "norm_0.5": (lambda L, x: x.norm(0.5, dim=1), [(2, 4)]),
    "norm_-2": (lambda L, x: x.norm(-2, dim=0), [(3, 2)]),
    "norm_0": (lambda L, x: x.norm(0), [(3, 4)]),
    "norm_none": (lambda L, x: x.norm(None, 1), [(3, 4)]),
    "norm_0d": (lambda L, x: x.norm(dim=0), [()]),
    "norm_empty": (lambda L, x: x.norm(), [(0, 3)]),
    "norm_empty_dim": (lambda L, x: x.norm(math.inf, dim=1), [(0, 3)]),
    "bmm": (lambda L, a, b: L.bmm(a, b), [(3, 2, 4), (3, 4, 5)]),
    "bmm_method": (lambda L, a, b: a.bmm(b), [(1, 3, 2), (1, 2, 1)]),
    "bmm_empty": (lambda L, a, b: L.bmm(a, b), [(2, 3, 0), (2, 0, 4)]),
    "baddbmm": (lambda L, c, a, b: L.baddbmm(c, a, b), [(2, 3, 5), (2, 3, 4), (2, 4, 5)]),
    "baddbmm_broadcast": (lambda L, c, a, b: L.baddbmm(c, a, b, beta=0.25, alpha=3), [(5,), (2, 3, 4), (2, 4, 5)]),
    "baddbmm_broadcast_rows": (lambda L, c, a, b: c.baddbmm(a, b, alpha=-1), [(3, 1), (2, 3, 4), (2, 4, 5)]),
    "baddbmm_beta0": (lambda L, c, a, b: L.baddbmm(c, a, b, beta=0), [(1, 3, 5), (2, 3, 4), (2, 4, 5)]),
    "einsum_matmul": (lambda L, a, b: L.einsum("ij,jk->ik", a, b), [(3, 4), (4, 2)]),
    "einsum_attention": (lambda L, q, k: L.einsum("bhqd,bhkd->bhqk", q, k), [(2, 2, 3, 4), (2, 2, 5, 4)]),
    "einsum_implicit": (lambda L, a, b: L.einsum("ij,kj", a, b), [(3, 4), (2, 4)]),
    "einsum_sum": (lambda L, a: L.einsum("ijk->j", a), [(2, 3, 4)]),
    "einsum_outer_list": (lambda L, a, b: L.einsum("i,j->ij", [a, b]), [(3,), (4,)]),
    "einsum_three": (lambda L, a, b, c: L.einsum("ij,jk,kl->il", a, b, c), [(2, 3), (3, 4), (4, 2)]),
    "einsum_ellipsis": (lambda L, a, b: L.einsum("...ij,...jk->...ik", a, b), [(2, 1, 3, 4), (3, 4, 2)]),
    "einsum_ellipsis_implicit": (lambda L, a, b: L.einsum("b...i,i", a, b), [(2, 3, 4), (4,)]),
    "einsum_ellipsis_empty": (lambda L, a, b: L.einsum("...i,...i->...", a, b), [(3,), (3,)]),
    "einsum_ellipsis_summed": (lambda L, a: L.einsum("...ij->ij", a), [(2, 3, 4)]),
    "einsum_diagonal": (lambda L, a: L.einsum("ii->i", a), [(3, 3)]),
    "einsum_trace": (lambda L, a: L.einsum("ii", a), [(3, 3)]),
    "einsum_batched_diagonal_product": (lambda L, a, b: L.einsum("bii,bi->b", a, b), [(2, 3, 3), (2, 3)]),
    "einsum_broadcast_size_1": (lambda L, a, b: L.einsum("ij,jk->ik", a, b), [(3, 1), (4, 2)]),
    "einsum_0d": (lambda L, a, b: L.einsum(",i->i", a, b), [(), (3,)]),
    "einsum_empty": (lambda L, a, b: L.einsum("ij,jk->ik", a, b), [(2, 0), (0, 3)]),
    "repeat": (lambda L, x: x.repeat(2, 3), [(3, 2)]),
    "repeat_new_dims": (lambda L, x: x.repeat(2, 1, 1, 3), [(3, 2)]),
    "repeat_zero": (lambda L, x: x.repeat(0, 2), [(3, 2)]),
    "repeat_0d": (lambda L, x: x.repeat(2, 3), [()]),
    "masked_fill": (lambda L, x: L.masked_fill(x, x > 0, -1.5), [(3, 4)]),
    "masked_fill_broadcast_mask": (lambda L, x: x.masked_fill(L.tensor([True, False, True, False]), 0.0), [(3, 4)]),
    "masked_fill_larger_mask": (lambda L, x: x.masked_fill(L.tensor([[[True]], [[False]]]), 2.0), [(3, 4)]),
    "masked_fill_value_tensor": (lambda L, x, v: x.masked_fill(L.tensor([[True], [False], [True]]), v),
                                 [(3, 4), ()]),
}


def both(shapes, seed):
    """The same float64 data as minigrad and torch leaves."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    return ([mg.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def assert_close(ours, theirs, what):
    np.testing.assert_allclose(np.asarray(ours, np.float64), np.asarray(theirs, np.float64), rtol=1e-8, atol=1e-12,
                               err_msg=what)


@pytest.mark.parametrize("name", sorted(PARITY))
def test_values_and_gradients_match_torch(name):
    fn, shapes = PARITY[name]
    mine, theirs = both(shapes, seed=len(name))
    ours, expected = fn(mg, *mine), fn(torch, *theirs)
    assert ours.shape == tuple(expected.shape) and ours.dtype == np.float64
    assert_close(ours.numpy(), expected.detach().numpy(), "value")
    g = np.random.default_rng(1).standard_normal(ours.shape)
    ours.backward(g)
    grads = torch.autograd.grad(expected, theirs, torch.from_numpy(g), allow_unused=True)
    for i, (m, e) in enumerate(zip(mine, grads)):
        assert_close(np.zeros(m.shape) if m.grad is None else m.grad.numpy(), 0 if e is None else e.numpy(),
                     f"gradient of input {i}")


def _gather_index(L, x, d, rng):
    """Random positions along dim ``d`` for an index 3 long there, as large as ``x`` elsewhere."""
    shape = list(x.shape)
    shape[d] = 3
    return index(L, rng.integers(0, x.shape[d], shape))


DIM_OPS = {  # f(L, x, dim, rng) for every dim (both signs) of random shapes
    "gather": lambda L, x, d, rng: x.gather(d, _gather_index(L, x, d, rng)),
    "scatter_add": lambda L, x, d, rng: x.scatter_add(d, index(L, rng.integers(0, x.shape[d], x.shape)), x * 2),
    "index_select": lambda L, x, d, rng: x.index_select(d, index(L, rng.integers(0, x.shape[d], 4))),
    "flip": lambda L, x, d, rng: L.flip(x, (d,)),
    "roll": lambda L, x, d, rng: L.roll(x, int(rng.integers(-5, 6)), d),
    "cumsum": lambda L, x, d, rng: L.cumsum(x, d),
    "sort": lambda L, x, d, rng: L.sort(x, d, descending=bool(rng.integers(2)))[0],
    "topk": lambda L, x, d, rng: L.topk(x, int(rng.integers(0, x.shape[d] + 1)), d, bool(rng.integers(2)))[0],
    "norm": lambda L, x, d, rng: L.norm(x, [2, 1, 3, 0.5, math.inf, -math.inf][rng.integers(6)], d,
                                        bool(rng.integers(2))),
    "tril": lambda L, x, d, rng: L.tril(x, d) if x.dim() > 1 else x,
}


@pytest.mark.parametrize("name", sorted(DIM_OPS))
@pytest.mark.parametrize("shape", [(4,), (3, 5), (2, 3, 4), (2, 1, 3, 2)])
def test_every_dim_matches_torch(name, shape):
    for dim in range(-len(shape), len(shape)):
        mine, theirs = both([shape], seed=dim + 7)
        ours = DIM_OPS[name](mg, mine[0], dim, np.random.default_rng(dim + 10))
        expected = DIM_OPS[name](torch, theirs[0], dim, np.random.default_rng(dim + 10))
        assert_close(ours.numpy(), expected.detach().numpy(), f"value, dim {dim}")
        g = np.random.default_rng(dim + 10).standard_normal(ours.shape)
        ours.backward(g)
        (grad,) = torch.autograd.grad(expected, theirs, torch.from_numpy(g))
        assert_close(mine[0].grad.numpy(), grad.numpy(), f"gradient, dim {dim}")


FLOAT32 = {
    "scatter": lambda L, x: x.scatter(0, index(L, [[1, 0]]), x),
    "index_select": lambda L, x: x.index_select(1, index(L, [0])),
    "flip": lambda L, x: x.flip(0),
    "roll": lambda L, x: x.roll(1),
    "tril": lambda L, x: x.tril(),
    "cumsum": lambda L, x: x.cumsum(0),
    "sort": lambda L, x: x.sort()[0],
    "topk": lambda L, x: x.topk(1)[0],
    "norm": lambda L, x: x.norm(3, dim=1),
    "baddbmm": lambda L, x: L.baddbmm(x[:, :2], x[None], x.T[None]),
    "einsum": lambda L, x: L.einsum("ij,kj", x, x),
}


@pytest.mark.parametrize("name", sorted(FLOAT32))
def test_float32_stays_float32_as_in_torch(name):
    data = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
    ours, theirs = FLOAT32[name](mg, mg.tensor(data)), FLOAT32[name](torch, torch.tensor(data))
    assert ours.dtype == np.float32 and theirs.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_indices_match_torchs_stable_sort_with_ties_and_nan(descending):
    """Ties keep their order; NaN sorts as the largest."""
    data = np.array([[1.0, np.nan, 3.0, -1.0, np.nan, 0.5], [2.0, 2.0, -0.0, 0.0, 1.0, 2.0]])
    ours, theirs = mg.tensor(data).sort(descending=descending), torch.tensor(data).sort(descending=descending,
                                                                                          stable=True)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    np.testing.assert_array_equal(mg.argsort(mg.tensor(data), descending=descending).numpy(), theirs.indices.numpy())


@pytest.mark.parametrize("largest", [False, True])
def test_topk_indices_match_torch_with_nan(largest):
    data = np.array([[1.0, np.nan, 3.0, -1.0, 0.5], [2.5, 2.0, -3.0, 0.0, np.nan]])
    ours, theirs = mg.tensor(data).topk(3, largest=largest), torch.tensor(data).topk(3, largest=largest)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


def test_scatter_from_a_larger_src_uses_its_leading_corner():
    """torch's backward refuses a src larger than index (its gradient has index's shape); minigrad
    gives the corner index covers g gathered at index, and the rest 0."""
    x, src, where = np.zeros((2, 3)), np.arange(12.0).reshape(3, 4), np.array([[2, 0], [1, 1]])
    for op in ("scatter", "scatter_add"):
        s = mg.tensor(src, requires_grad=True)
        ours = getattr(mg, op)(mg.tensor(x), 1, mg.tensor(where), s)
        theirs = getattr(torch, op)(torch.tensor(x), 1, torch.tensor(where), torch.tensor(src))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        g = np.arange(6.0).reshape(2, 3)
        ours.backward(g)
        expected = np.zeros((3, 4))
        expected[:2, :2] = np.take_along_axis(g, where, 1)
        np.testing.assert_array_equal(s.grad.numpy(), expected)


def test_norm_gradients_at_ties_and_zeros_match_torch():
    """±inf norms share g among tied extremes; the other orders give torch's subgradient at 0."""
    data = np.array([[1.0, -3.0, 3.0, 0.0], [2.0, 2.0, -2.0, 1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 1.0, -2.0, 0.5]])
    for p in (math.inf, -math.inf, 2, 1, 3, 1.5, 0.5, -1, 0):
        x, t = mg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
        ours, theirs = x.norm(p, dim=1), t.norm(p, dim=1)
        assert_close(ours.numpy(), theirs.detach().numpy(), f"value, p={p}")
        ours.backward(np.arange(1.0, 5.0))
        theirs.backward(torch.arange(1.0, 5.0, dtype=torch.float64))  # for p = 0 (a count), grad stays None: 0
        assert_close(x.grad.numpy(), 0 if t.grad is None else t.grad.numpy(), f"gradient, p={p}")


def test_sort_of_integers_and_bools_matches_torch():
    for data in ([3, -2, 7, 0, -2, 9], [True, False, True, False]):
        for descending in (False, True):
            ours, theirs = mg.tensor(data).sort(descending=descending, stable=True), torch.tensor(data).sort(
                descending=descending, stable=True)
            np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
            np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "float32"])
def test_cumsum_dtypes_match_torch(dtype):
    data = np.array([[1, 0, 3], [2, 5, 1]]).astype(dtype)
    ours, theirs = mg.tensor(data).cumsum(1), torch.tensor(data).cumsum(1)
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert mg.cumsum(mg.tensor(data), 0, dtype=mg.float64).dtype == np.float64


def test_scatter_with_int32_index_and_integer_tensors_matches_torch():
    data, where = np.arange(6).reshape(2, 3), np.array([[2, 0]], np.int32)
    ours = mg.tensor(data).scatter(1, mg.tensor(where), 9.7)
    theirs = torch.tensor(data).scatter(1, torch.tensor(where), 9.7)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.dtype == np.int64


X34 = np.arange(12.0).reshape(3, 4)
BAD = {  # f(L, x) with x a float64 (3, 4) tensor: raises the same error type and text in both libraries
    "gather_out_of_bounds": lambda L, x: x.gather(0, index(L, [[5]])),
    "gather_negative": lambda L, x: x.gather(1, index(L, [[0, -1]])),
    "gather_float_index": lambda L, x: x.gather(0, L.tensor([[0.0]])),
    "gather_ndim": lambda L, x: x.gather(0, index(L, [0])),
    "gather_index_too_large": lambda L, x: x.gather(0, index(L, np.zeros((4, 5)))),
    "gather_dim": lambda L, x: x.gather(2, index(L, [[0]])),
    "gather_negative_dim": lambda L, x: x.gather(-3, index(L, [[0]])),
    "scatter_out_of_bounds": lambda L, x: x.scatter(0, index(L, [[3]]), 1.0),
    "scatter_negative": lambda L, x: x.scatter(1, index(L, [[-1]]), 1.0),
    "scatter_float_index": lambda L, x: x.scatter(0, L.tensor([[0.0]]), 1.0),
    "scatter_ndim": lambda L, x: x.scatter(0, index(L, [0]), 1.0),
    "scatter_index_larger_than_self": lambda L, x: x.scatter(0, index(L, np.zeros((2, 5))), 1.0),
    "scatter_index_larger_than_src": lambda L, x: x.scatter(0, index(L, np.zeros((2, 2))), L.ones(1, 1).double()),
    "scatter_src_ndim": lambda L, x: x.scatter(0, index(L, [[0]]), L.tensor(2.0).double()),
    "scatter_src_dtype": lambda L, x: x.scatter(0, index(L, [[0]]), L.ones(1, 1)),
    "scatter_dim": lambda L, x: x.scatter(2, index(L, [[0]]), 1.0),
    "scatter_add_out_of_bounds": lambda L, x: x.scatter_add(1, index(L, [[4]]), L.ones(1, 1).double()),
    "scatter_add_dtype": lambda L, x: L.scatter_add(x, 1, index(L, [[3]]), L.ones(1, 1)),
    "index_select_out_of_range": lambda L, x: x.index_select(0, index(L, [3])),
    "index_select_negative": lambda L, x: x.index_select(0, index(L, [-1])),
    "index_select_matrix": lambda L, x: x.index_select(0, index(L, [[0]])),
    "index_select_float": lambda L, x: x.index_select(0, L.tensor([0.0])),
    "index_select_dim": lambda L, x: L.index_select(x, 2, index(L, [0])),
    "index_select_scalar_many": lambda L, x: L.tensor(1.0).index_select(0, index(L, [0, 0])),
    "flip_int_dims": lambda L, x: L.flip(x, 0),
    "flip_dim": lambda L, x: L.flip(x, (2,)),
    "flip_repeated_dim": lambda L, x: L.flip(x, (0, -2)),
    "roll_misaligned": lambda L, x: L.roll(x, (1, 2), (0,)),
    "roll_many_shifts_no_dims": lambda L, x: L.roll(x, (1, 2)),
    "roll_no_shifts": lambda L, x: L.roll(x, (), ()),
    "roll_dim": lambda L, x: L.roll(x, 1, 2),
    "roll_0d_dim": lambda L, x: L.roll(L.tensor(1.0), 1, 0),
    "tril_1d": lambda L, x: L.tril(x[0]),
    "triu_0d": lambda L, x: L.triu(L.tensor(1.0)),
    "cumsum_dim": lambda L, x: L.cumsum(x, 2),
    "sort_dim": lambda L, x: x.sort(2),
    "topk_k_too_large": lambda L, x: x.topk(5),
    "topk_negative_k": lambda L, x: x.topk(-1),
    "topk_0d_k2": lambda L, x: L.tensor(1.0).topk(2),
    "norm_order": lambda L, x: x.norm(p="abc"),
    "norm_fro_three_dims": lambda L, x: L.ones(2, 3, 4).norm(p="fro", dim=(0, 1, 2)),
    "norm_integer": lambda L, x: L.tensor([1, 2]).norm(),
    "norm_dim": lambda L, x: x.norm(dim=2),
    "norm_repeated_dim": lambda L, x: x.norm(dim=(1, -1)),
    "norm_inf_empty": lambda L, x: L.zeros(0, 3).norm(math.inf),
    "norm_-inf_empty": lambda L, x: L.zeros(0, 3).norm(-math.inf),
    "norm_inf_empty_dim": lambda L, x: L.zeros(0, 3).norm(math.inf, dim=0),
    "bmm_2d": lambda L, x: L.bmm(x, x),
    "bmm_2d_second": lambda L, x: L.bmm(L.ones(2, 3, 4), L.ones(4, 5)),
    "bmm_batch": lambda L, x: L.bmm(L.ones(2, 3, 4), L.ones(3, 4, 5)),
    "bmm_inner": lambda L, x: L.bmm(L.ones(2, 3, 4), L.ones(2, 3, 5)),
    "bmm_dtype": lambda L, x: L.bmm(L.ones(2, 3, 4), L.ones(2, 4, 5).double()),
    "bmm_dtype_reversed": lambda L, x: L.bmm(L.ones(2, 3, 4).double(), L.ones(2, 4, 5)),
    "baddbmm_input": lambda L, x: L.baddbmm(L.ones(3, 4), L.ones(2, 3, 4), L.ones(2, 4, 5)),
    "baddbmm_input_batch": lambda L, x: L.baddbmm(L.ones(3, 1, 1), L.ones(2, 3, 4), L.ones(2, 4, 5)),
    "baddbmm_batch": lambda L, x: L.baddbmm(L.ones(3, 5), L.ones(2, 3, 4), L.ones(3, 4, 5)),
    "baddbmm_inner": lambda L, x: L.baddbmm(L.ones(3, 5), L.ones(2, 3, 4), L.ones(2, 3, 5)),
    "baddbmm_dtype": lambda L, x: L.baddbmm(L.ones(3, 5).double(), L.ones(2, 3, 4), L.ones(2, 4, 5)),
    "einsum_fewer_operands": lambda L, x: L.einsum("ij,jk->ik", x),
    "einsum_more_operands": lambda L, x: L.einsum("ij", x, x),
    "einsum_output_twice": lambda L, x: L.einsum("ij->ii", x),
    "einsum_output_unknown": lambda L, x: L.einsum("ij->k", x),
    "einsum_dims": lambda L, x: L.einsum("i->", x),
    "einsum_sizes": lambda L, x: L.einsum("ij,ij->i", x, x[:2]),
    "einsum_ellipsis_dims": lambda L, x: L.einsum("...ijk", x),
    "einsum_diagonal_sizes": lambda L, x: L.einsum("ii->i", x),
    "repeat_fewer": lambda L, x: x.repeat(2),
    "repeat_negative": lambda L, x: x.repeat(-1, 2),
    "masked_fill_long_mask": lambda L, x: x.masked_fill(L.ones(3, 4).long(), 1.0),
    "masked_fill_float_mask": lambda L, x: x.masked_fill(L.ones(3, 4), 1.0),
    "masked_fill_mask_shape": lambda L, x: x.masked_fill(L.ones(3, 5).bool(), 1.0),
    "masked_fill_value_1d": lambda L, x: x.masked_fill(L.ones(3, 4).bool(), L.tensor([1.0]).double()),
    "masked_fill__larger_mask": lambda L, x: x.masked_fill_(L.ones(2, 3, 4).bool(), 1.0),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_arguments_raise_torchs_error(name):
    with pytest.raises(Exception) as theirs:
        BAD[name](torch, torch.tensor(X34))
    x = mg.tensor(X34)
    with pytest.raises(type(theirs.value), match=f"^{re.escape(str(theirs.value))}$"):
        BAD[name](mg, x)
    np.testing.assert_array_equal(x.numpy(), X34)  # nothing changed


# ---- torch's own sample inputs (OpInfo) ------------------------------------------------------------------
OPINFO_OPS = ["gather", "scatter", "scatter_add", "index_select", "flip", "roll", "tril", "triu", "cumsum", "sort",
              "argsort", "topk", "norm", "bmm", "baddbmm", "einsum", "repeat", "masked_fill"]


def _opinfo_samples():
    try:
        from torch.testing._internal.common_methods_invocations import op_db
    except ImportError:  # torch's OpInfo database needs expecttest
        return []
    torch.manual_seed(0)
    return [pytest.param(op, sample, id=f"{op.name}{'.' + op.variant_test_name if op.variant_test_name else ''}-{i}")
            for op in op_db if op.name in OPINFO_OPS
            for i, sample in enumerate(op.sample_inputs("cpu", torch.float64, requires_grad=True))]


SAMPLES = _opinfo_samples()


def minigrad_op(name):
    """minigrad's function of an OpInfo name (OpInfo's einsum takes the operands first)."""
    return (lambda operands, equation: mg.einsum(equation, operands)) if name == "einsum" else getattr(mg, name)


def skip_reason(op, sample):
    """Why minigrad does not take this sample, or None: an option its signature lacks, the nuclear
    norm, or ties that torch's unstable sort / topk orders its own way."""
    try:
        inspect.signature(minigrad_op(op.name)).bind(sample.input, *sample.args, **sample.kwargs)
    except TypeError as error:
        return f"signature: {error}"
    if "nuc" in map(str, (*sample.args, *sample.kwargs.values())):
        return "p='nuc' is not supported"
    if op.name in ("sort", "argsort", "topk") and not sample.kwargs.get("stable"):
        data = sample.input.detach().numpy()
        if data.size != np.unique(data).size:
            return "ties, in an order torch's unstable sort chooses"
    return None


@pytest.mark.parametrize("op, sample", SAMPLES)
def test_torchs_opinfo_samples(op, sample):
    reason = skip_reason(op, sample)
    if reason:
        pytest.skip(reason)
    converted = {}
    args = to_minigrad((sample.input, *sample.args), converted)
    ours = minigrad_op(op.name)(*args, **to_minigrad(sample.kwargs, converted))
    theirs = op.op(sample.input, *sample.args, **sample.kwargs)
    ours, theirs = (ours, theirs) if isinstance(ours, mg.Tensor) else (ours[0], theirs[0])  # sort / topk: values
    theirs = sample.output_process_fn_grad(theirs)
    assert ours.shape == tuple(theirs.shape) and ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-10)
    differentiable = [(t, m) for t, m in converted.values() if t.requires_grad]
    if not differentiable or not ours.requires_grad:
        return
    g = np.random.default_rng(0).standard_normal(ours.shape)
    expected = torch.autograd.grad(theirs, [t for t, _ in differentiable], torch.from_numpy(g), allow_unused=True)
    ours.backward(g)
    for i, ((_, m), e) in enumerate(zip(differentiable, expected)):
        np.testing.assert_allclose(np.zeros(m.shape) if m.grad is None else m.grad.numpy(),
                                   np.zeros(m.shape) if e is None else e.numpy(), rtol=1e-10, atol=1e-10,
                                   err_msg=f"gradient of tensor {i}")


def test_most_opinfo_samples_are_checked():
    if not SAMPLES:
        pytest.skip("torch's OpInfo database is not available")
    ops = {p.values[0].name for p in SAMPLES}
    assert ops == set(OPINFO_OPS), set(OPINFO_OPS) - ops
    for name in OPINFO_OPS:
        samples = [p.values for p in SAMPLES if p.values[0].name == name]
        checked = [s for s in samples if not skip_reason(*s)]
        assert len(checked) >= 0.9 * len(samples), f"{name}: {len(checked)} of {len(samples)} samples checked"
