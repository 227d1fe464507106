"""pad_sequence (torch.nn.utils.rnn): variable-length sequences as one padded tensor."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import numpy as np

from ...tensor import Tensor, _node

if TYPE_CHECKING:
    from ..._typing import Array


def pad_sequence(sequences: Iterable[Tensor], batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack tensors of shapes ``(L_i, *)`` into one of shape ``(max L_i, B, *)`` (``(B, max L_i, *)``
    with ``batch_first``), filling with ``padding_value`` after each sequence (before it with
    ``padding_side="left"``). Differentiable with respect to every sequence."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    seqs = list(sequences)
    if not seqs:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    for s in seqs:
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence: expected a sequence of minigrad.Tensor, got {type(s).__name__}")
    trailing = seqs[0].shape[1:]
    if any(s.ndim == 0 or s.shape[1:] != trailing for s in seqs):
        raise RuntimeError(f"pad_sequence: the sequences must be at least 1-D and agree after their first "
                           f"dimension, got shapes {[s.shape for s in seqs]}")
    length = max(s.shape[0] for s in seqs)
    out = np.full((len(seqs), length, *trailing), padding_value, np.result_type(*(s.dtype for s in seqs)))
    spans = [slice(0, s.shape[0]) if padding_side == "right" else slice(length - s.shape[0], length) for s in seqs]
    for i, (s, span) in enumerate(zip(seqs, spans)):
        out[i, span] = s._data

    def backward(g: Array) -> tuple[Array, ...]:
        g = g if batch_first else g.swapaxes(0, 1)
        return tuple(g[i, span].astype(s.dtype, copy=False) for i, (s, span) in enumerate(zip(seqs, spans)))
    return _node(out if batch_first else np.ascontiguousarray(out.swapaxes(0, 1)), tuple(seqs), backward,
                 "pad_sequence")
