"""minigrad.distributed.ShardedOptimizer (ZeRO stage 1) under mpiexec: each program of programs/sharded_*.py
runs many cases in one job and writes its findings, which these tests check."""
import importlib.util
import inspect
import json
import os

import numpy as np
import pytest

import minigrad.distributed as dist
import minigrad.optim as optim
import mpirun
from minigrad.distributed import ShardedOptimizer
from minigrad.distributed.sharded import ELEMENTWISE, REFUSED
from minigrad.nn import Parameter

TOLERANCE = 1e-12  # relative, float64


def _program(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(mpirun.PROGRAMS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # its main() runs only as a script
    return module


EXACT = _program("sharded_exact")
OPTIMIZER_CASES = [f"{name}-{backend}" for backend in ("cpp", "numpy") for name in EXACT.CASES]
OTHER_CASES = ["Adam-StepLR", "Adam-already-averaged", "Adam-skip-nonfinite", "Adam-float32-and-float64",
               "Adafactor-float32-and-float64"]


def _json(path):
    with open(path) as file:
        return json.load(file)


@pytest.fixture(scope="module")
def exact(tmp_path_factory):
    path = tmp_path_factory.mktemp("sharded") / "exact.json"
    mpirun.check(mpirun.mpiexec("sharded_exact.py", path))
    return _json(path)


def test_every_optimizer_is_compared_or_refused():
    classes = {cls for cls in vars(optim).values() if inspect.isclass(cls) and issubclass(cls, optim.Optimizer)
               and cls is not optim.Optimizer}
    compared = {optimizer_class for optimizer_class, _ in EXACT.CASES.values()}
    assert classes - set(REFUSED) == compared
    assert set(ELEMENTWISE) == compared - {optim.Adafactor, optim.Muon}


@mpirun.requires_mpi
@pytest.mark.parametrize("case", OPTIMIZER_CASES + OTHER_CASES)
def test_two_ranks_equal_the_unsharded_optimizer(exact, case):
    """Parameters after every step, and the state gathered on rank 0, as the plain optimizer's on
    the mean gradient; shard boundaries inside a tensor, a tensor smaller than the world, an empty shard."""
    result = exact[case]
    assert result["mismatch"] == ""
    assert result["param_error"] <= TOLERANCE
    assert result["state_error"] <= TOLERANCE
    assert result["same_on_ranks"] and result["state_is_none_elsewhere"]
    assert result["skipped"] == ([1, 1] if case == "Adam-skip-nonfinite" else [0, 0])


@mpirun.requires_mpi
def test_each_rank_keeps_only_its_shards_state(exact):
    """Group 0: 35 elements split 17 | 18; group 1: 1 element, rank 1's. Adam: 2 arrays of float64."""
    assert exact["Adam-cpp"]["state_bytes_per_rank"] == [17 * 2 * 8, (18 + 1) * 2 * 8]


@mpirun.requires_mpi
def test_state_memory_per_rank_is_halved(tmp_path):
    path = tmp_path / "memory.json"
    mpirun.check(mpirun.mpiexec("sharded_memory.py", path))
    for model, result in _json(path).items():
        assert sum(result["per_rank"]) == result["plain"] == 2 * 4 * result["elements"], model  # m, v in float32
        assert max(result["per_rank"]) <= result["plain"] / 2 + 2 * 4, model  # ± one element's


@mpirun.requires_mpi
def test_checkpoints_move_between_world_sizes(tmp_path):
    """2 ranks save -> the plain optimizer and 1 rank load it -> 1 rank saves -> 2 ranks load; plain -> 2 ranks."""
    for mode, n in (("save", 2), ("resume", 1), ("finish", 2)):
        mpirun.check(mpirun.mpiexec("sharded_checkpoint.py", mode, tmp_path, n=n))
    checks = {mode: _json(tmp_path / f"{mode}.json") for mode in ("save", "resume", "finish")}
    for mode, cases in checks.items():
        assert set(cases) == {"Adam", "ASGD", "Adafactor", "SGD-momentum"}
        for case, errors in cases.items():
            for check, error in errors.items():
                if isinstance(error, list):  # (error, mismatch) of a state dict comparison
                    error, mismatch = error
                    assert mismatch == "", (case, check)
                assert error <= TOLERANCE, (case, check)
    assert len(checks["save"]["Adam"]) == 3 and len(checks["resume"]["Adam"]) == 2


@mpirun.requires_mpi
def test_bad_input_raises_on_every_rank_and_changes_nothing(tmp_path):
    mpirun.check(mpirun.mpiexec("sharded_errors.py", tmp_path))  # finishing at all: no rank hung
    ranks = [_json(tmp_path / f"errors_{rank}.json") for rank in (0, 1)]
    expected = {  # case: (error type on every rank, a part of rank 0's message)
        "optimizer instance": ("TypeError", "optimizer_class must be an optimizer class"),
        "optimizer name": ("TypeError", "got 'Adam'"),
        "LBFGS": ("TypeError", "optimizer_class=LBFGS cannot be sharded"),
        "SparseAdam": ("TypeError", "optimizer_class=SparseAdam cannot be sharded"),
        "empty params": ("ValueError", "empty parameter list"),
        "negative lr": ("ValueError", "Invalid learning rate: -1.0"),
        "Muon with a 1-D parameter": ("ValueError", "Muon only supports 2D parameters"),
        "params differ between ranks": ("ValueError", "differs between ranks"),
        "gradient on one rank only": ("ValueError", "parameter(s) [1] have a gradient on some ranks"),
        "gradient of a wrong shape on rank 1": ("ValueError", "failed on another rank"),
        "negative lr set in param_groups": ("ValueError", "Invalid learning rate: -0.5"),
        "train() of Adam": ("AttributeError", "Adam has no train()"),
        "state of a wrong shape, one rank's": ("ValueError", "failed on rank(s) [1]"),
        "negative step count": ("ValueError", "state 'step' of parameter 0"),
        "one group missing": ("ValueError", "does not match the optimizer's param groups"),
        "not a state dict": ("TypeError", "state_dict must be a dict"),
        "then a good one loads": (None, ""),
        "and steps": (None, ""),
    }
    assert set(ranks[0]) == set(ranks[1]) == set(expected)
    for case, (kind, message) in expected.items():
        for rank, results in enumerate(ranks):
            assert results[case]["type"] == (kind if (case, rank) != ("gradient of a wrong shape on rank 1", 1)
                                             else "TypeError"), (case, rank)
            assert results[case].get("unchanged", True) == (case != "and steps"), (case, rank)
        assert message in ranks[0][case]["message"], case
    assert "gradient of parameter 0 must be a dense array of its shape (3, 5)" in \
        ranks[1]["gradient of a wrong shape on rank 1"]["message"]
    assert "state 'exp_avg' of parameter 3 has shape (5,) but the parameter has shape (2, 2, 3)" in \
        ranks[1]["state of a wrong shape, one rank's"]["message"]
    assert "failed on rank(s) [0]" in ranks[1]["negative step count"]["message"]


def test_needs_an_optimizer_class_then_init():
    """Without MPI initialised (this process): the class is checked first, then init() is asked for."""
    params = [Parameter(np.zeros(3))]
    with pytest.raises(TypeError, match="optimizer_class must be an optimizer class"):
        ShardedOptimizer(optim.Adam(params), params)
    if not dist.is_initialized():
        with pytest.raises(RuntimeError, match="init"):
            ShardedOptimizer(optim.Adam, params)
