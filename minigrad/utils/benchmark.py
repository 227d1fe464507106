"""Timing functions against each other: ``measure`` (torch keeps its equivalent in
``torch.utils.benchmark``).

The layout issue lists ``measure`` among the commands, but both the commands (``minigrad bench``,
``bench train``, ``bench loop``) and the examples (``examples/common.py``, ``time_backends``) use it,
and imports run one way only (commands → examples → library): the examples may not import a
command, so the helper lives in the library, where both can reach it.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable, Mapping


def measure(steps: Mapping[str, Callable[[], object]], rounds: int, min_sample: float = 1e-2,
            settle: float = 0.02) -> dict[str, float]:
    """Median seconds per call of each function: every round takes one sample of each candidate (in
    an order that alternates between rounds); calls shorter than min_sample are repeated within a
    sample. Before each sample the process sleeps ``settle`` seconds, so that the worker threads
    another candidate's thread pool left spinning (libgomp spins for milliseconds after a parallel
    region) go to sleep instead of competing for the cores, and then makes one untimed call, so
    that the candidate's own pool is awake: each candidate is timed in its steady state."""
    repeats: dict[str, int] = {}
    for name, step in steps.items():
        step()  # warm up (creates optimizer state)
        start = time.perf_counter()
        step()
        repeats[name] = max(1, int(min_sample / max(time.perf_counter() - start, 1e-7)))
    samples: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            step, k = steps[name], repeats[name]
            time.sleep(settle)
            step()
            start = time.perf_counter()
            for _ in range(k):
                step()
            samples[name].append((time.perf_counter() - start) / k)
    return {name: statistics.median(s) for name, s in samples.items()}
