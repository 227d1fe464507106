"""Object detection on generated scenes (shapes.py: discs, rectangles and triangles of random size and
colour, partly overlapping, on textured noisy backgrounds) with a small single-stage detector in the
CenterNet style (Zhou et al. 2019, "Objects as Points") and class-wise non-maximum suppression.

    python examples/detect.py [--optimizer adam] [--epochs 5] [--plot detect.png]
    minigrad train detect [options]

The network maps a 3×32×32 image to 16×16 cells (output stride 2): a conv backbone (BatchNorm, ReLU)
to 16×16 and on to 8×8, a transposed convolution back up to 16×16 joined to the 16×16 features (a
skip), and two heads: a centre heatmap per class, and per cell a box's size (w, h) and its centre's
offset in the cell. A centre heatmap rather than an anchor grid: the shapes are all of one scale range
(4 to 24 pixels), so one output scale serves, and each object has exactly one positive cell, with no
anchor sizes to choose nor IoU assignment rule. Targets of a box (x0, y0, x1, y1), in cells: its
centre c = ((x0 + x1)/2, (y0 + y1)/2)/stride lies in cell ⌊c⌋, where its class's heatmap gets a
Gaussian exp(−Δx²/2σx² − Δy²/2σy²), σ = (w, h)/6 (TTFNet's with α = 1; the maximum over boxes of a
class); the heatmap's sigmoid p is trained with the penalty-reduced focal loss over its N centres

    L_heat = −1/N Σ (1 − p)² log p  at the centres (y = 1),  −1/N Σ (1 − y)⁴ p² log(1 − p)  elsewhere

and the size (w, h)/stride and offset c − ⌊c⌋ with L1 at the centre cells: L = L_heat + 0.1·L_size + L_offset.
Decoding: the heatmaps' 3×3 local maxima (equal to their 3×3 max-pool), the top 20 per image, each a
box centred at (cell + offset)·stride of the predicted size; then class-wise greedy NMS at IoU 0.5.

The metric is mAP@0.5 on held-out scenes of another seed: per class, the area under the all-point
interpolated precision-recall curve (VOC 2010+ and COCO's interpolation, integrated exactly rather than
at COCO's 101 recall points), detections matched per image by descending score to the unmatched ground
truth of highest IoU ≥ the threshold (COCO's rule); mAP@0.5:0.95 averages COCO's 10 thresholds too.
"""
import math

import numpy as np

import minigrad as mg
import minigrad.functional as F
import minigrad.nn as nn
from minigrad.examples import common, shapes
from minigrad.examples.arguments import integer

LR = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.01, "adadelta": 1.0, "rmsprop": 1e-3,
      "adam": 3e-3, "adamw": 3e-3}
EPOCHS = 5
NEEDS = ()  # the optional modules it needs (--plot: matplotlib, checked by common.main)
STRIDE = 2  # image pixels per output cell
NUM_CLASSES = len(shapes.CLASSES) - 1  # the background has no heatmap
LOSS_WEIGHTS = np.array([0.1, 0.1, 1.0, 1.0], np.float32)  # of the L1 losses on w, h, x and y offsets (CenterNet's)
THRESHOLDS = np.linspace(0.5, 0.95, 10)  # COCO's IoU thresholds


def conv_block(cin, cout, stride=1):
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def head(width, out):
    return nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, out, 1))


class CenterNet(nn.Module):
    """Image (n, 3, H, W) → centre heatmap logits (n, classes, H/2, W/2) and boxes (n, 4, H/2, W/2):
    w, h in cells, then the centre's x, y offset in its cell."""

    def __init__(self, width=16, num_classes=NUM_CLASSES):
        super().__init__()
        w = width
        self.high = nn.Sequential(*conv_block(3, w), *conv_block(w, 2 * w, 2), *conv_block(2 * w, 2 * w))
        self.low = nn.Sequential(*conv_block(2 * w, 4 * w, 2), *conv_block(4 * w, 4 * w), *conv_block(4 * w, 4 * w))
        self.up = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.fuse = nn.Sequential(*conv_block(4 * w, 2 * w))
        self.heat, self.box = head(2 * w, num_classes), head(2 * w, 4)
        nn.init.constant_(self.heat[-1].bias, -math.log(99.0))  # a prior of 0.01 on every cell (focal loss's)

    def forward(self, images):
        high = self.high(images)
        features = self.fuse(mg.cat([high, self.up(self.low(high))], 1))
        return self.heat(features), self.box(features)


