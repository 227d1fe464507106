"""RNN (tanh/relu), LSTM and GRU: multi-layer, batch_first, initial state in and final state out,
dropout between layers; parameter names, shapes, gate order and initialisation as torch's.

Each layer is two graph nodes: the input projection of the whole sequence (one GEMM), and the
recurrence through time fused into one op with its own backpropagation through time
(``F.rnn_layer``, ``F.lstm_layer``, ``F.gru_layer``).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Union

import numpy as np

from .. import functional as F
from ..creation import zeros
from ..ops.movement import stack
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
        if bidirectional:
            raise NotImplementedError("bidirectional recurrent layers are not supported by minigrad yet")
        if not 0 <= dropout <= 1:
            raise ValueError(f"dropout should be a number in range [0, 1], got {dropout}")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError("hidden_size and num_layers must be positive")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        gates = self.gates[mode]
        dtype = np.dtype(dtype or np.float32)
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size
            shapes: dict[str, tuple[int, ...]] = {"weight_ih": (gates * hidden_size, in_size),
                                                  "weight_hh": (gates * hidden_size, hidden_size)}
            if bias:
                shapes.update(bias_ih=(gates * hidden_size,), bias_hh=(gates * hidden_size,))
            for name, shape in shapes.items():
                setattr(self, f"{name}_l{layer}", Parameter(np.empty(shape, dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(±1/√hidden_size), as torch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _layer(self, layer: int) -> tuple[Parameter, Parameter, Parameter | None, Parameter | None]:
        get = lambda name: getattr(self, f"{name}_l{layer}") if self.bias or "weight" in name else None
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def forward(self, input: Tensor, hx: State | None = None) -> tuple[Tensor, State]:
        """input: (T, B, input_size), or (B, T, input_size) with batch_first, or unbatched (T, input_size).
        Returns (output (…, hidden_size) for every step of the last layer, final state): the state is
        h_n (num_layers, B, hidden_size), or (h_n, c_n) for an LSTM, and hx takes the same form."""
        batched = input.ndim == 3
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected input of shape (T, B, {self.input_size}) "
                             f"(or 2-D unbatched), got {tuple(input.shape)}")
        x = (input.transpose(0, 1) if self.batch_first else input) if batched else input.unsqueeze(1)
        steps, batch = x.shape[0], x.shape[1]
        lstm = self.mode == "LSTM"
        h0, c0 = (hx if lstm else (hx, None)) if hx is not None else (None, None)
        if h0 is not None and not batched:
            h0, c0 = h0.unsqueeze(1), (c0.unsqueeze(1) if c0 is not None else None)
        zero_state = lambda: zeros(batch, self.hidden_size, dtype=self.weight_ih_l0.dtype)
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._layer(layer)
            x_proj = F.linear(x.reshape(steps * batch, x.shape[2]), w_ih, b_ih).reshape(steps, batch, -1)
            h = h0[layer] if h0 is not None else zero_state()
            if lstm:
                hc = F.lstm_layer(x_proj, h, c0[layer] if c0 is not None else zero_state(), w_hh, b_hh)
                x = hc[..., :self.hidden_size]
                c_n.append(hc[-1, :, self.hidden_size:])
            elif self.mode == "GRU":
                x = F.gru_layer(x_proj, h, w_hh, b_hh)
            else:
                x = F.rnn_layer(x_proj, h, w_hh, b_hh, nonlinearity=self.mode[4:].lower())
            h_n.append(x[-1])
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
        return s + (f", dropout={self.dropout}" if self.dropout else "")


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
