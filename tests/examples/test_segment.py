"""The segmentation example (examples/segment.py): its IoU against hand-worked confusion matrices, the
U-Net's shapes and gradients, a short run against the untrained model, checkpoints and the plot."""
import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad.examples import segment

TINY = dict(train_scenes=64, size=16, width=4, batch_size=16)  # 4 steps an epoch


def test_confusion_matrix_counts_true_by_predicted():
    target = np.array([[0, 0], [1, 2]])
    predicted = np.array([[0, 1], [1, 1]])
    np.testing.assert_array_equal(segment.confusion_matrix(target, predicted, 4),
                                  [[1, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    assert segment.confusion_matrix(np.zeros((2, 3, 3), int), np.zeros((2, 3, 3), int), 2).tolist() == [[18, 0], [0, 0]]


def test_iou_closed_forms():
    # class 0: TP 1, FN 1 → 1/2; class 1: TP 1, FP 2 → 1/3; class 2: FN 1 → 0; class 3: absent → NaN
    per_class = segment.iou([[1, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(per_class[:3], [1 / 2, 1 / 3, 0])
    assert math.isnan(per_class[3]) and np.nanmean(per_class) == pytest.approx((1 / 2 + 1 / 3) / 3)
    np.testing.assert_array_equal(segment.iou(np.diag([5, 2, 7])), [1, 1, 1])
    # a 4×4 square predicted one column to the right: 12 of 20 square pixels, 44 of 52 background ones
    target, predicted = np.zeros((8, 8), int), np.zeros((8, 8), int)
    target[2:6, 2:6], predicted[2:6, 3:7] = 1, 1
    np.testing.assert_allclose(segment.iou(segment.confusion_matrix(target, predicted, 2)), [44 / 52, 12 / 20])


@pytest.mark.parametrize("levels", [2, 3])
def test_unet_shapes_and_every_parameter_gets_a_gradient(levels):
    mg.manual_seed(0)
    model = segment.UNet(3, 4, width=4, levels=levels)
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32))
    out = model(x)
    assert out.shape == (2, 4, 16, 16)
    F.cross_entropy(out, mg.tensor(np.random.default_rng(1).integers(0, 4, (2, 16, 16)))).backward()
    names = [name for name, p in model.named_parameters() if p.grad is None or not np.abs(p.grad.numpy()).sum() > 0]
    assert names == []
    assert len(model.up) == len(model.merge) == levels - 1


def test_size_must_fit_the_pooling():
    with pytest.raises(ValueError, match="divisible by 2"):
        segment.run(size=18, levels=3, epochs=0)


def test_a_short_run_beats_the_untrained_model_clearly():
    options = dict(train_scenes=256, size=16, width=8, batch_size=16, epochs=3)
    untrained = segment.run(**{**options, "epochs": 0})
    trained = segment.run(**options)
    assert trained["steps"] == 48 and trained["metric_name"] == "mean_iou"
    assert trained["metric"] > untrained["metric"] + 0.12, (trained["metric"], untrained["metric"])


def test_resume_continues_bitwise(tmp_path):
    """1 epoch (stopped by max_steps: the same lr schedule), checkpoint, then the second epoch from the
    checkpoint == 2 epochs straight (shuffling and batch norm included)."""
    straight = segment.run(epochs=2, **TINY)
    segment.run(epochs=2, max_steps=4, save=tmp_path / "unet.safetensors", **TINY)
    resumed = segment.run(epochs=2, resume=tmp_path / "unet.safetensors", **TINY)
    assert [(step, loss) for step, _, loss in resumed["history"]] == \
        [(step, loss) for step, _, loss in straight["history"][4:]]
    assert resumed["metric"] == straight["metric"]


def test_validation_scores_held_out_training_scenes():
    out = segment.run(epochs=1, split="validation", **TINY)
    assert out["steps"] == 4 and "IoU on 13 held-out scenes" in out["report"]  # 51 kept, 13 held out


def test_command_line_writes_the_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "segment.png"
    assert segment.main(["--epochs", "1", "--max-steps", "2", "--train-scenes", "64", "--size", "16", "--width", "4",
                         "--quiet", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "mean_iou:" in out and "triangle" in out and f"plot: {path}" in out
