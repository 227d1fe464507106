"""The optimizer comparison: the optimizers of ``examples/common.py``'s OPTIMIZERS (every minigrad
optimizer) on 2-D test functions and, tuned by the same budget, on the example tasks. Muon (paired
with AdamW) and SparseAdam (paired with Adam) take part of a model, so they run on the tasks only,
SparseAdam on those with embeddings (char-lstm, text-classify, char-transformer); on the tasks,
Schedule-Free's runs are scored at its averaged weights (``opt.eval()``), while the 2-D functions
draw its training point y.

    minigrad compare [--quick] [--tasks 2d,digits-mlp,...] [--budget N] [--seeds N] [--out DIR]

2-D test functions (``optimizers_2d.png``): each optimizer starts from the same point and takes
``--steps`` steps on a 2-element float64 parameter, its gradient from minigrad's autograd, every
step driven through a closure (so LBFGS, whose step needs one, runs like the rest); the
trajectories are drawn over the function's contours, a dot per step (the spacing shows the step
size). Learning rates are set per function (the FUNCTIONS table, tuned by hand so that every
method moves visibly): one for the SGD family, one for the adaptive methods (their steps are about
lr long), and its class's default lr for an optimizer whose default is ≥ 1 (Adadelta's steps grow
slowly from √eps; LBFGS scales its own). Every other option is the class's default (momentum 0.9
for "momentum" and "nesterov").

Example tasks: the tuning protocol of ``minigrad.commands.tuning`` (its docstring has it in full):
``--budget`` lr trials per optimizer on a log grid around the example's tuned lr, each scored on a
validation split carved from the training data; the best one rerun over ``--seeds`` seeds on the
whole training data and scored on the test split. Written to ``--out``: ``tables.md`` (a table per
task: grid, chosen lr, validation and test metric, time to target, opt.step() µs on both backends),
``optimizers_tasks.png`` (validation metric against lr; training curves against steps and
seconds), ``performance_profile.png`` and ``compare.json`` (every trial and run: task, optimizer,
lr, seed, split, curve, final metric, time to target; the selection and the profiles). A task whose
module is missing or fails to import is skipped with a note; when an optional module that the plots
or a task need (the example's NEEDS) is missing, the command stops before any run, naming the extra
to install. The optimizers are ``examples/common.py``'s OPTIMIZERS: one entry adds one.

Over several processes (``pip install "minigrad[mpi]"``), the same options:

    OMP_NUM_THREADS=1 MPIR_CVAR_ENABLE_HEAVY_YIELD=1 mpiexec -n 2 minigrad compare [options]

Every rank builds the same list of runs and takes the next one not yet taken (``job_indices``); rank
0 gathers the results into the serial run's order and alone prints, shows progress and writes the
files, which hold the serial run's numbers but the wall-clock ones (seconds, times to target in
seconds, µs per step: measured with the ranks sharing the machine; compare.json's settings give the
number of ranks). Each rank runs minigrad's kernels on one thread: the ranks are the parallelism.
MPICH's HEAVY_YIELD makes a rank that waits for the others yield its core instead of spinning on it.
"""
import argparse
import json
import math
import os
import sys
from collections import namedtuple
from datetime import datetime

import numpy as np

from .. import Parameter, examples, set_num_threads
from .. import distributed as dist
from ..examples import TASKS, common
from ..examples.arguments import integer, positive, require
from . import tuning
from .tuning import style

try:
    from tqdm.auto import tqdm
except ImportError:  # optional: a line per job instead
    tqdm = None

OPTIMIZERS = common.OPTIMIZERS
# on the 2-D functions: those that take a whole model (a 2-element vector); the tasks take those without a closure
ORDER = [name for name, choice in OPTIMIZERS.items() if choice.takes is None]
SGD_CLASSES = ("SGD", "ASGD", "ScheduleFreeSGD")  # their steps are lr × gradient: the functions' lr_sgd

