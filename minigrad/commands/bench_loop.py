"""The optimizer step inside real training loops, next to the same step timed in isolation.

    minigrad bench loop [--quick] [--tasks char-lstm,digits-cnn] [--loads 0,1,2] [--json PATH]

Each task is an example's training loop (minigrad.examples, Adam, fixed seed) cut to --steps
steps; each candidate runs it once per round, in an order that alternates between rounds:

  cpp-1      the C++ kernels on 1 thread
  cpp        the C++ kernels on the default thread count and thread policy
  cpp-fixed  the default thread count, thread policy 'fixed' (always the whole team)
  numpy      the NumPy twins

Per step (the first --warmup steps of each loop dropped, the rest pooled; medians reported, and
the mean step, which is what wall time pays): the time inside ``opt.step()``, the part of it
inside the kernel call (a timing proxy stands in for the backend module in
``minigrad.optim.optimizer.BACKENDS``) and the rest (Python and argument checks).
In isolation, the same Adam step over random arrays of the task's parameter shapes: hot (stepped
back to back, ``minigrad.utils.benchmark.measure``) and cold (a write of twice the last-level cache,
32 MiB to 1 GiB, evicts the caches before each timed step). Every figure is taken with 0, 1, ...
background processes spinning in pure Python; the benchmark starts them, bounds them in time and
stops them itself.
"""
import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

from .. import _C, build_info, examples, get_num_threads, optim, set_num_threads
from ..examples import common
from ..examples.arguments import integer, listed, names, require
from ..optim import optimizer as optimizer_module
from ..tensor import Parameter
from ..utils.benchmark import measure
from .bench import progress_bar

# name: (backend, threads (None: the default count), thread policy (None: the default))
CANDIDATES = {"cpp-1": ("cpp", 1, None), "cpp": ("cpp", None, None), "cpp-fixed": ("cpp", None, "fixed"),
              "numpy": ("numpy", None, None)}
# task (a name in minigrad.examples.TASKS): run() options besides the common ones
TASKS = {"char-lstm": {"sample_chars": 0}, "digits-cnn": {}}
SEED = 0
COLD_CALLS = 20
MAX_BUSY_SECONDS = 15 * 60
# a background load: pure-Python spinning until its deadline, or until its parent is gone
SPIN = ("import os, time\n"
        "end, parent = time.monotonic() + {seconds}, os.getppid()\n"
        "while time.monotonic() < end and os.getppid() == parent:\n"
        "    for _ in range(10000):\n"
        "        pass\n")


def evict_bytes(caches="/sys/devices/system/cpu/cpu0/cache"):
    """Bytes to write so that an optimizer's arrays leave the caches: twice the last-level cache
    (Linux reports it under ``caches``), 32 MiB when unknown or smaller, at most 1 GiB (a shared L3 of
    hundreds of MiB is common on cloud machines; a 32 MiB write leaves most of their arrays there)."""
    sizes = []
    for index in sorted(os.listdir(caches)) if os.path.isdir(caches) else ():
        with contextlib.suppress(OSError, ValueError, IndexError):  # unreadable, empty or unknown: skipped
            with open(os.path.join(caches, index, "size")) as f:
                text = f.read().strip()
            sizes.append(int(text[:-1]) << {"K": 10, "M": 20, "G": 30}[text[-1]] if text[-1] in "KMG" else int(text))
    return min(max(32 << 20, 2 * max(sizes, default=0)), 1 << 30)


class KernelClock:
    """Seconds spent in kernel calls, per optimizer step: ``new_step()`` opens a step's total."""

    def __init__(self):
        self.per_step = []

    def new_step(self):
        self.per_step.append(0.0)

    def add(self, seconds):
        if self.per_step:
            self.per_step[-1] += seconds


class TimedKernels:
    """A kernel module whose functions also add their duration to ``clock``."""

    def __init__(self, module, clock):
        self._module, self._clock = module, clock

    def __getattr__(self, name):
        function, clock = getattr(self._module, name), self._clock
        if not callable(function):
            return function

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                clock.add(time.perf_counter() - start)
        setattr(self, name, timed)  # later look-ups skip __getattr__
        return timed


