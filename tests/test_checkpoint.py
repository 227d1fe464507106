import hashlib
import io
import json
import math
import os
import re
import signal
import stat
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import example, given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import checkpoint
from minigrad.checkpoint import load, save
from minigrad.tensor import Tensor


def assert_identical(a, b):
    """Same types all the way down (int is not bool, tuple is not list), floats and arrays bit for bit."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, Tensor):
        assert a.requires_grad == b.requires_grad and b.is_leaf
        assert_identical(a.numpy(), b.numpy())
    elif isinstance(a, dict):
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
        "tensors": [Tensor(np.ones((2, 2), dtype=np.float32)), mg.nn.Parameter(np.zeros(3))],
    }
    path = tmp_path / "ckpt.safetensors"
    save(obj, path)
    assert_identical(obj, load(path))


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


def _non_leaf():
    return mg.tensor([1.5, -2.0], requires_grad=True) * 2


@pytest.mark.parametrize("make, kind, requires_grad", [
    (lambda: Tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 7), Tensor, False),
    (lambda: Tensor(np.array([np.nan, -0.0, 5e-324]), requires_grad=True), Tensor, True),
    (lambda: Tensor(np.arange(6, dtype=np.int64).reshape(3, 2).T), Tensor, False),  # not contiguous
    (lambda: Tensor(np.array([True, False])), Tensor, False),
    (lambda: Tensor(np.array(2.5, dtype=np.float16)), Tensor, False),
    (lambda: Tensor(np.zeros((0, 4), dtype=np.uint8)), Tensor, False),
    (lambda: mg.nn.Parameter(np.arange(4, dtype=np.float32)), mg.nn.Parameter, True),
    (lambda: mg.nn.Parameter(np.ones((2, 2)), requires_grad=False), mg.nn.Parameter, False),
    (_non_leaf, Tensor, True),  # saved by its values: it loads as a leaf, as in torch
])
def test_tensors_and_parameters_round_trip(tmp_path, make, kind, requires_grad):
    tensor = make()
    save({"t": tensor, "in": [tensor.detach()]}, tmp_path / "c")
    out = load(tmp_path / "c")
    loaded = out["t"]
    assert type(loaded) is kind and loaded.is_leaf and loaded.grad_fn is None
    assert loaded.requires_grad is requires_grad and loaded.dtype == tensor.dtype
    assert loaded.numpy().tobytes() == np.ascontiguousarray(tensor.numpy()).tobytes()
    assert loaded.numpy().flags.c_contiguous and loaded.numpy().flags.writeable
    assert type(out["in"][0]) is Tensor and not out["in"][0].requires_grad
    assert not np.shares_memory(loaded.numpy(), out["in"][0].numpy())


def test_v2_files_without_tensor_nodes_load_tensors_as_arrays(tmp_path):
    """Files written before tensors had their own node hold them as arrays: they still load so."""
    tree = {"dict": [["w", {"array": "w"}], ["s", {"scalar": "s"}]]}
    arrays = {"w": np.arange(3, dtype=np.float32), "s": np.array(2, dtype=np.int64)}
    (tmp_path / "c").write_bytes(_signed(arrays, {"format": checkpoint.FORMAT, "tree": json.dumps(tree)}))
    assert_identical(load(tmp_path / "c"), {"w": arrays["w"], "s": np.int64(2)})


def _model():
    return mg.nn.Sequential(mg.nn.Linear(4, 8), mg.nn.BatchNorm1d(8), mg.nn.ReLU(), mg.nn.Linear(8, 3))


def test_state_dict_save_load_into_a_fresh_model():
    mg.manual_seed(0)
    model, x = _model(), mg.randn(5, 4)
    model(x)  # moves BatchNorm's running statistics and counter
    model.eval()
    buffer = io.BytesIO()
    save(model.state_dict(), buffer)
    loaded = load(io.BytesIO(buffer.getvalue()), map_location="cpu")
    assert list(loaded) == list(model.state_dict())
    assert all(type(v) is Tensor and not v.requires_grad for v in loaded.values())
    fresh = _model()
    fresh.load_state_dict(loaded)
    fresh.eval()
    assert fresh(x).numpy().tobytes() == model(x).numpy().tobytes()
    assert all(isinstance(p, mg.nn.Parameter) and p.requires_grad for p in fresh.parameters())


@pytest.mark.parametrize("obj, where", [
    (lambda m: m, "root"),
    (lambda m: {"model": m, "epoch": 3}, "model"),
    (lambda m: {"runs": [(1, m)]}, "runs.0.1"),
    (lambda m: {"layer": m[0]}, "layer"),
])
@pytest.mark.parametrize("to_file", [True, False])
def test_saving_a_module_is_refused_before_writing(tmp_path, obj, where, to_file):
    target = tmp_path / "c" if to_file else io.BytesIO()
    name = "Sequential" if where != "layer" else "Linear"
    message = f"save: cannot save a Module ({name}) at {where!r}: minigrad never pickles; save its state_dict()"
    with pytest.raises(TypeError, match=re.escape(message)):
        save(obj(_model()), target)
    assert not os.listdir(tmp_path) if to_file else target.getvalue() == b""


STATE = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "step": 7, "t": Tensor(np.ones(2), requires_grad=True)}


@pytest.mark.parametrize("buffering", [None, -1, 0])  # io.BytesIO, a buffered and a raw (unbuffered) file
def test_file_objects_round_trip_from_their_position(tmp_path, buffering):
    with io.BytesIO() if buffering is None else open(tmp_path / "c", "w+b", buffering=buffering) as f:
        f.write(b"prefix")
        save(STATE, f)
        assert f.seek(6) == 6
        assert_identical(STATE, load(f))
        assert f.read() == b""  # load read all
    assert os.listdir(tmp_path) == ([] if buffering is None else ["c"])  # no temporary: written in place


def test_bad_bytes_from_a_file_object_raise_value_error_naming_it(tmp_path):
    data = _valid_bytes(tmp_path)[:-1]
    with pytest.raises(ValueError, match=re.escape("BytesIO object at 0x")):
        load(io.BytesIO(data))
    (tmp_path / "cut").write_bytes(data)
    with open(tmp_path / "cut", "rb") as f, pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'cut'} is not")):
        load(f)


@pytest.mark.parametrize("f, kind", [(3, "int"), (None, "NoneType"), (io.StringIO(), "StringIO"),
                                     ("text", "TextIOWrapper")])
def test_save_refuses_what_is_neither_a_path_nor_a_binary_file(tmp_path, f, kind):
    with open(tmp_path / "text", "w") as text:
        with pytest.raises(TypeError, match=re.escape(f"save: f must be a path or a file object opened for binary "
                                                      f"writing, got {kind}")):
            save(STATE, text if f == "text" else f)
    assert os.listdir(tmp_path) == ["text"] and (tmp_path / "text").read_bytes() == b""


def test_load_refuses_what_is_neither_a_path_nor_a_binary_file(tmp_path):
    save(STATE, tmp_path / "c")
    with open(tmp_path / "c") as text, pytest.raises(TypeError, match="got TextIOWrapper"):
        load(text)
    with pytest.raises(TypeError, match="load: f must be a path or a file object opened for binary reading, got int"):
        load(3)
    with pytest.raises(TypeError, match=re.escape("load: f.read() must return bytes, got str")):
        load(type("Reader", (), {"read": lambda self: "text"})())


class Device:
    """Stands for ``minigrad.device``/``torch.device``: only its ``str`` counts."""

    def __init__(self, name):
        self.name = name

    def __str__(self):
        return self.name

    __repr__ = __str__


@pytest.mark.parametrize("map_location", [None, "cpu", Device("cpu"), {"cuda:0": "cpu", "cpu": Device("cpu")}, {},
                                          lambda storage, location: storage])
@pytest.mark.parametrize("weights_only", [True, False, None])
@pytest.mark.parametrize("mmap", [None, False, True])
def test_torch_keywords_are_accepted_and_change_nothing(tmp_path, map_location, weights_only, mmap):
    save(STATE, tmp_path / "c")
    assert_identical(STATE, load(tmp_path / "c", map_location=map_location, weights_only=weights_only, mmap=mmap))
    if not mmap:
        with open(tmp_path / "c", "rb") as f:
            assert_identical(STATE, load(f, map_location, weights_only=weights_only, mmap=mmap))


@pytest.mark.parametrize("map_location, error", [
    ("cuda", "load: map_location is 'cuda', but minigrad runs on the CPU only"),
    ("cuda:0", "load: map_location is 'cuda:0'"),
    (Device("cuda:1"), "load: map_location is cuda:1, but"),
    ({"cpu": "cpu", "cuda:0": "cuda:1"}, "load: map_location['cuda:0'] is 'cuda:1'"),
    ("mps", "map_location is 'mps'"),
])
def test_map_location_naming_another_device_is_a_value_error(tmp_path, map_location, error):
    save(STATE, tmp_path / "c")
    with open(tmp_path / "c", "rb") as f:
        with pytest.raises(ValueError, match=re.escape(error)):
            load(f, map_location=map_location)
        assert f.tell() == 0  # refused before reading


@pytest.mark.parametrize("kwargs, error, message", [
    ({"weights_only": "yes"}, TypeError, "load: weights_only must be a bool or None, got str"),
    ({"mmap": 1}, TypeError, "load: mmap must be a bool or None, got int"),
    ({"pickle_module": None}, TypeError, "unexpected keyword argument 'pickle_module'"),
    ({"mmap": True}, ValueError, "load: f must be a file path in order to use the mmap argument"),
])
def test_bad_load_keywords(kwargs, error, message):
    buffer = io.BytesIO()
    save(STATE, buffer)
    buffer.seek(0)
    with pytest.raises(error, match=re.escape(message)):
        load(buffer, **kwargs)
    assert buffer.tell() == 0


def _like_torch_state(lib):
    """The same state in torch or minigrad: parameters (one frozen), a result of an op, an int tensor."""
    return {"w": lib.nn.Parameter(lib.zeros(3)), "frozen": lib.nn.Parameter(lib.ones(2), requires_grad=False),
            "y": lib.ones(2, requires_grad=True) * 2, "t": lib.arange(4), "step": 3, "pair": (1.5, "a")}


def _summary(obj):
    """Library-neutral: type name, dtype, requires_grad, is_leaf and values of each tensor."""
    if isinstance(obj, dict):
        return {key: _summary(value) for key, value in obj.items()}
    if hasattr(obj, "requires_grad"):
        return type(obj).__name__, str(obj.dtype).split(".")[-1], obj.requires_grad, obj.is_leaf, obj.tolist()
    return obj


@pytest.mark.parametrize("map_location", [None, "cpu", "torch.device", {"cuda:0": "cpu"}, lambda s, location: s])
@pytest.mark.parametrize("weights_only", [True, False])
def test_like_torch_save_load_through_bytes_io(map_location, weights_only):
    torch = pytest.importorskip("torch")
    if map_location == "torch.device":
        map_location = torch.device("cpu")
    summaries = []
    for lib in (torch, mg):
        buffer = io.BytesIO()
        lib.save(_like_torch_state(lib), buffer)
        buffer.seek(0)
        summaries.append(_summary(lib.load(buffer, map_location=map_location, weights_only=weights_only)))
    assert summaries[0] == summaries[1]
    assert summaries[1]["y"] == ("Tensor", "float32", True, True, [2.0, 2.0])


def test_like_torch_mmap_needs_a_path(tmp_path):
    torch = pytest.importorskip("torch")
    for lib in (torch, mg):
        lib.save({"w": lib.zeros(2)}, tmp_path / "c")
        assert lib.load(tmp_path / "c", mmap=True)["w"].tolist() == [0.0, 0.0]
        with open(tmp_path / "c", "rb") as f, pytest.raises(ValueError, match="must be a file path .* mmap"):
            lib.load(f, mmap=True)


def test_like_torch_state_dict_loads_across_libraries_by_values():
    """A minigrad state_dict holds what torch's does: same keys, and the values load into torch."""
    torch = pytest.importorskip("torch")
    model = mg.nn.Linear(3, 2)
    buffer = io.BytesIO()
    save(model.state_dict(), buffer)
    buffer.seek(0)
    loaded = load(buffer)
    twin = torch.nn.Linear(3, 2)
    assert list(loaded) == list(twin.state_dict())
    twin.load_state_dict({key: torch.from_numpy(value.numpy()) for key, value in loaded.items()})
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(twin(torch.from_numpy(x)).detach().numpy(), model(mg.tensor(x)).numpy(), rtol=1e-6)


