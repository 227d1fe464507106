"""Smoke tests of the example applications (examples/, installed as minigrad.examples): a few
steps each through ``run``, the command line, and checkpoint/resume."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.examples import char_lstm, char_transformer, common, digits_cnn, digits_mlp, text_classify

EXAMPLES = [(digits_mlp, {}), (digits_cnn, {}), (char_lstm, dict(num_chars=20_000, hidden=32, sample_chars=20)),
            (text_classify, dict(hidden=16)),
            (char_transformer, dict(num_chars=20_000, d_model=16, layers=1, context=16, sample_chars=20))]
IDS = ["digits_mlp", "digits_cnn", "char_lstm", "text_classify", "char_transformer"]


@pytest.mark.parametrize("module, options", EXAMPLES, ids=IDS)
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


def test_char_transformer_learns_below_the_unigram_baseline():
    out = char_transformer.run(lr=1e-2, max_steps=120, epochs=100, num_chars=20_000, d_model=32, layers=1, context=32,
                               batch_size=16, warmup=10, sample_chars=0)
    corpus = mg.data.text_corpus(20_000)
    assert out["metric"] < char_lstm.unigram_bits(corpus.train, len(corpus.vocab)) - 0.5


def test_char_transformer_sees_no_later_character():
    """Changing a window's last character changes no earlier position's logits (the causal mask)."""
    model = char_transformer.CharTransformer(20, context=8, d_model=16, nhead=2, layers=2)
    ids = np.arange(8)[None] % 20
    changed = ids.copy()
    changed[0, -1] = 19
    a, b = model(mg.tensor(ids)).numpy(), model(mg.tensor(changed)).numpy()
    np.testing.assert_allclose(a[0, :-1], b[0, :-1], rtol=1e-5)
    assert not np.allclose(a[0, -1], b[0, -1])


def test_char_transformer_runs_the_steps_asked_its_schedule_ending_there(monkeypatch):
    """``steps`` sets the run's length and its schedule's: the lr reaches 0 at the last of them, however
    many epochs of the text that is (here 2 and part of a third)."""
    options = dict(num_chars=20_000, d_model=16, layers=1, context=16, batch_size=8, warmup=2, sample_chars=0)
    steps_per_epoch = len(mg.data.text_corpus(20_000).train) // (8 * 16)
    assert char_transformer.run(steps=2 * steps_per_epoch + 5, **options)["steps"] == 2 * steps_per_epoch + 5
    lrs, step = [], mg.optim.lr_scheduler.LambdaLR.step

    def recorded_step(schedule):
        step(schedule)
        lrs.append(schedule.optimizer.param_groups[0]["lr"])
    monkeypatch.setattr(mg.optim.lr_scheduler.LambdaLR, "step", recorded_step)
    char_transformer.run(steps=7, **options)
    assert len(lrs) == 1 + 7 and lrs[-1] == 0 and lrs[-2] > 0  # the scheduler's first step is its construction's


def test_char_transformer_resumed_mid_epoch_ends_at_its_steps_as_the_straight_run(tmp_path):
    options = dict(num_chars=20_000, d_model=16, layers=1, context=16, batch_size=8, warmup=2, sample_chars=0)
    steps = len(mg.data.text_corpus(20_000).train) // (8 * 16) + 5  # an epoch and 5 steps
    straight = char_transformer.run(steps=steps, **options)
    char_transformer.run(steps=steps, max_steps=7, save=tmp_path / "lm.safetensors", **options)
    resumed = char_transformer.run(steps=steps, resume=tmp_path / "lm.safetensors", **options)
    assert [(step, loss) for step, _, loss in resumed["history"]] == \
        [(step, loss) for step, _, loss in straight["history"][7:]]
    assert resumed["metric"] == straight["metric"]


def test_warmup_then_cosine():
    factor = char_transformer.warmup_cosine(4, 14)
    np.testing.assert_allclose([factor(t) for t in (0, 3, 4, 9, 14, 20)], [0.25, 1, 1, 0.5, 0, 0], atol=1e-12)


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


@pytest.mark.parametrize("module", [digits_mlp, digits_cnn, char_lstm, text_classify, char_transformer])
def test_help(module, capsys):
    with pytest.raises(SystemExit) as exit:
        module.main(["--help"])
    assert exit.value.code == 0 and "--optimizer" in capsys.readouterr().out


def test_time_backends_leaves_the_model_alone():
    model = mg.nn.Sequential(mg.nn.Linear(4, 3), mg.nn.Linear(3, 2))
    before = [p.numpy().copy() for p in model.parameters()]
    seconds = common.time_backends(model, "adam", 1e-3, rounds=5)
    assert set(seconds) == {"cpp", "numpy"} and all(s > 0 for s in seconds.values())
    assert all((p.numpy() == b).all() and p.grad is None for p, b in zip(model.parameters(), before))


def test_time_backends_steps_with_the_gradients_the_model_holds():
    """SparseAdam refuses dense gradients: its copy must get the embedding's sparse one."""
    model = text_classify.SnippetClassifier(10, 4, 3, sparse=True)
    model(mg.tensor(np.array([[1, 2, 3]]))).sum().backward()
    assert model.embed.weight.grad.is_sparse
    seconds = common.time_backends(model, "sparseadam", 1e-3, rounds=3)
    assert all(s > 0 for s in seconds.values())