@contextlib.contextmanager
def timed_kernels(clock):
    """Optimizers built inside use kernels timed by ``clock``; each ``RunLog.step`` (the examples'
    timed ``opt.step()``) opens a new step of ``clock``."""
    backends, log_step = dict(optimizer_module.BACKENDS), common.RunLog.step

    def step(log, opt, loss):
        clock.new_step()
        log_step(log, opt, loss)
    try:
        optimizer_module.BACKENDS.update({name: TimedKernels(module, clock) for name, module in backends.items()})
        common.RunLog.step = step
        yield clock
    finally:
        optimizer_module.BACKENDS.update(backends)
        common.RunLog.step = log_step


@contextlib.contextmanager
def busy_processes(count, seconds):
    """``count`` background processes spinning for at most ``seconds``; stopped (and reaped) on exit.
    Yields the Popen objects."""
    processes = []
    try:
        for _ in range(count):
            processes.append(subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=seconds)]))
        if processes:
            time.sleep(0.3)  # let them start spinning
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def thread_settings_restored():
    """The process-wide thread count and policy, restored on exit."""
    saved = get_num_threads(), _C.get_thread_policy()
    try:
        yield
    finally:
        set_num_threads(saved[0])
        _C.set_thread_policy(saved[1])


def configure(candidate, default_threads, default_policy):
    """Set the candidate's thread count and policy; returns its backend."""
    backend, threads, policy = CANDIDATES[candidate]
    set_num_threads(threads or default_threads)
    _C.set_thread_policy(policy or default_policy)
    return backend


def train(task, backend, steps):
    """The task's training loop for ``steps`` Adam steps; returns the example's result dict."""
    run = examples.load(task).run
    # every epoch takes at least one step, so `steps` epochs always reach max_steps
    return run(optimizer="adam", backend=backend, epochs=steps, seed=SEED, quiet=True, max_steps=steps,
               timing=False, **TASKS[task])


def in_loop(task, backend, steps, warmup):
    """Per-step seconds of one training loop, warmup dropped: (step, kernel), and the result dict."""
    with timed_kernels(KernelClock()) as clock:
        out = train(task, backend, steps)
    durations = out["optimizer_step_durations"]
    if len(durations) != len(clock.per_step):
        raise RuntimeError(f"{task}: {len(durations)} timed steps but {len(clock.per_step)} kernel records")
    return durations[warmup:], clock.per_step[warmup:], out


def isolated(backend, shapes, dtype, hot_rounds, evict):
    """Adam (defaults) over random arrays of ``shapes``: seconds per step hot, cold, and the cold
    step's kernel time."""
    rng = np.random.default_rng(SEED)
    params = []
    for shape in shapes:
        param = Parameter(rng.standard_normal(shape).astype(dtype))
        param.grad = rng.standard_normal(shape).astype(dtype)
        params.append(param)
    with timed_kernels(KernelClock()) as clock:
        opt = optim.Adam(params, backend=backend)
    hot = measure({"hot": opt.step}, hot_rounds)["hot"]
    clock.per_step.clear()
    cold = []
    for _ in range(COLD_CALLS):
        evict += 1  # writes every byte of the buffer: the optimizer's arrays leave the caches
        clock.new_step()
        start = time.perf_counter()
        opt.step()
        cold.append(time.perf_counter() - start)
    return {"hot": hot, "cold": statistics.median(cold), "cold_kernel": statistics.median(clock.per_step)}


