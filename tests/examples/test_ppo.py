"""PPO (examples/ppo.py): GAE and the losses against values worked out by hand on tiny rollouts, and
a short hopper run that beats a random policy (skipped without the rl extra)."""
import json
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.examples import ppo


def test_gae_by_hand():
    """T = 3 steps, an episode ending with step 1 (dones[2] = 1): its bootstrap is cut.
    t=2: δ = 3 + 0.9·2.0 − 1.5 = 3.3, A = 3.3;  t=1: δ = 2 − 1.0 = 1.0, A = 1.0 (cut);
    t=0: δ = 1 + 0.9·1.0 − 0.5 = 1.4, A = 1.4 + 0.9·0.8·1.0 = 2.12."""
    rewards, values = np.array([[1.0], [2.0], [3.0]]), np.array([[0.5], [1.0], [1.5]])
    dones = np.array([[0.0], [0.0], [1.0]])
    advantages, returns = ppo.gae(rewards, values, dones, np.array([2.0]), np.array([0.0]), gamma=0.9, lam=0.8)
    np.testing.assert_allclose(advantages[:, 0], [2.12, 1.0, 3.3], rtol=1e-12)
    np.testing.assert_allclose(returns[:, 0], [2.62, 2.0, 4.8], rtol=1e-12)
    _, cut = ppo.gae(rewards, values, dones, np.array([2.0]), np.array([1.0]), gamma=0.9, lam=0.8)
    assert cut[2, 0] == pytest.approx(3.0)  # the rollout ends an episode too: no bootstrap from next_value


def test_ppo_loss_by_hand():
    """A policy N(0, I) over 2-D actions and a critic saying 0 (their last layers zeroed), two
    samples with probability ratios 1.5 and 0.5, advantages +1 and −1 (not normalised), clip 0.2:
    policy loss mean(max(−1.5, −1.2), max(0.5, 0.8)) = −0.2; value loss with V_old = (0.5, −0.5),
    R = (1, 2): ½·mean(max(1, 0.49), max(4, 5.29)) = 1.5725; entropy 2·(½ + ½ log 2π)."""
    agent = ppo.GaussianAgent(3, 2)
    for last in (agent.actor_mean[-1], agent.critic[-1]):
        mg.nn.init.zeros_(last.weight)
    obs = mg.tensor(np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32))
    actions = mg.tensor(np.array([[0.3, -0.2], [1.0, 0.5]], np.float32))
    new_log_probs = (-(actions.numpy() ** 2) / 2 - 0.5 * math.log(2 * math.pi)).sum(1)
    old_log_probs = mg.tensor((new_log_probs - np.log([1.5, 0.5])).astype(np.float32))
    loss, (policy_loss, value_loss, entropy, approx_kl, clip_fraction) = ppo.ppo_loss(
        agent, obs, actions, old_log_probs, mg.tensor([1.0, -1.0]), mg.tensor([1.0, 2.0]), mg.tensor([0.5, -0.5]),
        clip_coef=0.2, ent_coef=0.01, vf_coef=0.5, normalize_advantages=False)
    expected_entropy = 2 * (0.5 + 0.5 * math.log(2 * math.pi))
    assert policy_loss == pytest.approx(-0.2, rel=1e-5) and value_loss == pytest.approx(1.5725, rel=1e-6)
    assert entropy == pytest.approx(expected_entropy, rel=1e-6) and clip_fraction == 1.0
    assert approx_kl == pytest.approx(np.mean([0.5 - math.log(1.5), -0.5 - math.log(0.5)]), rel=1e-5)
    assert loss.item() == pytest.approx(-0.2 - 0.01 * expected_entropy + 0.5 * 1.5725, rel=1e-5)
    loss.backward()
    assert agent.actor_logstd.grad is not None and np.isfinite(agent.actor_logstd.grad.numpy()).all()


def test_a_short_hopper_run_beats_a_random_policy():
    pytest.importorskip("mujoco", reason="the rl extra (gymnasium[mujoco]) is not installed")
    from minigrad.examples import hopper
    out = hopper.run(epochs=2, iterations_per_epoch=2, num_steps=1024, eval_episodes=5)
    # the training episodes' mean return (the policy as it samples) after 4,096 steps: a random policy's is ~20
    assert out["curve"][-1][1] > 2 * random_returns("Hopper-v5").mean(), out["curve"]
    assert out["steps"] == 4 * 10 * 32 and out["history"][-1][2] == out["curve"][-1][1]  # 4 × 10 epochs × 32
    assert np.isfinite(out["metric"]) and "deterministic policy over 5 test episodes" in out["report"]


def test_a_rollout_must_split_into_equal_minibatches_before_anything_starts():
    from minigrad.examples import hopper
    for steps, minibatches in ((100, 32), (64, 0)):
        with pytest.raises(ValueError, match=f"num_steps × num_envs = {steps} steps a rollout do not split into "
                                             f"num_minibatches = {minibatches} equal minibatches"):
            hopper.run(num_steps=steps, num_minibatches=minibatches)


