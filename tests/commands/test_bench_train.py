"""minigrad.commands.bench_train (minigrad bench train) runs end to end (figures are not asserted:
benchmarks are programs, not tests)."""
import json

import numpy as np
import pytest

from minigrad.commands import bench_train


def test_models_train_and_report(tmp_path):
    path = tmp_path / "bench.json"
    assert bench_train.main(["--quick", "--repeats", "1", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert [r["model"] for r in report["records"]] == ["mlp", "cnn", "transformer"]
    for record in report["records"]:
        assert record["us_per_step"]["minigrad"] > 0
        losses = record["first_losses"]["minigrad"]
        assert losses[-1] < losses[0]  # Adam steps reduce the loss on a fixed batch


def test_the_same_forward_serves_both_frameworks():
    rng = np.random.default_rng(0)
    params = bench_train.init_params("cnn", rng)
    x, _ = bench_train.batch("cnn", rng)
    step = bench_train.minigrad_step("cnn", params, x, np.zeros(32, np.int64))
    assert np.isfinite(step().item())


def test_the_transformer_is_the_same_model_in_both_frameworks():
    """minigrad's and torch's char-transformer steps give the same first losses (check_same_losses raises if not)."""
    torch = pytest.importorskip("torch")
    x, y = bench_train.batch("transformer", np.random.default_rng(0))
    losses = bench_train.check_same_losses(bench_train.transformer_steps(torch, x, y))
    np.testing.assert_allclose(losses["minigrad"], losses["torch"], rtol=1e-4)
    assert losses["minigrad"][-1] < losses["minigrad"][0]


def test_the_policy_inference_is_the_same_agent_in_both_frameworks(tmp_path):
    """PPO's batch-1 rollout inference: the critic's value agrees (check_same_losses raises if not)."""
    torch = pytest.importorskip("torch")
    values = bench_train.check_same_losses(bench_train.policy_steps(torch))
    np.testing.assert_allclose(values["minigrad"], values["torch"], rtol=1e-5)
    path = tmp_path / "policy.json"
    assert bench_train.main(["--quick", "--repeats", "1", "--models", "policy", "--json", str(path)]) == 0
    (record,) = json.loads(path.read_text())["records"]
    assert record["model"] == "policy" and record["us_per_step"]["minigrad"] > 0
