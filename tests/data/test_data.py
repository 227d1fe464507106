import collections
import sys

import numpy as np
import pytest

from minigrad import data
from minigrad.random import manual_seed
from minigrad.tensor import Tensor


def arange_dataset(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return data.TensorDataset(x, y)


def epoch_labels(loader):
    return [batch[1].numpy().tolist() for batch in loader]


def test_tensor_dataset():
    ds = arange_dataset(10)
    assert len(ds) == 10
    x, y = ds[3]
    np.testing.assert_array_equal(x, [9, 10, 11])
    assert y == 3
    ds = data.TensorDataset(Tensor(np.zeros((4, 2))), [1, 2, 3, 4])  # Tensors and lists are accepted
    assert ds.arrays[1].dtype == np.int64
    with pytest.raises(ValueError, match="first dimension"):
        data.TensorDataset(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("drop_last, sizes", [(False, [4, 4, 2]), (True, [4, 4])])
def test_batches_in_order(drop_last, sizes):
    ds = arange_dataset(10)
    loader = data.DataLoader(ds, batch_size=4, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(batches) == len(sizes)
    for (x, y), size, start in zip(batches, sizes, [0, 4, 8]):
        assert isinstance(x, Tensor) and isinstance(y, Tensor)
        assert x.data.shape == (size, 3) and x.data.dtype == np.float32 and y.data.dtype == np.int64
        np.testing.assert_array_equal(y.numpy(), np.arange(start, start + size))
        np.testing.assert_array_equal(x.numpy(), ds.arrays[0][start:start + size])


def test_tensor_dataset_batches_with_one_fancy_index():
    class NoPerSample(data.TensorDataset):
        def __getitem__(self, index):
            raise AssertionError("per-sample access while batching a TensorDataset")

    ds = NoPerSample(np.arange(10.0), np.arange(10))
    assert [b[1].numpy().tolist() for b in data.DataLoader(ds, batch_size=6, shuffle=True, seed=0)] != []
    subset = data.random_split(ds, [7, 3], seed=0)[0]
    assert sum(len(b[0].numpy()) for b in data.DataLoader(subset, batch_size=3)) == 7


def test_shuffle_is_reproducible_and_new_each_epoch():
    ds = arange_dataset(20)
    a = data.DataLoader(ds, batch_size=8, shuffle=True, seed=123)
    b = data.DataLoader(ds, batch_size=8, shuffle=True, seed=123)
    first, second = epoch_labels(a), epoch_labels(a)
    assert first == epoch_labels(b) and second == epoch_labels(b)
    assert first != second
    for labels in (first, second):
        assert sorted(sum(labels, [])) == list(range(20))
    with_generator = data.DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(123))
    assert epoch_labels(with_generator) == first
    with pytest.raises(ValueError, match="not both"):
        data.DataLoader(ds, shuffle=True, seed=1, generator=np.random.default_rng(1))


def test_shuffle_without_seed_draws_from_minigrads_generator():
    ds = arange_dataset(20)
    loader = data.DataLoader(ds, batch_size=8, shuffle=True)
    manual_seed(7)
    first = epoch_labels(loader), [p.indices.tolist() for p in data.random_split(ds, [0.5, 0.5])]
    manual_seed(7)
    again = epoch_labels(loader), [p.indices.tolist() for p in data.random_split(ds, [0.5, 0.5])]
    assert first == again


def test_invalid_batch_size():
    for bad in [0, -1, 1.5, True]:  # None turns batching off, as in torch
        with pytest.raises(ValueError, match="batch_size"):
            data.DataLoader(arange_dataset(), batch_size=bad)


Point = collections.namedtuple("Point", "xy label")


class Records(data.Dataset):
    """A Dataset with per-sample access only: dict samples with arrays, numbers and strings."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"image": np.full((2, 2), i, dtype=np.float32), "label": i, "weight": i / 2, "flag": i % 2 == 0,
                "name": f"item{i}", "pair": (np.float32(i), [i, -i]), "point": Point(np.array([i, i]), i)}


def test_default_collate_structures():
    batch = next(iter(data.DataLoader(Records(), batch_size=3)))
    assert batch["image"].data.shape == (3, 2, 2) and batch["image"].data.dtype == np.float32
    assert batch["label"].data.dtype == np.int64 and batch["label"].numpy().tolist() == [0, 1, 2]
    assert batch["weight"].data.dtype == np.float64 and batch["weight"].numpy().tolist() == [0, 0.5, 1]
    assert batch["flag"].data.dtype == np.bool_
    assert batch["name"] == ["item0", "item1", "item2"]
    scalar, (pos, neg) = batch["pair"][0], batch["pair"][1]
    assert scalar.data.dtype == np.float32 and pos.numpy().tolist() == [0, 1, 2] and neg.numpy().tolist() == [0, -1, -2]
    assert isinstance(batch["point"], Point) and batch["point"].xy.data.shape == (3, 2)


def test_duck_typed_dataset_and_custom_collate():
    samples = [(np.array([i, i + 1]), i) for i in range(5)]  # a plain list is a dataset
    x, y = next(iter(data.DataLoader(samples, batch_size=5)))
    assert x.data.shape == (5, 2) and y.numpy().tolist() == list(range(5))
    seen = []
    loader = data.DataLoader(arange_dataset(6), batch_size=4, collate_fn=lambda s: seen.append(s) or len(s))
    assert list(loader) == [4, 2]
    assert isinstance(seen[0], list) and len(seen[0][0]) == 2  # the samples themselves, uncollated
    with pytest.raises(TypeError, match="cannot batch"):
        data.default_collate([object(), object()])
    with pytest.raises(ValueError, match="same number of fields"):
        data.default_collate([(1, 2), (1,)])


def test_random_split():
    ds = arange_dataset(10)
    parts = data.random_split(ds, [5, 3, 2], seed=0)
    assert [len(p) for p in parts] == [5, 3, 2]
    indices = np.concatenate([p.indices for p in parts])
    assert sorted(indices.tolist()) == list(range(10))
    assert [p.indices.tolist() for p in data.random_split(ds, [5, 3, 2], seed=0)] == [p.indices.tolist() for p in parts]
    assert parts[1][0][1] == parts[1].indices[0]
    # fractions: floor(10 * f) each, the remainder dealt from the first split on, as torch does
    assert [len(p) for p in data.random_split(ds, [0.33, 0.33, 0.34], seed=0)] == [4, 3, 3]
    assert [len(p) for p in data.random_split(arange_dataset(1797), [0.8, 0.2], seed=0)] == [1438, 359]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        data.random_split(ds, [5, 4], seed=0)
    with pytest.raises(ValueError, match="Fraction at index 0"):
        data.random_split(ds, [1.5, -0.5], seed=0)
    with pytest.warns(UserWarning, match="index 1 is 0"):
        data.random_split(arange_dataset(2), [0.9, 0.1], seed=0)


def test_digits():
    pytest.importorskip("sklearn", reason="minigrad.data.digits needs scikit-learn")
    x_train, y_train = data.digits("train")
    x_test, y_test = data.digits("test")
    x_all, y_all = data.digits(None, dtype=np.float64)
    assert x_train.shape == (1433, 1, 8, 8) and x_test.shape == (364, 1, 8, 8) and x_all.shape == (1797, 1, 8, 8)
    assert x_train.dtype == np.float32 and x_all.dtype == np.float64
    assert y_train.dtype == np.int64 and y_train.shape == (1433,)
    assert x_all.min() == 0.0 and x_all.max() == 1.0
    # stratified: each digit has 20% (rounded up) of its samples in the test split
    counts = np.bincount(y_all)
    np.testing.assert_array_equal(np.bincount(y_test), -(-counts // 5))
    # the two splits partition the data: together they are the whole set, as multisets of images
    key = lambda x, y: sorted(zip(y.tolist(), map(bytes, x.astype(np.float64))))
    assert key(np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])) == key(x_all, y_all)
    with pytest.raises(ValueError, match="split"):
        data.digits("validation")


def test_digits_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "minigrad\[examples\]"'):
        data.digits()


def test_text_corpus():
    corpus = data.text_corpus(num_chars=20_000)
    again = data.text_corpus(num_chars=20_000)
    assert corpus.text == again.text and len(corpus.text) == 20_000
    assert corpus.vocab == sorted(set(corpus.text))
    assert all(corpus.itos[corpus.stoi[c]] == c for c in corpus.vocab)
    assert len(corpus.train) == 18_000 and len(corpus.val) == 2_000 and corpus.train.dtype == np.int64
    assert corpus.decode(np.concatenate([corpus.train, corpus.val])) == corpus.text
    assert corpus.decode(corpus.encode("def ")) == "def "
    assert "def " in corpus.text and "the " in corpus.text  # code and English prose
    with pytest.raises(ValueError, match="vocabulary"):
        corpus.encode("\x00")
    full = data.text_corpus()
    assert full.text.startswith(corpus.text) and len(full.text) > 300_000
    with pytest.raises(ValueError, match="num_chars"):
        data.text_corpus(num_chars=len(full.text) + 1)


@pytest.mark.parametrize("length", [16, 32, 64, 128])
def test_text_corpus_snippets_never_share_text_between_train_and_test(length):
    # On this interpreter's own sources (Python 3.12 and 3.13 repeat more boilerplate than 3.11).
    train, _ = data.text_corpus_snippets(length=length)
    test, _ = data.text_corpus_snippets(length=length, split="test")
    assert not set(train) & set(test) and len(set(test)) == len(test)
    everything, _ = data.text_corpus_snippets(length=length, split=None)
    assert len(set(everything)) == len(set(train) | set(test))  # only repeats were left out


def test_text_corpus_snippets():
    train, train_labels = data.text_corpus_snippets(length=64)
    test, test_labels = data.text_corpus_snippets(length=64, split="test")
    assert all(len(s) == 64 for s in train + test)
    assert train_labels.dtype == np.int64 and len(train) == len(train_labels)
    assert set(train_labels.tolist()) == set(test_labels.tolist()) == set(range(len(data.SNIPPET_MODULES)))
    assert len(test) / (len(train) + len(test)) == pytest.approx(0.2, abs=0.01)
    assert data.text_corpus_snippets(length=64, split="test")[0] == test
    everything, labels = data.text_corpus_snippets(modules=["csv.py"], length=100, split=None)
    assert "".join(everything) == data.text_corpus(modules=["csv.py"]).text[:100 * len(everything)]
    assert not labels.any()
