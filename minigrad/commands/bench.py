"""The optimizer speed comparison: C++ kernels vs their NumPy twins vs torch.optim.

    minigrad bench [--quick] [--json PATH] [--plot PATH.png]      (or: python -m minigrad.commands.bench ...)

For each optimizer variant, size, dtype and thread count it times one ``step()`` of the same
optimizer on the ``cpp`` and ``numpy`` backends and, where torch is installed, torch's
``foreach=False``, ``foreach=True`` and ``fused=True`` paths (those it has), all in one process, alternating candidates round by
round, and reports medians. GB/s uses the bytes each update moves (docs/optimizers.md), and the
roofline is an in-place ``x += a·y`` stream (``minigrad._C.axpy``) over the same working set,
measured in the same rounds. Then: a "many small tensors" case (ResNet-56's parameter shapes) and
the call overhead on a one-element tensor.
"""
import argparse
import json
import platform
import sys

import numpy as np

from .. import _C, Parameter, build_info, get_num_threads, optim, set_num_threads
from ..examples.arguments import integer, listed, require
from ..utils.benchmark import measure

# name: (optimizer, options, bytes moved per float32 element; float64 moves twice as many)
VARIANTS = {
    "sgd": ("SGD", {"lr": 1e-3}, 12),
    "sgd-momentum": ("SGD", {"lr": 1e-3, "momentum": 0.9}, 20),
    "sgd-nesterov": ("SGD", {"lr": 1e-3, "momentum": 0.9, "nesterov": True}, 20),
    "adagrad": ("Adagrad", {}, 20),
    "adadelta": ("Adadelta", {}, 28),
    "rmsprop": ("RMSprop", {}, 20),
    "rmsprop-momentum": ("RMSprop", {"momentum": 0.9}, 28),
    "rmsprop-centered": ("RMSprop", {"centered": True}, 28),
    "rmsprop-centered-momentum": ("RMSprop", {"centered": True, "momentum": 0.9}, 36),
    "adam": ("Adam", {}, 28),
    "adam-amsgrad": ("Adam", {"amsgrad": True}, 36),
    "adamw": ("AdamW", {}, 28),
    "adamax": ("Adamax", {}, 28),
    "nadam": ("NAdam", {}, 28),
    "radam": ("RAdam", {}, 28),
    "asgd": ("ASGD", {}, 16),  # μ = 1 until t0 = 1e6 steps: ax ← θ is written, not read
    "asgd-averaging": ("ASGD", {"t0": 0.0}, 20),
    "rprop": ("Rprop", {}, 28),
    "lion": ("Lion", {}, 20),
    "adafactor": ("Adafactor", {}, 20),
    "adafactor-factored": ("Adafactor", {}, 12),  # the row and column factors: ~0 bytes per element
    "muon": ("Muon", {}, 28),  # the per-element kernels; Newton–Schulz's matrix products come on top
    "schedulefree-adamw": ("ScheduleFreeAdamW", {}, 28),
    "schedulefree-sgd": ("ScheduleFreeSGD", {}, 20),
}
# Variants timed on near-square matrices (the factored moments, Newton–Schulz), and the largest size
# each is timed at (Muon's matrix products grow as size^1.5: minutes per step at 16M elements).
MATRIX_VARIANTS = {"adafactor-factored": 1 << 24, "muon": 1 << 20}
SIZES = [1_000, 10_000, 100_000, 1 << 20, 1 << 24]
QUICK_SIZES = [10_000, 1 << 20]
CANDIDATES = ["cpp", "numpy", "torch", "torch-foreach", "torch-fused"]
TORCH_PATHS = {"torch": {"foreach": False}, "torch-foreach": {"foreach": True}, "torch-fused": {"fused": True}}


def resnet56_shapes():
    """Parameter shapes of ResNet-56 for CIFAR (He et al. 2016): 3 stages of 9 basic blocks, each
    two 3×3 convs with batch norm; 0.85M parameters in 167 tensors."""
    shapes = [(16, 3, 3, 3), (16,), (16,)]
    in_channels = 16
    for channels in (16, 32, 64):
        for _ in range(9):
            for conv_in in (in_channels, channels):
                shapes += [(channels, conv_in, 3, 3), (channels,), (channels,)]
            in_channels = channels
    return shapes + [(10, 64), (10,)]