def test_arrays_are_named_by_their_path(tmp_path):
    save({"fc.weight": np.zeros(2), "state": {0: {"exp_avg": np.ones(1)}}}, tmp_path / "c")
    names = set(safetensors.numpy.load_file(tmp_path / "c"))
    assert names == {"fc.weight", "state.0.exp_avg"}


@pytest.mark.parametrize("obj", [
    {"a.b": np.zeros(1), "a": {"b": np.ones(1)}},
    {"a.b#2": np.full(1, 2.0), "a.b": np.zeros(1), "a": {"b": np.ones(1)}},  # "#N" is no escape hatch
    {"a": {"b": np.ones(1)}, "a.b": np.zeros(1), "a.b#1": np.full(1, 2.0), "a.b#1#1": np.full(1, 3.0)},
    {"__metadata__": np.ones(2), "x": {"__metadata__": 1}},  # the name safetensors keeps for its metadata
    {0: np.zeros(1), "0": np.ones(1), 0.5: np.full(1, 2.0), "0.5": np.full(1, 3.0), None: np.full(1, 4.0),
     "None": np.full(1, 5.0)},
    {"\ud800": np.ones(1), "\\ud800": np.zeros(1)},  # a lone surrogate cannot be a UTF-8 tensor name
])
def test_clashing_paths_get_distinct_names(tmp_path, obj):
    save(obj, tmp_path / "c")
    assert_identical(obj, load(tmp_path / "c"))


