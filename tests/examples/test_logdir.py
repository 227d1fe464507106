"""``minigrad train TASK --logdir``: every example writes its steps and epochs to a TensorBoard run,
read back here through TensorBoard's own EventAccumulator, and logging changes nothing it trains."""
import math
import os

import numpy as np
import pytest

import minigrad.cli
from minigrad.examples import arguments, load

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
pytest.importorskip("matplotlib", reason="the tensorboard extra (matplotlib, for figures) is not installed")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

# task: (run() options for a short run, its per-epoch metrics, the picture it logs each epoch: None, "text", "image")
TASKS = {
    "digits-mlp": (dict(epochs=2), {"train/accuracy", "test/accuracy"}, None),
    "digits-cnn": (dict(max_steps=3), {"train/accuracy", "test/accuracy"}, None),
    "char-lstm": (dict(epochs=2, num_chars=20_000, hidden=16, sample_chars=0),
                  {"train/bits_per_char", "test/bits_per_char"}, "text"),
    "char-transformer": (dict(max_steps=3, num_chars=20_000, d_model=16, layers=1, context=16,
                              sample_chars=0), {"train/bits_per_char", "test/bits_per_char"}, "text"),
    "text-classify": (dict(max_steps=3, hidden=16), {"test/accuracy"}, None),
    "cartpole": (dict(max_steps=2, eval_episodes=2), {"train/mean_return"}, None),
    "arm": (dict(max_steps=2), {"train/reach_error", "test/reach_error"}, "image"),
    "translate": (dict(max_steps=2, epochs=1, num_train=640, num_test=20, d_model=16, dim_feedforward=32),
                  {"test/greedy_exact_match"}, "image"),
    "segment": (dict(epochs=1, train_scenes=64, size=16, width=4, batch_size=16), {"test/mean_iou"}, "image"),
    "detect": (dict(max_steps=1, train_scenes=64, test_scenes=16, width=4, batch_size=16), {"test/map50"}, "image"),
}
NEEDS = {"digits-mlp": "sklearn", "digits-cnn": "sklearn", "text-classify": "sklearn", "cartpole": "gymnasium"}
PER_STEP = {"train/loss", "train/lr", "train/grad_norm", "opt_step_us/cpp", "opt_step_us/numpy"}


def read(log_dir):
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0})
    events.Reload()
    return events


def values(events, tag):
    return [(s.step, s.value) for s in events.Scalars(tag)]


@pytest.mark.parametrize("task", TASKS)
def test_each_task_logs_its_steps_and_epochs(task, tmp_path):
    if task in NEEDS:
        pytest.importorskip(NEEDS[task])
    options, metrics, picture = TASKS[task]
    out = load(task).run(logdir=str(tmp_path), timing=True, **options)
    events = read(tmp_path)
    tags = events.Tags()
    assert set(tags["scalars"]) == PER_STEP | {"epoch"} | metrics
    steps = list(range(1, out["steps"] + 1))
    assert values(events, "train/loss") == [(step, np.float32(loss)) for step, _, loss in out["history"]]
    assert [step for step, _, _ in out["history"]] == steps
    assert [step for step, _ in values(events, "train/lr")] == steps
    assert all(0 < lr <= np.float32(out["lr"]) for _, lr in values(events, "train/lr"))  # the step's (schedules)
    assert all(math.isfinite(norm) and norm > 0 for _, norm in values(events, "train/grad_norm"))
    measured = [np.float32(1e6 * seconds) for seconds in out["optimizer_step_durations"]]
    assert [value for _, value in values(events, "opt_step_us/cpp")] == measured
    assert [step for step, _ in values(events, "opt_step_us/numpy")] == steps  # the twin's, in the same loop
    epoch_steps = [step for step, _ in values(events, "epoch")]
    assert epoch_steps[-1] == steps[-1]
    for tag in metrics:
        assert [step for step, _ in values(events, tag)] == epoch_steps
    histograms = tags["histograms"]
    parameters = {tag for tag in histograms if tag.startswith("parameters/")}
    assert len(parameters) == len(out["parameter_shapes"])
    gradients = {tag.replace("gradients/", "parameters/") for tag in histograms if tag.startswith("gradients/")}
    assert gradients == parameters and len(histograms) == 2 * len(parameters)  # and their gradients
    assert all([h.step for h in events.Histograms(tag)] == epoch_steps for tag in histograms)
    if picture == "text":
        assert events.Tensors("picture/text_summary")[-1].tensor_proto.string_val[0].startswith(b"```\ndef ")
    elif picture == "image":
        image = events.Images("picture")[-1]
        assert image.step == epoch_steps[-1] and image.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert not tags["images"] and not tags["tensors"]


@pytest.mark.parametrize("task, options", [
    ("digits-cnn", dict(epochs=2)),  # dropout draws from minigrad's generator
    ("char-lstm", dict(epochs=2, num_chars=20_000, hidden=16, sample_chars=10))])  # so does the text it samples
def test_a_logged_run_trains_the_same_model_as_one_not_logged(task, options, tmp_path):
    pytest.importorskip("sklearn")
    plain = load(task).run(**options)
    logged = load(task).run(logdir=str(tmp_path), **options)
    assert [loss for _, _, loss in logged["history"]] == [loss for _, _, loss in plain["history"]]
    assert logged["metric"] == plain["metric"]


def test_the_command_writes_a_new_run_under_logdir_and_names_it(tmp_path, capsys):
    pytest.importorskip("sklearn")
    assert minigrad.cli.main(["train", "digits-mlp", "--logdir", str(tmp_path), "--max-steps", "3", "--quiet"]) == 0
    (run,) = os.listdir(tmp_path)
    assert run.startswith("digits-mlp_adam_cpp_seed0_")
    assert f"TensorBoard run: {tmp_path / run}" in capsys.readouterr().out
    assert len(read(tmp_path / run).Scalars("train/loss")) == 3


def test_without_the_extra_the_command_names_it_and_trains_nothing(tmp_path, capsys, monkeypatch):
    real = arguments._imports
    monkeypatch.setattr(arguments, "_imports", lambda module: module != "tensorboard" and real(module))
    with pytest.raises(SystemExit) as exit:
        minigrad.cli.main(["train", "digits-mlp", "--logdir", str(tmp_path / "runs"), "--max-steps", "3"])
    assert exit.value.code == ('minigrad train digits-mlp --logdir: needs tensorboard; install it with: '
                               'pip install "minigrad[tensorboard]"')
    assert not (tmp_path / "runs").exists() and capsys.readouterr().out == ""


def test_the_step_logs_the_norm_it_is_given_and_logging_stays_off_the_clock(tmp_path):
    import time

    import minigrad as mg
    from minigrad.examples import common
    param = mg.nn.Parameter(mg.tensor([3.0, 4.0]))
    opt = mg.optim.SGD([param], lr=0.1)
    log = common.RunLog(logdir=str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()  # opened at the first step
    param.grad = mg.tensor([0.6, 0.8])
    log.step(opt, 2.0, grad_norm=7.5)  # what clip_grad_norm_ returned, before it clipped
    with log.paused():
        time.sleep(0.2)
    param.grad = mg.tensor([3.0, 4.0])
    log.step(opt, 1.0)  # computed from the grads
    log.close()
    assert [value for _, value in values(read(tmp_path / "run"), "train/grad_norm")] == [7.5, 5.0]
    assert log.history[-1][1] < 0.2  # the pause is not in the run's time
