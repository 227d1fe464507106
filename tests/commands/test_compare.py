"""minigrad compare: the 2-D part end to end (PNG and JSON), the behaviours its plot shows; the
tuning protocol (selection on validation only, the same budget for every optimizer, time to target
and performance profiles against hand-computed cases, the runs' JSON) on a stand-in task and
--quick end to end; bad arguments; skipping a task that does not import."""
import glob
import json
import math
import os
import types

import numpy as np
import pytest

import minigrad as mg
from minigrad.commands import compare, tuning
from minigrad.examples import arguments, common

QUADRATIC, DOUBLE_WELL, SADDLE = (compare.FUNCTIONS[name] for name in ("ill-conditioned quadratic", "double well",
                                                                      "saddle"))
PNG = b"\x89PNG\r\n\x1a\n"  # the first bytes of every PNG file


def final_distance(fn, name, **options):
    return compare.distance_to_minimum(fn, compare.trajectory(fn, name, **options)[-1])


def test_2d_writes_png_and_json_with_every_optimizer(tmp_path):
    pytest.importorskip("matplotlib")
    report = tmp_path / "compare.json"
    assert compare.main(["--tasks", "2d", "--steps", "20", "--out", str(tmp_path), "--json", str(report),
                         "--no-progress"]) == 0
    assert (tmp_path / "optimizers_2d.png").read_bytes().startswith(PNG)
    functions = json.loads(report.read_text())["functions"]
    assert set(functions) == set(compare.FUNCTIONS)
    for paths in functions.values():
        assert set(paths) == set(compare.ORDER) == set(compare.OPTIMIZERS) - {"muon", "sparseadam"}
        assert all(len(entry["path"]) == 21 for entry in paths.values())
        # a run that diverges is a result too (RAdam's first, unrectified steps are momentum SGD at the adaptive
        # methods' lr: it leaves Rosenbrock's valley); its value is written as null
        assert all(entry["value"] is None or np.isfinite(entry["value"]) for entry in paths.values())
        assert sum(entry["value"] is None for entry in paths.values()) <= 1


def test_2d_plot_draws_every_trajectory_over_each_function():
    pytest.importorskip("matplotlib")
    paths = {fname: {name: compare.trajectory(fn, name, steps=5) for name in compare.ORDER}
             for fname, fn in compare.FUNCTIONS.items()}
    fig = compare.plot_2d(paths, 5)
    labels = compare.ORDER + ["start", "global minimum"]
    assert len(fig.axes) == len(compare.FUNCTIONS) == 4
    for ax, (fname, fn) in zip(fig.axes, compare.FUNCTIONS.items()):
        assert ax.get_title().startswith(f"{fname}: {fn.formula}\n")
        assert (ax.get_xlim(), ax.get_ylim()) == (fn.xlim, fn.ylim)
        assert len(ax.collections) > 0  # the contours
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert list(lines) == labels
        for name in compare.ORDER:
            assert (lines[name].get_xydata() == paths[fname][name]).all()
        assert lines["start"].get_xydata().tolist() == [list(fn.start)]
    assert [text.get_text() for text in fig.legends[0].get_texts()] == labels
    assert fig.get_suptitle() == "5 steps from the same start (a dot per step)"


def test_adaptive_methods_beat_sgd_on_the_ill_conditioned_quadratic_at_the_same_small_lr():
    """On the flat axis (curvature 0.1) SGD's steps are lr·0.1·x; Adam's and RMSprop's about lr."""
    sgd = final_distance(QUADRATIC, "sgd", lr=0.01)
    for name in ("adam", "rmsprop"):
        assert final_distance(QUADRATIC, name, lr=0.01) < 0.7 * sgd


def test_momentum_passes_the_local_minimum_that_sgd_stops_in():
    assert final_distance(DOUBLE_WELL, "sgd") > 1.5  # in the right-hand (local) well
    for name in ("momentum", "nesterov"):
        assert final_distance(DOUBLE_WELL, name) < 0.05


def test_sgd_lingers_at_the_saddle_that_adaptive_methods_escape():
    assert final_distance(SADDLE, "sgd") > 1
    for name in ("adagrad", "rmsprop", "adam"):
        assert final_distance(SADDLE, name) < 0.7


def test_adagrad_steps_shrink():
    steps = np.linalg.norm(np.diff(compare.trajectory(QUADRATIC, "adagrad", steps=50), axis=0), axis=1)
    assert steps[-1] < 0.3 * steps[0]