KEYS = st.one_of(st.sampled_from(["a", "b", "a.b", "b#1", "a.b#1", "a.b#2", "#1", "1", 1, 2, (1, "a")]),
                 st.text(alphabet="ab.#12", max_size=4), st.integers(-1, 3))


def _nest(paths):
    """A tree of dicts with an array at the end of each path (unless the path runs through an array)."""
    tree = {}
    for i, path in enumerate(paths):
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            node.setdefault(path[-1], np.full(2, i))
    return tree


@settings(max_examples=200, deadline=None)
@given(paths=st.lists(st.lists(KEYS, min_size=1, max_size=3), max_size=12))
@example(paths=[["a.b#2"], ["a.b"], ["a", "b"]])
def test_random_nested_keys_round_trip(tmp_path_factory, paths):
    """Keys full of '.', '#' and digits, int and tuple keys: every array comes back at its own place."""
    path = tmp_path_factory.mktemp("keys") / "c"
    save(_nest(paths), path)
    assert_identical(_nest(paths), load(path))


@pytest.mark.parametrize("bad, where", [
    ({"x": {1, 2}}, "x"),
    ({"opt": [object()]}, "opt.0"),
    ({"a": np.array([None, 1], dtype=object)}, "a"),
    ({"c": np.ones(2, dtype=np.complex64)}, "c"),
    ({"c": [np.complex128(1j)]}, "c.0"),
    ({"s": np.array(["text"])}, "s"),
    ({"s": np.str_("text")}, "s"),  # a str subclass that would come back as plain str
    ({"b": b"bytes"}, "b"),
    ({"q": {"w": np.zeros(2, dtype=np.longdouble)}}, "q.w"),
    ({"q": np.longdouble(1)}, "q"),
    ({"m": np.ma.masked_array([1.0, 2.0], mask=[False, True])}, "m"),
    ({"m": [np.ma.masked]}, "m.0"),
    ({"r": np.zeros(2, dtype=[("x", "<f4"), ("y", "<i8")])}, "r"),
    ({"t": np.array([1, 2], dtype="datetime64[s]")}, "t"),
    ({"d": {np.str_("k"): 1}}, "d.key"),
])
def test_unsupported_values_name_their_path(tmp_path, bad, where):
    with pytest.raises(TypeError, match=re.escape(repr(where))):
        save(bad, tmp_path / "c")
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("key, kind", [
    (Tensor(np.zeros(2)), "Tensor"),
    ((1, Tensor(np.zeros(2))), "Tensor"),
    (b"bytes", "bytes"),
    (frozenset({1}), "frozenset"),
])
def test_unloadable_dict_keys_are_refused_at_save(tmp_path, key, kind):
    with pytest.raises(TypeError, match=re.escape(f"dict key at 'outer.inner' is a {kind}")):
        save({"outer": {"inner": {key: 1}}}, tmp_path / "c")
    assert not os.listdir(tmp_path)


