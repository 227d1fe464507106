"""The tuning protocol of ``minigrad compare`` on the example tasks (after DeepOBS, Schneider et al.
2019, and AlgoPerf, Dahl et al. 2023).

1. Budget: every optimizer gets the same ``budget`` learning-rate trials per task, on a log grid
   ``centre · 10^(grid_step · k)``, k = −(budget − 1)/2 … (budget − 1)/2, centred on the example's
   hand-tuned lr for that optimizer (its ``LR``), for Muon and SparseAdam without one the tuned lr
   of their partner (AdamW, Adam: one lr for both halves), or else the optimizer class's default lr
   (torch's). Every other hyperparameter is the class's default, apart from the options
   that define the variant (``examples/common.py``'s OPTIMIZERS: momentum 0.9 for "momentum" and
   "nesterov").
2. Selection: each trial trains once (seed ``TUNING_SEED``, not one of the scoring seeds) on the
   training data less a validation part and is scored on that part (``run(split="validation")``:
   a seeded 20% of the training items; for char-lstm the last 20% of the training text; for
   cartpole greedy episodes whose reset seeds are even, where the test episodes' are odd). The
   best validation metric picks the lr; the test split is never looked at.
3. Scoring: the chosen lr is rerun on the whole training data over ``seeds`` seeds and scored on
   the test split: the final metric (mean ± std), and the time to target: the first step at which
   the running mean of the training curve (loss, or return for cartpole) over the task's window
   reaches the task's target (GOALS), in steps and in seconds of the run's clock (median over
   the seeds; never reached counts as infinite).
4. Performance profile (AlgoPerf's): for each optimizer, the fraction of tasks on which its time to
   target is within a factor τ of the fastest optimizer's on that task, over τ ≥ 1; its score is
   the profile's mean over τ in [1, TAU_MAX] (1: fastest everywhere, 0: never reached a target).
"""
import functools
import os
from collections import namedtuple

import numpy as np

from ..examples import common

TUNING_SEED = 1000  # the trials' seed: not a scoring seed, so the chosen lr is not fitted to a scored run
TAU_MAX = 4.0  # the performance profile's score averages it over 1 ≤ τ ≤ TAU_MAX (AlgoPerf's range)

# target: the training curve's running mean over ``window`` steps reaches it; maximize_curve: the
# curve is a return (higher is better) rather than a loss; maximize_metric: the same for the metric
Goal = namedtuple("Goal", "target window maximize_curve maximize_metric description")
GOALS = {
    "digits-mlp": Goal(0.3, 20, False, True, "training cross-entropy ≤ 0.3"),
    "digits-cnn": Goal(0.3, 20, False, True, "training cross-entropy ≤ 0.3"),
    "char-lstm": Goal(2.0, 20, False, False, "training cross-entropy ≤ 2.0 nats/char (2.89 bits)"),
    "char-transformer": Goal(2.0, 20, False, False, "training cross-entropy ≤ 2.0 nats/char (2.89 bits)"),
    "text-classify": Goal(0.5, 20, False, True, "training cross-entropy ≤ 0.5"),
    "cartpole": Goal(195.0, 10, True, True, "mean training return ≥ 195 (CartPole-v0's 'solved')"),
    "arm": Goal(0.05, 20, False, False, "training reach error ≤ 0.05"),
    "translate": Goal(0.3, 20, False, True, "training cross-entropy ≤ 0.3 nats/char"),
    "segment": Goal(0.5, 20, False, True, "training cross-entropy ≤ 0.5 per pixel"),
    "detect": Goal(1.5, 20, False, True, "training loss ≤ 1.5 (focal loss + weighted L1, per object)"),
    "hopper": Goal(1000.0, 20, True, True, "mean return of the last 10 training episodes ≥ 1,000"),
    "reacher": Goal(-10.0, 20, True, True, "mean return of the last 10 training episodes ≥ −10"),
    "doorkey": Goal(0.8, 20, True, True, "mean return of the last 10 training episodes ≥ 0.8"),
}


def lr_grid(centre, budget, grid_step):
    """``budget`` learning rates, ``grid_step`` decades apart, centred (geometrically) on ``centre``."""
    return [float(centre * 10 ** (grid_step * (k - (budget - 1) / 2))) for k in range(budget)]


def grid_centre(module, name):
    """The grid's centre for optimizer ``name`` on the example ``module``: its tuned lr, else the class default."""
    return common.tuned_lr(module.LR, name)


