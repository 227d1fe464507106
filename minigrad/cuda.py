"""``minigrad.cuda``: what torch code asks of ``torch.cuda`` on a CPU-only library. No device is
available; seeding calls are accepted and do nothing, as torch's are without a GPU."""
from __future__ import annotations


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """Nothing to seed: there is no CUDA device (torch ignores this call too when it has none)."""


def manual_seed_all(seed: int) -> None:
    """Nothing to seed: there is no CUDA device."""


def synchronize(device: object = None) -> None:
    """Nothing runs asynchronously: returns at once."""