def test_optimizer_state_keyed_by_parameters_is_refused_at_save(tmp_path):
    """``opt.state`` is keyed by the Parameters themselves: save ``opt.state_dict()`` instead."""
    model = mg.nn.Linear(3, 2)
    opt = mg.optim.Adagrad(model.parameters(), lr=0.1)  # its state exists from construction
    assert opt.state
    with pytest.raises(TypeError, match=re.escape("save: dict key at 'opt_state' is a Parameter")):
        mg.save({"opt_state": opt.state}, tmp_path / "c")
    assert not os.listdir(tmp_path)
    mg.save({"opt_state": opt.state_dict()}, tmp_path / "c")
    assert load(tmp_path / "c")["opt_state"].keys() == opt.state_dict().keys()


def test_supported_keys_round_trip_exactly(tmp_path):
    python = [None, True, 7, -1, 2 ** 64, -(2 ** 200), 0.5, -0.0, math.inf, "", "a.b", "#1",
              (), (1,), ("a", (2, (None, 1.5)))]
    numpy = [np.int64(3), np.float32(2.5), np.bool_(True), np.uint8(200), np.float16(-0.25)]
    obj = {"python": {key: i for i, key in enumerate(python)}, "numpy": {key: i for i, key in enumerate(numpy)}}
    assert (len(obj["python"]), len(obj["numpy"])) == (len(python), len(numpy))  # no two keys are equal
    save(obj, tmp_path / "c")
    assert_identical(obj, load(tmp_path / "c"))


