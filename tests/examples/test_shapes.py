"""The generated scenes of the vision examples: ground truth consistent with the pixels, seeded."""
import numpy as np

from minigrad.examples import shapes


def test_same_seed_same_scenes_other_seed_other_scenes():
    a, b, c = shapes.scenes(5, seed=3), shapes.scenes(5, seed=3), shapes.scenes(5, seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert all((x == y).all() for x, y in zip(a.boxes, b.boxes))
    assert not np.array_equal(a.images, c.images)


def test_every_shape_is_in_its_box_visible_and_apart():
    s = shapes.scenes(200, size=32, seed=0)
    for mask, boxes, labels in zip(s.masks, s.boxes, s.labels):
        assert len(labels) in (1, 2, 3, 4), len(labels)  # the generator's default shapes=(1, 4)
        assert boxes.shape == (len(labels), 4)
        assert set(np.unique(mask)) <= {0, *labels.tolist()}
        for (x0, y0, x1, y1), label in zip(boxes.astype(int), labels):
            assert 0 <= x0 < x1 <= 32 and 0 <= y0 < y1 <= 32
            assert (mask[y0:y1, x0:x1] == label).any()
        iou = shapes.box_iou(boxes[:, None], boxes[None, :])
        assert (iou[~np.eye(len(boxes), dtype=bool)] <= 0.5).all()
    for c in range(1, len(shapes.CLASSES)):  # every class drawn, none everywhere
        assert 0.01 < (s.masks == c).mean() < 0.3


def test_box_iou_closed_forms():
    assert shapes.box_iou([0, 0, 2, 2], [1, 1, 3, 3]) == 1 / 7
    assert shapes.box_iou([0, 0, 2, 2], [0, 0, 2, 2]) == 1.0
    assert shapes.box_iou([0, 0, 1, 1], [1, 1, 2, 2]) == 0.0
    np.testing.assert_allclose(shapes.box_iou(np.zeros((3, 1, 4)) + [0, 0, 4, 4], [[0, 0, 2, 4], [0, 0, 4, 4]]),
                               [[0.5, 1.0]] * 3)
