"""Smoke tests of the example applications (examples/, installed as minigrad.examples): a few
steps each through ``run``, the command line, and checkpoint/resume."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.examples import char_lstm, common, digits_cnn, digits_mlp, text_classify

EXAMPLES = [(digits_mlp, {}), (digits_cnn, {}), (char_lstm, dict(num_chars=20_000, hidden=32, sample_chars=20)),
            (text_classify, dict(hidden=16))]


@pytest.mark.parametrize("module, options", EXAMPLES, ids=["digits_mlp", "digits_cnn", "char_lstm", "text_classify"])
def test_run_a_few_steps(module, options):
    if module in (digits_mlp, digits_cnn):
        pytest.importorskip("sklearn")
    out = module.run(optimizer="momentum", backend="numpy", max_steps=3, **options)
    assert [step for step, _, _ in out["history"]] == [1, 2, 3]
    assert all(math.isfinite(loss) and seconds > 0 for _, seconds, loss in out["history"])
    assert out["metric_name"] in ("test_accuracy", "val_bpc") and math.isfinite(out["metric"])
    assert out["optimizer_step_seconds"] > 0 and out["lr"] == module.LR["momentum"]


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_timing_measures_both_backends_in_the_loop_without_touching_training(backend):
    options = dict(backend=backend, max_steps=4, num_chars=20_000, hidden=32, sample_chars=0)
    plain = char_lstm.run(**options)
    timed = char_lstm.run(**options, timing=True)
    assert [loss for _, _, loss in timed["history"]] == [loss for _, _, loss in plain["history"]]
    assert timed["metric"] == plain["metric"]
    assert set(timed["loop_step_seconds"]) == {"cpp", "numpy"} and "loop_step_seconds" not in plain
    assert timed["loop_step_seconds"][backend] == timed["optimizer_step_median_seconds"]
    assert all(seconds > 0 for seconds in timed["loop_step_seconds"].values())


def test_char_lstm_learns_below_the_unigram_baseline():
    out = char_lstm.run(lr=1e-2, max_steps=80, epochs=100, num_chars=20_000, hidden=32, seq_len=32, batch_size=16,
                        sample_chars=0)
    corpus = mg.data.text_corpus(20_000)
    assert out["metric"] < char_lstm.unigram_bits(corpus.train, len(corpus.vocab)) - 0.5


def test_zero_epochs_train_nothing():
    """epochs=0 is zero epochs, not the example's default (the command line refuses it)."""
    out = char_lstm.run(epochs=0, num_chars=20_000, hidden=8, sample_chars=0)
    assert out["steps"] == 0 and out["history"] == [] and math.isfinite(out["metric"])


def test_unigram_bits_is_the_entropy():
    assert char_lstm.unigram_bits(np.array([0, 1, 2, 3]), 4) == pytest.approx(2.0)
    assert char_lstm.unigram_bits(np.array([1, 1, 1]), 4) == 0.0


def test_streams_and_chunks_cover_the_text_in_order():
    rows = char_lstm.streams(np.arange(103), 4)  # 4 streams of 25 characters, the tail dropped
    assert rows.shape == (4, 25) and rows[1, 0] == 25
    pieces = list(char_lstm.chunks(rows, 10))
    assert [x.shape for x, _ in pieces] == [(4, 10), (4, 10), (4, 4)]
    for x, y in pieces:
        np.testing.assert_array_equal(y.numpy(), x.numpy() + 1)  # targets: the next character of the same stream


def test_confusion_matrix_counts_true_by_predicted():
    text = text_classify.confusion_matrix(np.array([0, 0, 1]), np.array([0, 1, 1]), ("a.py", "b.py"))
    assert text.splitlines()[1].split() == ["a", "1", "1"] and text.splitlines()[2].split() == ["b", "0", "1"]


