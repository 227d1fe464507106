"""minigrad compare: the 2-D part end to end (PNG and JSON), the behaviours its plot shows, the
task part on one small task, and skipping a task that does not import."""
import json

import numpy as np
import pytest

from minigrad.commands import compare

QUADRATIC, DOUBLE_WELL, SADDLE = (compare.FUNCTIONS[name] for name in ("ill-conditioned quadratic", "double well",
                                                                      "saddle"))


def final_distance(fn, name, **options):
    return compare.distance_to_minimum(fn, compare.trajectory(fn, name, **options)[-1])


def test_2d_writes_png_and_json_with_every_optimizer(tmp_path):
    pytest.importorskip("matplotlib")
    report = tmp_path / "compare.json"
    assert compare.main(["--tasks", "2d", "--steps", "20", "--out", str(tmp_path), "--json", str(report),
                         "--no-progress"]) == 0
    assert (tmp_path / "optimizers_2d.png").stat().st_size > 20_000
    functions = json.loads(report.read_text())["functions"]
    assert set(functions) == set(compare.FUNCTIONS)
    for paths in functions.values():
        assert set(paths) == set(compare.OPTIMIZERS) == set(compare.ORDER)
        assert all(len(entry["path"]) == 21 and np.isfinite(entry["value"]) for entry in paths.values())


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
    assert (tmp_path / "optimizers_tasks.png").stat().st_size > 20_000
    rows = json.loads(report.read_text())["tasks"]["digits-mlp"]["rows"]
    assert [row["optimizer"] for row in rows] == list(compare.common.OPTIMIZERS)
    assert all(len(row["metrics"]) == 2 and row["step_us"]["cpp"] > 0 and row["step_us"]["numpy"] > 0 for row in rows)
    assert "test_accuracy" in capsys.readouterr().out


def test_a_task_that_does_not_import_is_skipped(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setitem(compare.TASKS, "missing", "no_such_example")
    assert compare.main(["--tasks", "missing", "--out", str(tmp_path), "--no-progress"]) == 0
    assert "skipping missing" in capsys.readouterr().err
