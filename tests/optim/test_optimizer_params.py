"""What an optimizer accepts as parameters, as torch.optim 2.13: a single Tensor is refused (it would
be iterated row by row into views the step never writes back), named_parameters() pairs are kept
as ``param_names``, and a Tensor-valued lr is read at every step."""
import inspect

import numpy as np
import pytest

import minigrad
import minigrad.optim as optim
from minigrad import nn

from optim_cases import make_params, set_grads

NAMES = ["SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"]
IN_TORCH = NAMES + ["SparseAdam", "LBFGS", "Adafactor", "Muon"]
SINGLE_TENSOR = "params argument given to the optimizer should be an iterable of Tensors or dicts, but got "


@pytest.mark.parametrize("name", NAMES)
def test_a_single_parameter_is_refused_not_iterated_by_rows(name):
    p = make_params(np.float32, [6])[0]
    with pytest.raises(TypeError, match="^" + SINGLE_TENSOR + r"minigrad\.\S*Parameter$"):
        getattr(optim, name)(minigrad.nn.Parameter(p.numpy().reshape(2, 3)))
    getattr(optim, name)([{"params": p}])  # as a group's "params", one Tensor is one parameter (torch's rule)


def named_model(seed=0):
    minigrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))


def train(model, opt, steps=5):
    rng = np.random.default_rng(0)
    for _ in range(steps):
        x = minigrad.tensor(rng.standard_normal((8, 3)))
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
    return [p.numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("name", NAMES)
def test_named_parameters_train_as_the_plain_list_and_keep_their_names(name, backend):
    named, plain = named_model(), named_model()
    by_name = getattr(optim, name)(named.named_parameters(), backend=backend)
    by_list = getattr(optim, name)(plain.parameters(), backend=backend)
    for a, b in zip(train(named, by_name), train(plain, by_list)):
        assert a.tobytes() == b.tobytes()
    expected = ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert by_name.param_groups[0]["param_names"] == expected
    assert by_name.state_dict()["param_groups"][0]["param_names"] == expected
    assert "param_names" not in by_list.state_dict()["param_groups"][0]


def test_names_mixed_within_or_across_groups_are_refused_as_torch_does():
    model = named_model()
    (n0, w0), (n1, b0), (_, w2), (_, b2) = model.named_parameters()
    with pytest.raises(ValueError, match="^all optimizer params should be with/without names. Some param names "
                                         "are missing$"):
        optim.SGD([(n0, w0), b0], lr=0.1)
    opt = optim.SGD([{"params": [(n0, w0), (n1, b0)]}], lr=0.1)
    with pytest.raises(ValueError, match="^all optimizer param groups should be with/without names. cannot add "
                                         "param group without names to the optimizer$"):
        opt.add_param_group({"params": [w2, b2]})
    assert len(opt.param_groups) == 1
    with pytest.raises(TypeError, match=r"\(name, param\) pair"):
        optim.SGD([("a", w0, "extra")], lr=0.1)


def test_load_state_dict_keeps_the_names_unless_the_saved_groups_have_them():
    model = named_model()
    named = optim.Adam(model.named_parameters())
    plain = optim.Adam(model.parameters())
    named.load_state_dict(plain.state_dict())
    assert named.param_groups[0]["param_names"] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    plain.load_state_dict(named.state_dict())
    assert plain.param_groups[0]["param_names"] == ["0.weight", "0.bias", "2.weight", "2.bias"]


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("name", NAMES)
def test_a_tensor_lr_steps_as_its_float_and_is_read_at_every_step(name, backend):
    lr = {"Adadelta": 0.5}.get(name, 0.01)
    tensor_lr, float_lr = make_params(np.float64, [5, 100_003]), make_params(np.float64, [5, 100_003])
    rate = minigrad.tensor(lr, dtype=minigrad.float64)
    by_tensor = getattr(optim, name)(tensor_lr, lr=rate, backend=backend)
    by_float = getattr(optim, name)(float_lr, lr=lr, backend=backend)
    for step in range(4):
        if step == 2:  # as a scheduler does with a Tensor lr: in place
            rate.fill_(lr / 4)
            by_float.param_groups[0]["lr"] = lr / 4
        for params in (tensor_lr, float_lr):
            set_grads(params, np.random.default_rng(step))
        by_tensor.step()
        by_float.step()
    assert by_tensor.param_groups[0]["lr"] is rate
    for a, b in zip(tensor_lr, float_lr):
        assert a.numpy().tobytes() == b.numpy().tobytes()


def test_a_tensor_lr_of_more_than_one_element_is_refused():
    with pytest.raises(ValueError, match="^Tensor lr must be 1-element$"):
        optim.Adam(make_params(np.float32, [3]), lr=minigrad.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="^Invalid learning rate: "):
        optim.SGD(make_params(np.float32, [3]), lr=minigrad.tensor(-0.1))


def test_the_messages_are_torchs():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError) as theirs:
        torch.optim.SGD(torch.nn.Parameter(torch.zeros(2, 3)), lr=0.1)
    assert str(theirs.value).startswith(SINGLE_TENSOR)
    linear = torch.nn.Linear(2, 2)
    (name, weight), (_, bias) = linear.named_parameters()
    with pytest.raises(ValueError) as theirs:
        torch.optim.SGD([(name, weight), bias], lr=0.1)
    with pytest.raises(ValueError) as ours:
        optim.SGD([("w", make_params(np.float32, [3])[0]), make_params(np.float32, [3])[0]], lr=0.1)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError) as theirs:
        torch.optim.Adam(linear.parameters(), lr=torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError) as ours:
        optim.Adam(make_params(np.float32, [3]), lr=minigrad.tensor([0.1, 0.2]))
    assert str(ours.value) == str(theirs.value)
    assert torch.optim.SGD(linear.named_parameters(), lr=0.1).state_dict()["param_groups"][0]["param_names"] == [
        "weight", "bias"]