@pytest.mark.parametrize("name", [name for name, choice in common.OPTIMIZERS.items() if choice.takes is None])
def test_make_optimizer(name):
    p = mg.nn.Parameter(np.ones(3, np.float32))
    opt = common.make_optimizer(name, [p], 0.1, backend="numpy")
    assert opt.param_groups[0]["lr"] == 0.1
    assert common.OPTIMIZERS[name].closure or opt.backend == "numpy"  # (LBFGS has no kernel, hence no backend)
    assert all(opt.param_groups[0][key] == value for key, value in common.OPTIMIZERS[name].options.items())
    assert opt.param_groups[0].get("nesterov", False) == (name == "nesterov")
    assert opt.param_groups[0].get("train_mode", True)  # Schedule-Free's are ready to train


def test_make_optimizer_options_override_the_entrys():
    p = mg.nn.Parameter(np.ones(3, np.float32))
    opt = common.make_optimizer("momentum", [p], 0.1, momentum=0.5, dampening=0.1)
    assert (opt.param_groups[0]["momentum"], opt.param_groups[0]["dampening"]) == (0.5, 0.1)
    with pytest.raises(TypeError, match="eps"):
        common.make_optimizer("sgd", [p], 0.1, eps=1e-5)


@pytest.mark.parametrize("name, part, rest", [("muon", "Muon", "AdamW"), ("sparseadam", "SparseAdam", "Adam")])
def test_make_optimizer_pairs_an_optimizer_for_part_of_a_model_with_one_for_the_rest(name, part, rest):
    mg.manual_seed(0)  # at some seeds (20, 21) every unit's max over time falls at the first step: no weight_hh grad
    model = text_classify.SnippetClassifier(10, 4, 3, sparse=common.sparse_gradients(name))
    opt = common.make_optimizer(name, model, 0.01, backend="numpy")
    assert [type(o).__name__ for o in opt.optimizers] == [part, rest] and opt.backend == "numpy"
    taken = {id(p) for p in opt.optimizers[0].param_groups[0]["params"]}
    expected = {id(model.embed.weight)} if name == "sparseadam" else \
        {id(p) for p in model.parameters() if p.ndim == 2 and p is not model.embed.weight}
    assert taken == expected
    assert taken | {id(p) for p in opt.optimizers[1].param_groups[0]["params"]} == {id(p) for p in model.parameters()}
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.01]
    before = [p.numpy().copy() for p in model.parameters()]
    opt.zero_grad()
    model(mg.tensor(np.array([[1, 2, 1]]))).sum().backward()
    opt.step()
    moved = [not np.array_equal(p.numpy(), b) for p, b in zip(model.parameters(), before)]
    assert all(moved)
    if name == "sparseadam":  # only the rows the batch used
        changed = np.flatnonzero((model.embed.weight.numpy() != before[0]).any(1))
        assert changed.tolist() == [1, 2]
    with pytest.raises(ValueError, match=f"optimizer '{name}' needs"):
        common.make_optimizer(name, mg.nn.Sequential(mg.nn.Conv2d(1, 2, 3)), 0.01)
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        common.make_optimizer(name, list(model.parameters()), 0.01)


