"""minigrad.nn without torch: registration, state_dict, modes, dtype, initialisation, layer shapes
and behaviour, and a small training loop through the optimizers."""
import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import gradcheck


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(4, 8)
        self.norm = nn.BatchNorm1d(8)
        self.out = nn.Linear(8, 3, bias=False)
        self.scale = nn.Parameter(np.ones(1, np.float32))
        self.register_buffer("calls", np.zeros((), np.int64))
        self.note = "not registered"

    def forward(self, x):
        self.calls += 1
        return self.out(self.norm(self.hidden(x)).relu()) * self.scale


def test_registration_order_and_traversal():
    model = TwoLayer()
    assert [n for n, _ in model.named_parameters()] == ["scale", "hidden.weight", "hidden.bias", "norm.weight",
                                                         "norm.bias", "out.weight"]
    assert list(model.state_dict()) == ["scale", "calls", "hidden.weight", "hidden.bias", "norm.weight", "norm.bias",
                                        "norm.running_mean", "norm.running_var", "norm.num_batches_tracked",
                                        "out.weight"]
    assert [type(m).__name__ for m in model.children()] == ["Linear", "BatchNorm1d", "Linear"]
    assert len(list(model.modules())) == 4 and model.note == "not registered"
    assert model.num_parameters() == 1 + 4 * 8 + 8 + 8 + 8 + 8 * 3
    model.out = nn.Identity()  # reassigning replaces the submodule
    assert "out.weight" not in model.state_dict()
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        model.missing


def test_shared_parameters_are_listed_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2


def test_assigning_before_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="call super\\(\\).__init__\\(\\)"):
        Broken()


def test_train_eval_and_zero_grad():
    model = TwoLayer()
    assert model.training and model.norm.training
    model.eval()
    assert not model.training and not model.norm.training
    model.train()
    out = model(mg.randn(5, 4))
    out.sum().backward()
    assert model.hidden.weight.grad.shape == (8, 4)
    model.zero_grad(set_to_none=False)
    assert not model.hidden.weight.grad.numpy().any()
    model.zero_grad()
    assert model.hidden.weight.grad is None
    assert model.calls == 1


def test_state_dict_round_trip_and_strict_errors():
    a, b = TwoLayer(), TwoLayer()
    a.norm.running_mean[:] = 3
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert all((x == y).all() for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    weight = b.hidden.weight.numpy()
    b.load_state_dict(TwoLayer().state_dict())
    assert b.hidden.weight.numpy() is weight  # copied in place: optimizers keep their references

    sd = a.state_dict()
    sd["extra"] = np.zeros(1)
    del sd["out.weight"]
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "extra".*\n.*Missing key\(s\) in '
                                           r'state_dict: "out.weight"'):
        b.load_state_dict(sd)
    result = b.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["out.weight"] and result.unexpected_keys == ["extra"]
    sd = a.state_dict()
    sd["hidden.weight"] = np.zeros((4, 8))
    before = b.hidden.bias.numpy().copy()
    with pytest.raises(RuntimeError, match=r"size mismatch for hidden.weight: copying a param with shape \(4, 8\)"):
        b.load_state_dict(sd)
    assert (b.hidden.bias.numpy() == before).all()  # nothing copied when any key fails


def test_repr_prints_the_tree():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Dropout(0.1))))
    assert text == ("Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): Sequential(\n"
                    "    (0): ReLU()\n    (1): Dropout(p=0.1)\n  )\n)")


def test_to_dtype_casts_parameters_and_buffers():
    model = TwoLayer().double()
    assert all(p.data.dtype == np.float64 for p in model.parameters())
    assert model.norm.running_var.dtype == np.float64 and model.norm.num_batches_tracked.dtype == np.int64
    assert model(mg.randn(3, 4, dtype=np.float64)).dtype == np.float64
    assert next(model.float().parameters()).data.dtype == np.float32
    with pytest.raises(TypeError, match="float32 or float64"):
        model.to(np.int32)


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU) and len(seq[:2]) == 2
    layers = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    layers.append(nn.Linear(1, 2))
    assert len(layers) == 4 and "3.weight" in layers.state_dict()
    heads = nn.ModuleDict({"a": nn.Linear(1, 1)})
    heads["b"] = nn.Linear(1, 1)
    assert list(heads) == ["a", "b"] and "b.bias" in heads.state_dict()


# ---- initialisation --------------------------------------------------------------------------------

