"""``mpiexec -n N minigrad compare``: the runs shared out over the ranks give the serial run's numbers
(all but the wall-clock ones) and files; a run that raises on any rank ends the job instead of hanging
it; without mpi4py the command stops naming the extra."""
import json
import os

import pytest

import mpirun
from minigrad.commands import compare

# a small comparison: the 2-D functions and digits-mlp, one trial and one seed per optimizer, one epoch
OPTIONS = ["--tasks", "2d,digits-mlp", "--budget", "1", "--seeds", "1", "--epochs", "1", "--steps", "20",
           "--no-timing"]
WALL_CLOCK = ("seconds", "step_us")  # the keys (or parts of keys) of the wall-clock numbers
FILES = {"compare.json", "tables.md", "optimizers_2d.png", "optimizers_tasks.png", "performance_profile.png"}


def deterministic(value):
    """The JSON ``value`` less its wall-clock numbers (a curve's points keep their step and value) and
    the settings (where --out and the number of ranks differ)."""
    if isinstance(value, dict):
        kept = {key: deterministic(item) for key, item in value.items()
                if key not in ("settings", "curve") and not any(part in key for part in WALL_CLOCK)}
        if "curve" in value:
            kept["curve"] = [[step, loss] for step, _, loss in value["curve"]]
        return kept
    if isinstance(value, list):
        return [deterministic(item) for item in value]
    return value


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The serial run's output directory."""
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    out = tmp_path_factory.mktemp("serial")
    assert compare.main([*OPTIONS, "--out", str(out), "--no-progress"]) == 0
    return out


@mpirun.requires_mpi
def test_distributed_compare_equals_serial_compare(serial, tmp_path):
    n = 2
    mpirun.check(mpirun.mpiexec("compare_cli.py", *OPTIONS, "--out", tmp_path, n=n))
    assert set(os.listdir(tmp_path)) == set(os.listdir(serial)) == FILES
    expected, report = (json.loads((out / "compare.json").read_text()) for out in (serial, tmp_path))
    assert report["settings"]["ranks"] == n and expected["settings"]["ranks"] == 1
    assert report["functions"].keys() == compare.FUNCTIONS.keys()
    assert {run["phase"] for run in report["runs"]} == {"tuning", "final"}
    assert deterministic(report) == deterministic(expected)


@mpirun.requires_mpi
@pytest.mark.parametrize("rank", [0, 1])
def test_a_run_that_raises_on_one_rank_ends_the_job(tmp_path, rank):
    finished = mpirun.mpiexec("compare_cli.py", "fail", rank, "--tasks", "2d", "--steps", "20", "--out", tmp_path,
                              "--no-progress", timeout=60)
    assert finished.returncode != 0
    assert f"RuntimeError: a run failed on rank {rank}" in finished.stderr
    assert not (tmp_path / "compare.json").exists()


@mpirun.requires_mpi
def test_without_mpi4py_the_command_stops_naming_the_extra(tmp_path):
    finished = mpirun.mpiexec("compare_cli.py", "without-mpi4py", "--tasks", "2d", "--out", tmp_path, timeout=60)
    assert finished.returncode == 1
    assert 'minigrad compare under mpiexec: minigrad.distributed needs mpi4py' in finished.stderr
    assert 'pip install "minigrad[mpi]"' in finished.stderr
    assert not tmp_path.exists() or not os.listdir(tmp_path)
