"""minigrad.commands.bench_loop (minigrad bench loop) runs end to end and cleans up after itself
(figures are not asserted: benchmarks are programs, not tests)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad
from minigrad import _C, optim
from minigrad.commands import bench_loop
from minigrad.examples import common
from minigrad.optim import optimizer


@pytest.fixture
def started_processes(monkeypatch):
    """Every Python process the benchmark starts (platform.processor() runs uname too)."""
    processes, real_popen = [], subprocess.Popen

    def popen(args, *rest, **kwargs):
        process = real_popen(args, *rest, **kwargs)
        if args[0] == sys.executable:
            processes.append(process)
        return process
    monkeypatch.setattr(bench_loop.subprocess, "Popen", popen)
    return processes


@pytest.fixture
def thread_settings():
    """Two threads and the adaptive policy to start from (so that cpp-1 changes the count); put back after."""
    saved = minigrad.get_num_threads(), _C.get_thread_policy()
    minigrad.set_num_threads(2)
    _C.set_thread_policy("adaptive")
    yield
    minigrad.set_num_threads(saved[0])
    _C.set_thread_policy(saved[1])


def assert_gone(process):
    """The process has exited and was reaped (a zombie would still answer signal 0)."""
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)


def assert_patches_undone():
    assert optimizer.BACKENDS == {"cpp": _C, "numpy": optim.kernels_numpy}
    assert common.RunLog.step.__qualname__ == "RunLog.step"


def test_runs_and_reports(tmp_path, started_processes, thread_settings, capsys):
    path = tmp_path / "loop.json"
    candidates = ["numpy", "cpp", "cpp-fixed", "cpp-1"]  # cpp-1 last: its 1 thread must not stay set
    argv = ["--quick", "--steps", "8", "--rounds", "1", "--hot-rounds", "1", "--loads", "0,1", "--tasks", "digits-cnn",
            "--candidates", ",".join(candidates), "--json", str(path), "--no-progress"]
    assert bench_loop.main(argv) == 0

    assert (minigrad.get_num_threads(), _C.get_thread_policy()) == (2, "adaptive")
    assert_patches_undone()
    assert len(started_processes) == 1
    for process in started_processes:
        assert_gone(process)
    report = json.loads(path.read_text())
    assert [(load["load"], len(load["busy_pids"])) for load in report["loads"]] == [(0, 0), (1, 1)]
    assert report["loads"][1]["busy_pids"] == [started_processes[0].pid]
    assert all(load["busy_alive_at_end"] for load in report["loads"])  # the load lasted as long as the runs
    assert [(r["load"], r["candidate"]) for r in report["records"]] == [(n, c) for n in (0, 1) for c in candidates]
    for record in report["records"]:
        assert record["task"] == "digits-cnn" and record["steps_timed"] == 3 == len(record["step_durations_us"])
        assert all(value > 0 for value in record["in_loop_us"].values())
        assert all(value > 0 for value in record["isolated_us"].values())
        assert record["x_cpp1"] > 0 and record["numpy_x"] > 0
        assert record["threads"] == (1 if record["candidate"] == "cpp-1" else 2)
        assert record["thread_policy"] == ("fixed" if record["candidate"] == "cpp-fixed" else "adaptive")
    assert len(report["targets"]) == 5
    out = capsys.readouterr().out
    assert "load 1: 1 busy background process" in out and "targets:" in out


def test_cleans_up_when_a_run_fails(monkeypatch, started_processes, thread_settings):
    def failing_train(task, backend, steps):
        assert _C.get_thread_policy() == "fixed"
        assert isinstance(optimizer.BACKENDS["cpp"], bench_loop.TimedKernels)
        raise RuntimeError("training failed")
    monkeypatch.setattr(bench_loop, "train", failing_train)
    with pytest.raises(RuntimeError, match="training failed"):
        bench_loop.main(["--candidates", "cpp-fixed", "--loads", "2", "--tasks", "digits-cnn", "--no-progress"])
    assert (minigrad.get_num_threads(), _C.get_thread_policy()) == (2, "adaptive")
    assert_patches_undone()
    assert len(started_processes) == 2
    for process in started_processes:
        assert_gone(process)


def test_busy_processes_end_by_themselves():
    with bench_loop.busy_processes(1, seconds=0.5) as processes:
        assert processes[0].wait(timeout=20) == 0


@pytest.mark.parametrize("argv, option", [
    (["--tasks", "digits-mlp"], "--tasks"),
    (["--candidates", "cpp,torch"], "--candidates"),
    (["--candidates", "cpp,cpp"], "--candidates"),
    (["--loads", "0,-1"], "--loads"),
    (["--loads", "one"], "--loads"),
    (["--steps", "5"], "--steps"),
    (["--steps", "10", "--warmup", "10"], "--steps"),
    (["--rounds", "0"], "--rounds"),
])
def test_bad_options_exit_with_status_2(argv, option, capsys, started_processes):
    with pytest.raises(SystemExit) as exit_info:
        bench_loop.main(argv + ["--no-progress"])
    assert exit_info.value.code == 2
    assert option in capsys.readouterr().err
    assert not started_processes


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_timing_proxy_passes_arguments_through(backend):
    rng = np.random.default_rng(1)
    start = [(rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype))
             for shape, dtype in (((40, 30), np.float32), ((30,), np.float32), ((7, 3), np.float64))]

    def adam():
        params = [minigrad.Parameter(data.copy()) for data, _ in start]
        for param, (_, grad) in zip(params, start):
            param.grad = grad.copy()
        return optim.Adam(params, lr=3e-3, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True, backend=backend)
    plain = adam()
    with bench_loop.timed_kernels(bench_loop.KernelClock()) as clock:
        timed = adam()
    assert isinstance(timed._kernels, bench_loop.TimedKernels)
    for _ in range(3):
        plain.step()
        clock.new_step()
        timed.step()
    assert len(clock.per_step) == 3 and all(seconds > 0 for seconds in clock.per_step)
    for p, q in zip(plain.param_groups[0]["params"], timed.param_groups[0]["params"]):
        assert p.numpy().tobytes() == q.numpy().tobytes()
        for name, value in plain.state[p].items():
            assert np.asarray(value).tobytes() == np.asarray(timed.state[q][name]).tobytes()
    assert_patches_undone()


def test_the_cache_eviction_writes_twice_the_last_level_cache_within_its_bounds(tmp_path):
    for index, size in (("index0", "48K"), ("index2", "2048K"), ("index3", "491520K")):
        (tmp_path / index).mkdir()
        (tmp_path / index / "size").write_text(size + "\n")
    assert bench_loop.evict_bytes(str(tmp_path)) == 960 << 20
    (tmp_path / "index3" / "size").write_text("8M\n")
    assert bench_loop.evict_bytes(str(tmp_path)) == 32 << 20  # at least 32 MiB
    (tmp_path / "index3" / "size").write_text("2G\n")
    assert bench_loop.evict_bytes(str(tmp_path)) == 1 << 30  # at most 1 GiB
    assert bench_loop.evict_bytes(str(tmp_path / "absent")) == 32 << 20