def test_default_initialisation_follows_torch_bounds():
    mg.manual_seed(0)
    linear = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    assert np.abs(linear.weight.numpy()).max() <= bound and np.abs(linear.weight.numpy()).max() > 0.95 * bound
    assert linear.weight.numpy().std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    conv = nn.Conv2d(8, 16, 3)
    assert np.abs(conv.weight.numpy()).max() <= 1 / math.sqrt(8 * 9)
    lstm = nn.LSTM(10, 50)
    assert all(np.abs(p.numpy()).max() <= 1 / math.sqrt(50) for p in lstm.parameters())
    assert nn.Embedding(1000, 20).weight.numpy().std() == pytest.approx(1.0, rel=0.05)
    norm = nn.BatchNorm2d(3)
    assert (norm.weight.numpy() == 1).all() and (norm.bias.numpy() == 0).all()


def test_init_functions_and_seeding():
    w = nn.Parameter(np.empty((256, 512), np.float32))
    nn.init.xavier_uniform_(w)
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / (256 + 512))
    nn.init.xavier_normal_(w, gain=2.0)
    assert w.numpy().std() == pytest.approx(2 * math.sqrt(2 / 768), rel=0.02)
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 256), rel=0.02)
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 512)
    nn.init.zeros_(w)
    assert not w.numpy().any()
    nn.init.ones_(w)
    assert (w.numpy() == 1).all()
    mg.manual_seed(7)
    first = nn.Linear(5, 5).weight.numpy().copy()
    mg.manual_seed(7)
    assert (nn.Linear(5, 5).weight.numpy() == first).all()
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(nn.Parameter(np.zeros(3, np.float32)))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.calculate_gain("swish")


# ---- layers ----------------------------------------------------------------------------------------

def test_conv_pool_flatten_shapes():
    x = mg.randn(2, 3, 9, 9)
    assert nn.Conv2d(3, 6, 3, stride=2, padding=1)(x).shape == (2, 6, 5, 5)
    assert nn.Conv2d(3, 6, (3, 1), groups=3, bias=False)(x).shape == (2, 6, 7, 9)
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4) and nn.AvgPool2d(3, stride=1)(x).shape == (2, 3, 7, 7)
    assert nn.Flatten()(x).shape == (2, 243)
    assert nn.Conv1d(3, 4, 5, padding=2)(mg.randn(2, 3, 10)).shape == (2, 4, 10)
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)


def test_batchnorm_running_statistics_and_eval():
    norm = nn.BatchNorm1d(3, momentum=0.5)
    x = mg.tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
    y = norm(x)
    np.testing.assert_allclose(y.numpy().mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(norm.running_mean, 0.5 * np.array([4.5, 5.5, 6.5]), rtol=1e-6)
    np.testing.assert_allclose(norm.running_var, 0.5 + 0.5 * x.numpy().var(0, ddof=1), rtol=1e-6)
    assert norm.num_batches_tracked == 1
    norm.eval()
    np.testing.assert_allclose(norm(x).numpy(), (x.numpy() - norm.running_mean.numpy()) / np.sqrt(norm.running_var.numpy() + 1e-5), rtol=1e-5)
    assert norm.num_batches_tracked == 1
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input\)"):
        nn.BatchNorm2d(3)(x)
    cumulative = nn.BatchNorm1d(3, momentum=None)
    cumulative(x)
    cumulative(x * 3)
    np.testing.assert_allclose(cumulative.running_mean, (x.numpy().mean(0) + 3 * x.numpy().mean(0)) / 2, rtol=1e-6)