def select(trials, maximize):
    """The trial of ``trials`` (run records) with the best validation metric; a non-finite metric is the
    worst, ties go to the first (the smaller lr). Refuses a trial scored on another split."""
    for trial in trials:
        if trial["split"] != "validation":
            raise ValueError(f"selection takes validation trials only, got a {trial['split']} trial")
    scores = [t["metric"] if np.isfinite(t["metric"]) else -np.inf if maximize else np.inf for t in trials]
    return trials[int(np.argmax(scores) if maximize else np.argmin(scores))]


def time_to_target(history, goal):
    """(steps, seconds) at the first step where the mean of the last ``goal.window`` values of the
    curve ``history`` [(step, seconds, value)] reaches ``goal.target``; (inf, inf) if none does."""
    if len(history) < goal.window:
        return np.inf, np.inf
    steps, seconds, values = np.asarray(history, dtype=np.float64).T
    means = np.convolve(values, np.ones(goal.window) / goal.window, "valid")  # means[i]: steps i … i + window − 1
    reached = np.flatnonzero(means >= goal.target if goal.maximize_curve else means <= goal.target)
    if reached.size == 0:
        return np.inf, np.inf
    last = reached[0] + goal.window - 1
    return float(steps[last]), float(seconds[last])


def performance_profile(times, taus):
    """{optimizer: [fraction of its tasks whose time is ≤ τ × that task's fastest, for τ in taus]} from
    ``times`` {task: {optimizer: time}} (inf: target not reached; a task nobody reaches counts
    against everyone). An optimizer that runs on some tasks only (SparseAdam: those with
    embeddings) is profiled over those."""
    ratios = {}
    for by_optimizer in times.values():
        fastest = min(by_optimizer.values())
        for name, t in by_optimizer.items():
            ratios.setdefault(name, []).append(t / fastest if np.isfinite(t) else np.inf)
    return {name: [float(np.mean(np.array(r) <= tau)) for tau in taus] for name, r in ratios.items()}


def profile_score(times):
    """Each optimizer's performance profile averaged over τ in [1, TAU_MAX] (on a fine linear grid)."""
    taus = np.linspace(1, TAU_MAX, 301)
    return {name: float(np.mean(fractions)) for name, fractions in performance_profile(times, taus).items()}


# ---- the runs ------------------------------------------------------------------------------------

def record(task, name, phase, seed, split, out, goal):
    """What the JSON keeps of one run: who, where, its curve, final metric and time to target."""
    steps, seconds = time_to_target(out["history"], goal)
    kept = {"task": task, "optimizer": name, "phase": phase, "lr": out["lr"], "seed": seed, "split": split,
            "metric_name": out["metric_name"], "metric": out["metric"], "steps": out["steps"],
            "seconds": out["seconds"], "steps_to_target": steps, "seconds_to_target": seconds,
            "curve": [list(point) for point in out["history"]]}
    if "loop_step_seconds" in out:
        kept["loop_step_seconds"] = out["loop_step_seconds"]
    return kept


def class_defaults(module):
    """``run``'s options that leave out the task's own optimizer options (its OPTIMIZER_OPTIONS, such
    as reacher's Adam eps): under the protocol every optimizer runs at its class's defaults but the lr."""
    return {"optimizer_options": {}} if hasattr(module, "OPTIMIZER_OPTIONS") else {}


def tuning_jobs(modules, names, args):
    """Every trial as (label, key, thunk): per task, optimizer (``names[task]``) and lr of its grid, one
    validation run."""
    jobs = []
    for task, module in modules.items():
        for name in names[task]:
            for lr in lr_grid(grid_centre(module, name), args.budget, args.grid_step):
                run = functools.partial(module.run, optimizer=name, lr=lr, backend=args.backend, epochs=args.epochs,
                                        seed=TUNING_SEED, split="validation", **class_defaults(module),
                                        **logged(args, task, name, "tuning", lr, TUNING_SEED))
                jobs.append((f"tuning {task}: {name} lr {lr:.3g}", (task, name, lr),
                             _recorded(run, task, name, "tuning", TUNING_SEED, "validation")))
    return jobs


def final_jobs(modules, chosen, args):
    """Every scoring run as (label, key, thunk): per task and optimizer, its chosen lr over the seeds
    on the test split (seed 0 also times opt.step() on both backends, with ``args.timing``)."""
    jobs = []
    for task, module in modules.items():
        for name, trial in chosen[task].items():
            for seed in args.seeds:
                run = functools.partial(module.run, optimizer=name, lr=trial["lr"], backend=args.backend,
                                        epochs=args.epochs, seed=seed, split="test", timing=args.timing and seed == 0,
                                        **class_defaults(module),
                                        **logged(args, task, name, "final", trial["lr"], seed))
                jobs.append((f"scoring {task}: {name} seed {seed}", (task, name, seed),
                             _recorded(run, task, name, "final", seed, "test")))
    return jobs


