"""minigrad.commands.bench_train (minigrad bench train) runs end to end (figures are not asserted:
benchmarks are programs, not tests)."""
import json

import numpy as np

from minigrad.commands import bench_train


def test_models_train_and_report(tmp_path):
    path = tmp_path / "bench.json"
    assert bench_train.main(["--quick", "--repeats", "1", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert [r["model"] for r in report["records"]] == ["mlp", "cnn"]
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
