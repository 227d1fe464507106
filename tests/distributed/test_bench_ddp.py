"""``mpiexec -n 2 minigrad bench ddp``: its figures, from a short run."""
import json

import pytest
from mpirun import check, mpiexec, requires_mpi

import minigrad.distributed as dist
from minigrad.cli import main

pytest.importorskip("sklearn")  # the digits


@requires_mpi
def test_a_short_race_gives_every_figure(tmp_path):
    out = tmp_path / "ddp.json"
    finished = check(mpiexec("cli.py", "bench", "ddp", "--models", "digits-cnn", "--rounds", "2", "--steps", "3",
                             "--json", out))
    assert finished.stdout.count("all-reduce alone") == 1  # the table's header: rank 0's alone
    (record,) = json.loads(out.read_text())["records"]
    assert record["ranks"] == 2 and record["parameters"] == 21_578 and record["gradient_bytes"] == 4 * 21_578
    for key in ("step_ranks_seconds", "step_one_rank_seconds", "allreduce_alone_seconds"):
        assert record[key] > 0
    assert 0 <= record["wait_share"] < 1
    assert record["adam_state_bytes"] == 2 * 4 * 21_578 and record["sharded_adam_state_bytes_per_rank"] == 4 * 21_578
    assert record["speedup"] == pytest.approx(record["step_one_rank_seconds"] / record["step_ranks_seconds"])
    ring, speedup = record["on_paper"]["10"]["2"]
    assert ring == pytest.approx(4 * 21_578 / (10e9 / 8) + 2 * 10e-6)  # 2(N-1)/N · V/B + 2(N-1) latencies
    at_batch = record["step_alone_at_batch_seconds"]
    assert sorted(map(int, at_batch)) == [1, 2, 4, 8, 16, 32] and at_batch["32"] == record["step_one_rank_seconds"]
    assert speedup == pytest.approx(at_batch["32"] / (at_batch["16"] + ring))  # T(32) / (T(32/N) + all-reduce)


@requires_mpi
def test_one_process_is_refused():
    finished = mpiexec("cli.py", "bench", "ddp", "--rounds", "1", "--steps", "2", n=1)
    assert finished.returncode == 2
    assert "needs 2 or more processes that share the batch of 32 evenly (2, 4, 8, ...), got 1" in finished.stderr


def test_outside_mpiexec_it_says_how_to_start(monkeypatch, capsys):
    for name in dist.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if not dist.is_available():
        pytest.skip("needs mpi4py")
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "ddp"])
    assert exit_.value.code == 2
    assert "start it with mpiexec, e.g. mpiexec -n 2 minigrad bench ddp" in capsys.readouterr().err