@pytest.mark.parametrize("name", NAMES)
def test_foreach_and_fused_are_accepted_and_change_nothing(name):
    params = {kw: make_params(np.float64, [7, 100_003]) for kw in ("plain", "foreach", "fused")}
    options = {"plain": {}, "foreach": dict(foreach=True), "fused": dict(fused=True)}
    if "fused" not in inspect.signature(getattr(optim, name)).parameters:  # torch has no fused path for it
        del params["fused"]
    opts = {kw: getattr(optim, name)(params[kw], **options[kw]) for kw in params}
    for step in range(3):
        for kw in params:
            set_grads(params[kw], np.random.default_rng(step))
            opts[kw].step()
    for kw in params:
        assert [p.numpy().tobytes() for p in params[kw]] == [p.numpy().tobytes() for p in params["plain"]]


@pytest.mark.parametrize("name", NAMES)
def test_capturable_and_differentiable_are_refused_at_construction(name):
    p = make_params(np.float32, [3])
    signature = inspect.signature(getattr(optim, name))
    if "capturable" in signature.parameters:
        with pytest.raises(ValueError, match="capturable=True is for CUDA graph capture"):
            getattr(optim, name)(p, capturable=True)
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        getattr(optim, name)(p, differentiable=True)


@pytest.mark.parametrize("name", IN_TORCH)
def test_signature_is_torchs_plus_backend_and_skip_nonfinite(name):
    torch = pytest.importorskip("torch")

    def described(cls, leave_out=()):
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()
                if p.name not in leave_out]
    ours = described(getattr(optim, name), leave_out=("backend", "skip_nonfinite"))
    assert ours == described(getattr(torch.optim, name))
    if name == "LBFGS":  # no kernel, so neither backend nor skip_nonfinite (closure-driven, as torch's)
        return
    extra = list(inspect.signature(getattr(optim, name)).parameters.values())[-2:]
    keyword_only = inspect.Parameter.KEYWORD_ONLY
    assert [(p.name, p.kind) for p in extra] == [("backend", keyword_only), ("skip_nonfinite", keyword_only)]