Function = namedtuple("Function", "formula f start minima xlim ylim lr_sgd lr_adaptive")
FUNCTIONS = {
    "rosenbrock": Function("(1 − x)² + 100·(y − x²)²", lambda x, y: (1 - x) ** 2 + 100 * (y - x ** 2) ** 2,
                           (-1.2, 1.0), [(1, 1)], (-2, 2), (-1, 3), 1e-3, 0.03),
    "ill-conditioned quadratic": Function("0.05·x² + 5·y²", lambda x, y: 0.05 * x ** 2 + 5 * y ** 2,
                                          (-4.5, 0.6), [(0, 0)], (-5, 5), (-1.5, 1.5), 0.05, 0.1),
    "saddle": Function("x² − y² + y⁴/4", lambda x, y: x ** 2 - y ** 2 + y ** 4 / 4,
                       (-1.8, 1e-6), [(0, 2 ** 0.5), (0, -2 ** 0.5)], (-2, 2), (-2.2, 2.2), 0.02, 0.05),
    "double well": Function("(x² − 1)² + 0.5·x + y²", lambda x, y: (x ** 2 - 1) ** 2 + 0.5 * x + y ** 2,
                            (2.0, 1.5), [(-1.0575, 0)], (-2, 2.2), (-2, 2), 0.01, 0.05),
}
STEPS = 300
Settings = namedtuple("Settings", "tasks seeds epochs budget timing steps")
QUICK = Settings("2d,digits-mlp", 1, 2, 2, False, STEPS // 2)
FULL = Settings("2d,digits-mlp,digits-cnn,char-lstm,cartpole", 3, None, 5, True, STEPS)
GRID_STEP = 0.5  # decades between neighbouring lrs of the grid


# ---- 2-D test functions --------------------------------------------------------------------------

def function_lr(fn, name):
    """The lr that optimizer ``name`` uses on ``fn``."""
    cls = OPTIMIZERS[name].cls
    default = common.default_lr(name)
    return fn.lr_sgd if cls in SGD_CLASSES else default if default >= 1 else fn.lr_adaptive


def trajectory(fn, name, steps=STEPS, lr=None, backend="cpp"):
    """The points that optimizer ``name`` visits from ``fn.start`` on ``fn.f``: (steps + 1)×2. Each
    step goes through a closure that computes the value and its gradient (as many times as the
    optimizer asks)."""
    p = Parameter(np.array(fn.start, dtype=np.float64))
    opt = common.make_optimizer(name, [p], function_lr(fn, name) if lr is None else lr, backend)

    def closure():
        opt.zero_grad()
        value = fn.f(p[0], p[1])
        value.backward()
        return value

    path = [p._data.copy()]
    for _ in range(steps):
        opt.step(closure)
        path.append(p._data.copy())
    return np.array(path)


def distance_to_minimum(fn, point):
    """Distance from ``point`` to the nearest global minimum of ``fn``."""
    return float(min(np.hypot(*(np.asarray(point) - m)) for m in fn.minima))


def plot_2d(paths, steps):
    """One subplot per function: contours, every optimizer's trajectory, the start and the minima:
    the matplotlib Figure."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(11, 9.5), dpi=80)
    axes = fig.subplots(2, 2)
    for ax, (fname, fn) in zip(axes.flat, FUNCTIONS.items()):
        x, y = np.meshgrid(np.linspace(*fn.xlim, 200), np.linspace(*fn.ylim, 200))
        z = fn.f(x, y)
        ax.contour(x, y, z, levels=np.unique(np.quantile(z, np.linspace(0, 1, 20) ** 2)), colors="0.8",
                   linewidths=0.6)
        for name, points in paths[fname].items():
            ax.plot(*points.T, marker=".", markersize=2.5, linewidth=1.1, label=name, **style(name))
        ax.plot(*fn.start, "k*", markersize=11, label="start")
        ax.plot(*np.array(fn.minima).T, "rX", markersize=9, label="global minimum")
        ax.set(xlim=fn.xlim, ylim=fn.ylim)
        ax.set_title(f"{fname}: {fn.formula}\nlr: SGD family {fn.lr_sgd:g}, adaptive {fn.lr_adaptive:g}, "
                     "default where ≥ 1", fontsize=10)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=10, fontsize=9, frameon=False)
    fig.suptitle(f"{steps} steps from the same start (a dot per step)")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


# ---- example tasks ---------------------------------------------------------------------------------

def load_tasks(names):
    """{task: module} for the tasks whose example imports; a note for each that does not."""
    modules = {}
    for task in names:
        try:
            modules[task] = examples.load(task)
        except ImportError as err:
            dist.print0(f"note: skipping {task}: {err}", file=sys.stderr)
    return modules


# ---- shared -----------------------------------------------------------------------------------------

def save_png(fig, path):
    """Save ``fig`` as a 256-colour PNG: a third to half the size of matplotlib's RGBA file, for docs."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image  # a dependency of matplotlib
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]).quantize(256).save(path, optimize=True)


