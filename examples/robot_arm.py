"""Inverse kinematics of a 2-link planar arm, learned through its differentiable forward kinematics.

    python examples/robot_arm.py [--optimizer adam] [--epochs 100] [--plot arm.png]
    minigrad train arm [options]

The arm: a shoulder at the origin, links of L1 = 1.0 and L2 = 0.8, joint angles θ1 (shoulder, from
the x-axis) and θ2 (elbow, from the first link), with the joint limit 0 ≤ θ2 ≤ π (the elbow bends
one way), so each reachable target has exactly one solution. A 2-64-64-2 tanh MLP maps a target
(x, y) to the joint angles as sin α = tanh(out₀) and cos θ2 = tanh(out₁), where α = θ1 − β is the
shoulder's offset from the target's bearing β (|α| < 90° since L1 > L2): smooth outputs with no
2π wrap-around to learn. The loss is the mean distance between the target and the hand, placed by
forward kinematics written with minigrad ops:

    hand = (L1·cos θ1 + L2·cos(θ1 + θ2),  L1·sin θ1 + L2·sin(θ1 + θ2))

so no ground-truth angles are needed. Targets are uniform over the reachable annulus
|L1 − L2| ≤ r ≤ L1 + L2; an epoch is a pass over 16,384 training targets in batches of 256, the
learning rate follows a cosine schedule down to 0 over the run, and the metric is the mean reach
error on 4,096 held-out targets. The errors gather at the annulus' edges, where the arm is stretched
out or folded: there the angles change infinitely fast with the target's distance (a singularity).
"""
import numpy as np

import minigrad as mg
import minigrad.nn as nn
from minigrad.examples import common

L1, L2 = 1.0, 0.8
LR = {"sgd": 1.0, "momentum": 0.03, "nesterov": 0.03,
      "adagrad": 0.1, "adadelta": 1.0, "rmsprop": 3e-3, "adam": 1e-2, "adamw": 1e-2}
EPOCHS = 100
NEEDS = ()  # the optional modules it needs (--plot: matplotlib, checked by common.main)


def sample_targets(n, rng):
    """``n`` points uniform (by area) over the reachable annulus, float32 n×2."""
    r = np.sqrt(rng.uniform((L1 - L2) ** 2, (L1 + L2) ** 2, n))
    phi = rng.uniform(0, 2 * np.pi, n)
    return np.stack([r * np.cos(phi), r * np.sin(phi)], 1).astype(np.float32)


def joints(out, targets):
    """cos θ1, sin θ1, cos θ2, sin θ2 from the network's N×2 output (sin α, cos θ2 before tanh)."""
    sin_a = out[:, 0].tanh()
    cos_2 = out[:, 1].tanh()
    cos_a, sin_2 = (1 - sin_a * sin_a + 1e-12).sqrt(), (1 - cos_2 * cos_2 + 1e-12).sqrt()
    r = (targets * targets).sum(1).sqrt()
    cos_b, sin_b = targets[:, 0] / r, targets[:, 1] / r  # the target's bearing β; θ1 = β + α
    return cos_b * cos_a - sin_b * sin_a, sin_b * cos_a + cos_b * sin_a, cos_2, sin_2


def forward_kinematics(c1, s1, c2, s2):
    """Elbow and hand positions (N×2 each) for the joint angles given by their cosines and sines."""
    c12, s12 = c1 * c2 - s1 * s2, s1 * c2 + c1 * s2  # cos(θ1 + θ2), sin(θ1 + θ2)
    elbow = mg.stack([L1 * c1, L1 * s1], 1)
    return elbow, elbow + mg.stack([L2 * c12, L2 * s12], 1)


def place(model, targets):
    """Elbow and hand positions (N×2 tensors) for the joint angles the model gives for ``targets``."""
    return forward_kinematics(*joints(model(targets), targets))


def reach_error(model, targets):
    """Distances between the hand and the targets (N,), as a tensor with a graph in grad mode."""
    _, hand = place(model, targets)
    return (((hand - targets) ** 2).sum(1) + 1e-12).sqrt()


def evaluate(model, targets):
    """Reach errors (N,) on held-out targets, without a graph."""
    with mg.no_grad():
        return reach_error(model, mg.tensor(targets)).numpy()