def _bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _float(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


NANS = [0x7FF8000000000000, 0xFFF8000000000000, 0x7FF8000000000001, 0xFFFC00000000BEEF, 0x7FF4000000000000]


def test_floats_round_trip_bit_for_bit(tmp_path):
    floats = [-math.nan, math.nan, *map(_float, NANS), -0.0, 0.0, math.inf, -math.inf, 5e-324, -1.7976931348623157e308]
    obj = {"python": floats, "as_keys": {_float(NANS[3]): 1, -math.inf: 2},
           "numpy": [np.float64(-np.nan), np.float32(-np.nan), np.float16(-np.nan),
                     np.array(NANS, dtype=np.uint64).view(np.float64)[3], np.uint32(0xFFC0_0001).view(np.float32)]}
    save(obj, tmp_path / "c")
    out = load(tmp_path / "c")
    assert [_bits(x) for x in out["python"]] == [_bits(x) for x in floats]
    assert [_bits(x) for x in out["as_keys"]] == [_bits(x) for x in obj["as_keys"]]
    assert [type(x) for x in out["numpy"]] == [type(x) for x in obj["numpy"]]
    assert [x.tobytes() for x in out["numpy"]] == [x.tobytes() for x in obj["numpy"]]
    assert _bits(out["python"][0]) >> 63 == 1  # -nan keeps its sign


def test_ints_of_any_size_round_trip(tmp_path):
    ints = [2 ** 63 - 1, -(2 ** 63), 2 ** 64 - 1, 2 ** 64, -(2 ** 64) - 1, 10 ** 5000, -(7 ** 9000)]
    save({"ints": ints}, tmp_path / "c")
    assert_identical({"ints": ints}, load(tmp_path / "c"))


def test_odd_arrays_save_as_their_values(tmp_path):
    base = np.arange(60, dtype=np.int32).reshape(3, 4, 5)
    memmap = np.memmap(tmp_path / "mm", dtype=np.float32, mode="w+", shape=(4,))
    memmap[:] = [1, 2, 3, 4]
    obj = {"fortran": np.asfortranarray(base), "reversed": base[::-1, :, ::-2], "transposed": base.transpose(2, 0, 1),
           "broadcast": np.broadcast_to(np.arange(3.0), (4, 3)), "zero_size": [np.zeros((0, 5), bool), base[:, :0]],
           "zero_d": [np.array(True), np.array(-7, dtype=np.int8), np.array(np.nan, dtype=np.float16)],
           "memmap": memmap, "big_endian_ints": np.arange(4, dtype=">u2"), "every_dtype": [
               np.arange(3).astype(t) for t in ("?", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8")]}
    save(obj, tmp_path / "c")
    out = load(tmp_path / "c")
    native = {key: value for key, value in obj.items() if key not in ("memmap", "big_endian_ints")}
    assert_identical({k: np.ascontiguousarray(v) if isinstance(v, np.ndarray) else v for k, v in native.items()},
                     {k: out[k] for k in native})
    assert type(out["memmap"]) is np.ndarray and out["memmap"].tolist() == [1, 2, 3, 4]
    assert out["big_endian_ints"].dtype == np.dtype("<u2") and out["big_endian_ints"].tolist() == [0, 1, 2, 3]


def test_self_containing_obj_is_a_value_error(tmp_path):
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nested too deeply"):
        save({"loop": loop}, tmp_path / "c")
    assert not os.listdir(tmp_path)


def test_oversized_header_is_refused_at_save_before_writing(tmp_path):
    save({"v": 1}, tmp_path / "c")
    with pytest.raises(ValueError, match="header"):
        save({"v": 2, "notes": "x" * 100_000_001}, tmp_path / "c")
    assert load(tmp_path / "c") == {"v": 1}
    assert os.listdir(tmp_path) == ["c"]


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


CHILD = """
import os, sys, time
import numpy as np
from minigrad import checkpoint

def hang(fd):  # the temporary holds every byte; die before the rename
    print("written", flush=True)
    time.sleep(60)

os.fsync = hang
checkpoint.save({"w": np.zeros(1_000_000)}, sys.argv[1])
"""


def test_save_killed_midway_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    path = tmp_path / "model.ckpt"
    save({"v": 1}, path)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True,
                             cwd=tmp_path)  # not the repository root, whose minigrad/ has no _C
    try:
        assert child.stdout.readline() == "written\n"
        (temp,) = set(os.listdir(tmp_path)) - {"model.ckpt"}
        assert re.fullmatch(r"\.model\.ckpt\.[0-9a-f]{12}\.tmp", temp) and os.path.getsize(tmp_path / temp) > 8e6
        save({"v": 2}, path)  # the child's save is still running: its temporary is not stale
        assert sorted(os.listdir(tmp_path)) == sorted([temp, "model.ckpt"])
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert load(path) == {"v": 2}
    others = [".model.ckpt.0123456789ab.tmp.x", ".model.ckpt.0123456789AB.tmp", ".model.ckpt.tmp",
              "model.ckpt.0123456789ab.tmp", ".model.0123456789ab.tmp", ".other.0123456789ab.tmp"]
    for name in others:
        (tmp_path / name).write_bytes(b"not ours")
    os.symlink(others[0], tmp_path / ".model.ckpt.abcdefabcdef.tmp")  # named like ours, but a link
    save({"v": 3}, path)
    assert sorted(os.listdir(tmp_path)) == sorted(["model.ckpt", ".model.ckpt.abcdefabcdef.tmp", *others])
    assert load(path) == {"v": 3}


def test_temporary_taken_for_stale_by_another_save_is_made_anew(tmp_path, monkeypatch):
    """Another save may delete our temporary between its creation and our lock: start over."""
    real_open, lost = os.open, []

    def open_then_lose(name, flags, *mode):
        fd = real_open(name, flags, *mode)
        if flags & os.O_EXCL and not lost:
            os.unlink(name)
            lost.append(name)
        return fd

    monkeypatch.setattr(checkpoint.os, "open", open_then_lose)
    save({"v": 1}, tmp_path / "c")
    monkeypatch.undo()
    assert lost and load(tmp_path / "c") == {"v": 1}
    assert os.listdir(tmp_path) == ["c"]


def test_save_through_a_symlink_writes_the_file_it_points_to(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    save({"v": 1}, tmp_path / "real" / "c")
    os.symlink("../real/c", tmp_path / "links" / "c")
    os.symlink("../real/new", tmp_path / "links" / "new")  # dangling: save creates its target
    save({"v": 2}, tmp_path / "links" / "c")
    save({"v": 3}, tmp_path / "links" / "new")
    assert os.path.islink(tmp_path / "links" / "c") and os.path.islink(tmp_path / "links" / "new")
    assert load(tmp_path / "real" / "c") == {"v": 2} and load(tmp_path / "real" / "new") == {"v": 3}
    assert sorted(os.listdir(tmp_path / "real")) == ["c", "new"]
    assert sorted(os.listdir(tmp_path / "links")) == ["c", "new"]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_save_keeps_the_permission_bits_of_the_file_it_replaces(tmp_path, mode):
    path = tmp_path / "c"
    save({"v": 1}, path)
    os.chmod(path, mode)
    save({"v": 2}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert load(path) == {"v": 2}


def _signed(tensors, metadata):
    """A v2 file as ``save`` writes it: its sha256 field holds the hash of the file with the field zeroed."""
    data = safetensors.numpy.save(tensors, metadata={**metadata, "sha256": "0" * 64})
    return data.replace(b'"sha256":"' + b"0" * 64, b'"sha256":"' + hashlib.sha256(data).hexdigest().encode())


def test_file_is_safetensors_with_a_sha256_of_the_whole_file(tmp_path):
    obj = {"w": np.arange(4.0), "epoch": 3}
    save(obj, tmp_path / "c")
    data = (tmp_path / "c").read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    metadata = json.loads(data[8:8 + n])["__metadata__"]
    assert set(metadata) == {"format", "sha256", "tree"} and metadata["format"] == "minigrad.checkpoint.v2"
    digest = metadata["sha256"].encode()
    assert data.count(b'"sha256":"' + digest + b'"') == 1
    assert hashlib.sha256(data.replace(digest, b"0" * 64)).hexdigest().encode() == digest
    np.testing.assert_array_equal(safetensors.numpy.load(data)["w"], obj["w"])


def _v1_file(tree, arrays):
    """A file as v1 wrote it: a CRC-32 of the arrays' bytes in name order, and no hash of the header."""
    crc = 0
    for name in sorted(arrays):
        crc = zlib.crc32(arrays[name].tobytes(), crc)
    return safetensors.numpy.save(arrays, metadata={"format": "minigrad.checkpoint.v1", "crc32": str(crc),
                                                    "tree": json.dumps(tree)})


def test_v1_files_still_load_with_their_crc32_checked(tmp_path):
    tree = {"dict": [["w", {"array": "w"}], ["step", 3], [{"tuple": [1, "a"]}, [{"float": "nan"}, {"float": "-inf"}]]]}
    path = tmp_path / "v1"
    path.write_bytes(_v1_file(tree, {"w": np.arange(3.0)}))
    out = load(path)
    np.testing.assert_array_equal(out.pop("w"), np.arange(3.0))
    assert out.keys() == {"step", (1, "a")} and out["step"] == 3
    assert math.isnan(out[1, "a"][0]) and out[1, "a"][1] == -math.inf
    damaged = bytearray(path.read_bytes())
    damaged[-1] ^= 1
    path.write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="checksum mismatch"):
        load(path)


def test_oversized_header_with_a_valid_hash_is_a_value_error(tmp_path):
    """safetensors reads headers up to 100 MB: a larger one is refused as it is at save."""
    zeros = json.dumps({"__metadata__": {"format": checkpoint.FORMAT, "sha256": "0" * 64, "tree": "1"}}).encode()
    header = zeros.replace(b'": "', b'":"') + b" " * 100_000_000
    data = struct.pack("<Q", len(header)) + header
    digest = hashlib.sha256(data).hexdigest().encode()
    (tmp_path / "c").write_bytes(data.replace(b"0" * 64, digest))
    with pytest.raises(ValueError, match="over safetensors' limit"):
        load(tmp_path / "c")


def _valid_bytes(tmp_path):
    save({"w": np.arange(10.0), "step": 3}, tmp_path / "valid")
    return (tmp_path / "valid").read_bytes()


def _safetensors_with_tree(tree, version=checkpoint.FORMAT):
    """A file whose hash is right: only its tree is wrong."""
    return _signed({}, {"format": version, "tree": tree if isinstance(tree, str) else json.dumps(tree)})


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
    edited = valid.replace(b'\\"step\\",3]', b'\\"step\\",4]')  # same length, so still well-formed
    assert edited != valid
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
        "unknown int": _safetensors_with_tree({"int": "12"}),
        "short float bits": _safetensors_with_tree({"float": "7ff8"}),
        "future format": _safetensors_with_tree("1", "minigrad.checkpoint.v3"),
        "no tree": _signed({}, {"format": checkpoint.FORMAT}),
        "no checksum": safetensors.numpy.save({}, metadata={"format": checkpoint.FORMAT, "tree": "1"}),
        "zeroed checksum": safetensors.numpy.save({}, metadata={"format": checkpoint.FORMAT, "tree": "1",
                                                                 "sha256": "0" * 64}),
        "step edited in the header": edited,
        **{f"tensor node {name}": _signed({"w": np.zeros(2, dtype), "i": np.arange(2)},
                                          {"format": checkpoint.FORMAT, "tree": json.dumps(tree)})
           for name, dtype, tree in [
               ("missing array", np.float32, {"tensor": "nowhere", "requires_grad": False}),
               ("name not str", np.float32, {"tensor": ["w"], "requires_grad": False}),
               ("requires_grad not bool", np.float32, {"tensor": "w", "requires_grad": 1}),
               ("extra key", np.float32, {"tensor": "w", "requires_grad": False, "grad": "w"}),
               ("int requiring grad", np.float32, {"tensor": "i", "requires_grad": True}),
               ("int parameter", np.float32, {"parameter": "i", "requires_grad": False}),
               ("float16 parameter", np.float16, {"parameter": "w", "requires_grad": True}),
           ]},
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