def run_jobs(jobs, show):
    """Call every job (label, key, thunk) behind one progress bar; returns {key: result} in the jobs' order.

    Under mpiexec every rank holds the same ``jobs``, runs those that ``job_indices`` gives it and
    sends their results to rank 0, which returns all of them, in the jobs' order (the other ranks
    return None). The bar counts the jobs taken before the one this process runs."""
    bar = tqdm(total=len(jobs), desc="minigrad compare", dynamic_ncols=True) if show and tqdm else None
    done = {}
    for i in job_indices(len(jobs)):
        label, _, job = jobs[i]
        if bar is not None:
            bar.update(i - bar.n)
            bar.set_postfix_str(label)
        elif show:
            print(f"[{i + 1}/{len(jobs)}] {label}", file=sys.stderr)
        done[i] = job()
    if bar is not None:
        bar.update(len(jobs) - bar.n)
        bar.close()
    if distributed():
        parts = dist.communicator().gather(done, root=0)  # small dicts of Python values and arrays, pickled
        if parts is None:
            return None
        done = {i: result for part in parts for i, result in part.items()}
    return {key: done[i] for i, (_, key, _) in enumerate(jobs)}


def job_indices(count):
    """The indices, of 0 … count − 1, of the jobs this process runs: all of them in order when it is not
    distributed. Under mpiexec each rank takes the next index not yet taken from a counter on rank 0
    that every rank, rank 0 too, increments atomically (MPI one-sided ``Fetch_and_op`` in a
    ``Lock_all`` epoch, which on one machine does not wait for rank 0 to call MPI; across machines
    it may, unless MPICH progresses in the background, MPIR_CVAR_ASYNC_PROGRESS=1): nobody spends its time handing
    out work, and a rank that drew short runs takes more. The runs' lengths differ by orders of
    magnitude (a 2-D trajectory, a char-lstm run), which a static round-robin would leave to chance."""
    if not distributed():
        yield from range(count)
        return
    from mpi4py import MPI
    comm = dist.communicator()
    counter = MPI.Win.Allocate(8 if comm.Get_rank() == 0 else 0, 8, comm=comm)
    if comm.Get_rank() == 0:
        counter.Lock(0, MPI.LOCK_EXCLUSIVE)
        np.frombuffer(counter.tomemory(), np.int64)[:] = 0
        counter.Unlock(0)
    comm.Barrier()
    one, taken = np.ones(1, np.int64), np.empty(1, np.int64)
    counter.Lock_all()
    while True:
        counter.Fetch_and_op(one, taken, 0)
        counter.Flush(0)
        if taken[0] >= count:
            break
        yield int(taken[0])
    counter.Unlock_all()
    counter.Free()


def distributed():
    """Whether the runs are shared out over more than one process (mpiexec -n N, N > 1)."""
    return dist.is_initialized() and dist.get_world_size() > 1


def shared(value):
    """Rank 0's ``value`` on every rank (``value`` as it is when not distributed)."""
    return dist.communicator().bcast(value, root=0) if distributed() else value