def test_resume_continues_bitwise(tmp_path):
    """1 epoch, checkpoint, then resume to 2 epochs == 2 epochs straight (dropout and shuffling included)."""
    pytest.importorskip("sklearn")
    straight = digits_mlp.run(epochs=2)
    digits_mlp.run(epochs=1, save=tmp_path / "mlp.safetensors")
    resumed = digits_mlp.run(epochs=2, resume=tmp_path / "mlp.safetensors")
    assert [(step, loss) for step, _, loss in resumed["history"]] == \
        [(step, loss) for step, _, loss in straight["history"][len(straight["history"]) // 2:]]
    assert resumed["metric"] == straight["metric"]


def test_command_line_save_resume_and_summary(tmp_path, capsys, monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.setattr(common, "tqdm", None)  # tqdm is optional
    path = str(tmp_path / "cnn.safetensors")
    assert digits_cnn.main(["--epochs", "1", "--max-steps", "2", "--optimizer", "adagrad", "--save", path]) == 0
    first = capsys.readouterr().out
    assert "epoch   1" in first and "test_accuracy:" in first and "adagrad" in first
    assert "optimizer step, median in this loop" in first and "in isolation" in first
    assert digits_cnn.main(["--epochs", "2", "--optimizer", "adagrad", "--resume", path, "--max-steps", "2"]) == 0
    second = capsys.readouterr().out
    assert "epoch   2" in second and "epoch   1" not in second and "2 steps in" in second
    with pytest.raises(SystemExit, match="adagrad"):
        digits_cnn.main(["--epochs", "2", "--optimizer", "adam", "--resume", path])


def test_digits_cnn_ema_leaves_training_alone_and_reports_the_average(capsys, monkeypatch):
    pytest.importorskip("sklearn")
    plain = digits_cnn.run(max_steps=3)
    averaged = digits_cnn.run(max_steps=3, ema=0.5)
    assert [loss for _, _, loss in averaged["history"]] == [loss for _, _, loss in plain["history"]]
    assert averaged["metric"] == plain["metric"] and 0 <= averaged["ema_test_accuracy"] <= 1
    monkeypatch.setattr(common, "tqdm", None)
    assert digits_cnn.main(["--ema", "0.9", "--max-steps", "2", "--quiet"]) == 0
    assert "EMA (decay 0.9) test_accuracy:" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit:
        digits_cnn.main(["--ema", "1.5"])
    assert exit.value.code == 2 and "expected a decay in [0, 1], got '1.5'" in capsys.readouterr().err


@pytest.mark.parametrize("module", [digits_mlp, digits_cnn, char_lstm, text_classify])
def test_help(module, capsys):
    with pytest.raises(SystemExit) as exit:
        module.main(["--help"])
    assert exit.value.code == 0 and "--optimizer" in capsys.readouterr().out


def test_time_backends_leaves_the_parameters_alone():
    params = [mg.nn.Parameter(np.ones((3, 4), np.float32)), mg.nn.Parameter(np.ones(5, np.float32))]
    seconds = common.time_backends(params, "adam", 1e-3, rounds=5)
    assert set(seconds) == {"cpp", "numpy"} and all(s > 0 for s in seconds.values())
    assert all((p.numpy() == 1).all() and p.grad is None for p in params)


@pytest.mark.parametrize("name", common.OPTIMIZERS)
def test_make_optimizer(name):
    p = mg.nn.Parameter(np.ones(3, np.float32))
    opt = common.make_optimizer(name, [p], 0.1, backend="numpy")
    assert opt.param_groups[0]["lr"] == 0.1
    assert common.OPTIMIZERS[name].closure or opt.backend == "numpy"  # (LBFGS has no kernel, hence no backend)
    assert opt.param_groups[0].get("momentum", 0) == (0.9 if name in ("momentum", "nesterov") else 0)
    assert opt.param_groups[0].get("nesterov", False) == (name == "nesterov")


def test_tuned_lr_falls_back_to_the_class_default():
    assert common.tuned_lr(digits_mlp.LR, "sgd") == 0.1
    assert common.tuned_lr({}, "adadelta") == common.default_lr("adadelta") == 1.0
    assert common.default_lr("adam") == 1e-3


def test_hold_out_splits_the_training_items_by_seed():
    kept, held = common.hold_out(10, seed=3)
    assert len(held) == 2 and sorted([*kept, *held]) == list(range(10)) and not set(kept) & set(held)
    assert all((a == b).all() for a, b in zip(common.hold_out(10, seed=3), (kept, held)))
    assert any(not np.array_equal(common.hold_out(100, seed)[1], common.hold_out(100, 3)[1]) for seed in (4, 5))


@pytest.mark.parametrize("module, options", EXAMPLES, ids=["digits_mlp", "digits_cnn", "char_lstm", "text_classify"])
def test_validation_split_scores_on_held_out_training_data(module, options):
    if module in (digits_mlp, digits_cnn):
        pytest.importorskip("sklearn")
    out = module.run(max_steps=2, split="validation", **options)
    assert out["metric_name"].startswith("validation_") and math.isfinite(out["metric"])
    with pytest.raises(ValueError, match="split must be one of"):
        module.run(max_steps=1, split="train", **options)


def test_char_lstm_validation_text_is_the_training_text_end(monkeypatch):
    """The validation run never reads the corpus' held-out end (the test split), and trains on less."""
    scored = []
    monkeypatch.setattr(char_lstm, "bits_per_char", lambda model, rows, seq_len: scored.append(rows) or 3.0)
    options = dict(max_steps=1, num_chars=20_000, hidden=8, sample_chars=0)
    char_lstm.run(split="validation", **options)
    char_lstm.run(split="test", **options)
    corpus = mg.data.text_corpus(20_000)
    n_train = len(corpus.train) - round(0.2 * len(corpus.train))
    np.testing.assert_array_equal(scored[0], char_lstm.streams(corpus.train[n_train:], 32))
    np.testing.assert_array_equal(scored[-1], char_lstm.streams(corpus.val, 32))
