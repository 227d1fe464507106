"""The optimizer comparison: every minigrad optimizer on 2-D test functions and on the example tasks.

    minigrad compare [--quick] [--tasks 2d,digits-mlp,...] [--seeds N] [--out DIR] [--json PATH]

2-D test functions (``optimizers_2d.png``): each optimizer starts from the same point and takes
``--steps`` steps on a 2-element float64 parameter, its gradient from minigrad's autograd; the
trajectories are drawn over the function's contours, a dot per step (the spacing shows the step
size). Learning rates are set per function (the FUNCTIONS table, tuned by hand so that every
method moves visibly): one for the SGD family, one for the adaptive methods (Adagrad, RMSprop,
Adam, AdamW: their steps are about lr long), and torch's default lr = 1.0 for Adadelta, whose steps
grow slowly from √eps. Every other option is torch's default (momentum 0.9 for "momentum" and
"nesterov"; AdamW's weight decay 0.01).

Example tasks (``optimizers_tasks.png``): each task's ``run`` (minigrad.examples.<module>) for every
optimizer at the example's tuned lr times each of ``--lr-scales``, over ``--seeds`` seeds: training
curves against steps and against wall-clock seconds (mean over the seeds, smoothed), a table of the
final metric (mean ± std over the seeds), the mean time per ``opt.step()`` during training, and the
median time per ``opt.step()`` on the cpp kernels vs their NumPy twins measured inside seed 0's
training loop (``run(timing=True)``: the other backend steps a copy of the optimizer on the same
gradients; the JSON also has the isolated re-measurement). A task whose module is missing or fails
to import is skipped with a note; when an optional module that the plots or a task need (the
example's NEEDS) is missing, the command stops before any run, naming the extra to install.
"""
import argparse
import functools
import json
import os
import sys
from collections import namedtuple

import numpy as np

from .. import Parameter, examples, optim
from ..examples import TASKS, common
from ..examples.arguments import integer, listed, positive, require

try:
    from tqdm.auto import tqdm
except ImportError:  # optional: a line per job instead
    tqdm = None

# the examples' --optimizer choices, plus Nesterov momentum
OPTIMIZERS = dict(common.OPTIMIZERS, nesterov=("SGD", {"momentum": 0.9, "nesterov": True}))
ORDER = ["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw"]
SGD_FAMILY = ("sgd", "momentum", "nesterov")

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
QUICK = dict(seeds=1, tasks="2d,digits-mlp", epochs=10)
FULL = dict(seeds=3, tasks="2d,digits-mlp,digits-cnn,char-lstm,cartpole", epochs=None)
RETURN_TASKS = ("cartpole",)  # their history holds episode returns (higher is better), not losses


# ---- 2-D test functions --------------------------------------------------------------------------

def function_lr(fn, name):
    """The lr that optimizer ``name`` uses on ``fn``."""
    return 1.0 if name == "adadelta" else fn.lr_sgd if name in SGD_FAMILY else fn.lr_adaptive


def trajectory(fn, name, steps=STEPS, lr=None, backend="cpp"):
    """The points that optimizer ``name`` visits from ``fn.start`` on ``fn.f``: (steps + 1)×2."""
    p = Parameter(np.array(fn.start, dtype=np.float64))
    cls, options = OPTIMIZERS[name]
    opt = getattr(optim, cls)([p], lr=function_lr(fn, name) if lr is None else lr, **options, backend=backend)
    path = [p._data.copy()]
    for _ in range(steps):
        opt.zero_grad()
        fn.f(p[0], p[1]).backward()
        opt.step()
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
            ax.plot(*points.T, marker=".", markersize=2.5, linewidth=1.1, label=name, **_style(name))
        ax.plot(*fn.start, "k*", markersize=11, label="start")
        ax.plot(*np.array(fn.minima).T, "rX", markersize=9, label="global minimum")
        ax.set(xlim=fn.xlim, ylim=fn.ylim)
        ax.set_title(f"{fname}: {fn.formula}\nlr: SGD family {fn.lr_sgd:g}, adaptive {fn.lr_adaptive:g}, "
                     "Adadelta 1", fontsize=10)
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
            print(f"note: skipping {task}: {err}", file=sys.stderr)
    return modules


def task_lr(module, name, scale):
    """The example's tuned lr for optimizer ``name`` times ``scale`` (None: the example's own choice)."""
    return None if scale == 1 else module.LR[name] * scale