def parse_args(argv):
    """The options, with --tasks and --seeds resolved to lists and the --quick or full settings applied."""
    p = argparse.ArgumentParser(prog="minigrad compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"2-D functions ({QUICK.steps} steps) + digits-mlp, {QUICK.epochs} epochs, {QUICK.budget} lr "
                   "trials, 1 seed, no backend timing: ~15 s of CPU time")
    p.add_argument("--tasks", help="comma-separated, from: 2d, " + ", ".join(TASKS) + " (default: 2d, digits-mlp, "
                   "digits-cnn, char-lstm, cartpole; --quick: 2d, digits-mlp)")
    p.add_argument("--budget", type=integer(1),
                   help=f"lr trials per optimizer and task (default: {FULL.budget}; --quick: {QUICK.budget})")
    p.add_argument("--grid-step", type=positive, default=GRID_STEP,
                   help=f"decades between neighbouring lrs of the grid (default: {GRID_STEP:g})")
    p.add_argument("--seeds", type=integer(1), help="scoring seeds per task and optimizer (default: 3; --quick: 1)")
    p.add_argument("--epochs", type=integer(1), help="epochs per task run (default: each example's; "
                   f"--quick: {QUICK.epochs})")
    p.add_argument("--steps", type=integer(1),
                   help=f"steps on the 2-D functions (default: {STEPS}; --quick: {QUICK.steps})")
    p.add_argument("--backend", choices=("cpp", "numpy"), default="cpp", help="kernels of the runs (default: cpp)")
    p.add_argument("--no-timing", action="store_true",
                   help="skip timing opt.step() on both backends in seed 0's run (--quick skips it)")
    p.add_argument("--out", default="minigrad-compare",
                   help="directory for the tables, PNGs and compare.json (default: minigrad-compare)")
    p.add_argument("--json", metavar="PATH", help="write every number here instead of OUT/compare.json")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--logdir", metavar="DIR", help="also write TensorBoard logs of the task runs (not the 2-D "
                   "functions): a run each, DIR/DATE/TASK/OPTIMIZER/PHASE_lrLR_seedSEED, as 'minigrad train --logdir' "
                   "logs (left out of the runs' clocks), and the HParams table (task, optimizer, phase, lr, seed -> "
                   "final metric, steps and seconds to target); needs minigrad[tensorboard]")
    args = p.parse_args(argv)
    settings = QUICK if args.quick else FULL
    args.tasks = (settings.tasks if args.tasks is None else args.tasks).split(",")
    unknown = [t for t in args.tasks if t != "2d" and t not in TASKS]
    if unknown:
        p.error(f"argument --tasks: unknown task(s) {unknown}; valid: 2d, {', '.join(TASKS)}")
    args.seeds = list(range(settings.seeds if args.seeds is None else args.seeds))
    args.epochs = settings.epochs if args.epochs is None else args.epochs
    args.budget = settings.budget if args.budget is None else args.budget
    args.steps = settings.steps if args.steps is None else args.steps
    args.timing = settings.timing and not args.no_timing
    args.json = args.json or os.path.join(args.out, "compare.json")
    return args


def report_2d(paths, args):
    """Print the distances to the minima, draw optimizers_2d.png; returns the JSON part."""
    distances = {fname: {name: distance_to_minimum(fn, paths[fname][name][-1]) for name in ORDER}
                 for fname, fn in FUNCTIONS.items()}
    print(f"\n2-D functions: distance to the nearest global minimum after {args.steps} steps")
    width = max(map(len, ORDER)) + 2
    print(f"{'optimizer':<{width}}" + "".join(f"{fname:>28}" for fname in FUNCTIONS))
    for name in ORDER:
        print(f"{name:<{width}}" + "".join(f"{distances[fname][name]:>28.4g}" for fname in FUNCTIONS))
    save_png(plot_2d(paths, args.steps), os.path.join(args.out, "optimizers_2d.png"))
    return {fname: {name: {"lr": function_lr(fn, name), "path": paths[fname][name].tolist(),
                           "distance_to_minimum": distances[fname][name], "value": float(fn.f(*paths[fname][name][-1]))}
                    for name in ORDER}
            for fname, fn in FUNCTIONS.items()}


def protocol(args, modules, names):
    """The declared protocol, printed and kept in the JSON; ``names``: {task: its optimizers}."""
    every = [name for name in OPTIMIZERS if any(name in task_names for task_names in names.values())]
    declared = {"budget": args.budget, "grid_step_decades": args.grid_step, "tuning_seed": tuning.TUNING_SEED,
                "scoring_seeds": args.seeds, "epochs": args.epochs, "validation_fraction": common.VALIDATION_FRACTION,
                "other_hyperparameters": {name: hyperparameters(name) for name in every},
                "grid_centres": {task: {name: tuning.grid_centre(module, name) for name in names[task]}
                                 for task, module in modules.items()},
                "targets": {task: tuning.GOALS[task]._asdict() for task in modules}}
    print(f"\nprotocol: {args.budget} lr trials per optimizer and task, {args.grid_step:g} decades apart, centred on "
          f"the example's tuned lr (the class's default where it has none), every other hyperparameter the class's "
          f"default; chosen on a validation split (seed {tuning.TUNING_SEED}), scored on the test split over "
          f"{len(args.seeds)} seed(s)")
    for task in modules:
        print(f"  {task}: target {tuning.GOALS[task].description} (running mean of {tuning.GOALS[task].window} steps)")
    return declared


