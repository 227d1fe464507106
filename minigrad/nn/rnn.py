"""RNN (tanh/relu), LSTM and GRU: multi-layer, bidirectional, batch_first, initial state in and final
state out, dropout between layers; parameter names (``_reverse`` for the reverse direction), shapes,
gate order, state layout and initialisation as torch's. Not supported: LSTM's ``proj_size`` and packed
sequences.

Each direction of a layer is two graph nodes: the input projection of the whole sequence (one GEMM),
and the recurrence through time fused into one op with its own backpropagation through time
(``F.rnn_layer``, ``F.lstm_layer``, ``F.gru_layer``). The reverse direction runs the same op on the
input flipped in time and flips its output back.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Union, cast

import numpy as np

from .. import functional as F
from ..creation import zeros
from ..ops.movement import cat, stack
from ..tensor import Parameter
from . import init
from .module import Module

if TYPE_CHECKING:
    from .._typing import DTypeLike
    from ..tensor import Tensor

    State = Union[Tensor, tuple[Tensor, Tensor]]  # h, or (h, c) for an LSTM


class RNNBase(Module):
    gates = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: DTypeLike | None = None) -> None:
        super().__init__()
        if not 0 <= dropout <= 1:
            raise ValueError(f"dropout should be a number in range [0, 1], got {dropout}")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError("hidden_size and num_layers must be positive")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        self.bidirectional = bidirectional
        gates = self.gates[mode]
        dtype = np.dtype(dtype or np.float32)
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * self._directions
            shapes: dict[str, tuple[int, ...]] = {"weight_ih": (gates * hidden_size, in_size),
                                                  "weight_hh": (gates * hidden_size, hidden_size)}
            if bias:
                shapes.update(bias_ih=(gates * hidden_size,), bias_hh=(gates * hidden_size,))
            for suffix in self._suffixes:
                for name, shape in shapes.items():
                    setattr(self, f"{name}_l{layer}{suffix}", Parameter(np.empty(shape, dtype)))
        self.reset_parameters()

    @property
    def _directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _suffixes(self) -> tuple[str, ...]:
        """The parameter name suffix of each direction, as torch's: forward, then ``_reverse``."""
        return ("", "_reverse")[:self._directions]

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(±1/√hidden_size), as torch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, key: str) -> tuple[Parameter, Parameter, Parameter | None, Parameter | None]:
        """The parameters ``*_{key}`` of one direction of one layer, e.g. key ``l1_reverse``."""
        get = lambda name: getattr(self, f"{name}_{key}") if self.bias or "weight" in name else None
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _direction(self, x: Tensor, key: str, h: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
        """One direction of one layer (parameters ``*_{key}``) run forward in time over x (T, B, in) from
        state h (and c): returns every step's h (T, B, H) and the final h (and c)."""
        w_ih, w_hh, b_ih, b_hh = self._weights(key)
        steps, batch = x.shape[0], x.shape[1]
        x_proj = F.linear(x.reshape(steps * batch, x.shape[2]), w_ih, b_ih).reshape(steps, batch, w_ih.shape[0])
        if c is not None:
            hc = F.lstm_layer(x_proj, h, c, w_hh, b_hh)
            return hc[..., :self.hidden_size], hc[-1, :, :self.hidden_size], hc[-1, :, self.hidden_size:]
        if self.mode == "GRU":
            out = F.gru_layer(x_proj, h, w_hh, b_hh)
        else:
            out = F.rnn_layer(x_proj, h, w_hh, b_hh, nonlinearity=self.mode[4:].lower())
        return out, out[-1], None

    def _check_forward_args(self, input: Tensor, states: tuple[Tensor, ...]) -> None:
        """torch's checks, in torch's order and with its messages: input rank, state rank, input size, state
        shape, sequence length."""
        name, batched = self.mode.split("_")[0], input.ndim == 3
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D"
                             f"{' tensor' if name == 'RNN' else ''} instead")
        if any(s.ndim != input.ndim for s in states):
            kind = f"{'batched' if batched else 'unbatched'} {input.ndim}-D input"
            got = ", ".join(f"{s.ndim}-D" for s in states)
            which, got = ("hx and cx", f"({got}) tensors") if len(states) == 2 else ("hx", f"{got} tensor")
            raise RuntimeError(f"For {kind}, {which} should also be {input.ndim}-D but got {got}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.shape[-1]}")
        batch = input.shape[0 if self.batch_first else 1] if batched else 1
        expected = (self.num_layers * self._directions, batch, self.hidden_size)
        for i, s in enumerate(states):
            shape = s.shape if batched else (s.shape[0], 1, s.shape[1])
            if shape != expected:
                label = f"hidden[{i}]" if len(states) == 2 else "hidden"
                raise RuntimeError(f"Expected {label} size {expected}, got {list(shape)}")
        if input.shape[1 if batched and self.batch_first else 0] == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")

    def forward(self, input: Tensor, hx: State | None = None) -> tuple[Tensor, State]:
        """input: (T, B, input_size), or (B, T, input_size) with batch_first, or unbatched (T, input_size).
        Returns (output (…, D·hidden_size) for every step of the last layer, final state), D = 2 if
        bidirectional else 1: the output holds the forward direction's h_t, then the reverse direction's
        (which ran from t = T−1 down to 0). The state is h_n (D·num_layers, B, hidden_size), or (h_n, c_n)
        for an LSTM, ordered layer by layer with the directions inside; hx takes the same form. A layer
        above the first takes the D·hidden_size output of the one below, after dropout when training."""
        lstm = self.mode == "LSTM"
        states: tuple[Tensor, ...] = () if hx is None else tuple(hx) if lstm else (cast("Tensor", hx),)
        self._check_forward_args(input, states)
        batched = input.ndim == 3
        x = (input.transpose(0, 1) if self.batch_first else input) if batched else input.unsqueeze(1)
        if not batched:
            states = tuple(s.unsqueeze(1) for s in states)
        zero_state = lambda: zeros(x.shape[1], self.hidden_size, dtype=self.weight_ih_l0.dtype)
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outputs = []
            for d, suffix in enumerate(self._suffixes):  # the reverse direction: the same loop on x flipped in time
                k = layer * self._directions + d
                h = states[0][k] if states else zero_state()
                c = (states[1][k] if states else zero_state()) if lstm else None
                out, h, c = self._direction(x[::-1] if d else x, f"l{layer}{suffix}", h, c)
                outputs.append(out[::-1] if d else out)
                h_n.append(h)
                if c is not None:
                    c_n.append(c)
            x = cat(outputs, 2) if self.bidirectional else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        h_n = stack(h_n, 0)
        c_n = stack(c_n, 0) if lstm else None
        if not batched:
            x, h_n, c_n = x.squeeze(1), h_n.squeeze(1), (c_n.squeeze(1) if lstm else None)
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, ((h_n, c_n) if lstm else h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        s += f", num_layers={self.num_layers}" if self.num_layers != 1 else ""
        s += ", bias=False" if not self.bias else ""
        s += ", batch_first=True" if self.batch_first else ""
        s += f", dropout={self.dropout}" if self.dropout else ""
        return s + (", bidirectional=True" if self.bidirectional else "")


class RNN(RNNBase):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: DTypeLike | None = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: DTypeLike | None = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype)


class GRU(RNNBase):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: DTypeLike | None = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype)