def encode(boxes, labels, cells, stride=STRIDE, num_classes=NUM_CLASSES):
    """One image's training targets on a cells×cells grid from its boxes (k, 4) and labels (k,): the
    heatmaps (classes, cells, cells), the boxes (4, cells, cells) at the centre cells (w, h in cells,
    then the centre's offset in its cell) and the mask of the centre cells (cells, cells)."""
    heat = np.zeros((num_classes, cells, cells), np.float32)
    box = np.zeros((4, cells, cells), np.float32)
    mask = np.zeros((cells, cells), np.float32)
    grid = np.arange(cells)
    for (x0, y0, x1, y1), label in zip(boxes, labels):
        centre, size = np.array([x0 + x1, y0 + y1]) / (2 * stride), np.array([x1 - x0, y1 - y0]) / stride
        col, row = np.floor(centre).astype(int)
        sx, sy = size / 6
        gaussian = np.exp(-(grid[None, :] - col) ** 2 / (2 * sx * sx) - (grid[:, None] - row) ** 2 / (2 * sy * sy))
        heat[label - 1] = np.maximum(heat[label - 1], gaussian)
        box[:, row, col] = *size, *(centre - (col, row))
        mask[row, col] = 1
    return heat, box, mask


def decode(heat, box, k=20, stride=STRIDE, min_score=0.01):
    """Detections from heatmap probabilities (n, classes, H, W) and boxes (n, 4, H, W): per image
    (boxes (m, 4) as (x0, y0, x1, y1) pixels, scores (m,), labels (m,) from 1) of its top ``k`` 3×3
    local maxima scoring at least ``min_score``, by descending score."""
    pooled = F.max_pool2d(mg.tensor(heat), 3, stride=1, padding=1).numpy()
    peaks = np.where(heat == pooled, heat, 0).reshape(len(heat), -1)
    cells = heat.shape[2] * heat.shape[3]
    out = []
    for image_peaks, image_box in zip(peaks, box):
        top = np.argsort(-image_peaks, kind="stable")[:k]
        top = top[image_peaks[top] >= min_score]
        label, (row, col) = top // cells, np.divmod(top % cells, heat.shape[3])
        w, h, dx, dy = image_box[:, row, col] * stride
        cx, cy = col * stride + dx, row * stride + dy
        out.append((np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).astype(np.float32),
                    image_peaks[top], label + 1))
    return out


def nms(boxes, scores, iou_threshold):
    """Greedy non-maximum suppression, as torchvision.ops.nms: visiting the boxes (m, 4) by descending
    score, keep each one not yet suppressed and suppress every later box of IoU > ``iou_threshold``
    with it. Returns the kept indices (int64) by descending score."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep = []
    while order.size:
        keep.append(order[0])
        order = order[1:][shapes.box_iou(boxes[order[0]], boxes[order[1:]]) <= iou_threshold]
    return np.array(keep, np.int64)


def batched_nms(boxes, scores, labels, iou_threshold):
    """``nms`` within each class (as torchvision.ops.batched_nms): the kept indices by descending score."""
    keep = [np.flatnonzero(labels == c)[nms(boxes[labels == c], scores[labels == c], iou_threshold)]
            for c in np.unique(labels)]
    keep = np.concatenate(keep) if keep else np.zeros(0, np.int64)
    return keep[np.argsort(-scores[keep], kind="stable")]


def average_precision(scores, hits, num_gt):
    """Area under the all-point interpolated precision-recall curve: with the detections by descending
    score, precision p_k and recall r_k after the first k, the envelope p̂(r) = max{p_j : r_j ≥ r}, and
    AP = Σ_k (r_k − r_{k−1}) p̂(r_k) (VOC 2010+). ``hits``: which detections are true positives."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    tp = np.cumsum(np.asarray(hits, bool)[order])
    recall, precision = tp / num_gt, tp / np.arange(1, len(tp) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * envelope))


def match(boxes, scores, gt_boxes, iou_threshold):
    """Which of an image's detections (boxes (m, 4), scores (m,)) are true positives: by descending score
    each takes the unmatched ground-truth box of highest IoU, if that IoU is ≥ ``iou_threshold``."""
    hits = np.zeros(len(boxes), bool)
    iou = shapes.box_iou(np.asarray(boxes)[:, None], np.asarray(gt_boxes)[None])
    free = np.ones(len(gt_boxes), bool)
    for d in np.argsort(-np.asarray(scores), kind="stable"):
        if free.any():
            best = np.where(free, iou[d], -1.0).argmax()
            if iou[d, best] >= iou_threshold:
                hits[d], free[best] = True, False
    return hits


