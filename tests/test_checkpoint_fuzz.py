"""Damaged checkpoints never load as different data: every single-byte change of a small checkpoint,
and hundreds of files with random damage (bit flips, cuts, insertions), raise the documented ValueError."""
import math

import numpy as np
import pytest

from minigrad.checkpoint import load, save

from test_checkpoint import assert_identical

OBJ = {"epoch": 7, "lr": 0.125, "betas": (0.9, 0.999), "best": math.inf, "name": "run-1",
       "state": {0: {"step": 3, "exp_avg": np.arange(3, dtype=np.float32)}}, "w": np.array([[1.5, -2.0]])}


def _outcome(path, data):
    """'rejected' if ``load`` raises the documented ValueError; else the content must be identical."""
    path.write_bytes(data)
    try:
        out = load(path)
    except ValueError as err:
        assert str(path) in str(err)
        return "rejected"
    assert_identical(OBJ, out)
    return "identical"


@pytest.fixture
def valid(tmp_path):
    save(OBJ, tmp_path / "valid")
    data = (tmp_path / "valid").read_bytes()
    assert_identical(OBJ, load(tmp_path / "valid"))
    return data


def test_every_single_byte_change_is_rejected(tmp_path, valid):
    variants = [valid[:i] + bytes([valid[i] ^ x]) + valid[i + 1:] for i in range(len(valid))
                for x in (0x01, 0x20, 0x80, 0xFF)]
    outcomes = [_outcome(tmp_path / "c", data) for data in variants]
    assert len(outcomes) > 2000 and outcomes.count("rejected") == len(outcomes)


def _damage(data, rng):
    """``data`` with one random kind of damage: flipped bits, a cut, inserted, deleted or replaced bytes."""
    kind = rng.integers(6)
    at = int(rng.integers(len(data)))
    if kind < 2:  # bit rot: one to three flipped bits
        damaged = np.frombuffer(data, np.uint8).copy()
        spots = rng.choice(len(data), size=rng.integers(1, 4), replace=False)
        damaged[spots] ^= np.left_shift(1, rng.integers(8, size=len(spots))).astype(np.uint8)
        return damaged.tobytes()
    if kind == 2:
        return data[:at]
    if kind == 3:
        return data[:at] + rng.bytes(int(rng.integers(1, 17))) + data[at:]
    if kind == 4:
        return data[:at] + data[at + int(rng.integers(1, 17)):]
    return data[:at] + rng.bytes(int(rng.integers(1, 17))) + data[at + int(rng.integers(1, 17)):]


def test_random_damage_is_rejected(tmp_path, valid):
    rng = np.random.default_rng(0)
    damaged = [d for d in (_damage(valid, rng) for _ in range(800)) if d != valid]
    outcomes = [_outcome(tmp_path / "c", data) for data in damaged]
    assert len(outcomes) > 700 and outcomes.count("rejected") == len(outcomes)
