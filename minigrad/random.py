"""Random numbers, as ``torch.random``: one process-wide NumPy generator behind everything random in
minigrad (``randn``, ``rand``, dropout, initialization, DataLoader shuffling), seeded by
``manual_seed``, and ``Generator``, a generator of one's own for any ``generator=`` argument."""
from __future__ import annotations

from typing import Any

import numpy as np

from .device import check_device

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the one generator behind everything random in minigrad (randn, rand, dropout, init,
    DataLoader shuffling). The generator object stays the same, so references to it see the seed."""
    _generator.bit_generator.state = np.random.PCG64(seed).state
    return _generator


def default_generator() -> np.random.Generator:
    """minigrad's global ``np.random.Generator``."""
    return _generator


class Generator(np.random.Generator):
    """torch's ``Generator``: a NumPy generator (so every ``generator=`` argument takes it) that
    ``manual_seed(seed)`` reseeds, returning itself: ``randn(3, generator=Generator().manual_seed(0))``."""

    def __init__(self, device: Any = "cpu") -> None:
        check_device(device)
        self._seed = _fresh_seed()
        super().__init__(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self.bit_generator.state = np.random.PCG64(self._seed).state
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy; returns the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % (1 << 63)))._seed  # type: ignore[operator]

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict[str, Any]:
        return dict(self.bit_generator.state)

    def set_state(self, state: dict[str, Any]) -> Generator:
        self.bit_generator.state = state
        return self


def _fresh_seed() -> int:
    """A seed from the operating system's entropy, as torch's default generator starts from."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