def run_task(load, task, candidates, args, defaults, evict, bar):
    """The records of one task at one load: in-loop figures over all rounds, then isolated ones."""
    pooled = {c: {"step": [], "kernel": []} for c in candidates}
    shapes = dtype = None
    for r in range(args.rounds):
        for candidate in candidates if r % 2 == 0 else candidates[::-1]:
            steps, kernels, out = in_loop(task, configure(candidate, *defaults), args.steps, args.warmup)
            pooled[candidate]["step"] += steps
            pooled[candidate]["kernel"] += kernels
            shapes, dtype = out["parameter_shapes"], out["parameter_dtype"]
            if bar is not None:
                bar.update()
    records = []
    for candidate in candidates:
        steps, kernels = pooled[candidate]["step"], pooled[candidate]["kernel"]
        seconds = isolated(configure(candidate, *defaults), shapes, dtype, args.hot_rounds, evict)
        records.append({
            "load": load, "task": task, "candidate": candidate, "backend": CANDIDATES[candidate][0],
            "threads": get_num_threads(), "thread_policy": _C.get_thread_policy(), "steps_timed": len(steps),
            "in_loop_us": {"step": 1e6 * statistics.median(steps), "step_mean": 1e6 * statistics.mean(steps),
                           "kernel": 1e6 * statistics.median(kernels),
                           "python": 1e6 * statistics.median(s - k for s, k in zip(steps, kernels))},
            "isolated_us": {name: 1e6 * s for name, s in seconds.items()},
            "step_durations_us": [round(1e6 * s, 1) for s in steps]})
    step = {r["candidate"]: r["in_loop_us"]["step"] for r in records}
    for record in records:
        if "cpp-1" in step:
            record["x_cpp1"] = record["in_loop_us"]["step"] / step["cpp-1"]
        if "numpy" in step:
            record["numpy_x"] = step["numpy"] / record["in_loop_us"]["step"]
    return records


def busy_seconds(runs, steps):
    """A generous bound on one load's runs (a char-lstm step takes ~0.1 s on an idle 2-core machine)."""
    return min(MAX_BUSY_SECONDS, 60 + runs * (steps * 0.25 + 5))


def _format_table(records):
    header = (f"{'task':<12}{'candidate':<11}{'step us':>9}{'mean us':>9}{'kernel us':>11}{'python us':>11}{'hot us':>9}"
              f"{'cold us':>9}{'cold kern':>11}{'x cpp-1':>9}{'numpy/x':>9}")
    lines = [header, "-" * len(header)]
    ratio = lambda r, key: f"{r[key]:>9.2f}" if key in r else f"{'n/a':>9}"
    for r in records:
        loop, alone = r["in_loop_us"], r["isolated_us"]
        lines.append(f"{r['task']:<12}{r['candidate']:<11}{loop['step']:>9.1f}{loop['step_mean']:>9.1f}{loop['kernel']:>11.1f}"
                     f"{loop['python']:>11.1f}{alone['hot']:>9.1f}{alone['cold']:>9.1f}{alone['cold_kernel']:>11.1f}"
                     f"{ratio(r, 'x_cpp1')}{ratio(r, 'numpy_x')}")
    return "\n".join(lines)


def targets(records):
    """The issue's targets, checked on this run's figures: (description, value, met)."""
    find = {(r["load"], r["task"], r["candidate"]): r for r in records}
    checks = []
    for load, task in dict.fromkeys((r["load"], r["task"]) for r in records):
        cpp = find.get((load, task, "cpp"))
        if cpp is None:
            continue
        where = f"load {load}, {task}"
        if "x_cpp1" in cpp:
            checks.append((f"{where}: cpp in-loop step <= 1.1 x cpp-1", cpp["x_cpp1"], cpp["x_cpp1"] <= 1.1))
        if "numpy_x" in cpp:
            checks.append((f"{where}: numpy in-loop step >= 3 x cpp", cpp["numpy_x"], cpp["numpy_x"] >= 3))
        if load == 0:
            ratio = cpp["in_loop_us"]["step"] / cpp["isolated_us"]["cold"]
            checks.append((f"{where}: cpp in-loop step <= 1.5 x isolated cold step", ratio, ratio <= 1.5))
    return checks


