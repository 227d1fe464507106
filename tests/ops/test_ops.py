"""The tensor ops of attention, transformer and detection code (issue 15) without torch: each
differentiable op against finite differences (float64), torch's gradient rules of scatter, stable
sorting, the norm's subgradients at 0, and the in-place variants. tests/ops/test_ops_torch.py
compares the same ops with torch."""
import math

import numpy as np
import pytest

import minigrad as mg


def leaf(*shape, seed=0):
    return mg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def idx(values):
    return mg.tensor(np.array(values, np.int64))


GRADCHECKS = {
    "gather": (lambda x: x.gather(1, idx([[0, 2, 2], [1, 1, 0]])), [(2, 3)]),
    "scatter_src": (lambda x, s: mg.scatter(x, 0, idx([[1, 0, 2], [0, 2, 1]]), s), [(3, 3), (2, 4)]),
    "scatter_value": (lambda x: x.scatter(1, idx([[0], [2]]), value=2.5), [(2, 3)]),
    "scatter_add": (lambda x, s: mg.scatter_add(x, -1, idx([[0, 0, 2, 0], [1, 1, 1, 2]]), s), [(2, 3), (2, 5)]),
    "index_select": (lambda x: mg.index_select(x, -2, idx([2, 0, 2])), [(3, 2)]),
    "flip": (lambda x: mg.flip(x, (0, -1)), [(2, 3, 2)]),
    "roll": (lambda x: mg.roll(x, (1, -2), (0, 2)), [(2, 2, 3)]),
    "roll_flat": (lambda x: x.roll(4), [(2, 3)]),
    "tril": (lambda x: mg.tril(x, -1), [(2, 3, 4)]),
    "triu": (lambda x: x.triu(1), [(3, 4)]),
    "cumsum": (lambda x: mg.cumsum(x, -1), [(2, 4)]),
    "sort": (lambda x: mg.sort(x, 0, descending=True).values, [(4, 2)]),
    "topk": (lambda x: x.topk(2, dim=1, largest=False).values, [(2, 5)]),
    "norm_fro": (lambda x: x.norm(), [(3, 2)]),
    "norm_3_dim": (lambda x: mg.norm(x, 3, dim=(0, 2), keepdim=True), [(2, 3, 2)]),
    "norm_1_5": (lambda x: x.norm(1.5, dim=0), [(3, 2)]),
    "norm_half": (lambda x: x.norm(0.5, dim=1), [(2, 3)]),
    "norm_neg": (lambda x: x.norm(-2, dim=1), [(2, 3)]),
    "norm_inf": (lambda x: x.norm(math.inf, dim=1), [(2, 3)]),
    "bmm": (lambda a, b: mg.bmm(a, b), [(2, 3, 4), (2, 4, 2)]),
    "baddbmm": (lambda c, a, b: mg.baddbmm(c, a, b, beta=0.5, alpha=-2.0), [(3, 1), (2, 3, 4), (2, 4, 2)]),
    "einsum": (lambda a, b: mg.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 2)]),
    "einsum_ellipsis": (lambda a, b: mg.einsum("...ij,...j", a, b), [(2, 1, 3, 2), (3, 2)]),
    "einsum_diagonal": (lambda a, b: mg.einsum("iji,jk->jk", a, b), [(3, 2, 3), (2, 2)]),
    "repeat": (lambda x: x.repeat(2, 1, 3), [(2, 3)]),
    "masked_fill": (lambda x, v: x.masked_fill(mg.tensor([[True], [False]]), v), [(2, 3), ()]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECKS))
def test_gradcheck(name):
    fn, shapes = GRADCHECKS[name]
    assert mg.gradcheck(fn, [leaf(*shape, seed=i) for i, shape in enumerate(shapes)])


def test_scatter_gradients_follow_torchs_rules():
    """scatter: g to the input except where written; g gathered at index to src (also for an
    overwritten duplicate). scatter_add: g to the input; to src, g gathered at index."""
    x, src, g = leaf(3), leaf(2, seed=1), np.array([1.0, 2.0, 3.0])
    mg.scatter(x, 0, idx([2, 2]), src).backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 0.0])
    np.testing.assert_array_equal(src.grad.numpy(), [3.0, 3.0])
    x.grad = src.grad = None
    mg.scatter_add(x, 0, idx([2, 0]), src).backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), g)
    np.testing.assert_array_equal(src.grad.numpy(), [3.0, 1.0])