def average_precisions(detections, gt_boxes, gt_labels, thresholds=THRESHOLDS, num_classes=NUM_CLASSES):
    """AP per IoU threshold and class, (len(thresholds), num_classes), of ``detections`` (per image: boxes,
    scores, labels from 1) against the ground truth (per image: boxes (k, 4), labels (k,)); NaN for a
    class without ground truth. Detections of all images are ranked together by score."""
    ap = np.full((len(thresholds), num_classes), np.nan)
    for c in range(1, num_classes + 1):
        scores = np.concatenate([s[labels == c] for _, s, labels in detections] + [np.zeros(0)])
        num_gt = sum(int((labels == c).sum()) for labels in gt_labels)
        for t, threshold in enumerate(thresholds):
            hits = [match(b[labels == c], s[labels == c], gb[gl == c], threshold)
                    for (b, s, labels), gb, gl in zip(detections, gt_boxes, gt_labels)]
            if num_gt:
                ap[t, c - 1] = average_precision(scores, np.concatenate(hits + [np.zeros(0, bool)]), num_gt)
    return ap


def flip(images, boxes, which):
    """Images and boxes mirrored left-right where ``which`` (n,) is True."""
    images, size = images.copy(), images.shape[-1]
    images[which] = images[which, :, :, ::-1]
    mirrored = [b.copy() for b in boxes]
    for b, original, mirror in zip(mirrored, boxes, which):
        if mirror:
            b[:, [0, 2]] = size - original[:, [2, 0]]
    return images, mirrored


def detection_loss(heat_logits, box_pred, heat, box, mask):
    """The penalty-reduced focal loss on the heatmaps plus the weighted L1 losses at the centre cells,
    each over the number of centres (module docstring)."""
    centres = heat == 1
    count = max(1.0, float(centres.sum()))
    p = heat_logits.sigmoid()
    focal = ((1 - p) ** 2 * F.logsigmoid(heat_logits) * mg.tensor(centres.astype(np.float32))
             + p ** 2 * F.logsigmoid(-heat_logits) * mg.tensor(np.where(centres, 0, (1 - heat) ** 4)))
    l1 = (box_pred - mg.tensor(box)).abs() * mg.tensor(mask[:, None] * LOSS_WEIGHTS[:, None, None])
    return (l1.sum() - focal.sum()) / count


def pick(scenes, index):
    """The shapes.Scenes at positions ``index``."""
    return shapes.Scenes(scenes.images[index], scenes.masks[index], [scenes.boxes[i] for i in index],
                         [scenes.labels[i] for i in index])


def targets(boxes, labels, cells):
    """``encode`` of a batch of images: heatmaps, boxes and masks stacked."""
    return [np.stack(t) for t in zip(*(encode(b, lab, cells) for b, lab in zip(boxes, labels)))]


@mg.no_grad()
def detect(model, images, iou_threshold=0.5, batch_size=100):
    """Per image (boxes, scores, labels): ``decode`` then class-wise NMS."""
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        heat, box = model(mg.tensor(images[i:i + batch_size]))
        for boxes, scores, labels in decode(heat.sigmoid().numpy(), box.numpy()):
            keep = batched_nms(boxes, scores, labels, iou_threshold)
            out.append((boxes[keep], scores[keep], labels[keep]))
    model.train()
    return out