def random_returns(env_id, episodes=5):
    import gymnasium as gym
    env, returns = gym.make(env_id), []
    for episode in range(episodes):
        env.reset(seed=episode)
        env.action_space.seed(episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total, done = total + reward, terminated or truncated
        returns.append(total)
    return np.array(returns)


def test_a_short_reacher_run_trains_and_scores_with_its_adam_eps(tmp_path):
    """Reacher learns visibly only after some 50k steps (README's curve): a short run checks the plumbing."""
    pytest.importorskip("mujoco", reason="the rl extra (gymnasium[mujoco]) is not installed")
    from minigrad.examples import reacher
    out = reacher.run(epochs=1, iterations_per_epoch=2, num_steps=512, eval_episodes=2, save=tmp_path / "r.safetensors")
    assert len(out["curve"]) == 2 and all(-200 < value < 0 for _, value in out["curve"])
    assert -200 < out["metric"] < 0 and out["steps"] == 2 * 10 * 32
    assert mg.load(tmp_path / "r.safetensors")["optimizer"]["param_groups"][0]["eps"] == 1e-5  # CleanRL's


def test_doorkey_runs_scores_its_success_rate_and_draws_an_episode(tmp_path):
    pytest.importorskip("minigrid", reason="the rl extra (minigrid) is not installed")
    pytest.importorskip("matplotlib")
    from minigrad.examples import doorkey
    out = doorkey.run(epochs=1, iterations_per_epoch=1, num_envs=4, eval_episodes=3, plot=str(tmp_path / "dk.png"))
    assert out["metric_name"] == "success_rate" and 0 <= out["metric"] <= 1
    assert out["steps"] == 4 * 8 and (tmp_path / "dk.png").read_bytes()[:4] == b"\x89PNG"
    assert "greedy policy over 3 test episodes of MiniGrid-DoorKey-5x5-v0" in out["report"]
    with pytest.raises(ValueError, match=r"size must be one of \(5, 8\), got 6"):
        doorkey.run(size=6)


def test_a_mujoco_run_saves_and_resumes_with_its_normalisers(tmp_path):
    pytest.importorskip("mujoco", reason="the rl extra (gymnasium[mujoco]) is not installed")
    from minigrad.examples import hopper
    path = tmp_path / "hopper.safetensors"
    hopper.run(epochs=1, iterations_per_epoch=1, num_steps=256, eval_episodes=1, save=path)
    saved = mg.load(path)["model"]
    assert saved["normalizers.counts"][0] > 256 and saved["normalizers.obs_var"].shape == (11,)
    resumed = hopper.run(epochs=2, iterations_per_epoch=1, num_steps=256, eval_episodes=1, resume=path)
    assert resumed["history"][0][0] == 321 and resumed["steps"] == 320  # the second epoch's 10 × 32 steps
    control = ppo.MuJoCo("Hopper-v5")  # the saved moments go into every environment's wrappers
    envs = control.envs(2, 0.99)
    _, model = control.agent(envs)
    model.load_state_dict(saved)
    control.resumed(envs)
    for env in envs.envs:
        obs, ret = ppo.Normalizers._moments(env)
        np.testing.assert_array_equal(obs.mean, saved["normalizers.obs_mean"])
        assert (obs.count, ret.var) == (saved["normalizers.counts"][0], saved["normalizers.return_var"])
    envs.close()


def test_minigrad_compare_tunes_and_scores_an_optimizer_on_doorkey(tmp_path, monkeypatch):
    """The comparison on a control task, cut to Adam, one lr trial and one seed of one epoch."""
    pytest.importorskip("minigrid", reason="the rl extra (minigrid) is not installed")
    pytest.importorskip("matplotlib")
    from minigrad.commands import compare
    from minigrad.examples import common
    monkeypatch.setattr(common, "task_optimizers", lambda sparse_embeddings=False: ["adam"])
    assert compare.main(["--tasks", "doorkey", "--epochs", "1", "--budget", "1", "--seeds", "1", "--out",
                         str(tmp_path), "--no-progress"]) == 0
    report = json.loads((tmp_path / "compare.json").read_text())
    (row,) = report["tasks"]["doorkey"]
    assert row["optimizer"] == "adam" and row["lr"] == 1e-3  # doorkey's own lr: the grid's one point
    runs = report["runs"]
    assert [(run["split"], run["metric_name"], run["steps"]) for run in runs] == [
        ("validation", "success_rate", 10 * 8 * 4), ("test", "success_rate", 10 * 8 * 4)]
    assert all(0 <= run["metric"] <= 1 and len(run["curve"]) == 10 * 8 * 4 for run in runs)
