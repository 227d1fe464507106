"""DistributedDataParallel's buckets are torch's (no MPI needed: the assignment is a pure function)."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.distributed.data_parallel import MiB, assign_buckets

SIZES = [(100, "float32"), (300_000, "float32"), (50, "float64"), (200_000, "float64"), (10, "float32"),
         (400_000, "float32"), (7, "float64"), (1, "float32")]


def params(sizes):
    return [mg.nn.Parameter(np.zeros(n, dtype)) for n, dtype in sizes]


@pytest.mark.parametrize("caps", [(MiB, 2 * MiB), (MiB, 25 * MiB), (400, 400), (1, 1), (10 * MiB, 10 * MiB)])
@pytest.mark.parametrize("sizes", [SIZES, SIZES[::-1], SIZES[:3], [(5, "float64")]])
def test_the_buckets_are_torchs(caps, sizes):
    torch = pytest.importorskip("torch")
    import torch.distributed as torch_dist
    first_cap, cap = caps
    ps = params(sizes)
    buckets = assign_buckets(ps, cap, first_cap)
    # torch's assignment over the parameters in reverse order, as its DDP rebuilds them (the order gradients come)
    reverse = [torch.zeros(n, dtype=getattr(torch, dtype)) for n, dtype in sizes[::-1]]
    expected, _ = torch_dist._compute_bucket_assignment_by_size(reverse, [first_cap, cap])
    position = {id(p): i for i, p in enumerate(reversed(ps))}
    assert [[position[id(p)] for p in bucket] for bucket in buckets] == expected


def test_every_parameter_is_in_one_bucket_of_its_dtype():
    ps = params(SIZES)
    buckets = assign_buckets(ps, 2 * MiB, MiB)
    assert sorted(id(p) for bucket in buckets for p in bucket) == sorted(id(p) for p in ps)
    assert all(len({p.dtype for p in bucket}) == 1 for bucket in buckets)