def test_a_step_that_needs_a_closure_is_driven_with_one(monkeypatch):
    """An optimizer whose step refuses to run without a closure (as LBFGS's) goes through trajectory."""
    class ClosureOnly(mg.optim.SGD):
        def step(self, closure=None):
            assert closure is not None, "this optimizer needs a closure"
            return super().step(closure)

    monkeypatch.setattr(mg.optim, "ClosureOnly", ClosureOnly, raising=False)
    monkeypatch.setitem(common.OPTIMIZERS, "closure-only", common.OptimizerChoice("ClosureOnly", {}, closure=True))
    path = compare.trajectory(QUADRATIC, "closure-only", steps=3, lr=0.05)
    np.testing.assert_allclose(path[1], [-4.5 * (1 - 0.05 * 0.1), 0.6 * (1 - 0.05 * 10)])  # x − lr·∇f
    assert len(path) == 4


# ---- the tuning protocol ----------------------------------------------------------------------------

def test_lr_grid_is_centred_on_a_log_scale():
    np.testing.assert_allclose(tuning.lr_grid(1e-2, 3, 0.5), [1e-2 / 10 ** 0.5, 1e-2, 1e-2 * 10 ** 0.5])
    np.testing.assert_allclose(tuning.lr_grid(1.0, 4, 1.0), [10 ** -1.5, 10 ** -0.5, 10 ** 0.5, 10 ** 1.5])
    assert tuning.lr_grid(0.3, 1, 0.5) == [0.3]


def test_every_task_declares_a_target():
    assert set(tuning.GOALS) == set(compare.TASKS)


def test_time_to_target_is_the_first_step_whose_running_mean_reaches_it():
    history = [(1, 0.1, 3.0), (2, 0.2, 1.0), (3, 0.3, 0.5), (4, 0.4, 0.2), (5, 0.5, 0.1)]
    loss = tuning.Goal(0.6, 2, False, True, "")  # running means of 2: 2, 0.75, 0.35, ... → steps 3 and 4
    assert tuning.time_to_target(history, loss) == (4.0, 0.4)
    assert tuning.time_to_target(history, loss._replace(window=1)) == (3.0, 0.3)
    assert tuning.time_to_target(history, loss._replace(target=0.01)) == (math.inf, math.inf)
    assert tuning.time_to_target(history[:1], loss) == (math.inf, math.inf)  # shorter than the window
    returns = tuning.Goal(2.0, 2, True, True, "")  # a return: reached from above; means of 2: 2, 5, 6.5
    assert tuning.time_to_target([(1, 1.0, 1.0), (2, 2.0, 3.0), (3, 3.0, 7.0), (4, 4.0, 6.0)], returns) == (2.0, 2.0)
    assert tuning.time_to_target([(1, 1.0, math.nan), (2, 2.0, 0.0), (3, 3.0, 0.0)], loss) == (3.0, 3.0)


def test_performance_profile_counts_tasks_within_tau_of_the_fastest():
    times = {"a": {"x": 1.0, "y": 2.0, "z": math.inf},   # ratios x 1, y 2, z never
             "b": {"x": 3.0, "y": 1.0, "z": 1.5},        # ratios x 3, y 1, z 1.5
             "c": {"x": math.inf, "y": math.inf, "z": math.inf}}  # nobody: against everyone
    profile = tuning.performance_profile(times, [1, 1.5, 2, 3])
    assert profile == {"x": [1 / 3, 1 / 3, 1 / 3, 2 / 3], "y": [1 / 3, 1 / 3, 2 / 3, 2 / 3],
                       "z": [0, 1 / 3, 1 / 3, 1 / 3]}
    scores = tuning.profile_score({"a": {"x": 1.0, "y": 2.0}})  # y is within τ from τ = 2 on, a third of [1, 4]
    assert scores["x"] == 1 and scores["y"] == pytest.approx(2 / 3, abs=0.01)


def test_an_optimizer_that_runs_on_some_tasks_is_profiled_over_those():
    times = {"a": {"x": 1.0, "y": 2.0}, "b": {"x": 2.0, "y": 4.0, "sparse": 1.0}}  # "sparse" ran on b only
    assert tuning.performance_profile(times, [1, 2, 4]) == {"x": [0.5, 1, 1], "y": [0, 0.5, 1], "sparse": [1, 1, 1]}


def trial(lr, metric, split="validation"):
    return {"lr": lr, "metric": metric, "split": split}


def test_select_takes_the_best_validation_trial_and_refuses_any_other_split():
    trials = [trial(0.1, 0.5), trial(0.3, 0.9), trial(1.0, 0.9), trial(3.0, math.nan)]
    assert tuning.select(trials, maximize=True)["lr"] == 0.3  # a tie goes to the smaller lr
    assert tuning.select(trials, maximize=False)["lr"] == 0.1  # NaN is the worst either way
    with pytest.raises(ValueError, match="validation trials only, got a test trial"):
        tuning.select(trials + [trial(10.0, 1.0, "test")], maximize=True)


