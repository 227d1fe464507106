"""The two character language models in one wall-clock budget: char-transformer against char-lstm.

    minigrad bench lm [--seconds 60] [--seeds 0] [--num-chars N] [--json PATH]

Both read the same text, the standard-library source of their examples (all of it by default), and
are scored on its held-out end, each by its example's validation bits per character. For each seed
the two take turns (the first of a seed is the second of the next): a short probe run measures the
model's pace (the median wall time between its training steps: batch, forward, backward, clipping,
optimizer step); then the model trains for as many steps as fit the budget at that pace, at its
example's defaults (the transformer's warm-up and cosine spanning exactly those steps, the LSTM at
its constant lr). The table gives each run's steps, its training time (its steps' wall time: the
per-epoch validations left out), its wall time, and its validation bits per character; the
last line says which model reached the lower median over the seeds.
"""
import argparse
import json
import sys
import time

import numpy as np

from ..examples.arguments import integer, listed, positive

PROBE_STEPS = 30  # the probe run's steps; its pace is the median of the last PROBE_STEPS - WARM ones
WARM = 10


def models():
    """{name: (the example's run, options that make it train for ``steps`` steps)}."""
    from ..examples import char_lstm, char_transformer
    return {"char-lstm": (char_lstm.run, lambda steps: {"max_steps": steps, "epochs": 10 ** 6}),
            "char-transformer": (char_transformer.run, lambda steps: {"steps": steps})}


def step_intervals(out):
    """The wall time of each training step of a run (``run``'s result): since the step before or, for
    an epoch's first, since the epoch started, so that the validation after each epoch is left out."""
    intervals, previous, starts = [], 0.0, iter(out["epoch_starts"])
    start = next(starts, None)
    for _, clock, _ in out["history"]:
        while start is not None and start <= clock:
            previous, start = max(previous, start), next(starts, None)
        intervals.append(clock - previous)
        previous = clock
    return np.array(intervals)


def pace(run, for_steps, num_chars, seed):
    """Seconds per training step of ``run``: the median of a probe run's steps after the first WARM."""
    out = run(seed=seed, num_chars=num_chars, sample_chars=0, **for_steps(PROBE_STEPS))
    return float(np.median(step_intervals(out)[WARM:]))


def race(seconds, seeds, num_chars, quiet=False):
    """One record per (seed, model): steps, probe pace, training and wall seconds, validation bits/char."""
    records, candidates = [], models()
    names = list(candidates)
    for k, seed in enumerate(seeds):
        for name in names[k % 2:] + names[:k % 2]:
            run, for_steps = candidates[name]
            step_seconds = pace(run, for_steps, num_chars, seed)
            steps = max(1, int(seconds / step_seconds))
            start = time.perf_counter()
            out = run(seed=seed, num_chars=num_chars, sample_chars=0, **for_steps(steps))
            record = {"seed": seed, "model": name, "steps": out["steps"], "probe_step_seconds": step_seconds,
                      "training_seconds": float(step_intervals(out).sum()),
                      "wall_seconds": time.perf_counter() - start, "val_bpc": out["metric"]}
            records.append(record)
            if not quiet:
                print(f"seed {seed}  {name:<17} {record['steps']:>6} steps  training "
                      f"{record['training_seconds']:6.1f} s  (wall {record['wall_seconds']:6.1f} s)  "
                      f"{record['val_bpc']:.3f} bits/char", flush=True)
    return records


def verdict(records):
    """{model: median validation bits/char over the seeds} and the model with the lower one."""
    medians = {name: float(np.median([r["val_bpc"] for r in records if r["model"] == name]))
               for name in dict.fromkeys(r["model"] for r in records)}
    return medians, min(medians, key=medians.get)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="minigrad bench lm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=positive, default=60.0, help="the training budget per run (default: 60)")
    parser.add_argument("--seeds", type=listed(integer(0)), default=[0], help="comma-separated seeds (default: 0)")
    parser.add_argument("--num-chars", type=integer(1000), help="corpus characters read (default: all of them)")
    parser.add_argument("--json", metavar="PATH", help="write the records as JSON")
    args = parser.parse_args(argv)

    print(f"budget {args.seconds:g} s per run; seeds {', '.join(map(str, args.seeds))}", flush=True)
    records = race(args.seconds, args.seeds, args.num_chars)
    medians, best = verdict(records)
    print("median validation bits/char: " + ", ".join(f"{name} {value:.3f}" for name, value in medians.items())
          + f"; lower: {best}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seconds": args.seconds, "num_chars": args.num_chars, "records": records,
                       "median_val_bpc": medians, "lower": best}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