def run_directory(task, name, phase, lr, seed):
    """Where one run logs under --logdir: TASK/OPTIMIZER/PHASE_lrLR_seedSEED."""
    return os.path.join(task, name, f"{phase}_lr{lr:.6g}_seed{seed}")


def logged(args, task, name, phase, lr, seed):
    """The run's ``logdir`` option under ``args.logdir`` (--logdir), none without it."""
    logdir = getattr(args, "logdir", None)
    return {} if logdir is None else {"logdir": os.path.join(logdir, run_directory(task, name, phase, lr, seed))}


def write_hparams(logdir, runs, names):
    """TensorBoard's HParams table under ``logdir``: a session per run (in that run's own directory, so
    its curves sit beside it), its task, optimizer, phase, lr, seed and metric's name against its final
    metric (the validation one when tuning, the test one when scoring) and its steps and seconds to the
    task's target. Every session declares the same columns, whichever TensorBoard reads last."""
    from ..utils.tensorboard import SummaryWriter
    tasks = sorted({run["task"] for run in runs})
    optimizers = list(dict.fromkeys(name for task_names in names.values() for name in task_names))
    with SummaryWriter(logdir) as writer:
        for run in runs:
            hparams = {"task": run["task"], "optimizer": run["optimizer"], "phase": run["phase"], "lr": run["lr"],
                       "seed": run["seed"], "metric_name": run["metric_name"]}
            metrics = {"hparam/metric": run["metric"], "hparam/steps_to_target": run["steps_to_target"],
                       "hparam/seconds_to_target": run["seconds_to_target"]}
            directory = run_directory(run["task"], run["optimizer"], run["phase"], run["lr"], run["seed"])
            writer.add_hparams(hparams, metrics, {"task": tasks, "optimizer": optimizers, "phase": ["tuning", "final"]},
                               run_name=directory)


def _recorded(run, task, name, phase, seed, split):
    return lambda: record(task, name, phase, seed, split, run(), GOALS[task])


def choose(trials, modules, names):
    """{task: {optimizer: the chosen trial}} from the tuning results {(task, name, lr): record}, for the
    optimizers ``names[task]`` of each task."""
    return {task: {name: select([r for (t, n, _), r in trials.items() if (t, n) == (task, name)],
                                GOALS[task].maximize_metric)
                   for name in names[task]}
            for task in modules}


def summarize(finals, chosen, trials, args):
    """{task: [a row per optimizer]}: its grid and validation metrics, chosen lr, test metric over
    the seeds, median time to target, opt.step() times; and {"steps"|"seconds": {task: {optimizer:
    median time to target}}} for the performance profile."""
    rows, times = {}, {"steps": {}, "seconds": {}}
    for task, by_name in chosen.items():
        rows[task] = []
        for unit in times:
            times[unit][task] = {}
        for name, trial in by_name.items():
            runs = [finals[task, name, seed] for seed in args.seeds]
            grid = sorted((lr, r["metric"]) for (t, n, lr), r in trials.items() if (t, n) == (task, name))
            row = {"optimizer": name, "grid": [lr for lr, _ in grid], "validation_metrics": [m for _, m in grid],
                   "lr": trial["lr"], "validation_metric_name": trial["metric_name"],
                   "validation_metric": trial["metric"], "metric_name": runs[0]["metric_name"],
                   "test_metrics": [r["metric"] for r in runs],
                   "reached": sum(np.isfinite(r["seconds_to_target"]) for r in runs)}
            for unit in times:
                row[f"{unit}_to_target"] = times[unit][task][name] = float(
                    np.median([r[f"{unit}_to_target"] for r in runs]))
            if "loop_step_seconds" in runs[0]:
                row["step_us"] = {k: 1e6 * v for k, v in runs[0]["loop_step_seconds"].items()}
            rows[task].append(row)
    return rows, times


