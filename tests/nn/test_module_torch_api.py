"""torch.nn.Module's API on minigrad.nn.Module: hooks, devices and dtypes, registration checks, dotted
look-ups, ParameterList/ParameterDict; compared with torch where it is installed."""
from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

import minigrad
from minigrad import nn
from minigrad.nn import containers
from minigrad.nn.containers import ParameterDict, ParameterList

from minigrad.utils.hooks import RemovableHandle


def _hook_log(lib: Any) -> list[Any]:
    """Register pre and post hooks (prepend, kwargs, replacement, removal) on a Linear of ``lib``, call it
    three times and return what the hooks saw and the outputs, as plain values."""
    layer = lib.nn.Linear(2, 2)
    log: list[Any] = []
    to_np = (lambda t: t.detach().numpy().round(6).tolist())
    h1 = layer.register_forward_pre_hook(lambda m, args: log.append(("pre1", to_np(args[0]))))
    layer.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    layer.register_forward_pre_hook(lambda m, args: log.append(("pre0", len(args))), prepend=True)
    layer.register_forward_pre_hook(lambda m, args, kwargs: log.append(("prekw", sorted(kwargs))), with_kwargs=True)
    h2 = layer.register_forward_hook(lambda m, args, out: out + 1)
    layer.register_forward_hook(lambda m, args, kwargs, out: log.append(("postkw", to_np(args[0]), to_np(out))),
                                with_kwargs=True)
    layer.register_forward_hook(lambda m, args, out: log.append(("post0", to_np(out))), prepend=True)
    with lib.no_grad():
        layer.weight.copy_(lib.tensor([[1.0, 2.0], [3.0, 4.0]]))
        layer.bias.zero_()
    x = lib.tensor([[1.0, -1.0]])
    log.append(("out", to_np(layer(x))))
    h1.remove()
    h2.remove()
    h2.remove()
    log.append(("out", to_np(layer(x))))
    return log


def test_hooks_match_torch() -> None:
    torch = pytest.importorskip("torch")
    assert _hook_log(minigrad) == _hook_log(torch)


def test_hook_order_replacement_and_removal() -> None:
    layer, calls = nn.Identity(), []
    pre = layer.register_forward_pre_hook(lambda m, args: args[0] + 1)  # a single value: wrapped in a tuple
    layer.register_forward_hook(lambda m, args, out: calls.append("second"))
    layer.register_forward_hook(lambda m, args, out: calls.append("first"), prepend=True)
    assert layer(minigrad.tensor(1.0)).item() == 2.0 and calls == ["first", "second"]
    pre.remove()
    assert layer(minigrad.tensor(1.0)).item() == 1.0
    with layer.register_forward_hook(lambda m, args, out: out * 10):
        assert layer(minigrad.tensor(1.0)).item() == 10.0
    assert layer(minigrad.tensor(1.0)).item() == 1.0


def test_hook_with_kwargs_replaces_args_and_kwargs() -> None:
    class Scale(nn.Module):
        def forward(self, x: minigrad.Tensor, factor: float = 1.0) -> minigrad.Tensor:
            return x * factor

    m = Scale()
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True)
    assert m(minigrad.tensor(2.0), factor=5.0).item() == 6.0
    m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match="new_kwargs"):
        m(minigrad.tensor(2.0))


