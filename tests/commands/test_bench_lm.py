"""minigrad.commands.bench_lm (minigrad bench lm) runs end to end; its figures are not asserted
(benchmarks are programs, not tests), its bookkeeping is."""
import json

import numpy as np

from minigrad.commands import bench_lm


def test_both_models_run_in_turn_within_the_budget(tmp_path):
    path = tmp_path / "lm.json"
    assert bench_lm.main(["--seconds", "1.5", "--seeds", "0,1", "--num-chars", "20000", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    records = report["records"]
    # the first model of a seed is the second of the next
    assert [(r["seed"], r["model"]) for r in records] == [(0, "char-lstm"), (0, "char-transformer"),
                                                         (1, "char-transformer"), (1, "char-lstm")]
    for r in records:
        assert r["steps"] == max(1, int(1.5 / r["probe_step_seconds"]))
        assert 0 < r["val_bpc"] < 7  # below log2 of the vocabulary's size: bits of a uniform guess
    assert report["lower"] in ("char-lstm", "char-transformer")


def test_step_intervals_leave_out_the_validation_between_epochs():
    """Epochs start at 0 and 2.2 (after a validation from 0.3 on); steps end at 0.1, 0.2, 0.3, 2.3, 2.4."""
    out = {"epoch_starts": [0.0, 2.2],
           "history": [(1, 0.1, 3.0), (2, 0.2, 2.9), (3, 0.3, 2.8), (4, 2.3, 2.7), (5, 2.4, 2.6)]}
    np.testing.assert_allclose(bench_lm.step_intervals(out), [0.1, 0.1, 0.1, 0.1, 0.1])
    assert len(bench_lm.step_intervals({"epoch_starts": [0.0], "history": []})) == 0


def test_verdict_takes_the_median_over_seeds():
    records = [{"model": "a", "val_bpc": v} for v in (2.0, 2.9, 2.1)] + [{"model": "b", "val_bpc": v}
                                                                       for v in (2.2, 2.3, 1.0)]
    assert bench_lm.verdict(records) == ({"a": 2.1, "b": 2.2}, "a")