def stand_in(calls):
    """A task module whose validation metric prefers the smallest lr and whose test metric the largest:
    selection that looked at the test split would choose differently. ``calls`` records every run."""
    def run(optimizer, lr, backend, epochs, seed, split, timing=False):
        calls.append((optimizer, lr, seed, split))
        history = [(step, 0.01 * step, 1.0 / step) for step in range(1, 11)]  # loss 1/step: target 0.25 at step 5
        out = {"history": history, "metric_name": f"{split}_score", "metric": -lr if split == "validation" else lr,
               "lr": lr, "steps": 10, "seconds": 0.1}
        if timing:
            out["loop_step_seconds"] = {"cpp": 1e-5, "numpy": 4e-5}
        return out
    return types.SimpleNamespace(run=run, LR={"adam": 0.01}, NEEDS=(), EPOCHS=1)


def install(monkeypatch, module):
    """``module`` as the task "stand-in" of compare, with a target."""
    load = compare.examples.load
    monkeypatch.setitem(compare.TASKS, "stand-in", "stand_in")
    monkeypatch.setitem(tuning.GOALS, "stand-in", tuning.Goal(0.25, 2, False, True, "loss ≤ 0.25"))
    monkeypatch.setattr(compare.examples, "load", lambda task: module if task == "stand-in" else load(task))


@pytest.fixture
def stand_in_task(monkeypatch):
    calls = []
    install(monkeypatch, stand_in(calls))
    return calls


def test_protocol_selects_on_validation_with_the_same_budget_and_scores_on_test(tmp_path, stand_in_task):
    pytest.importorskip("matplotlib")
    assert compare.main(["--tasks", "stand-in", "--budget", "3", "--seeds", "2", "--out", str(tmp_path),
                         "--no-progress"]) == 0
    names = common.task_optimizers()
    assert "sparseadam" not in names and "muon" in names  # the stand-in has no embeddings
    tuned = [(name, lr, seed) for name, lr, seed, split in stand_in_task if split == "validation"]
    scored = [(name, lr, seed) for name, lr, seed, split in stand_in_task if split == "test"]
    assert stand_in_task[:len(tuned)] == [(*t, "validation") for t in tuned]  # every trial before any scoring
    for name in names:
        grid = [lr for n, lr, _ in tuned if n == name]
        centre = 0.01 if name == "adam" else common.default_lr(name)
        np.testing.assert_allclose(grid, tuning.lr_grid(centre, 3, 0.5))  # the same budget, a grid about its centre
        assert [(lr, seed) for n, lr, seed in scored if n == name] == [(grid[0], 0), (grid[0], 1)]
    assert {seed for _, _, seed in tuned} == {tuning.TUNING_SEED}
    report = json.loads((tmp_path / "compare.json").read_text())
    rows = report["tasks"]["stand-in"]
    assert [row["lr"] for row in rows] == [row["grid"][0] for row in rows]
    assert all(row["test_metrics"] == [row["grid"][0]] * 2 and row["steps_to_target"] == 5 for row in rows)
    assert report["protocol"]["budget"] == 3 and report["protocol"]["grid_centres"]["stand-in"]["adam"] == 0.01
    assert "| adam | 0.00316 … 0.0316 | 0.00316 |" in (tmp_path / "tables.md").read_text()


def test_every_run_is_in_the_json_with_its_curve_split_and_time_to_target(tmp_path, stand_in_task):
    pytest.importorskip("matplotlib")
    compare.main(["--tasks", "stand-in", "--budget", "2", "--seeds", "1", "--out", str(tmp_path), "--no-progress",
                  "--json", str(tmp_path / "runs.json")])
    runs = json.loads((tmp_path / "runs.json").read_text())["runs"]
    names = common.task_optimizers()
    assert len(runs) == len(names) * (2 + 1)
    for run in runs:
        assert set(run) >= {"task", "optimizer", "phase", "lr", "seed", "split", "metric_name", "metric", "curve",
                            "steps", "seconds", "steps_to_target", "seconds_to_target"}
        assert (run["phase"], run["split"]) in (("tuning", "validation"), ("final", "test"))
        assert run["task"] == "stand-in" and len(run["curve"]) == 10 and run["curve"][0] == [1, 0.01, 1.0]
        assert (run["steps_to_target"], run["seconds_to_target"]) == (5, 0.05)
    assert sum(run["phase"] == "tuning" for run in runs) == 2 * len(names)