def table(task, rows, args):
    """The task's result table as Markdown lines."""
    goal, metric = GOALS[task], rows[0]["metric_name"]
    lines = [f"### {task}: {metric} (mean ± std over {len(args.seeds)} seed(s)); target: {goal.description}",
             "", "| optimizer | lr grid | chosen lr | validation | test | target reached | steps to target "
             "| seconds to target | opt.step() µs cpp / numpy |", "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        us = row.get("step_us")
        step_us = f"{us['cpp']:.0f} / {us['numpy']:.0f}" if us else "—"
        lines.append(f"| {row['optimizer']} | {row['grid'][0]:.3g} … {row['grid'][-1]:.3g} | {row['lr']:.3g} "
                     f"| {row['validation_metric']:.4f} | {mean_std(row['test_metrics'])} "
                     f"| {row['reached']}/{len(args.seeds)} | {_time(row['steps_to_target'], '.0f')} "
                     f"| {_time(row['seconds_to_target'], '.2f')} "
                     f"| {step_us} |")
    return lines


def mean_std(values):
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def _time(value, spec):
    return format(value, spec) if np.isfinite(value) else "not reached"


# ---- plots ---------------------------------------------------------------------------------------

def style(name):
    """The same colour for an optimizer everywhere (its place in OPTIMIZERS); dashed after the tenth."""
    index = list(common.OPTIMIZERS).index(name)
    return {"color": f"C{index % 10}", "linestyle": "-" if index < 10 else "--"}


def plot_tasks(rows, finals, args):
    """A row per task: the validation metric against lr (the tuning), then the chosen setting's
    training curve (mean over the seeds) against steps and against seconds, the target drawn."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(15, 3.6 * len(rows)), dpi=80)
    axes = fig.subplots(len(rows), 3, squeeze=False)
    for (task, task_rows), (tuning, by_step, by_time) in zip(rows.items(), axes):
        goal = GOALS[task]
        for row in task_rows:
            name, st = row["optimizer"], style(row["optimizer"])
            tuning.plot(row["grid"], row["validation_metrics"], marker="o", markersize=3, label=name, **st)
            steps, seconds, values = curve([finals[task, name, seed]["curve"] for seed in args.seeds])
            for ax, x in ((by_step, steps), (by_time, seconds)):
                ax.plot(x, values, linewidth=1.1, label=f"{name} lr {row['lr']:.2g}", **st)
        tuning.set(xscale="log", xlabel="learning rate", ylabel=task_rows[0]["validation_metric_name"])
        tuning.set_title(f"{task}: {args.budget} lr trials per optimizer (seed {TUNING_SEED})", fontsize=10)
        ylabel = "training return" if goal.maximize_curve else "training loss"
        for ax, xlabel in ((by_step, "optimizer steps"), (by_time, "wall-clock seconds")):
            ax.axhline(goal.target, color="k", linewidth=0.8, linestyle=":")
            ax.set(xlabel=xlabel, ylabel=ylabel, yscale="linear" if goal.maximize_curve else "log")
            ax.set_title(f"{task}: chosen lr, scoring runs (mean of {len(args.seeds)} seed(s), smoothed); "
                         "dotted: target", fontsize=9)
        for ax in (tuning, by_step, by_time):
            ax.grid(True, alpha=0.3)
        by_step.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def curve(curves):
    """(steps, seconds, values) of the mean over ``curves`` [(step, seconds, value)], cut to the
    shortest, the values as a running mean over 1/40 of the length."""
    n = min(len(c) for c in curves)
    points = np.array([c[:n] for c in curves], dtype=np.float64).reshape(len(curves), n, 3)
    values = points[:, :, 2].mean(0)
    window = max(1, n // 40)
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, n + 1), window)
    return points[0, :, 0], points[:, :, 1].mean(0), (sums[1:] - sums[np.arange(1, n + 1) - counts]) / counts


def plot_profile(times):
    """The performance profiles by steps and by seconds to target: a step curve per optimizer."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(12, 4.2), dpi=80)
    for ax, (unit, by_task) in zip(fig.subplots(1, 2), times.items()):
        ratios = [t / min(row.values()) for row in by_task.values() for t in row.values() if np.isfinite(t)]
        taus = np.geomspace(1, max([TAU_MAX, *ratios]) * 1.05, 400)
        scores = profile_score(by_task)
        for name, fractions in performance_profile(by_task, taus).items():
            ax.step(taus, fractions, where="post", label=f"{name} ({scores[name]:.2f})", **style(name))
        ax.set(xscale="log", ylim=(-0.03, 1.03), xlabel="τ (time to target ÷ fastest optimizer's on the task)",
               ylabel="fraction of tasks within τ")
        ax.set_title(f"performance profile, {unit} to target, {len(by_task)} task(s); score: mean over "
                     f"1 ≤ τ ≤ {TAU_MAX:g}", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