def _shape(variant, elements):
    """A vector of `elements`, or for a matrix variant rows × cols with rows the power of two ≤ √elements."""
    if variant not in MATRIX_VARIANTS:
        return (elements,)
    rows = 1 << (elements.bit_length() - 1) // 2
    return (rows, elements // rows)


def _param(data, grad):
    """A Parameter over ``data`` (no copy) whose gradient is ``grad``."""
    p = Parameter(data)
    p.grad = grad
    return p


def _steps(variant, shapes, dtype, torch):
    """{candidate: a function running one optimizer step} on fresh random data of these shapes."""
    name, options, _ = VARIANTS[variant]
    rng = np.random.default_rng(0)
    start = [(rng.standard_normal(s).astype(dtype), rng.standard_normal(s).astype(dtype)) for s in shapes]
    steps = {}
    for backend in ("cpp", "numpy"):
        opt = getattr(optim, name)([_param(d.copy(), g) for d, g in start], **options, backend=backend)
        getattr(opt, "train", lambda: None)()  # the Schedule-Free optimizers step in train mode only
        steps[backend] = opt.step
    if torch is not None and hasattr(torch.optim, name):  # torch has no Lion, no Schedule-Free
        for label, path in TORCH_PATHS.items():
            tensors = [torch.tensor(d, requires_grad=True) for d, _ in start]
            for t, (_, g) in zip(tensors, start):
                t.grad = torch.from_numpy(g)
            try:
                opt = getattr(torch.optim, name)(tensors, **options, **path)
                opt.step()
            except (RuntimeError, TypeError, ValueError):  # no such path for this optimizer
                continue
            steps[label] = opt.step
    return steps


def _bandwidth_step(elements, dtype):
    """The roofline: x += a·y in place over `elements` elements each."""
    x, y = np.ones(elements, dtype), np.ones(elements, dtype)
    return lambda: _C.axpy([x], [y], alpha=0.0)


def run_case(variant, shapes, dtype, threads, rounds, torch):
    set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    elements = sum(int(np.prod(s)) for s in shapes)
    bytes_moved = elements * VARIANTS[variant][2] * np.dtype(dtype).itemsize // 4
    steps = _steps(variant, shapes, dtype, torch)
    # the roofline over the same working set: 12 bytes (3 accesses) per axpy element
    steps["bandwidth"] = _bandwidth_step(max(1, bytes_moved // (3 * np.dtype(dtype).itemsize)), dtype)
    seconds = measure(steps, rounds)
    bandwidth = bytes_moved / seconds.pop("bandwidth") / 1e9
    record = {"variant": variant, "elements": elements, "tensors": len(shapes), "dtype": np.dtype(dtype).name,
              "threads": threads, "bytes": bytes_moved, "bandwidth_gbs": bandwidth,
              "ms": {name: s * 1e3 for name, s in seconds.items()}}
    record["gbs"] = bytes_moved / seconds["cpp"] / 1e9
    record["fraction_of_bandwidth"] = record["gbs"] / bandwidth
    record["speedup_vs_numpy"] = seconds["numpy"] / seconds["cpp"]
    if "torch-fused" in seconds:
        record["speedup_vs_torch_fused"] = seconds["torch-fused"] / seconds["cpp"]
    torch_paths = [seconds[label] for label in TORCH_PATHS if label in seconds]
    if torch_paths:  # torch's fastest path for this optimizer, in this run
        record["speedup_vs_torch_best"] = min(torch_paths) / seconds["cpp"]
    return record


def call_overhead(rounds):
    """Microseconds per call on one float32 element: the Adam kernel alone, and Adam.step()."""
    params, grads, exp_avgs, exp_avg_sqs = ([np.ones(1, np.float32)] for _ in range(4))

    def kernel():
        _C.adam(params, grads, exp_avgs, exp_avg_sqs, [], lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                weight_decay=0.0, step_size=1e-2, bias_correction2_sqrt=0.03, amsgrad=False, maximize=False,
                decoupled_weight_decay=False)
    opt = optim.Adam([_param(np.ones(1, np.float32), np.ones(1, np.float32))])
    seconds = measure({"kernel": kernel, "Adam.step": opt.step}, rounds)
    return {name: s * 1e6 for name, s in seconds.items()}


def _format_table(records):
    header = (f"{'optimizer':<26}{'elements':>10}{'cpp ms':>10}{'numpy ms':>10}{'torch ms':>10}{'fused ms':>10}"
              f"{'cpp GB/s':>10}{'% bw':>7}{'x numpy':>9}{'x fused':>9}{'x best':>9}")
    lines = [header, "-" * len(header)]
    for r in records:
        ms = r["ms"]
        cell = lambda name: f"{ms[name]:>10.4f}" if name in ms else f"{'n/a':>10}"
        ratio = lambda key: f"{r[key]:>9.2f}" if key in r else f"{'n/a':>9}"
        name = r["variant"] + (f" ({r['tensors']} tensors)" if r["tensors"] > 1 else "")
        lines.append(f"{name:<26}{r['elements']:>10}{cell('cpp')}{cell('numpy')}{cell('torch')}{cell('torch-fused')}"
                     f"{r['gbs']:>10.1f}{100 * r['fraction_of_bandwidth']:>6.0f}%{r['speedup_vs_numpy']:>9.1f}"
                     f"{ratio('speedup_vs_torch_fused')}{ratio('speedup_vs_torch_best')}")
    return "\n".join(lines)


def targets(records, overhead):
    """The issue's targets, checked on this run's figures: (description, value, met)."""
    threads = max(r["threads"] for r in records)

    def find(variant, elements, tensors=1):
        return [r for r in records if r["variant"] == variant and r["dtype"] == "float32" and r["tensors"] == tensors
                and r["elements"] == elements and r["threads"] == threads]
    checks = []
    for elements in (1 << 20, 1 << 24):
        for r in find("adam", elements):
            checks.append((f"Adam fp32 {elements:,}: x NumPy >= 8", r["speedup_vs_numpy"], r["speedup_vs_numpy"] >= 8))
            if "speedup_vs_torch_fused" in r:
                checks.append((f"Adam fp32 {elements:,}: x torch fused >= 1", r["speedup_vs_torch_fused"],
                               r["speedup_vs_torch_fused"] >= 1))
    for r in records:
        if r["elements"] == 1 << 24 and r["tensors"] == 1 and r["threads"] == threads:
            checks.append((f"{r['variant']} {r['dtype']} 16M: fraction of bandwidth >= 0.85",
                           r["fraction_of_bandwidth"], r["fraction_of_bandwidth"] >= 0.85))
    for r in records:
        if r["tensors"] > 1 and "speedup_vs_torch_fused" in r and r["dtype"] == "float32":
            checks.append((f"{r['variant']} many small tensors: x torch fused >= 2", r["speedup_vs_torch_fused"],
                           r["speedup_vs_torch_fused"] >= 2))
    checks.append(("call overhead, 1-element Adam kernel call <= 2 us", overhead["kernel"], overhead["kernel"] <= 2))
    return checks


def plot(records):
    """The C++ speedup over the NumPy twin against the size, a line per variant, a panel per dtype
    (one tensor, the most threads): the matplotlib Figure."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    threads = max(r["threads"] for r in records if r["tensors"] == 1)
    shown = [r for r in records if r["tensors"] == 1 and r["threads"] == threads]  # one tensor, most threads
    variants = [v for v in VARIANTS if any(r["variant"] == v for r in shown)]
    dtypes = [d for d in ("float32", "float64") if any(r["dtype"] == d for r in shown)]
    fig = Figure(figsize=(6 * len(dtypes), 4.5))
    axes = fig.subplots(1, len(dtypes), sharey=True, squeeze=False)
    axes = axes[0]  # one panel per dtype that has figures
    for ax, dtype in zip(axes, dtypes):
        ax.set_prop_cycle(color=colormaps["tab20"].colors[:len(variants)])
        for variant in variants:
            rows = [r for r in shown if r["variant"] == variant and r["dtype"] == dtype]
            if rows:
                ax.plot([r["elements"] for r in rows], [r["speedup_vs_numpy"] for r in rows], marker="o", label=variant)
        ax.set(xscale="log", yscale="log", title=f"{dtype}, {threads} threads", xlabel="elements",
               ylabel="C++ speedup over the NumPy twin")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def progress_bar(total, desc, enabled, unit="it"):
    """A progress bar on stderr for ``total`` updates, or None when not enabled or without tqdm."""
    if enabled:
        try:
            from tqdm import tqdm
            return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)
        except ImportError:
            print("(install tqdm for a progress bar: pip install 'minigrad[bench]')", file=sys.stderr)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="minigrad bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="see also 'minigrad bench train --help' (training-step speed), "
                                            "'minigrad bench loop --help' (the optimizer step inside training loops) "
                                            "and 'minigrad bench lm --help' (the language models in one time budget)")
    parser.add_argument("--quick", action="store_true",
                        help="float32, 10K and 1M elements, max threads: ~35 s on 2 cores")
    parser.add_argument("--optimizers", default=",".join(VARIANTS), help="comma-separated variants (default: all)")
    parser.add_argument("--sizes", type=listed(integer(1)), help="comma-separated element counts (default: 1e3..1.6e7)")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--threads", type=listed(integer(1)),
                        help="comma-separated thread counts (default: 1 and the maximum)")
    parser.add_argument("--rounds", type=integer(1), default=9, help="timed rounds per case (median reported)")
    parser.add_argument("--no-torch", action="store_true", help="skip torch even if installed")
    parser.add_argument("--json", metavar="PATH", help="write every figure as JSON")
    parser.add_argument("--plot", metavar="PATH.png", help="plot the speedups (needs matplotlib)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.plot:
        require("minigrad bench --plot", ["matplotlib"])

    variants = args.optimizers.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown optimizer variant(s) {unknown}; valid: {', '.join(VARIANTS)}")
    max_threads = get_num_threads()
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    dtypes = ["float32"] if args.quick else args.dtypes.split(",")
    threads = args.threads or ([max_threads] if args.quick else sorted({1, max_threads}))
    rounds = min(args.rounds, 7) if args.quick else args.rounds
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch is not installed: its columns are skipped (pip install torch)", file=sys.stderr)

    cases = [(v, [_shape(v, n)], d, t) for d in dtypes for t in threads for v in variants for n in sizes
             if n <= MATRIX_VARIANTS.get(v, n)]
    many_small = ("adam", "sgd-momentum") if args.quick else [v for v in variants if v != "muon"]  # (Muon: 2-D only)
    cases += [(v, resnet56_shapes(), "float32", max_threads) for v in variants if v in many_small]
    bar = progress_bar(len(cases), "minigrad bench", not args.no_progress)
    records = []
    with np.errstate(all="ignore"):  # a fixed gradient drives centered RMSprop's variance to 0 (and rounding below)
        for v, shapes, d, t in cases:
            records.append(run_case(v, shapes, d, t, rounds, torch))
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    overhead = call_overhead(rounds)
    set_num_threads(max_threads)

    info = build_info()
    print(f"minigrad {info['version']} ({info['compiler']}, OpenMP {info['openmp']}, SIMD {info['simd']}), "
          f"numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else ", torch not installed")
          + f", {platform.processor() or platform.machine()}")
    print("median time per step; GB/s from the bytes per element in docs/optimizers.md; '% bw' = share of an in-place "
          "x += a*y stream over the same working set, measured in the same rounds\n")
    for dtype in dtypes:
        for t in threads:
            print(f"{dtype}, {t} thread{'s' * (t > 1)}")
            print(_format_table([r for r in records if r["dtype"] == dtype and r["threads"] == t
                                 and r["tensors"] == 1]) + "\n")
    many = [r for r in records if r["tensors"] > 1]
    if many:
        print(f"many small tensors: ResNet-56's {many[0]['tensors']} parameter tensors "
              f"({many[0]['elements']:,} elements), float32, {max_threads} threads")
        print(_format_table(many) + "\n")
    print(f"call overhead on a 1-element float32 tensor: Adam kernel call {overhead['kernel']:.2f} us, "
          f"Adam.step() {overhead['Adam.step']:.2f} us\n")
    checks = targets(records, overhead)
    print("targets:")
    for description, value, met in checks:
        print(f"  {'met ' if met else 'MISS'}  {description}  (measured {value:.2f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"build_info": info, "numpy": np.__version__, "torch": torch.__version__ if torch else None,
                       "records": records, "call_overhead_us": overhead,
                       "targets": [{"target": d, "value": v, "met": m} for d, v, m in checks]}, f, indent=1)
    if args.plot:
        plot(records).savefig(args.plot, dpi=80)
    return 0


if __name__ == "__main__":
    sys.exit(main())