def test_always_call_hook_runs_when_forward_raises() -> None:
    class Fails(nn.Module):
        def forward(self, x: Any) -> Any:
            raise ValueError("boom")

    m, seen = Fails(), []
    m.register_forward_hook(lambda mod, args, out: seen.append("never"))
    m.register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError, match="boom"):
        m(1)
    assert seen == [None]

    def bad(mod: Any, args: Any, out: Any) -> None:
        raise KeyError("second")

    m.register_forward_hook(bad, always_call=True)
    with pytest.raises(ValueError, match="boom"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m(1)
    assert any("always_call" in str(w.message) for w in caught)


def test_removable_handle() -> None:
    hooks: OrderedDict[int, str] = OrderedDict()
    flags: OrderedDict[int, bool] = OrderedDict()
    a, b = RemovableHandle(hooks), RemovableHandle(hooks, extra_dicts=(flags,))
    assert b.id > a.id
    hooks[a.id], hooks[b.id], flags[b.id] = "a", "b", True
    with b:
        pass
    assert list(hooks) == [a.id] and not flags
    a.remove()
    a.remove()
    assert not hooks


def _net(lib: Any = minigrad) -> Any:
    """A Linear then a BatchNorm1d, named fc and bn, from ``lib``."""
    return lib.nn.Sequential(OrderedDict(fc=lib.nn.Linear(3, 2), bn=lib.nn.BatchNorm1d(2)))


@pytest.mark.parametrize("call", [
    lambda m, lib: m.to(lib.float64), lambda m, lib: m.double(), lambda m, lib: m.double().float(),
    lambda m, lib: m.to("cpu"), lambda m, lib: m.to(device="cpu"), lambda m, lib: m.to("cpu", lib.float64),
    lambda m, lib: m.to(lib.zeros(1, dtype=lib.float64)), lambda m, lib: m.to(lib.float64, non_blocking=True),
    lambda m, lib: m.to(device="cpu", dtype=lib.float64), lambda m, lib: m.cpu(), lambda m, lib: m.type(lib.float64),
])
def test_to_matches_torch(call: Any) -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = _net(), _net(torch)
    ours_params = list(ours.parameters())
    assert call(ours, minigrad) is ours and call(theirs, torch) is theirs
    assert list(ours.parameters()) == ours_params  # the same Parameter objects
    expected = {k: str(v.dtype).replace("torch.", "") for k, v in theirs.state_dict().items()}
    assert {k: str(v.dtype) for k, v in ours.state_dict().items()} == expected


def test_to_casts_grads_and_keeps_identity() -> None:
    m = nn.Linear(2, 1)
    w = m.weight
    m(minigrad.ones(1, 2)).sum().backward()
    m.double()
    assert m.weight is w and w.dtype == np.float64 and w.grad is not None and w.grad.dtype == np.float64
    m.to(minigrad.float32)
    assert w.dtype == np.float32 and w.grad is not None and w.grad.dtype == np.float32


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps", "meta"])
def test_other_devices_are_refused(device: str) -> None:
    m = nn.Linear(2, 1).double()
    with pytest.raises(RuntimeError, match=f"'{device}'.*CPU only"):
        m.to(device)
    with pytest.raises(RuntimeError, match=f"'{device}'.*CPU only"):
        m.to(device=device, dtype=np.float32)
    assert m.weight.dtype == np.float64  # nothing changed
    with pytest.raises(RuntimeError, match="CPU only"):
        m.cuda()


def test_device_objects_and_bad_arguments() -> None:
    m = nn.Linear(2, 1)
    assert m.to(minigrad.device("cpu")) is m and m.to(minigrad.device("cpu:0"), np.float64).weight.dtype == np.float64
    with pytest.raises(RuntimeError, match="'cuda:1'"):
        m.to(minigrad.device("cuda:1"))
    with pytest.raises(TypeError, match="float16"):
        m.half()
    with pytest.raises(TypeError, match="float32 or float64"):
        m.to(np.int32)
    with pytest.raises(TypeError, match="unexpected keyword"):
        m.to(pinned=True)
    with pytest.raises(TypeError, match="multiple values"):
        m.to("cpu", device="cpu")
    assert m.weight.dtype == np.float64


def test_type_casts_integer_buffers_too() -> None:
    m = nn.BatchNorm1d(2).type(np.float64)
    assert m.num_batches_tracked.dtype == np.float64 and m.running_mean.dtype == np.float64
    assert nn.BatchNorm1d(2).double().num_batches_tracked.dtype == np.int64


def _registration_errors(lib: Any) -> list[str]:
    errors = []
    for attempt in [
        lambda m: m.register_buffer(1, None), lambda m: m.register_buffer("a.b", None),
        lambda m: m.register_buffer("", None), lambda m: m.register_buffer("weight", None),
        lambda m: m.register_buffer("forward", None), lambda m: m.register_buffer("x", 3),
        lambda m: m.register_parameter("a.b", None), lambda m: m.register_parameter("", None),
        lambda m: m.register_parameter("x", lib.zeros(1)), lambda m: m.add_module("a.b", None),
        lambda m: m.add_module("weight", None), lambda m: m.add_module(2, None),
    ]:
        try:
            attempt(lib.nn.Linear(1, 1))
            errors.append("ok")
        except (KeyError, TypeError) as e:
            errors.append(type(e).__name__)
    return errors


def test_registration_checks_match_torch() -> None:
    torch = pytest.importorskip("torch")
    assert _registration_errors(minigrad) == _registration_errors(torch)


def test_registration_checks() -> None:
    m = nn.Linear(1, 1)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("bias", np.zeros(1, np.float32))
    assert isinstance(m.bias, minigrad.Parameter)
    m.register_buffer("extra", np.zeros(2, np.float32))
    m.register_buffer("extra", None)  # re-registering under its own name is fine
    m.extra = minigrad.zeros(3)
    assert m.get_buffer("extra").shape == (3,)


def _lookups(lib: Any) -> list[Any]:
    model = lib.nn.Sequential(_net(lib), lib.nn.Linear(2, 2))
    out: list[Any] = [tuple(model.get_parameter("0.fc.weight").shape),
                      tuple(model.get_buffer("0.bn.running_mean").shape),
                      type(model.get_submodule("0.bn")).__name__, model.get_submodule("") is model]
    for call in [lambda: model.get_submodule("0.nope"), lambda: model.get_submodule("0.fc.weight"),
                 lambda: model.get_parameter("0.bn.running_mean"), lambda: model.get_buffer("0.fc.weight"),
                 lambda: model.get_parameter("0.nope"), lambda: model.get_buffer("1.nope")]:
        with pytest.raises(AttributeError) as info:
            call()
        out.append(str(info.value))
    return out


def test_dotted_lookups_match_torch() -> None:
    torch = pytest.importorskip("torch")
    assert _lookups(minigrad) == _lookups(torch)


def _shared_names(lib: Any) -> tuple[list[str], list[str], list[str]]:
    shared = lib.nn.Linear(2, 2)
    model = lib.nn.Sequential(shared, lib.nn.ReLU(), shared)
    return ([n for n, _ in model.named_parameters()], [n for n, _ in model.named_parameters(remove_duplicate=False)],
            [n for n, _ in model.named_parameters("top", recurse=True)])


def test_named_parameters_remove_duplicate() -> None:
    ours = _shared_names(minigrad)
    assert ours[1] == ["0.weight", "0.bias", "2.weight", "2.bias"] and ours[0] == ["0.weight", "0.bias"]
    torch = pytest.importorskip("torch")
    assert ours == _shared_names(torch)


def test_load_state_dict_assign() -> None:
    source, target = _net().double(), _net()
    weight = target.fc.weight
    target.fc.weight.requires_grad_(False)
    state = source.state_dict()
    result = target.load_state_dict(state, assign=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert target.fc.weight is not weight and isinstance(target.fc.weight, minigrad.Parameter)
    assert target.fc.weight.dtype == np.float64 and not target.fc.weight.requires_grad
    assert np.shares_memory(target.fc.weight.numpy(), source.fc.weight.numpy())
    assert np.shares_memory(target.bn.running_var.numpy(), source.bn.running_var.numpy())
    bad = dict(state, **{"fc.bias": np.zeros(2, np.int64)})
    fresh = _net()
    before = fresh.fc.weight
    with pytest.raises(TypeError):
        fresh.load_state_dict(bad, assign=True)
    assert fresh.fc.weight is before  # nothing assigned
    copied = _net()
    copied.load_state_dict(state)
    assert copied.fc.weight.dtype == np.float32 and np.allclose(copied.fc.weight.numpy(), source.fc.weight.numpy())


def test_load_state_dict_assign_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    theirs, ours = _net(torch), _net()
    state = {k: v.numpy().astype(np.float64) for k, v in theirs.state_dict().items()}
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, assign=True)
    ours.load_state_dict(state, assign=True)
    assert {k: str(v.dtype) for k, v in ours.state_dict().items()} == \
        {k: str(v.dtype).replace("torch.", "") for k, v in theirs.state_dict().items()}
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def _containers(lib: Any) -> list[Any]:
    params = containers if lib is minigrad else lib.nn  # where ParameterList and ParameterDict live
    plist = params.ParameterList([lib.nn.Parameter(lib.zeros(2)), lib.ones(3)])
    plist.append(lib.nn.Parameter(lib.zeros(1, 2)))
    plist.extend([lib.zeros(4)])
    plist += [lib.zeros(5)]
    plist[-1] = lib.ones(6)
    pdict = params.ParameterDict({"b": lib.zeros(1), "a": lib.nn.Parameter(lib.ones(2))})
    pdict["c"] = lib.zeros(3)
    pdict.update([("z", lib.zeros(1)), ("y", lib.zeros(2))])
    pdict["a"] = lib.zeros(7)  # keeps its place
    model = lib.nn.Sequential(OrderedDict(plist=plist, pdict=pdict))
    mlist = lib.nn.ModuleList([lib.nn.ReLU(), lib.nn.Tanh()])
    mlist.insert(1, lib.nn.Identity())
    mlist.insert(3, lib.nn.Sigmoid())  # torch fails on a negative index
    mlist[0] = lib.nn.GELU()
    del mlist[1]
    seq = lib.nn.Sequential(lib.nn.ReLU())
    seq.extend([lib.nn.Tanh()])
    seq.insert(0, lib.nn.Identity())
    return [len(plist), [tuple(p.shape) for p in plist], [tuple(p.shape) for p in plist[1:3]],
            all(isinstance(p, lib.nn.Parameter) and p.requires_grad for p in plist),
            list(pdict), list(pdict.keys()), "a" in pdict, len(pdict), tuple(pdict["a"].shape),
            {k: tuple(v.shape) for k, v in model.state_dict().items()}, [n for n, _ in model.named_parameters()],
            [type(m).__name__ for m in mlist], list(mlist._modules), [type(m).__name__ for m in seq],
            list(seq.state_dict()), repr(params.ParameterList([lib.zeros(2, 3)])).replace("torch.", "")]


def test_containers_match_torch() -> None:
    torch = pytest.importorskip("torch")
    assert _containers(minigrad) == _containers(torch)


def test_parameter_list_and_dict() -> None:
    data = np.zeros(3, np.float32)
    plist = ParameterList([data])
    assert isinstance(plist[0], minigrad.Parameter) and np.shares_memory(plist[0].numpy(), data)
    assert [n for n, _ in plist.named_parameters()] == ["0"] and list(plist.parameters()) == [plist[0]]
    with pytest.raises(IndexError):
        plist[1]
    with pytest.raises(TypeError, match="iterable"):
        plist.extend(minigrad.zeros(2))
    with pytest.raises(TypeError, match="float32 or float64"):
        plist.append(np.zeros(2, np.int64))
    assert len(plist) == 1
    pdict = ParameterDict(OrderedDict([("w", minigrad.zeros(2)), ("b", minigrad.tensor([1.0]))]))
    assert list(pdict) == ["w", "b"] and pdict.get("nope") is None and pdict["b"].tolist() == [1.0]
    with pytest.raises(KeyError, match="already exists"):
        pdict["keys"] = minigrad.zeros(1)
    with pytest.raises(TypeError, match="not a string"):
        pdict[1] = minigrad.zeros(1)  # type: ignore[index]
    with pytest.raises(ValueError, match="element #0"):
        pdict.update([("k", minigrad.zeros(1), 3)])  # type: ignore[list-item]
    del pdict["w"]
    assert list(pdict.state_dict()) == ["b"] and pdict.pop("b") is not None and len(pdict) == 0


def test_module_list_negative_index_and_errors() -> None:
    mlist = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    mlist.insert(-1, nn.Identity())  # as list.insert
    assert [type(m).__name__ for m in mlist] == ["ReLU", "Identity", "Tanh"]
    with pytest.raises(TypeError, match="not a Module"):
        mlist.insert(0, 3)  # type: ignore[arg-type]
    del mlist[-2:]
    assert list(mlist._modules) == ["0"] and isinstance(mlist[0], nn.ReLU)
    with pytest.raises(IndexError):
        mlist[1] = nn.ReLU()
