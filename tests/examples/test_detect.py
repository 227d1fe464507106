"""The detection example (examples/detect.py): NMS, AP/mAP against hand-worked cases, the target
encoding and decoding, the loss' closed form, a short run against the untrained detector, resume, plot."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.examples import detect, shapes

SMALL = dict(train_scenes=64, test_scenes=16, width=4, batch_size=16)


def boxes(*rows):
    return np.array(rows, np.float32).reshape(-1, 4)


# ---------------------------------------------------------------- NMS

def test_nms_keeps_by_score_and_suppresses_above_the_threshold():
    b = boxes([0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30])  # IoU(0, 1) = 81/119 ≈ 0.68
    s = np.array([0.9, 0.8, 0.95])
    assert detect.nms(b, s, 0.5).tolist() == [2, 0]
    assert detect.nms(b, s, 0.7).tolist() == [2, 0, 1]
    assert detect.nms(b, s, 0.5).dtype == np.int64


def test_nms_iou_equal_to_the_threshold_is_kept_and_suppressed_boxes_suppress_nothing():
    assert detect.nms(boxes([0, 0, 2, 2], [1, 0, 3, 2]), np.array([1.0, 0.5]), 1 / 3).tolist() == [0, 1]
    # A suppresses B (IoU 0.43); B would suppress C (0.43), but C overlaps A little (0.11): kept
    chain = boxes([0, 0, 10, 10], [4, 0, 14, 10], [8, 0, 18, 10])
    assert detect.nms(chain, np.array([0.9, 0.8, 0.7]), 0.4).tolist() == [0, 2]
    assert detect.nms(chain, np.array([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 1, 2]
    assert detect.nms(boxes(), np.zeros(0), 0.5).tolist() == []


def test_batched_nms_suppresses_within_a_class_only():
    b = boxes([0, 0, 10, 10], [1, 1, 11, 11], [1, 0, 11, 10])
    keep = detect.batched_nms(b, np.array([0.9, 0.8, 0.7]), np.array([1, 2, 1]), 0.5)
    assert keep.tolist() == [0, 1]
    assert detect.batched_nms(boxes(), np.zeros(0), np.zeros(0, np.int64), 0.5).tolist() == []


def test_nms_agrees_with_torchvision():
    ops = pytest.importorskip("torchvision.ops")  # first: torch takes seconds to import, torchvision is rare
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for _ in range(20):
        corner = rng.uniform(0, 20, (30, 2))
        b = np.concatenate([corner, corner + rng.uniform(1, 10, (30, 2))], 1).astype(np.float32)
        s = rng.permutation(30).astype(np.float32)  # distinct scores: no tie order to differ on
        expected = ops.nms(torch.tensor(b), torch.tensor(s), 0.3).numpy()
        np.testing.assert_array_equal(detect.nms(b, s, 0.3), expected)


# ---------------------------------------------------------------- AP and mAP

@pytest.mark.parametrize("scores, hits, num_gt, expected", [
    ([0.9, 0.8, 0.7], [1, 1, 1], 3, 1.0),           # perfect
    ([0.9, 0.8, 0.7], [0, 1, 1], 2, 2 / 3),         # a false positive ranked first: p = 0, 1/2, 2/3
    ([0.9, 0.8, 0.7], [1, 0, 1], 2, 0.5 + 0.5 * 2 / 3),  # one in the middle: the envelope lifts p=1/2 to 2/3
    ([0.9, 0.8], [1, 1], 3, 2 / 3),                  # a missed object: recall stops at 2/3
    ([0.9, 0.8, 0.7], [1, 1, 0], 2, 1.0),           # a false positive after all the objects costs nothing
    ([0.7, 0.9, 0.8], [1, 1, 0], 2, 0.5 + 0.5 * 2 / 3),  # ranked by score, not by position
    ([], [], 2, 0.0),                                # nothing detected
])
def test_average_precision_closed_forms(scores, hits, num_gt, expected):
    ap = detect.average_precision(np.array(scores), np.array(hits, bool), num_gt)
    assert ap == pytest.approx(expected, abs=1e-12)


def test_match_takes_the_unmatched_ground_truth_of_highest_iou():
    gt = boxes([0, 0, 10, 10], [4, 0, 14, 10])
    found = boxes([4, 0, 14, 10], [3, 0, 13, 10])  # the second: IoU 0.818 with gt 1 (taken), 0.538 with gt 0
    assert detect.match(found, np.array([0.9, 0.8]), gt, 0.5).tolist() == [True, True]
    assert detect.match(found, np.array([0.9, 0.8]), gt, 0.6).tolist() == [True, False]
    assert detect.match(found, np.array([0.8, 0.9]), gt, 0.5).tolist() == [False, True]  # by score: 2nd takes gt 1
    assert detect.match(found, np.array([0.9, 0.8]), boxes(), 0.5).tolist() == [False, False]


def test_mean_ap_of_hand_worked_scenes():
    gt_boxes = [boxes([0, 0, 10, 10], [20, 20, 30, 30]), boxes([5, 5, 15, 15])]
    gt_labels = [np.array([1, 2]), np.array([1])]
    perfect = [(b, np.array([0.9, 0.8][:len(b)]), lab) for b, lab in zip(gt_boxes, gt_labels)]
    np.testing.assert_array_equal(detect.average_precisions(perfect, gt_boxes, gt_labels),
                                  np.array([[1, 1, np.nan]] * 10))
    # class 1: a duplicate of the first disc (0.8) ranked above the second disc (0.7): p = 1, 1/2, 2/3
    # class 2: the box shifted by 1 pixel, IoU 90/110 = 0.818: a hit at thresholds 0.5 … 0.8 only
    found = [(boxes([0, 0, 10, 10], [1, 0, 11, 10], [21, 20, 31, 30]), np.array([0.9, 0.8, 0.6]), np.array([1, 1, 2])),
             (boxes([5, 5, 15, 15]), np.array([0.7]), np.array([1]))]
    ap = detect.average_precisions(found, gt_boxes, gt_labels)
    np.testing.assert_allclose(ap[:, 0], 5 / 6, atol=1e-12)
    np.testing.assert_array_equal(ap[:, 1], [1] * 7 + [0] * 3)
    assert np.isnan(ap[:, 2]).all()
    # at 0.5 the duplicate (IoU 0.818 with the first disc, matched) is a false positive, not a match of the other
    assert detect.average_precisions(found, gt_boxes, gt_labels, thresholds=[0.5])[0, 0] == pytest.approx(5 / 6)


# ---------------------------------------------------------------- targets

def test_encode_one_box_by_hand():
    heat, box, mask = detect.encode(boxes([3, 5, 10, 9]), np.array([3]), 16)
    # centre (6.5, 7) px = (3.25, 3.5) cells: cell (row 3, column 3), offset (0.25, 0.5); size (7, 4) px = (3.5, 2)
    np.testing.assert_array_equal(box[:, 3, 3], [3.5, 2, 0.25, 0.5])
    assert mask.sum() == 1 and mask[3, 3] == 1 and heat[2, 3, 3] == 1 and (heat == 1).sum() == 1
    assert heat[:2].max() == 0 and 0 < heat[2, 3, 4] < 1 and heat[2, 3, 4] > heat[2, 4, 3]  # wider along x


def test_encoding_then_decoding_recovers_the_ground_truth():
    scenes = shapes.scenes(100, seed=5)
    checked = 0
    for b, labels in zip(scenes.boxes, scenes.labels):
        heat, box, mask = detect.encode(b, labels, 16)
        cells = np.floor((b[:, :2] + b[:, 2:]) / 4).astype(int)
        if len(np.unique(cells, axis=0)) < len(b):  # two centres in one cell: one box per cell (CenterNet's limit)
            continue
        assert mask.sum() == len(b) and (heat == 1).sum() == len(b)
        (found, scores, found_labels), = detect.decode(heat[None], box[None], min_score=0.5)
        order = np.lexsort(found.T[::-1])
        expected = np.lexsort(b.T[::-1])
        np.testing.assert_allclose(found[order], b[expected], atol=1e-5)
        np.testing.assert_array_equal(found_labels[order], labels[expected])
        assert (scores == 1).all()
        checked += 1
    assert checked >= 95


def test_decode_keeps_3x3_local_maxima_per_class_and_the_top_k():
    heat = np.zeros((1, 3, 8, 8), np.float32)
    heat[0, 0, 2, 2], heat[0, 0, 2, 3], heat[0, 0, 3, 3] = 0.9, 0.8, 0.7  # one peak: its neighbours are not
    heat[0, 0, 6, 6] = 0.6  # two cells away from the others: a peak of its own
    heat[0, 1, 2, 3] = 0.5  # another class at a cell of the first: a peak (pooled per class)
    box = np.zeros((1, 4, 8, 8), np.float32)
    box[0, :, 2, 2] = [2, 4, 0.5, 0.25]  # w, h in cells, then the offset
    (found, scores, labels), = detect.decode(heat, box, k=20, stride=2)
    np.testing.assert_allclose(scores, [0.9, 0.6, 0.5])
    assert labels.tolist() == [1, 1, 2]
    np.testing.assert_array_equal(found[0], [3, 0.5, 7, 8.5])  # centre (2.5, 2.25) cells = (5, 4.5) px, size (4, 8)
    assert detect.decode(heat, box, k=2, stride=2)[0][1].tolist() == pytest.approx([0.9, 0.6])
    assert detect.decode(heat, box, min_score=0.55, stride=2)[0][2].tolist() == [1, 1]


def test_flip_mirrors_images_and_boxes():
    """A box drawn as a block of ones still holds the block once image and box are flipped."""
    images = np.zeros((2, 3, 32, 32), np.float32)
    images[:, :, 3:9, 2:7] = 1
    b = [boxes([2, 3, 7, 9]), boxes([2, 3, 7, 9], [0, 0, 1, 1])]
    flipped_images, flipped = detect.flip(images, b, np.array([True, False]))
    ys, xs = np.nonzero(flipped_images[0, 0])
    np.testing.assert_array_equal(flipped[0], [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]])
    np.testing.assert_array_equal(flipped_images[1], images[1])
    np.testing.assert_array_equal(flipped[1], b[1])
    np.testing.assert_array_equal(b[0], [[2, 3, 7, 9]])  # the inputs are left as they were
    assert images[0, 0, 3, 2] == 1


def test_loss_closed_form():
    """One class, 1×2 cells: a centre (y = 1) and a cell of y = 0.5; boxes on the centre only."""
    logits = np.array([[[[0.3, -1.2]]]])
    heat, box, mask = np.array([[[[1.0, 0.5]]]]), np.zeros((1, 4, 1, 2)), np.array([[[1.0, 0.0]]])
    pred = np.full((1, 4, 1, 2), 2.0)
    p = 1 / (1 + np.exp(-logits[0, 0, 0]))
    focal = (1 - p[0]) ** 2 * np.log(p[0]) + 0.5 ** 4 * p[1] ** 2 * np.log(1 - p[1])
    expected = -focal + 2 * (0.1 + 0.1 + 1 + 1)
    loss = detect.detection_loss(mg.tensor(logits), mg.tensor(pred), heat, box, mask)
    assert loss.item() == pytest.approx(expected, rel=1e-7)  # the weights are float32 constants


# ---------------------------------------------------------------- runs

def test_a_short_run_beats_the_untrained_detector():
    """100 steps of a narrow detector: from no detection right (mAP ≈ 0) to about 0.15, the loss down by 60%."""
    options = dict(train_scenes=1600, test_scenes=100, width=8, batch_size=16, optimizer="adam", lr=1e-2)
    untrained = detect.run(epochs=0, **options)
    trained = detect.run(epochs=1, **options)
    assert untrained["metric_name"] == "test_map50" and untrained["metric"] < 0.02
    assert trained["steps"] == 100 and trained["metric"] > untrained["metric"] + 0.08
    assert np.mean([loss for _, _, loss in trained["history"][-10:]]) < 0.5 * trained["history"][0][2]


def test_validation_split_is_scored_on_training_scenes():
    out = detect.run(max_steps=1, split="validation", **SMALL)
    assert out["metric_name"] == "validation_map50" and math.isfinite(out["metric"])


def test_fewer_training_scenes_than_a_batch_is_refused():
    """Otherwise an epoch would hold no step and the run would score an untrained detector."""
    with pytest.raises(ValueError, match="10 training scenes do not fill one batch of 16"):
        detect.run(**{**SMALL, "train_scenes": 10})


def test_resume_continues_exactly(tmp_path, capsys):
    """Two epochs straight, or one (stopped by --max-steps) then the second from the checkpoint: the same weights."""
    options = ["--train-scenes", "64", "--test-scenes", "16", "--width", "4", "--batch-size", "16", "--epochs", "2",
               "--quiet"]
    straight, interrupted = str(tmp_path / "straight.safetensors"), str(tmp_path / "interrupted.safetensors")
    assert detect.main(options + ["--save", straight]) == 0
    detect.main(options + ["--max-steps", "4", "--save", interrupted])
    detect.main(options + ["--resume", interrupted, "--save", interrupted])
    assert "test_map50" in capsys.readouterr().out
    a, b = mg.load(straight), mg.load(interrupted)
    assert a["epoch"] == b["epoch"] == 2 and a["step"] == b["step"] == 8
    for name in a["model"]:
        np.testing.assert_array_equal(a["model"][name], b["model"][name])


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "detect.png"
    out = detect.run(max_steps=1, plot=str(path), **SMALL)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"plot: {path}" in out["report"]
