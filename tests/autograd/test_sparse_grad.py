"""Row-sparse gradients (minigrad.sparse): embedding(..., sparse=True) gives the dense gradient's rows,
accumulation follows torch's rules, and zero_grad / clipping / dense optimizers handle them."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad import nn, optim
from minigrad.sparse import SparseTensor, sparse_coo_tensor


def embedding_grads(index, padding_idx=None, shape=(6, 3)):
    """(sparse grad, dense grad) of sum(embedding(index) * weights) for the same weight."""
    rng = np.random.default_rng(0)
    table = rng.standard_normal(shape)
    out_grad = rng.standard_normal(np.shape(index) + shape[1:])
    grads = []
    for sparse in (True, False):
        w = mg.Parameter(table.copy())
        (F.embedding(mg.tensor(index), w, padding_idx, sparse=sparse) * mg.tensor(out_grad)).sum().backward()
        grads.append(w.grad)
    return grads


@pytest.mark.parametrize("index, padding_idx", [([1, 1, 4, 1], None), ([[0, 2], [2, 5]], 2), ([[0, 2], [2, 5]], -4),
                                                (np.zeros((0,), np.int64), None), ([3], None)])
def test_sparse_embedding_grad_is_the_dense_one(index, padding_idx):
    sparse, dense = embedding_grads(index, padding_idx)
    assert sparse.is_sparse and not dense.is_sparse
    assert sparse.shape == dense.shape == (6, 3) and sparse.dtype == dense.dtype
    np.testing.assert_allclose(sparse.to_dense().numpy(), dense.numpy(), rtol=1e-15)
    rows = np.asarray(index).reshape(-1)
    kept = rows[rows != (padding_idx % 6 if padding_idx is not None else -1)]
    assert sparse._indices().shape == (1, len(kept)) and sparse._indices().dtype == np.int64
    assert sparse._indices().numpy().tolist() == [kept.tolist()]  # one entry per lookup, in order (torch's)
    assert sparse._values().shape == (len(kept), 3)


def test_coalesce_sums_repeated_rows_and_sorts():
    g = sparse_coo_tensor([[4, 1, 4, 0]], np.array([[1.0], [2.0], [3.0], [4.0]]), (5, 1))
    assert not g.is_coalesced()
    with pytest.raises(RuntimeError, match="uncoalesced"):
        g.indices()
    c = g.coalesce()
    assert c.is_coalesced() and c.indices().numpy().tolist() == [[0, 1, 4]]
    assert c.values().numpy().ravel().tolist() == [4.0, 2.0, 4.0]
    np.testing.assert_array_equal(c.to_dense().numpy(), g.to_dense().numpy())


def test_accumulation_rules_are_torchs():
    w = mg.Parameter(np.ones((4, 2)))
    F.embedding(mg.tensor([1, 3]), w, sparse=True).sum().backward()
    F.embedding(mg.tensor([1]), w, sparse=True).sum().backward()
    assert w.grad.is_sparse and w.grad._nnz() == 3 and not w.grad.is_coalesced()  # concatenated, not coalesced
    (w * 2).sum().backward()  # sparse then dense: dense
    assert not w.grad.is_sparse
    np.testing.assert_array_equal(w.grad.numpy(), [[2, 2], [4, 4], [2, 2], [3, 3]])
    buffer = w.grad.numpy()
    F.embedding(mg.tensor([0]), w, sparse=True).sum().backward()  # dense then sparse: dense, in place
    assert w.grad.numpy() is buffer and w.grad.numpy()[0].tolist() == [3, 3]
    with pytest.raises(RuntimeError, match=r"add\(sparse, dense\) is not supported"):
        sparse_coo_tensor([[0]], np.ones((1, 2)), (4, 2)) + np.ones((4, 2))
    assert (np.ones((4, 2)) + sparse_coo_tensor([[0, 0]], np.ones((2, 2)), (4, 2)))[0].tolist() == [3, 3]
    dense_sum = mg.ones(4, 2, dtype=mg.float64) + sparse_coo_tensor([[0, 0]], np.ones((2, 2)), (4, 2))
    assert isinstance(dense_sum, mg.Tensor) and dense_sum.numpy()[:, 0].tolist() == [3, 1, 1, 1]


@pytest.mark.parametrize("embedding_first", [True, False])
def test_a_tied_weight_sums_its_sparse_and_dense_gradients_into_a_dense_one(embedding_first):
    grads = []
    for sparse in (True, False):
        w = mg.Parameter(np.arange(8.0).reshape(4, 2))
        x = F.embedding(mg.tensor([1, 3, 1]), w, sparse=sparse)
        if embedding_first:  # the linear's dense gradient reaches w first, then the embedding's
            logits = F.linear(x, w)
        else:
            logits = F.linear(x.detach(), w) + F.embedding(mg.tensor([[0, 1, 2, 3]] * 3), w, sparse=sparse).sum(-1)
        (logits ** 2).sum().backward()
        grads.append(w.grad)
    assert not grads[0].is_sparse
    np.testing.assert_allclose(grads[0].numpy(), grads[1].numpy(), rtol=1e-15)


def test_a_weight_made_by_ops_gets_its_sparse_gradient_densified():
    w = mg.Parameter(np.ones((4, 2)))
    F.embedding(mg.tensor([2, 2]), w * 3, sparse=True).sum().backward()
    assert not w.grad.is_sparse and w.grad.numpy()[2].tolist() == [6, 6]


def test_grad_setter_takes_a_sparse_gradient_of_the_right_shape_and_dtype():
    w = mg.Parameter(np.zeros((3, 2)))
    w.grad = sparse_coo_tensor([[1]], np.ones((1, 2)), (3, 2))
    assert w.grad.is_sparse and not w.is_sparse
    with pytest.raises(ValueError, match="different size"):
        w.grad = sparse_coo_tensor([[1]], np.ones((1, 2)), (4, 2))
    with pytest.raises(TypeError, match="different type"):
        w.grad = sparse_coo_tensor([[1]], np.ones((1, 2), np.float32), (3, 2))
    with pytest.raises(ValueError, match="indices must lie"):
        sparse_coo_tensor([[3]], np.ones((1, 2)), (3, 2))


def test_zero_grad_and_clipping_work_on_sparse_grads():
    model = nn.Embedding(5, 2, sparse=True, dtype=np.float64)
    model(mg.tensor([1, 1, 3])).sum().backward()
    model.zero_grad(set_to_none=False)
    assert model.weight.grad.is_sparse and model.weight.grad._nnz() == 0 and model.weight.grad.shape == (5, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    model(mg.tensor([1, 1, 3])).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert model.weight.grad._nnz() == 0
    model(mg.tensor([1, 1, 3])).sum().backward()  # dense gradient: rows 1 = [2, 2], 3 = [1, 1]
    total = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    assert total == pytest.approx(np.sqrt(10))  # the dense gradient's norm (not the uncoalesced values')
    clipped = model.weight.grad.to_dense().numpy()[[1, 3]]
    np.testing.assert_allclose(clipped, np.array([[2, 2], [1, 1]]) / (np.sqrt(10) + 1e-6))
    nn.utils.clip_grad_value_(model.parameters(), 0.1)
    assert model.weight.grad.is_sparse and np.abs(model.weight.grad._values().numpy()).max() <= 0.1


@pytest.mark.parametrize("name, message", [
    ("Adam", "Adam does not support sparse gradients, please consider SparseAdam instead"),
    ("AdamW", "Adam does not support sparse gradients, please consider SparseAdam instead"),
    ("RMSprop", "RMSprop does not support sparse gradients"),
    ("Adadelta", "Adadelta does not support sparse gradients"),
    ("SGD", "SGD does not support sparse gradients in minigrad, please consider SparseAdam"),
    ("Adagrad", "Adagrad does not support sparse gradients in minigrad, please consider SparseAdam")])
@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_dense_optimizers_refuse_a_sparse_gradient_before_any_write(name, message, backend):
    model = nn.Embedding(5, 2, sparse=True)
    dense = mg.Parameter(np.ones(3, np.float32))
    opt = getattr(optim, name)([dense, model.weight], lr=0.1, backend=backend)
    dense.grad = np.ones(3, np.float32)
    for _ in range(2):  # the second step would take the one-call fast path
        before = model.weight.numpy().copy(), dense.numpy().copy()
        model(mg.tensor([1, 2])).sum().backward()
        with pytest.raises(RuntimeError, match=message):
            opt.step()
        assert (model.weight.numpy() == before[0]).all() and (dense.numpy() == before[1]).all()
        model.weight.grad = model.weight.grad.to_dense()  # densified, the step runs
        opt.step()
        model.zero_grad()


def test_torch_messages_for_sparse_gradients():
    torch = pytest.importorskip("torch")
    w = torch.nn.Parameter(torch.ones(4, 2))
    for name in ["Adam", "AdamW", "RMSprop", "Adadelta"]:
        w.grad = torch.sparse_coo_tensor([[1]], torch.ones(1, 2), (4, 2), check_invariants=True)
        with pytest.raises(RuntimeError) as theirs:
            getattr(torch.optim, name)([w], foreach=False).step()
        ours = mg.Parameter(np.ones((4, 2), np.float32))
        ours.grad = sparse_coo_tensor([[1]], np.ones((1, 2), np.float32), (4, 2))
        with pytest.raises(RuntimeError) as mine:
            getattr(optim, name)([ours]).step()
        assert str(mine.value) == str(theirs.value)


def test_matches_torch_embedding_sparse_grad():
    torch = pytest.importorskip("torch")
    table, index = np.random.default_rng(2).standard_normal((7, 4)), np.array([[3, 0, 3], [6, 3, 1]])
    theirs = torch.nn.Parameter(torch.from_numpy(table.copy()))
    torch.nn.functional.embedding(torch.from_numpy(index), theirs, padding_idx=1, sparse=True).pow(2).sum().backward()
    ours = mg.Parameter(table.copy())
    F.embedding(mg.tensor(index), ours, padding_idx=1, sparse=True).pow(2).sum().backward()
    assert isinstance(ours.grad, SparseTensor)
    np.testing.assert_array_equal(ours.grad._indices().numpy(), theirs.grad._indices().numpy())
    np.testing.assert_allclose(ours.grad._values().numpy(), theirs.grad._values().numpy(), rtol=1e-15)
    np.testing.assert_array_equal(ours.grad.coalesce()._indices().numpy(), theirs.grad.coalesce()._indices().numpy())