def run(optimizer="adam", lr=None, backend="cpp", epochs=None, seed=0, quiet=True, max_steps=None, save=None,
        resume=None, timing=False, logdir=None, plot=None, batch_size=256, split="test"):
    """Train and test; returns common.result's dict (metric: mean reach error on held-out targets).
    With ``split="validation"`` it trains on the training targets less a held-out part
    (``common.hold_out``, by seed) and measures the reach error there."""
    lr, epochs = common.tuned_lr(LR, optimizer) if lr is None else lr, EPOCHS if epochs is None else epochs
    common.check_split(split)
    mg.manual_seed(seed)
    train_targets = sample_targets(16384, mg.default_generator())
    test_targets = sample_targets(4096, np.random.default_rng([seed, 1]))
    if split == "validation":
        kept, held = common.hold_out(len(train_targets), seed)
        train_targets, test_targets = train_targets[kept], train_targets[held]
    loader = mg.data.DataLoader(mg.data.TensorDataset(train_targets), batch_size, shuffle=True)
    model = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2))
    opt = common.make_optimizer(optimizer, model, lr, backend)
    log = common.RunLog(quiet, max_steps, timing, logdir)
    first_epoch = common.load_checkpoint(resume, model, opt, optimizer, log) if resume else 0
    schedule = mg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader), last_epoch=log.step_count - 1)

    for epoch in range(first_epoch, epochs):
        for (targets,) in log.epoch(loader, epoch, epochs):
            opt.zero_grad()
            loss = reach_error(model, targets).mean()
            loss.backward()
            log.step(opt, loss.item())
            schedule.step()
            if log.done:
                break
        with common.evaluation_weights(opt):
            metrics = {"train/reach_error": log.epoch_loss(),
                       f"{split}/reach_error": evaluate(model, test_targets).mean()}
        log.print(f"epoch {epoch + 1:3d}  train reach error {log.epoch_loss():.4f}  "
                  f"held-out {metrics[f'{split}/reach_error']:.4f}")
        if common.end_epoch(log, save, model, opt, optimizer, epoch, metrics,
                            lambda: draw(model, test_targets, evaluate(model, test_targets))):
            break

    with common.evaluation_weights(opt):
        errors = evaluate(model, test_targets)
        if plot:
            draw(model, test_targets, errors, plot)
    report = (f"reach error on {len(errors)} held-out targets: mean {errors.mean():.4f}, median "
              f"{np.median(errors):.4f}, 95th percentile {np.percentile(errors, 95):.4f}, max {errors.max():.4f} "
              f"(links {L1} and {L2})")
    if plot:
        report += f"\nplot: {plot}"
    return common.result(log, "mean_reach_error", float(errors.mean()), model, optimizer, lr, backend, timing, report)


def draw(model, targets, errors, path=None):
    """Three panels: a few arms reaching for held-out targets; reached vs target on a polar grid of
    targets 0.05 inside the edges (the error drawn 10× longer); the mean reach error of the held-out
    targets in each hexagon. Saved to ``path`` if given; returns the matplotlib Figure."""
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle
    r, phi = np.meshgrid(np.linspace(L1 - L2 + 0.05, L1 + L2 - 0.05, 7), np.linspace(0, 2 * np.pi, 36, endpoint=False))
    grid = np.stack([r * np.cos(phi), r * np.sin(phi)], -1).reshape(-1, 2).astype(np.float32)
    shown = targets[np.linspace(0, len(targets) - 1, 8).astype(int)]
    with mg.no_grad():
        elbows, hands = (p.numpy() for p in place(model, mg.tensor(shown)))
        reached = place(model, mg.tensor(grid))[1].numpy()
    fig = Figure(figsize=(15, 4.8), dpi=80)
    arms, vectors, heat = fig.subplots(1, 3)
    for ax in (arms, vectors, heat):
        for radius in (L1 - L2, L1 + L2):
            ax.add_patch(Circle((0, 0), radius, fill=False, color="0.6", linestyle="--", linewidth=0.8))
        ax.set(aspect="equal", xlim=(-2, 2), ylim=(-2, 2))
    for elbow, hand in zip(elbows, hands):
        arms.plot([0, elbow[0], hand[0]], [0, elbow[1], hand[1]], "-o", color="tab:blue", markersize=3, linewidth=2)
    arms.scatter(*shown.T, s=90, facecolors="none", edgecolors="tab:red", label="target", zorder=3)
    arms.scatter(*hands.T, s=12, color="black", label="reached", zorder=4)
    arms.legend(loc="upper right", fontsize=8)
    arms.set_title("arm configurations for held-out targets", fontsize=10)
    vectors.scatter(*grid.T, s=6, color="tab:red", label="target")
    vectors.quiver(*grid.T, *(reached - grid).T, angles="xy", scale_units="xy", scale=0.1, width=0.004,
                   label="target → reached, 10×")
    vectors.legend(loc="upper right", fontsize=8)
    vectors.set_title("reached vs target (errors drawn 10× longer)", fontsize=10)
    cells = heat.hexbin(*targets.T, C=errors, gridsize=25, reduce_C_function=np.mean, cmap="viridis", norm=LogNorm())
    fig.colorbar(cells, ax=heat, label=f"mean reach error (links {L1}, {L2})")
    heat.set_title(f"reach error: mean {errors.mean():.4f}, median {np.median(errors):.4f}", fontsize=10)
    fig.tight_layout()
    if path:
        fig.savefig(path)
    return fig


def main(argv=None):
    p = common.parser("arm", __doc__, LR, EPOCHS)
    p.add_argument("--plot", metavar="PATH.png", help="draw arms and reach errors on held-out targets (matplotlib)")
    return common.main(run, p, argv, NEEDS)


if __name__ == "__main__":
    main()