def hyperparameters(name):
    """What optimizer ``name`` is besides its lr: its class and options, and its partner's for the rest of a model."""
    choice = OPTIMIZERS[name]
    declared = {"class": choice.cls, **choice.options, "rest": "the class's defaults"}
    if choice.takes is not None:
        declared["takes"] = common.PARTS[choice.takes][1]
        declared["other_parameters"] = hyperparameters(choice.rest)
    return declared


def report_tasks(modules, names, args, show):
    """Tune, then score; print and write the tables, draw the plots; returns the JSON part (None on a rank
    other than 0, which runs its share of the runs only)."""
    report = {"protocol": protocol(args, modules, names)} if dist.is_main_process() else None
    trials = run_jobs(tuning.tuning_jobs(modules, names, args), show)
    chosen = shared(tuning.choose(trials, modules, names) if trials is not None else None)
    finals = run_jobs(tuning.final_jobs(modules, chosen, args), show)
    if report is None:
        return None
    rows, times = tuning.summarize(finals, chosen, trials, args)
    lines = [line for task in modules for line in tuning.table(task, rows[task], args) + [""]]
    scores = {unit: tuning.profile_score(by_task) for unit, by_task in times.items()}
    lines += [f"### performance profile score (mean over 1 ≤ τ ≤ {tuning.TAU_MAX:g} of the fraction of tasks "
              "within τ × the fastest time to target)", "", "| optimizer | by steps | by seconds |", "|---|---|---|"]
    lines += [f"| {name} | {scores['steps'][name]:.3f} | {scores['seconds'][name]:.3f} |" for name in scores["steps"]]
    print("\n" + "\n".join(lines))
    with open(os.path.join(args.out, "tables.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    save_png(tuning.plot_tasks(rows, finals, args), os.path.join(args.out, "optimizers_tasks.png"))
    save_png(tuning.plot_profile(times), os.path.join(args.out, "performance_profile.png"))
    report.update(runs=list(trials.values()) + list(finals.values()), tasks=rows, times_to_target=times,
                  profile_scores=scores)
    if args.logdir is not None:
        tuning.write_hparams(args.logdir, report["runs"], names)
    return report


def main(argv=None):
    args = parse_args(argv)
    if dist.launched_by_mpiexec():
        try:
            dist.init()
        except RuntimeError as err:  # mpi4py is missing
            sys.exit(f"minigrad compare under mpiexec: {err}")
        if distributed():
            set_num_threads(1)
    args.ranks = dist.get_world_size() if dist.is_initialized() else 1
    modules = load_tasks([t for t in args.tasks if t != "2d"])
    require("minigrad compare", ["matplotlib"] + [need for module in modules.values() for need in module.NEEDS])
    if args.logdir is not None:
        require("minigrad compare --logdir", ["tensorboard", "matplotlib"])
        args.logdir = shared(os.path.join(args.logdir, datetime.now().strftime("%b%d_%H-%M-%S")))  # a new run each time
    main_process = dist.is_main_process()
    if main_process:
        os.makedirs(args.out, exist_ok=True)
    show = not args.no_progress and main_process
    report = {"settings": vars(args)}
    if "2d" in args.tasks:
        jobs = [(f"{fname}: {name}", (fname, name), lambda fn=fn, name=name: trajectory(fn, name, args.steps,
                                                                                         backend=args.backend))
                for fname, fn in FUNCTIONS.items() for name in ORDER]
        results = run_jobs(jobs, show)
        if main_process:
            report["functions"] = report_2d({fname: {name: results[fname, name] for name in ORDER}
                                             for fname in FUNCTIONS}, args)
    if modules:
        names = {task: common.task_optimizers(getattr(module, "SPARSE_EMBEDDINGS", False))
                 for task, module in modules.items()}
        tasks_report = report_tasks(modules, names, args, show)
        if tasks_report is not None:
            report.update(tasks_report)
    if not main_process:
        return 0
    print(f"\ntables and plots in {os.path.abspath(args.out)}")
    with open(args.json, "w") as f:
        json.dump(plain(report), f, allow_nan=False)
    print(f"numbers in {args.json}")
    if args.logdir is not None:
        print(f"TensorBoard runs in {args.logdir}   (tensorboard --logdir {args.logdir})")
    return 0


def plain(value):
    """``value`` with JSON's types only: NumPy numbers as Python's, and null for a non-finite number
    (a target never reached, a diverged run's metric), which JSON cannot hold."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value.item() if isinstance(value, np.generic) else value


if __name__ == "__main__":
    sys.exit(main())
