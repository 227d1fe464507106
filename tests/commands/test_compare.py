"""minigrad compare: the 2-D part end to end (PNG and JSON), the behaviours its plot shows, the
task part on one small task, and skipping a task that does not import."""
import json

import numpy as np
import pytest

from minigrad.commands import compare

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
        assert set(paths) == set(compare.OPTIMIZERS) == set(compare.ORDER)
        assert all(len(entry["path"]) == 21 and np.isfinite(entry["value"]) for entry in paths.values())


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


def test_task_plot_draws_a_curve_per_optimizer_against_steps_and_seconds():
    pytest.importorskip("matplotlib")
    def run(scale):  # 10 steps, 0.5 s each, the loss scale / step
        return {"history": [(step, 0.5 * step, scale / step) for step in range(1, 11)]}
    records = {"digits-mlp": {"sgd": [run(1), run(3)], "adam lr×0.5": [run(2), run(2)]},
               "cartpole": {"adam": [run(100)]}}
    fig = compare.plot_tasks(records)
    assert len(fig.axes) == 4  # a row per task: by steps, by seconds
    (mlp_steps, mlp_seconds, pole_steps, pole_seconds) = fig.axes
    for ax, xlabel in ((mlp_steps, "optimizer steps"), (mlp_seconds, "wall-clock seconds")):
        assert ax.get_title() == "digits-mlp (mean of 2 seeds, smoothed)"
        assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_yscale()) == (xlabel, "training loss", "log")
        assert [line.get_label() for line in ax.get_lines()] == ["sgd", "adam lr×0.5"]
        assert all(len(line.get_xdata()) == 10 for line in ax.get_lines())
    assert pole_steps.get_title() == "cartpole (mean of 1 seed, smoothed)"
    assert (pole_seconds.get_ylabel(), pole_seconds.get_yscale()) == ("mean episode return", "linear")
    sgd_by_step, sgd_by_time = mlp_steps.get_lines()[0], mlp_seconds.get_lines()[0]
    assert list(sgd_by_step.get_xdata()) == list(range(1, 11))
    assert list(sgd_by_time.get_xdata()) == [0.5 * step for step in range(1, 11)]
    assert sgd_by_step.get_ydata()[0] == 2.0  # the mean of the two seeds' first losses, 1 and 3
    assert [text.get_text() for text in mlp_steps.get_legend().get_texts()] == ["sgd", "adam lr×0.5"]


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


def test_task_table_on_digits_mlp(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    report = tmp_path / "compare.json"
    compare.main(["--tasks", "digits-mlp", "--epochs", "1", "--seeds", "2",
                  "--out", str(tmp_path), "--json", str(report), "--no-progress"])
    assert (tmp_path / "optimizers_tasks.png").read_bytes().startswith(PNG)
    rows = json.loads(report.read_text())["tasks"]["digits-mlp"]["rows"]
    assert [row["optimizer"] for row in rows] == list(compare.common.OPTIMIZERS)
    assert all(len(row["metrics"]) == 2 and row["step_us"]["cpp"] > 0 and row["step_us"]["numpy"] > 0 for row in rows)
    assert "test_accuracy" in capsys.readouterr().out


def test_a_task_that_does_not_import_is_skipped(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setitem(compare.TASKS, "missing", "no_such_example")
    assert compare.main(["--tasks", "missing", "--out", str(tmp_path), "--no-progress"]) == 0
    assert "skipping missing" in capsys.readouterr().err
