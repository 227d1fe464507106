"""DataLoader with torch's arguments: samplers, argument conflicts, and worker processes."""
import os
import time

import numpy as np
import pytest

import minigrad
from minigrad import data
from minigrad.tensor import Tensor

import _loader_datasets as ds  # module level, importable by the worker processes


def as_lists(loader):
    """Each batch as nested Python lists (Tensors and arrays converted)."""
    def plain(x):
        if isinstance(x, Tensor):
            return x.numpy().tolist()
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        return x.tolist() if hasattr(x, "tolist") else x
    return [plain(batch) for batch in loader]


# --- samplers -------------------------------------------------------------------------------------

def test_samplers():
    assert list(data.SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
    order = list(data.RandomSampler(range(10), generator=np.random.default_rng(0)))
    assert sorted(order) == list(range(10)) and order == list(data.RandomSampler(range(10),
                                                                                  generator=np.random.default_rng(0)))
    assert len(data.RandomSampler(range(4), num_samples=10)) == 10
    more = list(data.RandomSampler(range(4), num_samples=10))  # whole permutations, then part of one
    assert sorted(more[:4]) == sorted(more[4:8]) == [0, 1, 2, 3] and len(set(more[8:])) == 2
    drawn = list(data.RandomSampler(range(3), replacement=True, num_samples=50))
    assert len(drawn) == 50 and set(drawn) == {0, 1, 2}
    assert sorted(data.SubsetRandomSampler([7, 3, 5])) == [3, 5, 7]
    weighted = list(data.WeightedRandomSampler([0, 1, 0, 3], 20, generator=np.random.default_rng(0)))
    assert set(weighted) <= {1, 3} and len(weighted) == 20
    assert list(data.BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(data.BatchSampler(data.SequentialSampler(range(7)), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(data.BatchSampler(range(7), 3, False)) == 3 and len(data.BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        data.BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        data.BatchSampler(range(3), 2, 1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        data.RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        data.RandomSampler(range(3), replacement=1)
    with pytest.raises(TypeError, match="generator"):
        data.RandomSampler(range(3), generator=42)


def test_sampler_and_batch_sampler_arguments():
    squares = ds.Squares(10)
    loader = data.DataLoader(squares, batch_size=4, sampler=[9, 0, 5, 1, 2])
    assert [b[1] for b in as_lists(loader)] == [[9, 0, 5, 1], [2]] and len(loader) == 2
    loader = data.DataLoader(squares, batch_sampler=[[3, 1], [0, 8, 9]])
    assert [b[1] for b in as_lists(loader)] == [[3, 1], [0, 8, 9]] and loader.batch_size is None
    loader = data.DataLoader(squares, batch_size=3, drop_last=True)
    assert [b[1] for b in as_lists(loader)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and len(loader) == 3
    subset = data.DataLoader(squares, batch_size=10, sampler=data.SubsetRandomSampler([1, 4, 6]))
    assert sorted(as_lists(subset)[0][1]) == [1, 4, 6]
    loader = data.DataLoader(squares, batch_size=None, sampler=[4, 2])  # no batching: default_convert
    (x, y), _ = list(loader)
    assert isinstance(x, Tensor) and x.numpy().tolist() == [16, 16, 16] and y == 4 and len(loader) == 2
    assert isinstance(data.DataLoader(squares).collate_fn, type(data.default_collate))


def test_shuffle_reproducible_with_generator():
    squares = ds.Squares(12)
    a = data.DataLoader(squares, batch_size=5, shuffle=True, generator=np.random.default_rng(3))
    b = data.DataLoader(squares, batch_size=5, shuffle=True, generator=np.random.default_rng(3))
    first, second = as_lists(a), as_lists(a)
    assert first == as_lists(b) and second == as_lists(b) and first != second
    assert sorted(sum((batch[1] for batch in first), [])) == list(range(12))
    minigrad.manual_seed(1)
    c = as_lists(data.DataLoader(squares, batch_size=5, shuffle=True))
    minigrad.manual_seed(1)
    assert as_lists(data.DataLoader(squares, batch_size=5, shuffle=True)) == c


def test_argument_conflicts():
    squares = ds.Squares(4)
    cases = [
        (dict(sampler=[0, 1], shuffle=True), ValueError, "sampler option is mutually exclusive with shuffle"),
        (dict(batch_sampler=[[0]], batch_size=2), ValueError, "batch_sampler option is mutually exclusive"),
        (dict(batch_sampler=[[0]], shuffle=True), ValueError, "batch_sampler option is mutually exclusive"),
        (dict(batch_sampler=[[0]], sampler=[0]), ValueError, "batch_sampler option is mutually exclusive"),
        (dict(batch_sampler=[[0]], drop_last=True), ValueError, "batch_sampler option is mutually exclusive"),
        (dict(batch_size=None, drop_last=True), ValueError, "mutually exclusive with drop_last"),
        (dict(num_workers=-1), ValueError, "num_workers option should be non-negative"),
        (dict(timeout=-1), ValueError, "timeout option should be non-negative"),
        (dict(prefetch_factor=2), ValueError, "prefetch_factor option could only be specified"),
        (dict(num_workers=1, prefetch_factor=-1), ValueError, "prefetch_factor option should be non-negative"),
        (dict(persistent_workers=True), ValueError, "persistent_workers option needs num_workers > 0"),
        (dict(multiprocessing_context="spawn"), ValueError, "multiprocessing_context can only be used"),
        (dict(num_workers=1, multiprocessing_context="nope"), ValueError, "valid start method"),
        (dict(num_workers=1, multiprocessing_context=3), TypeError, "multiprocessing_context option should be"),
        (dict(batch_size=0), ValueError, "batch_size should be a positive integer"),
        (dict(shuffle=True, generator="rng"), TypeError, "generator"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            data.DataLoader(squares, **kwargs)
    loader = data.DataLoader(squares)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        loader.batch_size = 2
    loader.num_workers = 0  # not frozen, as in torch


def test_pin_memory_is_accepted():
    assert as_lists(data.DataLoader(ds.Squares(3), batch_size=3, pin_memory=True))[0][1] == [0, 1, 2]


# --- workers --------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, kwargs", [
    (lambda: ds.Squares(11), dict(batch_size=3)),  # per-sample fetch and default collate in the workers
    (lambda: data.TensorDataset(np.arange(33.0).reshape(11, 3), np.arange(11)), dict(batch_size=4, drop_last=True)),
    (lambda: ds.Squares(5), dict(batch_size=None)),
    (lambda: ds.Squares(7), dict(batch_size=3, collate_fn=ds.count_collate)),
    (lambda: ds.Squares(9), dict(batch_size=2, shuffle=True, seed=4)),
])
def test_workers_give_the_same_batches(make, kwargs):
    dataset = make()
    expected = data.DataLoader(dataset, **kwargs)
    loader = data.DataLoader(dataset, num_workers=2, **kwargs)
    got = list(loader)
    assert as_lists(got) == as_lists(expected) and len(got) == len(loader)
    if kwargs.get("collate_fn") is None:  # Tensors, as without workers (a bare int stays an int with batch_size=None)
        assert [type(x) for x in got[0]] == [type(x) for x in next(iter(expected))] and isinstance(got[0][0], Tensor)
        assert got[0][0].numpy().dtype == next(iter(expected))[0].numpy().dtype


def test_out_of_order_results_are_all_there():
    loader = data.DataLoader(ds.Squares(10), batch_size=2, num_workers=2, in_order=False)
    assert sorted(sum((b[1] for b in as_lists(loader)), [])) == list(range(10))


def test_worker_seeds_info_and_init_fn():
    assert data.get_worker_info() is None
    def run(**kwargs):
        return as_lists(data.DataLoader(ds.WorkerReport(), batch_size=2, num_workers=2, **kwargs))
    batches = run(generator=np.random.default_rng(0), worker_init_fn=ds.record_init)
    base = int(np.random.default_rng(0).integers(0, 2**63 - 1))  # drawn once per pass from the generator
    for k, batch in enumerate(batches):
        worker = k % 2  # batches are dealt to the workers in turn
        assert batch["id"] == [worker] * 2 and batch["num_workers"] == [2, 2] and batch["own_dataset"] == [True] * 2
        assert batch["seed"] == [str(base + worker)] * 2 and batch["init"] == [f"init{worker}"] * 2
        assert batch["pid"][0] != os.getpid()
    draws = {(b["id"][0], tuple(b["numpy"]), tuple(b["minigrad"])) for b in batches[:2]}
    assert len({d[1] for d in draws}) == 2 and len({d[2] for d in draws}) == 2  # distinct per worker
    assert batches == [dict(b, pid=a["pid"]) for a, b in zip(batches, run(generator=np.random.default_rng(0),
                                                                              worker_init_fn=ds.record_init))]
    minigrad.manual_seed(11)
    first = run()
    minigrad.manual_seed(11)
    assert [b["seed"] for b in run()] == [b["seed"] for b in first]


def test_worker_exception_is_reraised_with_its_traceback():
    it = iter(data.DataLoader(ds.Failing(), batch_size=1, num_workers=2))
    assert [next(it).numpy().tolist() for _ in range(3)] == [[0], [1], [2]]
    with pytest.raises(ValueError, match="Caught ValueError in DataLoader worker process 1") as info:
        next(it)
    assert "Traceback" in str(info.value) and "bad sample 3" in str(info.value)
    assert [b.numpy().tolist() for b in it] == [[4], [5]]  # the loader goes on, as torch's does
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process"):
        list(data.DataLoader(ds.Squares(4), num_workers=1, worker_init_fn=ds.failing_init))


@pytest.mark.parametrize("kill, message", [(False, "worker 0 .*exited unexpectedly with exit code 3"),
                                           (True, "worker 0 .*killed by signal SIGKILL")])
def test_worker_death_is_an_error_not_a_hang(kill, message):
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=message):
        list(data.DataLoader(ds.Dying(kill), batch_size=1, num_workers=2))
    assert time.monotonic() - start < 10


def test_timeout():
    start = time.monotonic()
    it = iter(data.DataLoader(ds.Slow(), batch_size=1, num_workers=1, timeout=0.5))
    assert next(it).numpy().tolist() == [0]
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        next(it)
    del it
    assert time.monotonic() - start < 3


def test_persistent_workers():
    loader = data.DataLoader(ds.WorkerReport(), batch_size=2, num_workers=2, persistent_workers=True, shuffle=True,
                             generator=np.random.default_rng(5))
    plain = data.DataLoader(ds.Squares(8), batch_size=2, shuffle=True, generator=np.random.default_rng(5))
    epochs = [as_lists(loader) for _ in range(2)]
    # The first pass is shuffled as without workers (the workers' base seed is drawn after the order).
    assert [b["i"] for b in epochs[0]] == [b[1] for b in as_lists(plain)] != [b["i"] for b in epochs[1]]
    assert sorted(sum((b["i"] for b in epochs[1]), [])) == list(range(8))
    pids = [{p for b in epoch for p in b["pid"]} for epoch in epochs]
    assert pids[0] == pids[1] and len(pids[0]) == 2  # the same two processes
    assert [b["seed"] for b in epochs[0]] == [b["seed"] for b in epochs[1]]
    next(iter(loader))  # an abandoned pass: its outstanding batches must not leak into the next one
    assert len(as_lists(loader)) == 4 and loader._iterator is not None
    loader._iterator._shutdown()
    assert len(as_lists(loader)) == 4  # a closed iterator is replaced


# --- against torch --------------------------------------------------------------------------------

def test_same_batches_as_torch():
    torch = pytest.importorskip("torch")
    for kwargs in [dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None),
                   dict(batch_sampler=[[2, 0], [5]]), dict(batch_size=4, sampler=[6, 1, 3])]:
        ours = data.DataLoader(ds.Squares(7), **kwargs)
        theirs = torch.utils.data.DataLoader(ds.Squares(7), **kwargs)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            for x, y in zip(a, b, strict=True):
                np.testing.assert_array_equal(x.numpy() if isinstance(x, Tensor) else x,
                                              y.numpy() if isinstance(y, torch.Tensor) else y)
    assert list(data.BatchSampler(range(10), 4, False)) == list(torch.utils.data.BatchSampler(range(10), 4, False))
    assert list(data.SequentialSampler(range(4))) == list(torch.utils.data.SequentialSampler(range(4)))


def test_same_errors_as_torch():
    torch = pytest.importorskip("torch")
    for kwargs in [dict(sampler=[0], shuffle=True), dict(batch_sampler=[[0]], batch_size=2),
                   dict(batch_sampler=[[0]], drop_last=True), dict(batch_size=None, drop_last=True),
                   dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2), dict(persistent_workers=True),
                   dict(num_workers=1, prefetch_factor=-1), dict(multiprocessing_context="spawn"),
                   dict(num_workers=1, multiprocessing_context="nope")]:
        with pytest.raises(ValueError) as ours:
            data.DataLoader(ds.Squares(3), **kwargs)
        with pytest.raises(ValueError) as theirs:
            torch.utils.data.DataLoader(ds.Squares(3), **kwargs)
        assert str(ours.value) == str(theirs.value), kwargs
    for make in [lambda m: m.BatchSampler(range(3), 0, False), lambda m: m.BatchSampler(range(3), 2, "x"),
                 lambda m: m.RandomSampler(range(3), num_samples=-1)]:
        with pytest.raises(ValueError) as ours:
            make(data)
        with pytest.raises(ValueError) as theirs:
            make(torch.utils.data)
        assert str(ours.value) == str(theirs.value)
