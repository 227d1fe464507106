"""minigrad.commands.bench_ppo (minigrad bench ppo): torch's PPO is the same algorithm from the same
weights, and a short race runs both and reports (figures are not asserted: benchmarks are programs)."""
import numpy as np
import pytest

from minigrad.commands import bench_ppo
from minigrad.examples import ppo

torch = pytest.importorskip("torch")


def test_the_torch_learner_is_the_same_agent_loss_and_gradients():
    agent = ppo.GaussianAgent(5, 2)
    theirs, rng = bench_ppo.torch_agent(torch, agent), np.random.default_rng(0)
    obs = rng.standard_normal((8, 5)).astype(np.float32)
    actions, log_probs, values = bench_ppo.torch_act(torch, theirs, obs)
    with ppo.mg.no_grad():
        expected = agent.policy(ppo.mg.tensor(obs)).log_prob(ppo.mg.tensor(actions)).numpy()
    np.testing.assert_allclose(log_probs, expected, rtol=1e-5)
    np.testing.assert_allclose(values, ppo.value(agent, obs), rtol=1e-5, atol=1e-6)
    minibatch = (obs, actions, *rng.standard_normal((4, 8)).astype(np.float32))
    clock, settings = bench_ppo.Clock(), {**ppo.Settings, "ent_coef": 0.01}
    clock.start_iteration()
    learner = bench_ppo.Torch(torch, theirs, 3e-4, {}, 10, settings, clock)
    ours, our_record = ppo.ppo_loss(agent, *(ppo.mg.tensor(a) for a in minibatch), 0.2, 0.01, 0.5)
    loss, record = learner._loss(*(torch.from_numpy(a) for a in minibatch))
    np.testing.assert_allclose(loss.item(), ours.item(), rtol=1e-5)
    np.testing.assert_allclose(record, our_record, rtol=1e-5, atol=1e-7)
    ours.backward()
    loss.backward()
    for name, param in agent.named_parameters():
        np.testing.assert_allclose(theirs.get_parameter(name).grad.numpy(), param.grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=name)
    learner.loss(*(torch.from_numpy(a) for a in minibatch))
    assert clock.current["forward"] > 0


def test_a_short_race_trains_both_and_reports_each_phase(capsys):
    pytest.importorskip("mujoco", reason="the rl extra (gymnasium[mujoco]) is not installed")
    settings = dict(num_steps=128, num_minibatches=4, update_epochs=2)
    records = bench_ppo.race("hopper", 256, 0, "fused", **settings)
    for name in ("minigrad", "torch"):
        record = records[name]
        assert len(record["iterations"]) == 2 and record["env_steps"] == 256 and np.isfinite(record["return"])
        for phases in record["iterations"]:
            assert all(phases[p] > 0 for p in bench_ppo.PHASES)
            assert sum(phases[p] for p in bench_ppo.PHASES) < phases["total"]
    from minigrad.examples import hopper  # the minigrad side is minigrad train hopper's run, draw for draw
    assert records["minigrad"]["return"] == hopper.run(epochs=1, iterations_per_epoch=2, **settings)["metric"]
    assert records["settings"] == {**ppo.Settings, **settings}
    lines = bench_ppo.summary(records)
    assert lines[0].startswith("wall time: minigrad") and len(lines) == 3 + 1 + len(bench_ppo.PHASES)
    assert "iteration 2/2" in capsys.readouterr().out