def run(optimizer="adam", lr=None, backend="cpp", epochs=None, seed=0, quiet=True, max_steps=None, save=None,
        resume=None, timing=False, logdir=None, plot=None, train_scenes=8000, test_scenes=500, width=16,
        batch_size=32, split="test"):
    """Train and test; returns common.result's dict (metric: mAP@0.5 on held-out scenes). With
    ``split="validation"`` it trains on the training scenes less a held-out part (``common.hold_out``)
    and scores on that part."""
    lr, epochs = common.tuned_lr(LR, optimizer) if lr is None else lr, EPOCHS if epochs is None else epochs
    common.check_split(split)
    mg.manual_seed(seed)
    train, test = shapes.scenes(train_scenes, seed=[seed, 0]), shapes.scenes(test_scenes, seed=[seed, 1])
    if split == "validation":
        kept, held = common.hold_out(train_scenes, seed)
        train, test = pick(train, kept), pick(train, held)
    if epochs and len(train.images) < batch_size:
        raise ValueError(f"detect: {len(train.images)} training scenes do not fill one batch of {batch_size}: raise "
                         "train_scenes (--train-scenes) or lower batch_size (--batch-size)")
    cells = train.images.shape[-1] // STRIDE
    model = CenterNet(width)
    opt = common.make_optimizer(optimizer, model, lr, backend)
    log = common.RunLog(quiet, max_steps, timing, logdir)
    first_epoch = common.load_checkpoint(resume, model, opt, optimizer, log) if resume else 0
    steps_per_epoch = len(train.images) // batch_size
    schedule = mg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch,
                                                       last_epoch=log.step_count - 1)
    rng = mg.default_generator()
    shown = pick(test, np.arange(min(12, len(test.images))))  # the scenes drawn

    def score():
        with common.evaluation_weights(opt):
            return average_precisions(detect(model, test.images), test.boxes, test.labels)

    for epoch in range(first_epoch, epochs):
        order = rng.permutation(len(train.images))
        for step in log.epoch(range(steps_per_epoch), epoch, epochs):
            scenes = pick(train, order[step * batch_size:(step + 1) * batch_size])
            images, boxes = flip(scenes.images, scenes.boxes, rng.random(len(scenes.images)) < 0.5)
            heat, box, mask = targets(boxes, scenes.labels, cells)
            opt.zero_grad()
            loss = detection_loss(*model(mg.tensor(images)), heat, box, mask)
            loss.backward()
            log.step(opt, loss.item())
            schedule.step()
            if log.done:
                break
        metrics = {}
        if log.watched:  # a pass over the held-out scenes, left out of the run's clock
            with log.paused():
                metrics[f"{split}/map50"] = float(np.nanmean(score()[0]))
            log.print(f"epoch {epoch + 1:3d}  train loss {log.epoch_loss():.4f}  held-out mAP@0.5 "
                      f"{metrics[f'{split}/map50']:.4f}")
        if common.end_epoch(log, save, model, opt, optimizer, epoch, metrics,
                            lambda: draw(shown, detect(model, shown.images))):
            break

    ap = score()
    names = shapes.CLASSES[1:]
    report = (f"{len(test.images)} held-out images, {sum(map(len, test.labels))} objects: mAP@0.5 "
              f"{np.nanmean(ap[0]):.4f}, mAP@0.5:0.95 {np.nanmean(ap):.4f}\n"
              + "\n".join(f"  {name:9s}  AP@0.5 {ap[0, c]:.4f}  AP@0.5:0.95 {np.nanmean(ap[:, c]):.4f}"
                          for c, name in enumerate(names)))
    if plot:
        with common.evaluation_weights(opt):
            draw(shown, detect(model, shown.images), plot)
        report += f"\nplot: {plot}"
    metric_name = "test_map50" if split == "test" else "validation_map50"
    return common.result(log, metric_name, float(np.nanmean(ap[0])), model, optimizer, lr, backend, timing, report)


def draw(scenes, detections, path=None, min_score=0.3):
    """Held-out images with the ground-truth boxes (dashed white) and the detections scoring at least
    ``min_score`` (coloured by class, with class name and score). Saved to ``path`` if given; returns
    the Figure."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle
    colours = ("tab:red", "tab:cyan", "tab:orange")
    columns = 4
    rows = math.ceil(len(scenes.images) / columns)
    fig = Figure(figsize=(3 * columns, 3 * rows), dpi=80)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, image, (boxes, scores, labels), gb, gl in zip(axes, scenes.images, detections, scenes.boxes, scenes.labels):
        ax.imshow(np.clip(image.transpose(1, 2, 0), 0, 1), extent=(0, image.shape[2], image.shape[1], 0))
        for x0, y0, x1, y1 in gb:
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="white", linestyle="--", linewidth=1))
        for (x0, y0, x1, y1), s, c in zip(boxes, scores, labels):
            if s >= min_score:
                ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color=colours[c - 1], linewidth=1.5))
                ax.text(x0, y0 - 0.5, f"{shapes.CLASSES[c]} {s:.2f}", color=colours[c - 1], fontsize=7,
                        backgroundcolor=(0, 0, 0, 0.4))
        ax.set_title(f"{len(gb)} object{'s' * (len(gb) != 1)}: " + ", ".join(shapes.CLASSES[c] for c in gl), fontsize=8)
        ax.axis("off")
    for ax in axes[len(scenes.images):]:
        ax.axis("off")
    fig.suptitle(f"held-out scenes: ground truth dashed white; detections scoring ≥ {min_score} solid (disc red, "
                 "rectangle cyan, triangle orange), with their scores", fontsize=10)
    fig.tight_layout()
    if path:
        fig.savefig(path)
    return fig


def main(argv=None):
    p = common.parser("detect", __doc__, LR, EPOCHS)
    p.add_argument("--train-scenes", type=integer(1), default=8000, help="training scenes (default: 8000)")
    p.add_argument("--test-scenes", type=integer(1), default=500, help="held-out scenes (default: 500)")
    p.add_argument("--width", type=integer(1), default=16, help="channels of the first convolution (default: 16)")
    p.add_argument("--batch-size", type=integer(1), default=32, help="scenes per step (default: 32)")
    p.add_argument("--plot", metavar="PATH.png", help="draw detections on held-out scenes (matplotlib)")
    return common.main(run, p, argv, NEEDS)


if __name__ == "__main__":
    main()