def main(argv=None):
    parser = argparse.ArgumentParser(prog="minigrad bench loop", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="30 steps, 1 round: ~65 s on 2 cores")
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated (default: all)")
    parser.add_argument("--candidates", default=",".join(CANDIDATES), help="comma-separated (default: all)")
    parser.add_argument("--loads", type=listed(integer(0)), default="0,1,2",
                        help="background busy processes, comma-separated (default: 0,1,2)")
    parser.add_argument("--steps", type=integer(1), help="optimizer steps per training loop (default: 80; quick: 30)")
    parser.add_argument("--warmup", type=integer(0), default=5,
                        help="first steps of each loop not counted (default: 5)")
    parser.add_argument("--rounds", type=integer(1), help="training loops per candidate (default: 3; quick: 1)")
    parser.add_argument("--hot-rounds", type=integer(1), default=5,
                        help="rounds of the isolated hot step (default: 5)")
    parser.add_argument("--json", metavar="PATH", help="write every figure as JSON")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    tasks = names(parser, "--tasks", args.tasks, TASKS)
    candidates = names(parser, "--candidates", args.candidates, CANDIDATES)
    if len(set(args.loads)) < len(args.loads):
        parser.error(f"--loads: process counts must be distinct, got {','.join(map(str, args.loads))}")
    if args.steps is None:
        args.steps = 30 if args.quick else 80
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.steps <= args.warmup:
        parser.error(f"--steps ({args.steps}) must exceed --warmup ({args.warmup})")
    require("minigrad bench loop", [module for task in tasks for module in examples.load(task).NEEDS])

    defaults = get_num_threads(), _C.get_thread_policy()
    evict = np.zeros(evict_bytes() // 8)
    runs = len(tasks) * len(candidates) * args.rounds
    bar = progress_bar(runs * len(args.loads), "minigrad bench loop", not args.no_progress, unit="run")
    records, load_records = [], []
    with thread_settings_restored():
        for load in args.loads:
            start, seconds = time.perf_counter(), busy_seconds(runs, args.steps)
            with busy_processes(load, seconds) as processes:
                for task in tasks:
                    records += run_task(load, task, candidates, args, defaults, evict, bar)
                alive = all(p.poll() is None for p in processes)
            load_records.append({"load": load, "busy_pids": [p.pid for p in processes], "busy_bound_seconds": seconds,
                                 "busy_alive_at_end": alive, "seconds": time.perf_counter() - start})
    if bar is not None:
        bar.close()

    info, machine = build_info(), platform.processor() or platform.machine()
    print(f"minigrad {info['version']} ({info['compiler']}, OpenMP {info['openmp']}, SIMD {info['simd']}), "
          f"numpy {np.__version__}, {machine}, {os.cpu_count()} cores; "
          f"default {defaults[0]} threads, thread policy {defaults[1]!r}")
    print(f"Adam; median per step over {args.rounds} round(s) of {args.steps}-step loops, first {args.warmup} "
          f"dropped; isolated: the same shapes on random data, hot = back to back, cold = after a "
          f"{evict.nbytes >> 20} MiB write\n")
    for load in load_records:
        n = load["load"]
        print(f"load {n}: {n} busy background process{'es' * (n != 1)}"
              + ("" if load["busy_alive_at_end"] else "  (WARNING: some ended before the runs did)"))
        print(_format_table([r for r in records if r["load"] == n]) + "\n")
    checks = targets(records)
    print("targets:")
    for description, value, met in checks:
        print(f"  {'met ' if met else 'MISS'}  {description}  (measured {value:.2f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"build_info": info, "numpy": np.__version__, "machine": machine, "cpu_count": os.cpu_count(),
                       "default_threads": defaults[0], "default_thread_policy": defaults[1],
                       "steps": args.steps, "warmup": args.warmup, "rounds": args.rounds, "seed": SEED,
                       "evict_bytes": evict.nbytes, "loads": load_records, "records": records,
                       "targets": [{"target": d, "value": v, "met": m} for d, v, m in checks]}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