def test_sort_is_stable_and_topk_takes_the_first_of_ties():
    x = mg.tensor([1.0, 3.0, 3.0, 1.0, 3.0, 2.0, 1.0])
    np.testing.assert_array_equal(x.sort().indices.numpy(), [0, 3, 6, 5, 1, 2, 4])
    np.testing.assert_array_equal(x.sort(descending=True).indices.numpy(), [1, 2, 4, 5, 0, 3, 6])
    np.testing.assert_array_equal(x.topk(4).indices.numpy(), [1, 2, 4, 5])
    assert x.argsort().dtype == np.int64 and x.topk(2).indices.dtype == np.int64


def test_norm_has_torchs_zero_subgradients():
    for p in (2, 3, 1.5, 0.5, -1):
        x = mg.zeros(3, dtype=mg.float64, requires_grad=True)
        x.norm(p).backward()
        np.testing.assert_array_equal(x.grad.numpy(), 0.0, err_msg=f"p={p}")
    x = mg.tensor([0.0, 2.0], dtype=mg.float64, requires_grad=True)
    x.norm(0.5).backward()  # finite where an element is 0 (torch masks it)
    assert np.isfinite(x.grad.numpy()).all() and x.grad.numpy()[0] == 0


def test_in_place_variants_write_and_refuse_what_requires_grad():
    x = mg.zeros(2, 3)
    assert x.scatter_(1, idx([[2], [0]]), 1.0) is x
    np.testing.assert_array_equal(x.numpy(), [[0, 0, 1], [1, 0, 0]])
    x.scatter_add_(0, idx([[1, 1, 1]]), mg.ones(1, 3))
    np.testing.assert_array_equal(x.numpy(), [[0, 0, 1], [2, 1, 1]])
    x.fill_(1.0).tril_(-1)
    np.testing.assert_array_equal(x.numpy(), [[0, 0, 0], [1, 0, 0]])
    x.fill_(1.0).triu_(1)
    np.testing.assert_array_equal(x.numpy(), [[0, 1, 1], [0, 0, 1]])
    x.fill_(1.0).cumsum_(1)
    np.testing.assert_array_equal(x.numpy(), [[1, 2, 3], [1, 2, 3]])
    y = mg.ones(2, 1, 2)
    y.baddbmm_(mg.ones(2, 1, 3), mg.ones(2, 3, 2), beta=2.0, alpha=0.5)
    np.testing.assert_array_equal(y.numpy(), 3.5)
    with pytest.raises(RuntimeError, match="in-place ops are not recorded"):
        y.baddbmm_(mg.ones(2, 1, 3), leaf(2, 3, 2).float())
    before = x.numpy().copy()
    with pytest.raises(RuntimeError, match="out of bounds"):
        x.scatter_(1, idx([[0], [3]]), 5.0)  # checked before anything is written
    np.testing.assert_array_equal(x.numpy(), before)
    with pytest.raises(RuntimeError, match="in-place ops are not recorded"):
        leaf(2, 3).tril_()


@pytest.mark.parametrize("rows, shape", [([3, 1, 3, 0, 1, 3], (6, 2)), ([2, 2, 2], (3,)), ([], (0, 4)),
                                         (list(range(50)) * 3, (150, 3))])
def test_add_rows_sums_repeated_rows_as_np_add_at(rows, shape):
    """The row scatter-add behind embedding, index_select and sparse gradients: np.add.at's sums."""
    from minigrad.ops.movement import add_rows, sum_rows
    rows = np.array(rows, np.int64)
    values = np.random.default_rng(0).standard_normal(shape)
    expected = np.zeros((60,) + shape[1:])
    np.add.at(expected, rows, values)
    out = np.zeros_like(expected)
    add_rows(out, rows, values)
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    distinct, sums = sum_rows(rows, values)
    np.testing.assert_array_equal(distinct, np.unique(rows))
    np.testing.assert_allclose(sums, expected[np.unique(rows)], rtol=1e-14)
