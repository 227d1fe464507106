"""Smoke tests of the control examples (examples/cartpole_pg.py, examples/robot_arm.py): a few
steps through ``run``, and an interrupted training resumed from its checkpoint ends exactly where an
uninterrupted one does."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.examples import robot_arm


def cartpole():
    pytest.importorskip("gymnasium")
    from minigrad.examples import cartpole_pg
    return cartpole_pg


def check_result(out, steps):
    assert [step for step, _, _ in out["history"]] == list(range(1, steps + 1))
    assert all(np.isfinite(value) for _, _, value in out["history"])
    assert isinstance(out["metric_name"], str) and np.isfinite(out["metric"])
    assert out["optimizer_step_seconds"] > 0


def test_cartpole_runs_a_few_steps():
    out = cartpole().run(max_steps=3, eval_episodes=2)
    check_result(out, 3)
    assert out["metric_name"] == "average_return" and 1 <= out["metric"] <= 500


def test_cartpole_validation_and_test_episodes_never_share_a_reset_seed(monkeypatch):
    cartpole_pg = cartpole()
    seeds = {}

    def play(env, policy, rng, greedy=False, reset_seed=None):
        seeds.setdefault(split, []).append(reset_seed)
        return np.zeros((3, 4)), np.zeros(3, dtype=np.int64)

    monkeypatch.setattr(cartpole_pg, "play", play)
    for split in ("validation", "test"):
        assert list(cartpole_pg.evaluate(None, None, seed=7, episodes=50, split=split)) == [3] * 50
    assert all(s % 2 == 0 for s in seeds["validation"]) and all(s % 2 == 1 for s in seeds["test"])
    assert len(set(seeds["validation"])) > 45


def test_control_examples_score_a_validation_split():
    out = robot_arm.run(max_steps=2, split="validation")
    assert out["metric_name"] == "mean_reach_error" and np.isfinite(out["metric"])
    assert cartpole().run(max_steps=1, eval_episodes=2, split="validation")["report"].count("validation episodes") == 1


def test_arm_runs_a_few_steps():
    out = robot_arm.run(optimizer="rmsprop", backend="numpy", max_steps=3)
    check_result(out, 3)
    assert out["metric_name"] == "mean_reach_error" and 0 < out["metric"] < robot_arm.L1 + robot_arm.L2


def test_arm_plot(tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "arm.png"
    out = robot_arm.run(max_steps=1, plot=str(plot))
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and f"plot: {plot}" in out["report"]


def test_arm_plot_shows_arms_reach_and_errors(tmp_path):
    pytest.importorskip("matplotlib")
    model = mg.nn.Sequential(mg.nn.Linear(2, 8), mg.nn.Tanh(), mg.nn.Linear(8, 2))
    targets = robot_arm.sample_targets(100, np.random.default_rng(0))
    errors = robot_arm.evaluate(model, targets)
    fig = robot_arm.draw(model, targets, errors, tmp_path / "arm.png")
    arms, vectors, heat, colorbar = fig.axes
    assert arms.get_title() == "arm configurations for held-out targets"
    assert len(arms.get_lines()) == 8  # 8 arms: shoulder, elbow, hand
    assert all(line.get_xydata().shape == (3, 2) and (line.get_xydata()[0] == 0).all() for line in arms.get_lines())
    assert [text.get_text() for text in arms.get_legend().get_texts()] == ["target", "reached"]
    assert vectors.get_title() == "reached vs target (errors drawn 10× longer)"
    assert [text.get_text() for text in vectors.get_legend().get_texts()] == ["target", "target → reached, 10×"]
    assert heat.get_title() == f"reach error: mean {errors.mean():.4f}, median {np.median(errors):.4f}"
    assert colorbar.get_ylabel() == f"mean reach error (links {robot_arm.L1}, {robot_arm.L2})"
    for ax in (arms, vectors, heat):
        assert (ax.get_xlim(), ax.get_ylim()) == ((-2, 2), (-2, 2))
        assert len(ax.patches) == 2  # the annulus' edges


def test_forward_kinematics_places_the_hand():
    """θ1 = 90°, θ2 = 90°: the elbow straight up at (0, L1), the hand to its left at (−L2, L1)."""
    one, zero = mg.tensor([1.0]), mg.tensor([0.0])
    elbow, hand = robot_arm.forward_kinematics(zero, one, zero, one)
    assert np.allclose(elbow.numpy(), [[0, robot_arm.L1]]) and np.allclose(hand.numpy(), [[-robot_arm.L2, robot_arm.L1]])


@pytest.mark.parametrize("example, options, steps_per_epoch", [
    ("robot_arm", ["--optimizer", "adamw"], 64),
    ("cartpole_pg", ["--optimizer", "momentum", "--batch-episodes", "1", "--eval-episodes", "1"], 10),
])
def test_resume_continues_exactly(example, options, steps_per_epoch, tmp_path, capsys):
    """Two epochs straight, or one (stopped by --max-steps, so that the lr schedule is the same) and
    then the second from the checkpoint: the same weights."""
    module = cartpole() if example == "cartpole_pg" else robot_arm
    straight, interrupted = str(tmp_path / "straight.safetensors"), str(tmp_path / "interrupted.safetensors")
    assert module.main(options + ["--epochs", "2", "--quiet", "--save", straight]) == 0
    module.main(options + ["--epochs", "2", "--max-steps", str(steps_per_epoch), "--quiet", "--save", interrupted])
    module.main(options + ["--epochs", "2", "--quiet", "--resume", interrupted, "--save", interrupted])
    assert "steps in" in capsys.readouterr().out
    a, b = mg.load(straight), mg.load(interrupted)
    assert a["epoch"] == b["epoch"] == 2 and a["step"] == b["step"]
    for name in a["model"]:
        np.testing.assert_array_equal(a["model"][name], b["model"][name])
