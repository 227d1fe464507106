import json
import math
import os
import re
import stat
import struct

import numpy as np
import pytest
import safetensors.numpy

from minigrad import checkpoint
from minigrad.checkpoint import load, save
from minigrad.tensor import Tensor


class Param:
    """Stand-in for a minigrad Tensor: anything with a ``.data`` array is saved as that array."""

    def __init__(self, data):
        self.data = data


def assert_identical(a, b):
    """Same types all the way down (int is not bool, tuple is not list), floats and arrays bit for bit."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for (ka, va), (kb, vb) in zip(a.items(), b.items()):
            assert_identical(ka, kb)
            assert_identical(va, vb)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_identical(x, y)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b)
    else:
        assert a == b


ARRAYS = {
    "f32": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "f64": np.array([0.1, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1.7976931348623157e308]),
    "f16": np.array([1.5, -2.25], dtype=np.float16),
    "i64": np.array([-(2 ** 63), 2 ** 63 - 1], dtype=np.int64),
    "i32": np.array([[1, -2]], dtype=np.int32),
    "u8": np.arange(256, dtype=np.uint8),
    "bool": np.array([True, False, True]),
    "scalar0d": np.array(3.5, dtype=np.float32),
    "empty": np.zeros((0, 3), dtype=np.int64),
    "empty0": np.zeros(0, dtype=np.float64),
}


def test_round_trip_every_type(tmp_path):
    obj = {
        "arrays": dict(ARRAYS),
        "numbers": [0, -1, 2 ** 70, True, False, 0.1, -0.0, 1e300, 5e-324, math.inf, -math.inf, math.nan],
        "strings": ["", "héllo ✓", "0", "1.0", "null", "true"],
        "none": None,
        "tuple": (1, (2.0, [3, None]), ()),
        "empty": {"list": [], "dict": {}, "tuple": ()},
        "keys": {0: "int", "0": "str", 1.5: "float", True: "bool", None: "none", (1, "a"): "tuple"},
        "numpy_scalars": [np.float32(1.25), np.float64(-0.5), np.int64(7), np.bool_(True), np.uint8(255)],
        "param": Param(np.ones((2, 2), dtype=np.float32)),
    }
    path = tmp_path / "ckpt.safetensors"
    save(obj, path)
    out = load(path)
    out_param = out["param"]
    assert isinstance(out_param, np.ndarray)
    out["param"] = Param(out_param)
    assert_identical({k: v for k, v in obj.items() if k != "param"}, {k: v for k, v in out.items() if k != "param"})
    assert_identical(obj["param"].data, out_param)


def test_torch_style_optimizer_and_scheduler_state(tmp_path):
    state = {
        "model": {"fc.weight": np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32),
                  "fc.bias": np.zeros(4, dtype=np.float32)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": np.ones(3), "exp_avg_sq": np.full(3, 0.5)}, 1: {}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False,
                                        "params": [0, 1]}]},
        "scheduler": {"base_lrs": [0.1], "last_epoch": 7, "_step_count": 8, "milestones": {3: 1, 6: 2},
                      "best": math.inf, "mode": "min"},
        "epoch": 7,
    }
    save(state, tmp_path / "c")
    assert_identical(state, load(tmp_path / "c"))


def test_arrays_come_back_independent_writeable_contiguous(tmp_path):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    obj = {"transposed": base.T, "strided": base[:, ::2], "fortran": np.asfortranarray(base),
           "big_endian": base.astype(">f4"), "same_twice": [base, base]}
    save(obj, tmp_path / "c")
    out = load(tmp_path / "c")
    np.testing.assert_array_equal(out["transposed"], base.T)
    np.testing.assert_array_equal(out["strided"], base[:, ::2])
    np.testing.assert_array_equal(out["fortran"], base)
    np.testing.assert_array_equal(out["big_endian"], base.astype(np.float32))
    arrays = [out["transposed"], out["strided"], out["fortran"], out["big_endian"], *out["same_twice"]]
    for a in arrays:
        assert a.flags.c_contiguous and a.flags.writeable
    for i, a in enumerate(arrays):
        assert not any(np.shares_memory(a, b) for b in arrays[i + 1:])
    out["same_twice"][0][0, 0] = -1
    assert out["same_twice"][1][0, 0] == 0


def test_minigrad_tensors_are_saved_as_their_arrays(tmp_path):
    w = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    save({"w": w, "b": Tensor(np.zeros(0))}, tmp_path / "c")
    out = load(tmp_path / "c")
    assert_identical(out, {"w": w.data, "b": np.zeros(0)})


def test_arrays_are_named_by_their_path(tmp_path):
    save({"fc.weight": np.zeros(2), "state": {0: {"exp_avg": np.ones(1)}}}, tmp_path / "c")
    names = set(safetensors.numpy.load_file(tmp_path / "c"))
    assert names == {"fc.weight", "state.0.exp_avg"}


def test_clashing_paths_get_distinct_names(tmp_path):
    obj = {"a.b": np.zeros(1), "a": {"b": np.ones(1)}}
    save(obj, tmp_path / "c")
    assert_identical(obj, load(tmp_path / "c"))


@pytest.mark.parametrize("bad, where", [
    ({"x": {1, 2}}, "x"),
    ({"opt": [object()]}, "opt.0"),
    ({"a": np.array([None, 1], dtype=object)}, "a"),
    ({"c": np.ones(2, dtype=np.complex64)}, "c"),
    ({"s": np.array(["text"])}, "s"),
])
def test_unsupported_values_name_their_path(tmp_path, bad, where):
    with pytest.raises(TypeError, match=re.escape(repr(where))):
        save(bad, tmp_path / "c")
    assert not os.listdir(tmp_path)


def test_save_overwrites_and_honours_umask(tmp_path):
    path = tmp_path / "c"
    save({"v": 1}, path)
    save({"v": 2}, str(path))
    assert load(path) == {"v": 2}
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["c"]


@pytest.mark.parametrize("failing, error", [("fsync", KeyboardInterrupt), ("replace", OSError)])
def test_failed_save_leaves_old_file_and_no_temp(tmp_path, monkeypatch, failing, error):
    path = tmp_path / "model.ckpt"
    save({"w": np.arange(3.0)}, path)
    before = path.read_bytes()

    def fail(*args):
        raise error("simulated crash")

    monkeypatch.setattr(checkpoint.os, failing, fail)
    with pytest.raises(error):
        save({"w": np.zeros(1000)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.ckpt"]
    np.testing.assert_array_equal(load(path)["w"], np.arange(3.0))


def test_write_interrupted_midway_leaves_old_file(tmp_path, monkeypatch):
    path = tmp_path / "c"
    save({"w": 1}, path)
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[:len(data) // 2])
            raise OSError("disk full")

    monkeypatch.setattr(checkpoint.os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="disk full"):
        save({"w": np.zeros(100)}, path)
    monkeypatch.undo()
    assert load(path) == {"w": 1}
    assert os.listdir(tmp_path) == ["c"]


def _valid_bytes(tmp_path):
    save({"w": np.arange(10.0), "step": 3}, tmp_path / "valid")
    return (tmp_path / "valid").read_bytes()


def _safetensors_with_tree(tree):
    tree = tree if isinstance(tree, str) else json.dumps(tree)
    return safetensors.numpy.save({}, metadata={"format": checkpoint.FORMAT, "crc32": "0", "tree": tree})


class Boom:
    """Loading a pickle of this would create ``marker``: the test checks that it never exists."""

    marker = None

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickled_npy(tmp_path):
    Boom.marker = str(tmp_path / "EXECUTED")
    path = tmp_path / "evil.npy"
    np.save(path, np.array([Boom()], dtype=object), allow_pickle=True)
    return path.read_bytes()


def _corruptions(tmp_path):
    valid = _valid_bytes(tmp_path)
    (n,) = struct.unpack("<Q", valid[:8])
    flipped, data_flipped = bytearray(valid), bytearray(valid)
    flipped[8 + n // 2] ^= 0xFF
    data_flipped[-5] ^= 0x01
    np.savez(tmp_path / "arrays.npz", w=np.arange(3))
    return {
        "empty": b"",
        "four bytes": valid[:4],
        "header cut": valid[:8 + n // 2],
        "data cut": valid[:-3],
        "one byte short": valid[:-1],
        "trailing garbage": valid + b"xyz",
        "header flipped": bytes(flipped),
        "data bit flipped": bytes(data_flipped),
        "random bytes": np.random.default_rng(0).bytes(4096),
        "huge header length": struct.pack("<Q", 2 ** 62) + b"{}",
        "json text": b'{"w": [1, 2, 3]}',
        "npz": (tmp_path / "arrays.npz").read_bytes(),
        "pickled npy": _pickled_npy(tmp_path),
        "foreign safetensors": safetensors.numpy.save({"w": np.zeros(3)}),
        "foreign metadata": safetensors.numpy.save({"w": np.zeros(3)}, metadata={"format": "pt"}),
        "tree not json": _safetensors_with_tree("{not json"),
        "missing tensor": _safetensors_with_tree({"array": "nowhere"}),
        "python class": _safetensors_with_tree({"__class__": "os.system", "args": ["touch x"]}),
        "pickle tag": _safetensors_with_tree({"pickle": "gASVAAAAAAAAAACMAm9zlIwGc3lzdGVtlJOULg=="}),
        "unknown float": _safetensors_with_tree({"float": "1e5"}),
        "bad dict pairs": _safetensors_with_tree({"dict": [[1, 2, 3]]}),
        "unhashable key": _safetensors_with_tree({"dict": [[[1], 2]]}),
        "tree is not json": _safetensors_with_tree("1e999x"),
        "no tree": safetensors.numpy.save({}, metadata={"format": checkpoint.FORMAT, "crc32": "0"}),
        "no checksum": safetensors.numpy.save({}, metadata={"format": checkpoint.FORMAT, "tree": "1"}),
    }


def test_bad_files_raise_value_error_naming_the_path(tmp_path):
    for name, data in _corruptions(tmp_path).items():
        path = tmp_path / f"{name}.ckpt"
        path.write_bytes(data)
        with pytest.raises(ValueError, match=re.escape(str(path))):
            load(path)
    assert not (tmp_path / "EXECUTED").exists()


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nothing")