def test_layernorm_embedding_dropout():
    x = mg.randn(2, 5, 6)
    y = nn.LayerNorm(6)(x)
    np.testing.assert_allclose(y.numpy().mean(-1), 0, atol=1e-5)
    emb = nn.Embedding(10, 4, padding_idx=0)
    assert (emb.weight.numpy()[0] == 0).all()
    out = emb(mg.tensor(np.array([[0, 3], [3, 9]])))
    out.sum().backward()
    assert out.shape == (2, 2, 4) and (emb.weight.grad[0] == 0).all() and (emb.weight.grad[3] == 2).all()
    drop = nn.Dropout(0.5)
    ones = mg.ones(1000)
    kept = drop(ones).numpy()
    assert set(np.unique(kept)) <= {0.0, 2.0} and 400 < (kept > 0).sum() < 600
    assert (drop.eval()(ones).numpy() == 1).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_activation_and_loss_modules():
    x = mg.tensor(np.array([[-1.0, 0.5, 2.0]]))
    assert (nn.ReLU()(x).numpy() == [[0, 0.5, 2]]).all()
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x).numpy(), [[-0.1, 0.5, 2]])
    np.testing.assert_allclose(nn.Softmax(dim=-1)(x).numpy().sum(), 1.0)
    np.testing.assert_allclose(np.exp(nn.LogSoftmax(dim=1)(x).numpy()), nn.Softmax(dim=1)(x).numpy())
    np.testing.assert_allclose(nn.Tanh()(x).numpy(), np.tanh(x.numpy()))
    np.testing.assert_allclose(nn.Sigmoid()(x).numpy(), 1 / (1 + np.exp(-x.numpy())))
    assert nn.GELU()(x).shape == (1, 3)
    target = mg.tensor(np.array([2]))
    ce = nn.CrossEntropyLoss()(x, target).item()
    assert ce == pytest.approx(-np.log(np.exp(2) / np.exp(x.numpy()).sum()))
    assert nn.NLLLoss()(nn.LogSoftmax(dim=1)(x), target).item() == pytest.approx(ce)
    assert nn.MSELoss(reduction="sum")(x, mg.zeros(1, 3)).item() == pytest.approx(1 + 0.25 + 4)
    assert nn.L1Loss()(x, mg.zeros(1, 3)).item() == pytest.approx(3.5 / 3)
    assert nn.BCEWithLogitsLoss()(mg.zeros(4), mg.ones(4)).item() == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="reduction must be"):
        nn.MSELoss(reduction="avg")


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_shapes_and_state(cls, batch_first):
    rnn = cls(3, 5, num_layers=2, batch_first=batch_first, dropout=0.2)
    x = mg.randn(4, 7, 3) if batch_first else mg.randn(7, 4, 3)
    out, state = rnn(x)
    h = state[0] if cls is nn.LSTM else state
    assert out.shape == ((4, 7, 5) if batch_first else (7, 4, 5)) and h.shape == (2, 4, 5)
    rnn.eval()
    out_a, state_a = rnn(x)
    out_b, _ = rnn(x, state_a)  # the final state goes back in as the initial state
    assert not np.allclose(out_a.numpy(), out_b.numpy())
    single, _ = rnn(x[0] if batch_first else x[:, 0])  # unbatched: (T, input_size)
    assert single.shape == (7, 5)
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. Expected 3, got 2"):
        rnn(mg.randn(7, 4, 2))
    with pytest.raises(RuntimeError, match=r"Expected hidden(\[0\])? size \(2, 4, 5\), got \[2, 3, 5\]"):
        rnn(x, (mg.zeros(2, 3, 5), mg.zeros(2, 4, 5)) if cls is nn.LSTM else mg.zeros(2, 3, 5))


def test_recurrent_options():
    assert "weight_ih_l1" in nn.RNN(2, 3, num_layers=2, nonlinearity="relu").state_dict()
    assert "bias_ih_l0" not in nn.GRU(2, 3, bias=False).state_dict()
    assert nn.LSTM(2, 3).weight_hh_l0.shape == (12, 3) and nn.GRU(2, 3).weight_ih_l0.shape == (9, 2)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        nn.RNN(2, 3, nonlinearity="sigmoid")
    gru = nn.GRU(2, 3, num_layers=2, bidirectional=True)
    assert [name for name in gru.state_dict() if "l1" in name] == [
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
        "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"]
    assert gru.weight_ih_l1_reverse.shape == (9, 6)  # a layer above the first takes both directions' h


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_gradients_by_finite_differences(cls, bidirectional):
    mg.manual_seed(0)
    rnn = cls(2, 3, num_layers=2, bidirectional=bidirectional).double()
    x = mg.randn(4, 2, 2, dtype=np.float64, requires_grad=True)
    states = 4 if bidirectional else 2
    h0 = mg.randn(states, 2, 3, dtype=np.float64, requires_grad=True)
    state = (h0, mg.randn(states, 2, 3, dtype=np.float64, requires_grad=True)) if cls is nn.LSTM else h0
    # the parameters are inputs too: gradcheck perturbs their data in place
    assert gradcheck(lambda x, *rest: (rnn(x, state)[0] ** 2).sum(), (x, h0, *rnn.parameters()))


def test_training_a_small_network_through_the_optimizers():
    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)  # XOR of signs: needs the hidden layer
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2))
    opt = mg.optim.Adam(model.parameters(), lr=0.03)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn(model(mg.tensor(x)), mg.tensor(y))
        loss.backward()
        opt.step()
    accuracy = (model(mg.tensor(x)).numpy().argmax(1) == y).mean()
    assert loss.item() < 0.15 and accuracy > 0.95