def test_joint_optimizer_state_round_trips_and_refuses_another_shape():
    model = text_classify.SnippetClassifier(10, 4, 3)
    opt = common.make_optimizer("muon", model, 0.01)
    model(mg.tensor(np.array([[1, 2, 1]]))).sum().backward()
    opt.step()
    other = common.make_optimizer("muon", model, 0.01)
    other.load_state_dict(opt.state_dict())
    for a, b in zip(opt.optimizers, other.optimizers):
        assert a.state_dict()["state"].keys() == b.state_dict()["state"].keys()
    with pytest.raises(ValueError, match="the state of 2 optimizers"):
        other.load_state_dict({"optimizers": [opt.state_dict()["optimizers"][0]]})
    fresh = common.make_optimizer("muon", model, 0.01)
    first = opt.state_dict()["optimizers"][0]  # Muon's: the first takes it, the second (AdamW) refuses it
    with pytest.raises(ValueError):
        fresh.load_state_dict({"optimizers": [first, first]})
    assert not fresh.optimizers[0].state and not fresh.optimizers[1].state  # nothing loaded


def test_evaluation_weights_are_schedule_free_average_and_training_resumes_at_y():
    model = mg.nn.Linear(3, 2)
    opt = common.make_optimizer("schedulefree-adamw", model, 0.1)
    for _ in range(3):
        opt.zero_grad()
        model(mg.ones(4, 3)).sum().backward()
        opt.step()
    y = model.weight.numpy().copy()
    with common.evaluation_weights(opt):
        x = model.weight.numpy().copy()
        assert not opt.param_groups[0]["train_mode"]
    np.testing.assert_array_equal(model.weight.numpy(), y)  # exactly: y → x → y would round
    assert opt.param_groups[0]["train_mode"] and not np.allclose(x, y)
    plain = common.make_optimizer("adam", model, 0.1)
    with common.evaluation_weights(plain):
        np.testing.assert_array_equal(model.weight.numpy(), model.weight.numpy())


@pytest.mark.parametrize("name", ["schedulefree-sgd", "muon", "sparseadam"])
def test_new_optimizers_train_and_resume_in_the_examples(name, tmp_path):
    options = dict(num_chars=20_000, hidden=16, sample_chars=0, optimizer=name)
    straight = char_lstm.run(epochs=2, max_steps=None, **options)
    char_lstm.run(epochs=1, save=tmp_path / "run.safetensors", **options)
    resumed = char_lstm.run(epochs=2, resume=tmp_path / "run.safetensors", **options)
    n = len(straight["history"]) // 2
    losses = [loss for _, _, loss in straight["history"]]
    assert all(math.isfinite(loss) for loss in losses) and np.mean(losses[-3:]) < np.mean(losses[:3])
    np.testing.assert_allclose([loss for _, _, loss in resumed["history"]], losses[n:], rtol=1e-5)


def test_sparseadam_is_offered_only_where_embeddings_give_sparse_gradients(capsys):
    assert "sparseadam" in common.task_optimizers(True) and "sparseadam" not in common.task_optimizers()
    with pytest.raises(SystemExit):
        digits_mlp.main(["--optimizer", "sparseadam"])
    assert "invalid choice: 'sparseadam'" in capsys.readouterr().err


def test_tuned_lr_falls_back_to_the_class_default():
    assert common.tuned_lr(digits_mlp.LR, "sgd") == 0.1
    assert common.tuned_lr({}, "adadelta") == common.default_lr("adadelta") == 1.0
    assert common.tuned_lr(digits_mlp.LR, "muon") == digits_mlp.LR["adamw"]  # paired with AdamW at one lr
    assert common.tuned_lr(text_classify.LR, "sparseadam") == text_classify.LR["adam"]
    assert common.tuned_lr({}, "muon") == common.default_lr("muon") == 1e-3
    assert common.default_lr("adam") == 1e-3


def test_hold_out_splits_the_training_items_by_seed():
    kept, held = common.hold_out(10, seed=3)
    assert len(held) == 2 and sorted([*kept, *held]) == list(range(10)) and not set(kept) & set(held)
    assert all((a == b).all() for a, b in zip(common.hold_out(10, seed=3), (kept, held)))
    assert any(not np.array_equal(common.hold_out(100, seed)[1], common.hold_out(100, 3)[1]) for seed in (4, 5))


@pytest.mark.parametrize("module, options", EXAMPLES, ids=IDS)
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


def test_a_schedule_free_run_does_not_depend_on_how_often_it_evaluates():
    pytest.importorskip("sklearn")
    quiet = digits_mlp.run(optimizer="schedulefree-adamw", epochs=2, max_steps=60)
    chatty = digits_mlp.run(optimizer="schedulefree-adamw", epochs=2, max_steps=60, quiet=False)
    assert [loss for _, _, loss in quiet["history"]] == [loss for _, _, loss in chatty["history"]]
