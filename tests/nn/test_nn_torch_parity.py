"""Each layer with torch's weights copied in gives torch's outputs and gradients (float64, 1e-7):
parameter names, shapes, gate order and state_dict keys are torch's."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn

torch = pytest.importorskip("torch")

RTOL = ATOL = 1e-7


def copy_torch_weights(ours, theirs):
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def compare(ours, theirs, inputs, train=True, reduce=lambda out: out):
    """Runs both on the same float64 inputs (and initial states); compares outputs, input gradients
    and every parameter's gradient."""
    ours.train(train)
    theirs.train(train)
    ours_in = [mg.tensor(x, requires_grad=x.dtype == np.float64) for x in inputs]
    theirs_in = [torch.tensor(x, requires_grad=x.dtype == np.float64) for x in inputs]
    ours_out, theirs_out = reduce(ours(*ours_in)), reduce(theirs(*theirs_in))
    ours_out = ours_out if isinstance(ours_out, tuple) else (ours_out,)
    theirs_out = theirs_out if isinstance(theirs_out, tuple) else (theirs_out,)
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(o.shape) for o in ours_out]
    sum(((o * w).sum() for o, w in zip(ours_out, weights)), mg.zeros((), dtype=np.float64)).backward()
    sum((t * torch.from_numpy(w)).sum() for t, w in zip(theirs_out, weights)).backward()
    for o, t in zip(ours_out, theirs_out):
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=RTOL, atol=ATOL)
    for o, t in zip(ours_in, theirs_in):
        if t.grad is not None:
            np.testing.assert_allclose(o.grad, t.grad.numpy(), rtol=RTOL, atol=ATOL)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=name)
    for name, buffer in ours.named_buffers():
        np.testing.assert_allclose(buffer, dict(theirs.named_buffers())[name].numpy(), rtol=RTOL, err_msg=name)


def pair(name, *args, **kwargs):
    ours = getattr(nn, name)(*args, **kwargs).double()
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    copy_torch_weights(ours, theirs)
    return ours, theirs


def randn(*shape):
    return np.random.default_rng(sum(shape)).standard_normal(shape)


@pytest.mark.parametrize("bias", [True, False])
def test_linear(bias):
    compare(*pair("Linear", 5, 4, bias=bias), [randn(3, 2, 5)])


@pytest.mark.parametrize("options", [dict(), dict(stride=2, padding=1), dict(dilation=2, bias=False),
                                     dict(groups=2, padding=(1, 0))])
def test_conv2d(options):
    compare(*pair("Conv2d", 4, 6, 3, **options), [randn(2, 4, 9, 8)])


def test_conv1d():
    compare(*pair("Conv1d", 3, 5, 3, stride=2, padding=1), [randn(2, 3, 11)])


@pytest.mark.parametrize("name, shape", [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (6, 3, 5)),
                                         ("BatchNorm2d", (4, 3, 5, 5))])
@pytest.mark.parametrize("train", [True, False])
def test_batchnorm(name, shape, train):
    ours, theirs = pair(name, 3, momentum=0.3)
    warmup = randn(*shape) * 2 + 1
    for model, make in ((ours, mg.tensor), (theirs, torch.tensor)):
        model(make(warmup))  # move the running statistics away from their start
    compare(ours, theirs, [randn(*shape)], train=train)


def test_layernorm():
    compare(*pair("LayerNorm", (4, 5)), [randn(3, 4, 5)])


def test_embedding():
    ours, theirs = pair("Embedding", 10, 4, padding_idx=2)
    compare(ours, theirs, [np.array([[1, 2, 3], [2, 9, 1]])])


class WithState:
    """A recurrent layer of either library called with its initial state as separate inputs (h, or h and c) and
    returning (output, h_n[, c_n]) flat, so that ``compare`` checks the state's values and gradients too."""

    def __init__(self, module):
        self.module, self.lstm = module, type(module).__name__ == "LSTM"

    def __call__(self, x, *state):
        out, final = self.module(x, (tuple(state) if self.lstm else state[0]) if state else None)
        return (out, *final) if self.lstm else (out, final)

    def __getattr__(self, attr):
        return getattr(self.module, attr)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent(name, batch_first, with_state):
    ours, theirs = pair(name, 3, 4, num_layers=2, batch_first=batch_first)
    x = randn(5, 6, 3)
    inputs = [x]
    if with_state:
        inputs.append(randn(2, 5 if batch_first else 6, 4))
        if name == "LSTM":
            inputs.append(randn(2, 5 if batch_first else 6, 4) * 0.5)
    compare(WithState(ours), WithState(theirs), inputs)


def test_rnn_relu():
    compare(*pair("RNN", 3, 4, nonlinearity="relu"), [randn(4, 2, 3)], reduce=lambda out: out[0])


@pytest.mark.parametrize("name, args", [("CrossEntropyLoss", dict(label_smoothing=0.1)), ("MSELoss", {}),
                                        ("BCEWithLogitsLoss", {}), ("NLLLoss", {})])
def test_losses(name, args):
    logits = randn(4, 5)
    target = np.array([0, 3, 4, 1]) if name in ("CrossEntropyLoss", "NLLLoss") else randn(4, 5) ** 2 / 4
    ours = getattr(nn, name)(**args)(mg.tensor(logits), mg.tensor(target))
    theirs = getattr(torch.nn, name)(**args)(torch.tensor(logits), torch.tensor(target))
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-12)


def test_default_initialisation_matches_torch_statistically():
    mg.manual_seed(0)
    torch.manual_seed(0)
    for name, args in [("Linear", (300, 200)), ("Conv2d", (16, 32, 3)), ("LSTM", (50, 80)), ("Embedding", (500, 30))]:
        ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        for (key, value), (_, reference) in zip(ours.state_dict().items(), theirs.state_dict().items()):
            value, reference = value.numpy(), reference.numpy()
            assert value.shape == reference.shape and value.dtype == reference.dtype, key
            assert value.std() == pytest.approx(reference.std(), rel=0.1), key
            assert np.abs(value).max() <= np.abs(reference).max() * 1.2 + 1e-6, key
