"""Generated scenes for the vision examples (segment.py, detect.py): a few discs, rectangles and
triangles of random size, colour and place on a textured, noisy background, partly overlapping.

Each scene comes with its ground truth for both tasks: a class per pixel (the shape drawn last is on
top) and, per shape, its class and the box of all its pixels (x0, y0, x1, y1 with x1, y1 one past the
last pixel, as torchvision's boxes). A shape is placed only where it leaves at least half of every
earlier shape visible and its box overlaps no earlier box by more than IoU 0.5, so every shape can be
found. Everything is drawn from one seeded NumPy generator: the same seed gives the same scenes.
"""
from collections import namedtuple

import numpy as np

CLASSES = ("background", "disc", "rectangle", "triangle")

# images: (n, 3, size, size) float32 in about [0, 1]; masks: (n, size, size) int64 class per pixel;
# boxes: n arrays (k, 4) float32; labels: n arrays (k,) int64, classes 1.. of CLASSES
Scenes = namedtuple("Scenes", "images masks boxes labels")


def scenes(n, size=32, seed=0, shapes=(1, 4), radius=(3.5, 9.0), noise=0.06):
    """``n`` scenes of ``size``×``size`` pixels with ``shapes`` = (min, max) shapes each, whose
    radius (half the width of their box, about) is drawn in ``radius``; Gaussian pixel noise of
    standard deviation ``noise`` over everything."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] + 0.5
    images = np.empty((n, 3, size, size), np.float32)
    masks = np.zeros((n, size, size), np.int64)
    boxes, labels = [], []
    for i in range(n):
        image = _background(rng, size, yy, xx)
        owner = np.full((size, size), -1)  # which shape each pixel shows
        drawn, kinds = [], []
        for _ in range(rng.integers(shapes[0], shapes[1] + 1)):
            for _attempt in range(20):
                kind = int(rng.integers(1, len(CLASSES)))
                pixels = _shape(rng, kind, size, radius, yy, xx)
                if pixels.sum() >= 6 and _fits(pixels, owner, drawn):
                    image[:, pixels] = _colour(rng, image, pixels)[:, None]
                    owner[pixels] = len(drawn)
                    drawn.append(pixels)
                    kinds.append(kind)
                    break
        for k, kind in enumerate(kinds):
            masks[i][owner == k] = kind
        images[i] = image + noise * rng.standard_normal(image.shape)
        boxes.append(np.array([_box(p) for p in drawn], np.float32).reshape(-1, 4))
        labels.append(np.array(kinds, np.int64))
    return Scenes(images, masks, boxes, labels)


def _background(rng, size, yy, xx):
    """A random tint, two sine gratings of random direction and period, and smooth blotches."""
    image = rng.uniform(0.2, 0.8, (3, 1, 1)) * np.ones((3, size, size))
    for _ in range(2):
        angle, period = rng.uniform(0, np.pi), rng.uniform(3, 12)
        wave = np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period + rng.uniform(0, 2 * np.pi))
        image += rng.uniform(-0.12, 0.12, (3, 1, 1)) * wave
    coarse = rng.standard_normal((3, size // 8 + 2, size // 8 + 2))
    cells = (np.arange(size) / 8).astype(int)
    image += 0.08 * coarse[:, cells[:, None], cells[None, :]]
    return image


def _shape(rng, kind, size, radius, yy, xx):
    """The pixels (a boolean size×size mask) of a shape of class ``kind`` at a random place."""
    r = rng.uniform(*radius)
    cy, cx = rng.uniform(r * 0.6, size - r * 0.6, 2)
    if kind == 1:  # disc
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    if kind == 2:  # rectangle, axis-aligned, aspect ratio 1:2 to 2:1
        aspect = np.exp(rng.uniform(-np.log(2), np.log(2)))
        h, w = r * np.sqrt(aspect), r / np.sqrt(aspect)
        return (np.abs(yy - cy) <= h) & (np.abs(xx - cx) <= w)
    angles = rng.uniform(0, 2 * np.pi) + np.array([0, 2, 4]) * np.pi / 3 + rng.uniform(-0.3, 0.3, 3)
    vy, vx = cy + r * np.sin(angles), cx + r * np.cos(angles)  # a triangle, about equilateral, any rotation
    side = [(vx[j] - vx[j - 1]) * (yy - vy[j - 1]) - (vy[j] - vy[j - 1]) * (xx - vx[j - 1]) for j in range(3)]
    return np.all(np.array(side) >= 0, axis=0) | np.all(np.array(side) <= 0, axis=0)


def _fits(pixels, owner, drawn):
    """Whether a new shape over ``pixels`` leaves half of each earlier one visible, boxes IoU ≤ 0.5."""
    box = _box(pixels)
    for k, earlier in enumerate(drawn):
        if ((owner == k) & ~pixels).sum() < 0.5 * earlier.sum() or box_iou(box, _box(earlier)) > 0.5:
            return False
    return True


def _colour(rng, image, pixels):
    """A random colour that stands out from what lies under the shape (mean distance ≥ 0.3)."""
    under = image[:, pixels].mean(1)
    while True:
        colour = rng.uniform(0, 1, 3)
        if np.linalg.norm(colour - under) >= 0.3:
            return colour


def _box(pixels):
    """(x0, y0, x1, y1) of a boolean mask's pixels, x1 and y1 one past the last."""
    ys, xs = np.nonzero(pixels)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def box_iou(a, b):
    """Intersection over union of boxes ``a`` (..., 4) and ``b`` (..., 4), broadcast, as (x0, y0, x1, y1)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    area = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    inter = w * h
    return np.where(inter > 0, inter / np.maximum(area - inter, 1e-12), 0.0)
