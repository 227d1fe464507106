"""DistributedDataParallel and broadcast_parameters on 2 ranks (``mpiexec -n 2``): training on the
global batch split over the ranks equals one process training on all of it."""
import json

import pytest
from mpirun import check, mpiexec, requires_mpi

pytestmark = requires_mpi


def run(tmp_path, *args):
    out = tmp_path / "found.json"
    check(mpiexec("ddp.py", out, *args))
    return json.loads(out.read_text())


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
@pytest.mark.parametrize("bucket_cap_mb", [25, 2e-5])  # one bucket; a bucket per parameter (21 bytes)
def test_two_ranks_equal_one_process_on_the_whole_batch(tmp_path, optimizer, bucket_cap_mb):
    found = run(tmp_path, "exact", optimizer, bucket_cap_mb)
    assert found["identical"] == [True] * 20  # the ranks' parameters bitwise equal after every step
    assert found["worst_relative"] < 1e-12  # float64: only the summation order differs
    assert found["buckets"] == (1 if bucket_cap_mb == 25 else 4)


def test_no_sync_accumulates_locally_then_averages_the_sum(tmp_path):
    found = run(tmp_path, "no_sync")
    assert found["unsynced_differs"] and found["identical"]
    assert found["max_difference"] < 1e-12


def test_the_forward_decides_whether_its_backward_averages(tmp_path):
    found = run(tmp_path, "forward_decides")
    assert found["local"] and found["averaged"]


def test_unused_parameters(tmp_path):
    found = run(tmp_path, "unused")
    assert "error" not in found and found["unused_grad_none"] and found["used_identical"]
    assert found["partly_used_error"] < 1e-12
    found = run(tmp_path, "unused_unflagged")
    assert "Expected to have finished reduction in the prior iteration" in found["error"]
    assert "find_unused_parameters=True" in found["error"]


def test_different_models_on_the_ranks_raise_on_every_rank(tmp_path):
    check(mpiexec("ddp.py", tmp_path / "said", "shapes"))
    for rank in (0, 1):
        said = (tmp_path / f"said.{rank}").read_text()
        assert said.startswith("ValueError: broadcast_parameters: the model differs between ranks: rank(s) [1]")


def test_a_rank_that_raises_aborts_the_job():
    finished = mpiexec("ddp.py", "-", "raise", timeout=60)
    assert finished.returncode != 0
    assert "RuntimeError: rank 1 failed in step 2" in finished.stderr


def test_sync_batch_norm_on_two_ranks_is_batch_norm_on_the_whole_batch(tmp_path):
    out = tmp_path / "found.json"
    check(mpiexec("sync_batch_norm.py", out))
    found = json.loads(out.read_text())
    assert found["converted"] == "SyncBatchNorm" and found["batches_tracked"] == 10
    assert found["output"] < 1e-12 and found["parameters"] < 1e-12 and found["running"] < 1e-12
