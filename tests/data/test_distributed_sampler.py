"""data.DistributedSampler: torch's indices where the order is not shuffled (the generators differ),
the partition's properties where it is, the epoch's reshuffle, and its arguments' errors."""
import numpy as np
import pytest

from minigrad import data

CASES = [(n, replicas, drop_last) for n in (0, 1, 2, 7, 10, 12) for replicas in (1, 2, 3, 5)
         for drop_last in (False, True)]


def parts(n, replicas, **options):
    return [list(data.DistributedSampler(range(n), replicas, rank, **options)) for rank in range(replicas)]


@pytest.mark.parametrize("n, replicas, drop_last", CASES)
def test_the_unshuffled_parts_are_torchs(n, replicas, drop_last):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DistributedSampler
    for rank in range(replicas):
        theirs = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        ours = data.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs), (rank, torch.__version__)


@pytest.mark.parametrize("n, replicas, drop_last", CASES)
def test_the_shuffled_parts_cover_the_dataset_in_equal_shares(n, replicas, drop_last):
    shares = parts(n, replicas, drop_last=drop_last, seed=3)
    lengths = {len(share) for share in shares}
    assert len(lengths) == 1 and lengths == {len(data.DistributedSampler(range(n), replicas, 0, drop_last=drop_last))}
    every = sorted(i for share in shares for i in share)
    if drop_last:  # each index at most once; n % replicas of them dropped
        assert len(set(every)) == len(every) == n - n % replicas
    else:  # every index, the first few repeated to fill the last round
        assert set(every) == set(range(n)) and len(every) == -(-n // replicas) * replicas


def test_every_replica_shuffles_alike_and_set_epoch_reshuffles():
    sampler = data.DistributedSampler(range(100), 2, 0, seed=7)
    other = data.DistributedSampler(range(100), 2, 1, seed=7)
    first = list(sampler)
    assert first == list(sampler) and first != list(range(0, 100, 2))  # the same order until the epoch moves on
    assert not set(first) & set(other)  # the replicas' parts are disjoint: one permutation shared
    sampler.set_epoch(1)
    other.set_epoch(1)
    assert list(sampler) != first and not set(sampler) & set(other)  # a new order, still one shared permutation
    assert list(data.DistributedSampler(range(100), 2, 0, seed=8)) == list(sampler)  # seeded by seed + epoch


def test_it_drives_a_dataloader():
    dataset = data.TensorDataset(np.arange(10.0))
    loader = data.DataLoader(dataset, batch_size=2, sampler=data.DistributedSampler(dataset, 2, 1, shuffle=False))
    assert [batch[0].tolist() for batch in loader] == [[1.0, 3.0], [5.0, 7.0], [9.0]]


@pytest.mark.parametrize("options, error, message", [
    ({"num_replicas": None, "rank": 0}, RuntimeError, r"give num_replicas and rank, or call minigrad.distributed.init"),
    ({"num_replicas": 2, "rank": None}, RuntimeError, r"give num_replicas and rank, or call minigrad.distributed.init"),
    ({"num_replicas": 2.0, "rank": 0}, TypeError, "num_replicas should be an integer"),
    ({"num_replicas": 0, "rank": 0}, ValueError, "num_replicas should be a positive integer"),
    ({"num_replicas": 2, "rank": 2}, ValueError, r"Invalid rank 2, rank should be in the interval \[0, 1\]"),
    ({"num_replicas": 2, "rank": -1}, ValueError, "Invalid rank -1"),
    ({"num_replicas": 2, "rank": True}, TypeError, "rank should be an integer"),
    ({"num_replicas": 2, "rank": 0, "seed": "0"}, TypeError, "seed should be an integer"),
    ({"num_replicas": 2, "rank": 0, "shuffle": 1}, TypeError, "shuffle should be a boolean"),
    ({"num_replicas": 2, "rank": 0, "drop_last": None}, TypeError, "drop_last should be a boolean"),
])
def test_bad_arguments_name_the_argument(options, error, message):
    with pytest.raises(error, match=message):
        data.DistributedSampler(range(4), **options)
    sampler = data.DistributedSampler(range(4), 2, 0)
    with pytest.raises(TypeError, match="epoch should be an integer"):
        sampler.set_epoch(1.5)
    assert sampler.epoch == 0
