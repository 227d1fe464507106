"""Bidirectional RNN/LSTM/GRU against torch with torch's weights copied in (float64, 1e-7): outputs, h_n/c_n,
the input's, initial state's and every parameter's gradient; torch's parameter names and order, state layout
and error messages."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn

torch = pytest.importorskip("torch")

from test_nn_torch_parity import WithState, compare, pair, randn  # noqa: E402  (after the skip)

MODES = {"RNN_TANH": ("RNN", {}), "RNN_RELU": ("RNN", dict(nonlinearity="relu")), "LSTM": ("LSTM", {}),
         "GRU": ("GRU", {})}
SEQ, BATCH, IN, HIDDEN = 5, 6, 3, 4


def bidirectional_pair(mode, **options):
    name, kwargs = MODES[mode]
    return pair(name, IN, HIDDEN, bidirectional=True, **kwargs, **options)


def initial_state(mode, *shape):
    """h0 (and c0 for an LSTM) as separate arrays."""
    return [randn(*shape) * scale for scale in ((1.0, 0.5) if mode == "LSTM" else (1.0,))]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_matches_torch(mode, num_layers, batch_first, with_state):
    ours, theirs = bidirectional_pair(mode, num_layers=num_layers, batch_first=batch_first)
    x = randn(BATCH, SEQ, IN) if batch_first else randn(SEQ, BATCH, IN)
    state = initial_state(mode, 2 * num_layers, BATCH, HIDDEN) if with_state else []
    compare(WithState(ours), WithState(theirs), [x, *state])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_input_matches_torch(mode, with_state):
    ours, theirs = bidirectional_pair(mode, num_layers=2)
    state = initial_state(mode, 4, HIDDEN) if with_state else []
    compare(WithState(ours), WithState(theirs), [randn(SEQ, IN), *state])


@pytest.mark.parametrize("mode", MODES)
def test_empty_batch_matches_torch(mode):
    compare(*map(WithState, bidirectional_pair(mode, num_layers=2)), [randn(SEQ, 0, IN)])


@pytest.mark.parametrize("mode", MODES)
def test_without_bias_matches_torch(mode):
    ours, theirs = bidirectional_pair(mode, num_layers=2, bias=False)
    assert not any("bias" in name for name in ours.state_dict())
    compare(WithState(ours), WithState(theirs), [randn(SEQ, BATCH, IN)])


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_dropout_between_layers_as_torch(mode):
    # p = 1 zeroes every feature between layers in training, in both libraries alike; eval turns dropout off
    compare(*map(WithState, bidirectional_pair(mode, num_layers=3, dropout=1.0)), [randn(SEQ, BATCH, IN)])
    compare(*map(WithState, bidirectional_pair(mode, num_layers=3, dropout=0.5)), [randn(SEQ, BATCH, IN)],
            train=False)


def test_output_layout():
    """The output's first H features are the forward direction's, the last H the reverse direction's, whose
    final state is its step at t = 0; h_n is (layer 0 forward, layer 0 reverse, layer 1 forward, …)."""
    ours, theirs = bidirectional_pair("GRU", num_layers=2)
    out, h_n = ours(mg.tensor(randn(SEQ, BATCH, IN)))
    assert out.shape == (SEQ, BATCH, 2 * HIDDEN) and h_n.shape == (4, BATCH, HIDDEN)
    np.testing.assert_array_equal(h_n[2].numpy(), out[-1, :, :HIDDEN].numpy())
    np.testing.assert_array_equal(h_n[3].numpy(), out[0, :, HIDDEN:].numpy())
    lstm = nn.LSTM(IN, HIDDEN, num_layers=3, bidirectional=True, batch_first=True)
    out, (h_n, c_n) = lstm(mg.randn(BATCH, SEQ, IN))
    assert out.shape == (BATCH, SEQ, 2 * HIDDEN) and h_n.shape == c_n.shape == (6, BATCH, HIDDEN)


@pytest.mark.parametrize("mode", MODES)
def test_parameters_are_torchs(mode):
    """Names, order, shapes and the U(±1/√H) initialisation; a torch state_dict loads unchanged."""
    name, kwargs = MODES[mode]
    ours = getattr(nn, name)(IN, HIDDEN, num_layers=3, bidirectional=True, **kwargs)
    theirs = getattr(torch.nn, name)(IN, HIDDEN, num_layers=3, bidirectional=True, **kwargs)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
           [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "weight_ih_l2_reverse" in ours.state_dict() and ours.weight_ih_l1.shape[1] == 2 * HIDDEN
    assert all(np.abs(p.numpy()).max() <= HIDDEN ** -0.5 for p in ours.parameters())
    ours.load_state_dict(theirs.state_dict())
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.detach().numpy(), err_msg=n)
    assert repr(ours) == repr(theirs)


def bad_calls(lib):
    """(id, call) pairs for torch's argument checks, run on ``lib``'s bidirectional layers."""
    x, x1 = lib.zeros(SEQ, BATCH, IN), lib.zeros(SEQ, IN)
    rnn, gru, lstm = (getattr(lib.nn, n)(IN, HIDDEN, num_layers=2, bidirectional=True) for n in ("RNN", "GRU", "LSTM"))
    h = lambda *shape: lib.zeros(*shape)
    return [
        ("rnn h0 of a unidirectional layer", lambda: rnn(x, h(2, BATCH, HIDDEN))),
        ("gru h0 batch", lambda: gru(x, h(4, BATCH + 1, HIDDEN))),
        ("gru h0 hidden", lambda: gru(x, h(4, BATCH, HIDDEN + 1))),
        ("lstm h0", lambda: lstm(x, (h(2, BATCH, HIDDEN), h(4, BATCH, HIDDEN)))),
        ("lstm c0", lambda: lstm(x, (h(4, BATCH, HIDDEN), h(4, BATCH - 1, HIDDEN)))),
        ("unbatched gru, 3-D h0", lambda: gru(x1, h(4, 1, HIDDEN))),
        ("unbatched gru, wrong h0", lambda: gru(x1, h(4, HIDDEN + 1))),
        ("unbatched lstm, 3-D state", lambda: lstm(x1, (h(4, 1, HIDDEN), h(4, 1, HIDDEN)))),
        ("batched rnn, 2-D h0", lambda: rnn(x, h(4, HIDDEN))),
        ("batched lstm, 2-D state", lambda: lstm(x, (h(4, HIDDEN), h(4, HIDDEN)))),
        ("input size", lambda: gru(lib.zeros(SEQ, BATCH, IN + 1))),
        ("4-D input rnn", lambda: rnn(lib.zeros(1, SEQ, BATCH, IN))),
        ("4-D input lstm", lambda: lstm(lib.zeros(1, SEQ, BATCH, IN))),
        ("input rank before state", lambda: gru(lib.zeros(1, SEQ, BATCH, IN + 1), h(2, HIDDEN))),
        ("state rank before input size", lambda: gru(lib.zeros(SEQ, BATCH, IN + 1), h(2, HIDDEN))),
        ("lstm state as one tensor", lambda: lstm(x, h(2, BATCH, HIDDEN))),
        ("empty sequence", lambda: lstm(lib.zeros(0, BATCH, IN))),
        ("empty sequence, batch_first",
         lambda: lib.nn.GRU(IN, HIDDEN, batch_first=True, bidirectional=True)(lib.zeros(BATCH, 0, IN))),
    ]


@pytest.mark.parametrize("case", [i for i, _ in bad_calls(mg)])
def test_bad_arguments_raise_torchs_errors(case):
    ours, theirs = dict(bad_calls(mg))[case], dict(bad_calls(torch))[case]
    with pytest.raises(Exception) as expected:
        theirs()
    with pytest.raises(expected.type) as got:
        ours()
    assert str(got.value) == str(expected.value)
