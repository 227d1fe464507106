"""Recurrent layers: a whole sequence per node, backpropagation through time in the backward.

Each layer takes the input projection ``x_proj = x·W_ihᵀ + b_ih`` for all steps at once (one GEMM,
done by the caller) and runs the recurrence over T steps in NumPy; the graph does not grow with T.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Union

import numpy as np

from ..tensor import _node

if TYPE_CHECKING:
    from .._typing import Array
    from ..tensor import Tensor

    # forward(xp, states, w, b) -> (output, saved) and backward(g, saved, w) -> (dx_proj, dstates, dgates)
    Saved = dict[str, Array]
    Forward = Callable[[Array, list[Array], Array, Union[Array, int]], tuple[Array, Saved]]
    Backward = Callable[[Array, Saved, Array], tuple[Array, tuple[Array, ...], Array]]


def _sigmoid(a: Array) -> Array:
    return 0.5 * (1 + np.tanh(0.5 * a))  # σ(a) = (1 + tanh(a/2)) / 2: stable for any a


def _recurrent_node(name: str, x_proj: Tensor, states: tuple[Tensor, ...], w_hh: Tensor, b_hh: Tensor | None,
                    forward: Forward, backward: Backward) -> Tensor:
    """The node of a fused recurrent layer: ``forward(xp, states, w, b)`` returns the output array and
    what the backward needs; ``backward(g, saved)`` returns the gradients of x_proj, of each initial
    state, and the per-step gate gradients ``dgates`` (T, B, G·H) from which dW_hh and db_hh follow."""
    w, b = w_hh._data, (b_hh._data if b_hh is not None else 0)
    out, saved = forward(x_proj._data, [s._data for s in states], w, b)
    inputs = saved["inputs"]  # the hidden state entering each step, (T, B, H)

    def backward_all(g: Array) -> tuple[Array, ...]:
        dx, dstates, dgates = backward(g, saved, w)
        dw = dgates.reshape(-1, dgates.shape[-1]).T @ inputs.reshape(-1, inputs.shape[-1])
        grads = (dx, *dstates, dw)
        return grads + ((dgates.sum((0, 1)),) if b_hh is not None else ())
    parents = (x_proj, *states, w_hh) + ((b_hh,) if b_hh is not None else ())
    return _node(out, parents, backward_all, name)


def rnn_layer(x_proj: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None = None,
              nonlinearity: str = "tanh") -> Tensor:
    """An Elman RNN layer over a sequence: h_t = act(x_proj_t + h_{t−1}·W_hhᵀ + b_hh), with
    x_proj = x·W_ihᵀ + b_ih of shape (T, B, H). Returns all h_t, (T, B, H)."""
    relu = nonlinearity == "relu"

    def forward(xp: Array, states: list[Array], w: Array, b: Array | int) -> tuple[Array, Saved]:
        hs = np.empty((len(xp) + 1,) + states[0].shape, xp.dtype)
        hs[0] = states[0]
        for t in range(len(xp)):
            a = xp[t] + hs[t] @ w.T + b
            hs[t + 1] = np.maximum(a, 0) if relu else np.tanh(a)
        return hs[1:], {"inputs": hs[:-1], "hs": hs}

    def backward(g: Array, saved: Saved, w: Array) -> tuple[Array, tuple[Array, ...], Array]:
        hs = saved["hs"]
        da = np.empty_like(g)
        dh = np.zeros_like(hs[0])
        for t in reversed(range(len(g))):
            dh = dh + g[t]
            da[t] = dh * (hs[t + 1] > 0) if relu else dh * (1 - hs[t + 1] * hs[t + 1])
            dh = da[t] @ w
        return da, (dh,), da
    return _recurrent_node("rnn_layer", x_proj, (h0,), w_hh, b_hh, forward, backward)


def lstm_layer(x_proj: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, b_hh: Tensor | None = None) -> Tensor:
    """An LSTM layer over a sequence, gates in torch's order i, f, g, o:
    (i, f, g, o) = (σ, σ, tanh, σ)(x_proj_t + h_{t−1}·W_hhᵀ + b_hh);  c_t = f·c_{t−1} + i·g;
    h_t = o·tanh(c_t). x_proj = x·W_ihᵀ + b_ih is (T, B, 4H). Returns (T, B, 2H): h_t in [..., :H],
    c_t in [..., H:]."""
    def forward(xp: Array, states: list[Array], w: Array, b: Array | int) -> tuple[Array, Saved]:
        steps, (batch, hidden) = len(xp), states[0].shape
        hs, cs = np.empty((2, steps + 1, batch, hidden), xp.dtype)
        hs[0], cs[0] = states
        gates = np.empty_like(xp)
        tanh_cs = np.empty((steps, batch, hidden), xp.dtype)
        for t in range(steps):
            a = xp[t] + hs[t] @ w.T + b
            gates[t] = _sigmoid(a)
            gates[t, :, 2 * hidden: 3 * hidden] = np.tanh(a[:, 2 * hidden: 3 * hidden])
            i, f, g, o = np.split(gates[t], 4, axis=1)
            cs[t + 1] = f * cs[t] + i * g
            tanh_cs[t] = np.tanh(cs[t + 1])
            hs[t + 1] = o * tanh_cs[t]
        return np.concatenate([hs[1:], cs[1:]], axis=2), {"inputs": hs[:-1], "cs": cs, "gates": gates,
                                                         "tanh_cs": tanh_cs}

    def backward(grad: Array, saved: Saved, w: Array) -> tuple[Array, tuple[Array, ...], Array]:
        cs, gates, tanh_cs = saved["cs"], saved["gates"], saved["tanh_cs"]
        hidden = cs.shape[-1]
        dgates = np.empty_like(gates)
        dh, dc = np.zeros((2,) + cs.shape[1:], grad.dtype)
        for t in reversed(range(len(grad))):
            i, f, g, o = np.split(gates[t], 4, axis=1)
            dh = dh + grad[t, :, :hidden]
            dc = dc + grad[t, :, hidden:] + dh * o * (1 - tanh_cs[t] * tanh_cs[t])
            np.concatenate([dc * g * i * (1 - i), dc * cs[t] * f * (1 - f), dc * i * (1 - g * g),
                            dh * tanh_cs[t] * o * (1 - o)], axis=1, out=dgates[t])
            dc = dc * f
            dh = dgates[t] @ w
        return dgates, (dh, dc), dgates
    return _recurrent_node("lstm_layer", x_proj, (h0, c0), w_hh, b_hh, forward, backward)


def gru_layer(x_proj: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor | None = None) -> Tensor:
    """A GRU layer over a sequence, gates in torch's order r, z, n: with x_proj = x·W_ihᵀ + b_ih
    (T, B, 3H) and a = h_{t−1}·W_hhᵀ + b_hh, r = σ(x_r + a_r), z = σ(x_z + a_z),
    n = tanh(x_n + r·a_n), h_t = (1 − z)·n + z·h_{t−1}. Returns all h_t, (T, B, H)."""
    def forward(xp: Array, states: list[Array], w: Array, b: Array | int) -> tuple[Array, Saved]:
        steps, (batch, hidden) = len(xp), states[0].shape
        hs = np.empty((steps + 1, batch, hidden), xp.dtype)
        hs[0] = states[0]
        gates, a_n = np.empty_like(xp), np.empty((steps, batch, hidden), xp.dtype)
        for t in range(steps):
            a = hs[t] @ w.T + b
            gates[t, :, :2 * hidden] = _sigmoid(xp[t, :, :2 * hidden] + a[:, :2 * hidden])
            a_n[t] = a[:, 2 * hidden:]
            r, z = gates[t, :, :hidden], gates[t, :, hidden: 2 * hidden]
            gates[t, :, 2 * hidden:] = n = np.tanh(xp[t, :, 2 * hidden:] + r * a_n[t])
            hs[t + 1] = n + z * (hs[t] - n)
        return hs[1:], {"inputs": hs[:-1], "gates": gates, "a_n": a_n}

    def backward(g: Array, saved: Saved, w: Array) -> tuple[Array, tuple[Array, ...], Array]:
        hs, gates, a_n = saved["inputs"], saved["gates"], saved["a_n"]
        hidden = hs.shape[-1]
        dx, dgates = np.empty_like(gates), np.empty_like(gates)  # for x_proj, and for a = h·W_hhᵀ + b_hh
        dh = np.zeros_like(hs[0])
        for t in reversed(range(len(g))):
            r, z, n = np.split(gates[t], 3, axis=1)
            dh = dh + g[t]
            dn = dh * (1 - z) * (1 - n * n)
            np.concatenate([dn * a_n[t] * r * (1 - r), dh * (hs[t] - n) * z * (1 - z), dn], axis=1, out=dx[t])
            dgates[t] = dx[t]
            dgates[t, :, 2 * hidden:] *= r
            dh = dh * z + dgates[t] @ w
        return dx, (dh,), dgates
    return _recurrent_node("gru_layer", x_proj, (h0,), w_hh, b_hh, forward, backward)