def curve(runs):
    """Mean over the runs of (steps, seconds, values), cut to the shortest run."""
    n = min(len(r["history"]) for r in runs)
    histories = np.array([r["history"][:n] for r in runs], dtype=np.float64)  # runs × n × 3
    return histories[0, :, 0], histories[:, :, 1].mean(0), histories[:, :, 2].mean(0)


def smooth(values, window):
    """Running mean over ``window`` points (shorter at the start)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.arange(1, len(values) + 1) - counts]) / counts


def plot_tasks(records):
    """A row per task: the training curve against steps and against seconds, a line per optimizer:
    the matplotlib Figure."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(12, 3.6 * len(records)), dpi=80)
    axes = fig.subplots(len(records), 2, squeeze=False)
    for (task, groups), (by_step, by_time) in zip(records.items(), axes):
        seeds = len(next(iter(groups.values())))
        for label, runs in groups.items():
            steps, seconds, values = curve(runs)
            values = smooth(values, max(1, len(values) // 40))
            style = _style(label.split()[0])
            by_step.plot(steps, values, label=label, linewidth=1.2, **style)
            by_time.plot(seconds, values, label=label, linewidth=1.2, **style)
        ylabel = "mean episode return" if task in RETURN_TASKS else "training loss"
        for ax, xlabel in ((by_step, "optimizer steps"), (by_time, "wall-clock seconds")):
            ax.set(xlabel=xlabel, ylabel=ylabel, yscale="linear" if task in RETURN_TASKS else "log")
            ax.set_title(f"{task} (mean of {seeds} seed{'s' * (seeds > 1)}, smoothed)", fontsize=10)
            ax.grid(True, alpha=0.3)
        by_step.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


# ---- shared -----------------------------------------------------------------------------------------

def save_png(fig, path):
    """Save ``fig`` as a 256-colour PNG: a third to half the size of matplotlib's RGBA file, for docs."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image  # a dependency of matplotlib
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]).quantize(256).save(path, optimize=True)


def _style(name):
    """The same colour for an optimizer everywhere; dashed for the variants (nesterov, adamw)."""
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray"]
    return {"color": colors[ORDER.index(name)], "linestyle": "--" if name in ("nesterov", "adamw") else "-"}


def run_jobs(jobs, show):
    """Call every job (label, key, thunk) behind one progress bar; returns {key: result}."""
    results = {}
    bar = tqdm(jobs, desc="minigrad compare", dynamic_ncols=True) if show and tqdm else None
    for i, (label, key, job) in enumerate(jobs):
        if bar is not None:
            bar.set_postfix_str(label)
        elif show:
            print(f"[{i + 1}/{len(jobs)}] {label}", file=sys.stderr)
        results[key] = job()
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    return results


def parse_args(argv):
    """The options, with --tasks, --seeds, --epochs and --lr-scales resolved to lists and numbers."""
    p = argparse.ArgumentParser(prog="minigrad compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="2-D functions + digits-mlp, 10 epochs, 1 seed: ~18 s on 2 cores")
    p.add_argument("--tasks", help="comma-separated, from: 2d, " + ", ".join(TASKS) + " (default: 2d, digits-mlp, "
                   "digits-cnn, char-lstm, cartpole; --quick: 2d, digits-mlp)")
    p.add_argument("--seeds", type=integer(1), help="seeds per task and optimizer (default: 3; --quick: 1)")
    p.add_argument("--epochs", type=integer(1), help="epochs per task run (default: each example's; --quick: 10)")
    p.add_argument("--lr-scales", type=listed(positive), default="1",
                   help="comma-separated factors on each example's tuned lr (default: 1)")
    p.add_argument("--steps", type=integer(1), default=STEPS, help=f"steps on the 2-D functions (default: {STEPS})")
    p.add_argument("--backend", choices=("cpp", "numpy"), default="cpp", help="kernels of the main runs (default: cpp)")
    p.add_argument("--out", default="minigrad-compare", help="directory for the PNGs (default: minigrad-compare)")
    p.add_argument("--json", metavar="PATH", help="write every number (trajectories and histories too) as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    settings = QUICK if args.quick else FULL
    args.tasks = (settings["tasks"] if args.tasks is None else args.tasks).split(",")
    unknown = [t for t in args.tasks if t != "2d" and t not in TASKS]
    if unknown:
        p.error(f"unknown task(s) {unknown}; valid: 2d, {', '.join(TASKS)}")
    args.seeds = list(range(settings["seeds"] if args.seeds is None else args.seeds))
    if args.epochs is None:
        args.epochs = settings["epochs"]
    return args


def plan(args, modules):
    """Every run as (label, key, thunk): the 2-D trajectories, then per task and optimizer its lr
    scales and seeds (seed 0 also times opt.step() on both backends)."""
    jobs = []
    if "2d" in args.tasks:
        jobs += [(f"{fname}: {name}", ("2d", fname, name),
                  functools.partial(trajectory, fn, name, args.steps, backend=args.backend))
                 for fname, fn in FUNCTIONS.items() for name in ORDER]
    for task, module in modules.items():
        for name in common.OPTIMIZERS:
            jobs += [(f"{task}: {name} lr×{scale:g} seed {seed}", (task, name, scale, seed),
                      functools.partial(module.run, optimizer=name, lr=task_lr(module, name, scale),
                                        backend=args.backend, epochs=args.epochs, seed=seed, timing=seed == 0))
                     for scale in args.lr_scales for seed in args.seeds]
    return jobs


def report_2d(results, args):
    """Print the distances to the minima, draw optimizers_2d.png; returns the JSON part."""
    paths = {fname: {name: results["2d", fname, name] for name in ORDER} for fname in FUNCTIONS}
    distances = {fname: {name: distance_to_minimum(fn, paths[fname][name][-1]) for name in ORDER}
                 for fname, fn in FUNCTIONS.items()}
    print(f"\n2-D functions: distance to the nearest global minimum after {args.steps} steps")
    print(f"{'optimizer':<10}" + "".join(f"{fname:>28}" for fname in FUNCTIONS))
    for name in ORDER:
        print(f"{name:<10}" + "".join(f"{distances[fname][name]:>28.4g}" for fname in FUNCTIONS))
    save_png(plot_2d(paths, args.steps), os.path.join(args.out, "optimizers_2d.png"))
    return {fname: {name: {"lr": function_lr(fn, name), "path": paths[fname][name].tolist(),
                           "distance_to_minimum": distances[fname][name], "value": float(fn.f(*paths[fname][name][-1]))}
                    for name in ORDER}
            for fname, fn in FUNCTIONS.items()}


def report_tasks(results, modules, args):
    """Print a table per task, draw optimizers_tasks.png; returns the JSON part."""
    records, report = {}, {}
    for task in modules:
        records[task], rows = {}, []
        for name in common.OPTIMIZERS:
            for scale in args.lr_scales:
                runs = [results[task, name, scale, seed] for seed in args.seeds]
                records[task][name if scale == 1 else f"{name} lr×{scale:g}"] = runs
                rows.append({"optimizer": name, "lr": runs[0]["lr"], "lr_scale": scale,
                             "metrics": [r["metric"] for r in runs], "seconds": [r["seconds"] for r in runs],
                             "training_step_us": 1e6 * np.mean([r["optimizer_step_seconds"] for r in runs]),
                             "step_us": {k: 1e6 * v for k, v in runs[0]["loop_step_seconds"].items()},
                             "isolated_step_us": {k: 1e6 * v for k, v in runs[0]["backend_step_seconds"].items()},
                             "histories": [r["history"] for r in runs]})
        metric_name = runs[0]["metric_name"]
        print(f"\n{task}: {metric_name}, mean ± std over {len(args.seeds)} seed(s); µs per opt.step(): mean in "
              f"training ({args.backend}), median in the loop on the cpp and numpy backends")
        print(f"{'optimizer':<10}{'lr':>9}{metric_name:>22}{'run s':>8} training µs   cpp µs  numpy µs  numpy/cpp")
        for row in rows:
            cpp, numpy = row["step_us"]["cpp"], row["step_us"]["numpy"]
            print(f"{row['optimizer']:<10}{row['lr']:>9.3g}{mean_std(row['metrics']):>22}"
                  f"{np.mean(row['seconds']):>8.2f}{row['training_step_us']:>12.1f}"
                  f"{cpp:>9.1f}{numpy:>10.1f}{numpy / cpp:>10.1f}×")
        report[task] = {"metric_name": metric_name, "rows": rows}
    if records:
        save_png(plot_tasks(records), os.path.join(args.out, "optimizers_tasks.png"))
    return report


def mean_std(values):
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def main(argv=None):
    args = parse_args(argv)
    modules = load_tasks([t for t in args.tasks if t != "2d"])
    require("minigrad compare", ["matplotlib"] + [need for module in modules.values() for need in module.NEEDS])
    results = run_jobs(plan(args, modules), not args.no_progress)
    os.makedirs(args.out, exist_ok=True)
    report = {"settings": vars(args)}
    if "2d" in args.tasks:
        report["functions"] = report_2d(results, args)
    report["tasks"] = report_tasks(results, modules, args)
    print(f"\nplots in {os.path.abspath(args.out)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, default=float)
        print(f"numbers in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
