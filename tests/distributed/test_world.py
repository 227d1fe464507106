"""minigrad.distributed's start-up, collectives and failures, under ``mpiexec -n 2`` (and what it
says outside mpiexec or without mpi4py, in this process, where MPI is never initialised)."""
import json
import sys

import numpy as np
import pytest
from mpirun import check, mpiexec, requires_mpi

import minigrad as mg
import minigrad.distributed as dist


@requires_mpi
def test_the_world_of_two_ranks(tmp_path):
    finished = check(mpiexec("world.py", tmp_path))
    assert finished.stdout.count("printed once") == 1
    for rank in (0, 1):
        seen = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert seen["rank"] == rank
        assert seen["size"] == 2 and seen["local_rank"] == rank and seen["main"] == (rank == 0)
        assert seen["summed"] == [3.0, 10.0] and seen["mean"] == [0.5, 1.0] and seen["max"] == [1]
        assert seen["shared"] == [1.0, 1.0, 1.0]
        assert seen["sampler"] == list(mg.data.DistributedSampler(range(7), 2, rank, shuffle=False))


@requires_mpi
@pytest.mark.parametrize("how, message", [("raise", "ValueError: rank 1 failed mid-step"), ("exit", "")])
def test_a_rank_that_fails_aborts_the_job_instead_of_hanging(tmp_path, how, message):
    finished = mpiexec("world.py", tmp_path, how, timeout=60)  # rank 0 waits in a barrier: without the abort, a hang
    assert finished.returncode != 0
    assert message in finished.stderr
    assert "application called MPI_Abort(MPI_COMM_WORLD, " in finished.stderr  # MPICH's words for an abort


def test_outside_mpiexec_init_says_how_to_start(monkeypatch):
    for name in dist.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if dist.is_available():
        with pytest.raises(RuntimeError, match=r"not started by mpiexec; run it as 'mpiexec -n N python script.py'"):
            dist.init()
    monkeypatch.setattr(dist, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match=r'needs mpi4py and an MPI library: pip install "minigrad\[mpi\]"'):
        dist.init()
    assert not dist.is_initialized() and dist.is_main_process()


def test_before_init_the_world_is_refused_by_name():
    for query in (dist.get_rank, dist.get_world_size, dist.get_local_rank, dist.barrier, dist.communicator):
        with pytest.raises(RuntimeError, match=r"not initialized: call minigrad.distributed.init\(\) first"):
            query()
    with pytest.raises(RuntimeError, match="DistributedSampler: give num_replicas and rank"):
        mg.data.DistributedSampler(range(4))


def test_collectives_refuse_bad_arrays_before_communicating(monkeypatch):
    class World:  # "initialised": the checks come before any call on it
        def Get_size(self):
            return 2
    monkeypatch.setattr(dist, "_comm", World())
    with pytest.raises(ValueError, match="op must be one of"):
        dist.all_reduce(np.zeros(2), "product")
    with pytest.raises(TypeError, match="array must be a C-contiguous, writeable NumPy array"):
        dist.all_reduce(np.zeros((2, 2))[:, 0])
    with pytest.raises(TypeError, match="array must be a C-contiguous, writeable NumPy array or Tensor, got list"):
        dist.all_reduce([1.0])
    with pytest.raises(TypeError, match="op='mean' needs a floating-point array"):
        dist.all_reduce(np.zeros(2, np.int64), "mean")
    with pytest.raises(ValueError, match=r"src must be a rank in \[0, 1\], got 2"):
        dist.broadcast(np.zeros(2), src=2)
    assert "mpi4py.MPI" not in sys.modules  # (importing it would initialise MPI in pytest's process)


def test_train_distributed_outside_mpiexec_or_without_mpi4py(monkeypatch, capsys):
    from minigrad.cli import main
    for name in dist.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if dist.is_available():
        with pytest.raises(SystemExit, match="start it with mpiexec, e.g. mpiexec -n 2 minigrad train digits-cnn"):
            main(["train", "digits-cnn", "--distributed"])
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now fails
    with pytest.raises(SystemExit, match=r'--distributed: needs mpi4py; install it with: pip install "minigrad\[mpi'):
        main(["train", "digits-mlp", "--distributed"])
    assert not dist.is_initialized()