def test_a_tasks_own_optimizer_options_are_left_out_of_the_comparison(tmp_path, monkeypatch):
    """Under the protocol every optimizer runs at its class's defaults but the lr: a task's
    OPTIMIZER_OPTIONS (reacher's Adam eps) would favour one optimizer."""
    pytest.importorskip("matplotlib")
    given, module = [], stand_in([])
    run = module.run

    def run_with_options(optimizer_options=None, **options):
        given.append(optimizer_options)
        return run(**options)
    module.run, module.OPTIMIZER_OPTIONS = run_with_options, {"adam": {"eps": 1e-5}}
    install(monkeypatch, module)
    compare.main(["--tasks", "stand-in", "--budget", "1", "--seeds", "1", "--out", str(tmp_path), "--no-progress"])
    assert len(given) == 2 * len(common.task_optimizers()) and all(options == {} for options in given)


def test_quick_end_to_end(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    assert compare.main(["--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    for png in ("optimizers_2d.png", "optimizers_tasks.png", "performance_profile.png"):
        assert (tmp_path / png).read_bytes().startswith(PNG)
    report = json.loads((tmp_path / "compare.json").read_text())
    assert set(report["functions"]) == set(compare.FUNCTIONS)
    assert [row["optimizer"] for row in report["tasks"]["digits-mlp"]] == common.task_optimizers()
    assert {(run["split"], run["metric_name"]) for run in report["runs"]} == {
        ("validation", "validation_accuracy"), ("test", "test_accuracy")}
    assert len(report["runs"]) == len(common.task_optimizers()) * (compare.QUICK.budget + 1)
    assert "### digits-mlp: test_accuracy" in (tmp_path / "tables.md").read_text()


@pytest.mark.parametrize("option, value", [("--budget", "0"), ("--seeds", "0"), ("--grid-step", "-1"),
                                           ("--epochs", "two"), ("--tasks", "2d,nope"), ("--backend", "gpu")])
def test_bad_arguments_name_the_argument(option, value, capsys):
    with pytest.raises(SystemExit) as exit:
        compare.parse_args([option, value])
    assert exit.value.code == 2 and f"argument {option}" in capsys.readouterr().err


def test_a_task_that_does_not_import_is_skipped(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setitem(compare.TASKS, "missing", "no_such_example")
    assert compare.main(["--tasks", "missing", "--out", str(tmp_path), "--no-progress"]) == 0
    assert "skipping missing" in capsys.readouterr().err


def test_logdir_gives_each_run_its_tensorboard_run_and_an_hparams_session(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2
    logdir = tmp_path / "tb"
    assert compare.main(["--tasks", "digits-mlp", "--budget", "1", "--seeds", "1", "--epochs", "1", "--out",
                         str(tmp_path), "--no-progress", "--no-timing", "--logdir", str(logdir)]) == 0
    runs = json.loads((tmp_path / "compare.json").read_text())["runs"]
    (stamp,) = os.listdir(logdir)  # a new directory each time: DIR/DATE
    logdir = logdir / stamp
    directories = {os.path.relpath(os.path.dirname(path), logdir) for path in glob.glob(f"{logdir}/*/*/*/events.*")}
    assert directories == {tuning.run_directory(r["task"], r["optimizer"], r["phase"], r["lr"], r["seed"])
                           for r in runs} and len(directories) == len(runs) == 2 * len(common.task_optimizers())
    for run in runs[::7]:
        events = EventAccumulator(str(logdir / tuning.run_directory(run["task"], run["optimizer"], run["phase"],
                                                                    run["lr"], run["seed"])),
                                  size_guidance={"scalars": 0, "tensors": 0})
        events.Reload()
        assert [(s.step, s.value) for s in events.Scalars("train/loss")] == [
            (step, np.float32(loss)) for step, _, loss in run["curve"]]
        start = plugin_data_pb2.HParamsPluginData.FromString(
            events.SummaryMetadata("_hparams_/session_start_info").plugin_data.content).session_start_info
        assert {name: value.string_value or value.number_value for name, value in start.hparams.items()} == {
            "task": "digits-mlp", "optimizer": run["optimizer"], "phase": run["phase"], "lr": run["lr"],
            "seed": run["seed"], "metric_name": run["metric_name"]}
        assert events.Scalars("hparam/metric")[0].value == pytest.approx(run["metric"], rel=1e-6)


def test_logdir_without_the_extra_stops_before_any_run(tmp_path, monkeypatch):
    real = arguments._imports
    monkeypatch.setattr(arguments, "_imports", lambda module: module != "tensorboard" and real(module))
    with pytest.raises(SystemExit) as exit:
        compare.main(["--tasks", "digits-mlp", "--out", str(tmp_path / "out"), "--logdir", str(tmp_path / "tb")])
    assert "minigrad compare --logdir: needs tensorboard" in str(exit.value.code)
    assert not (tmp_path / "tb").exists() and not (tmp_path / "out").exists()
