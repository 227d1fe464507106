"""Attention: ``scaled_dot_product_attention`` (one graph node, its backward written out) and the
multi-head attention of ``nn.MultiheadAttention`` (torch's ``multi_head_attention_forward``).

    S = q·kᵀ·scale + mask;   P = softmax(S) (a row masked everywhere gives zeros, as torch's);
    P' = P ⊙ D / (1 − p) (dropout);   out = P'·v

Backward, with G the output's gradient: dv = P'ᵀ·G;  dP = (G·vᵀ) ⊙ D / (1 − p);
dS = P ⊙ (dP − Σ_row dP ⊙ P);  dq = dS·k·scale;  dk = dSᵀ·q·scale;  d(mask) = dS (a float mask).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ops.elementwise import _check_broadcast
from ..ops.movement import cat
from ..random import default_generator
from ..tensor import _C_TYPE_NAMES, Tensor, _node
from .activation import dropout as _dropout, softmax
from .linear import linear

if TYPE_CHECKING:
    from .._typing import Array


def _additive_mask(mask: Tensor | None, dtype: np.dtype[Any], name: str = "attn_mask") -> Tensor | None:
    """A boolean mask (True: take part) as 0 / −inf in ``dtype``; a float mask as it is (added in
    the query's dtype)."""
    if mask is None or mask.dtype != np.bool_:
        if mask is not None and not np.issubdtype(mask.dtype, np.floating):
            raise RuntimeError(f"Expected {name} dtype to be bool or float or to match query dtype, but got "
                               f"{name}.dtype: {_torch_dtype(mask)} and  query.dtype: {_C_TYPE_NAMES[dtype.name]} instead.")
        return mask
    return Tensor(np.where(mask._data, dtype.type(0), dtype.type(-np.inf)))


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(q·kᵀ·scale + mask)·v over the last two dims, batch dims broadcast; ``scale`` defaults
    to 1/√E. ``attn_mask``: boolean (True takes part) or added to the scores; ``is_causal``: query i
    sees keys ≤ i (the mask's upper-left triangle); ``dropout_p`` drops attention weights (always, as
    torch's: pass 0 when evaluating); ``enable_gqa``: key/value heads (dim −3) are shared by groups
    of query heads."""
    if query.dtype != key.dtype or query.dtype != value.dtype:
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{_torch_dtype(query)} key.dtype: {_torch_dtype(key)} and value.dtype: "
                           f"{_torch_dtype(value)} instead.")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError("scaled_dot_product_attention: query, key and value must have at least 2 dims, got "
                           f"{query.ndim}, {key.ndim} and {value.ndim}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: query {tuple(query.shape)}, key {tuple(key.shape)} and "
                           f"value {tuple(value.shape)} must share E (query and key) and S (key and value)")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if not 0 <= dropout_p <= 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    if enable_gqa:
        key, value = _share_heads(query, key), _share_heads(query, value)
    L, S = query.shape[-2], key.shape[-2]
    _check_broadcast(query.shape[:-2], key.shape[:-2])
    _check_broadcast(key.shape[:-2], value.shape[:-2])
    if attn_mask is not None:  # torch's errors where the mask does not broadcast to the scores' shape
        scores_shape = np.broadcast_shapes(query.shape[:-2], key.shape[:-2]) + (L, S)
        _check_broadcast(scores_shape, attn_mask.shape)
        if np.broadcast_shapes(scores_shape, attn_mask.shape) != scores_shape:
            raise RuntimeError(f"output with shape {list(scores_shape)} doesn't match the broadcast shape "
                               f"{list(np.broadcast_shapes(scores_shape, attn_mask.shape))}")
    dtype = query.dtype
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    if is_causal:
        attn_mask = Tensor(np.tril(np.ones((L, S), dtype=bool)))
    mask = _additive_mask(attn_mask, dtype)
    q, k, v = query._data, key._data, value._data
    scores = np.matmul(q, np.swapaxes(k, -1, -2)) * dtype.type(scale)
    if mask is not None:
        scores = scores + mask._data.astype(dtype, copy=False)
    probs = _safe_softmax(scores)
    kept = None
    if dropout_p > 0:
        kept = (default_generator().random(probs.shape, dtype) >= dropout_p) * dtype.type(
            1 / (1 - dropout_p) if dropout_p < 1 else 0)
    dropped = probs if kept is None else probs * kept
    out = np.matmul(dropped, v)

    def backward(g: Array) -> tuple[Array, ...]:
        d_dropped = np.matmul(g, np.swapaxes(v, -1, -2))
        d_probs = d_dropped if kept is None else d_dropped * kept
        d_scores = probs * (d_probs - (d_probs * probs).sum(-1, keepdims=True))
        grads = (np.matmul(d_scores, k) * dtype.type(scale),
                 np.matmul(np.swapaxes(d_scores, -1, -2), q) * dtype.type(scale),
                 np.matmul(np.swapaxes(dropped, -1, -2), g))
        if mask is not None and mask is attn_mask:  # a float mask given by the caller: its gradient too
            return grads + (d_scores.astype(mask.dtype, copy=False),)
        return grads
    parents = (query, key, value) + ((attn_mask,) if mask is not None and mask is attn_mask else ())
    return _node(out, parents, backward, "scaled_dot_product_attention")


def _safe_softmax(scores: Array) -> Array:
    """Softmax over the last dim, the row's maximum subtracted first; a row that is −inf everywhere
    (every key masked) gives zeros, not NaN, as torch's."""
    top = scores.max(-1, keepdims=True, initial=-np.inf)
    top = np.where(np.isneginf(top), 0, top)
    e = np.exp(scores - top)
    total = e.sum(-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def _share_heads(query: Tensor, kv: Tensor) -> Tensor:
    """Key or value heads repeated so that query head h reads kv head h // (Hq / Hkv)."""
    if query.ndim < 3 or kv.ndim < 3 or query.shape[-3] % kv.shape[-3]:
        raise RuntimeError("scaled_dot_product_attention: with enable_gqa, the number of query heads (dim -3) must "
                           "be a multiple of the number of key and value heads")
    groups = query.shape[-3] // kv.shape[-3]
    if groups == 1:
        return kv
    shape = kv.shape[:-2] + (groups,) + kv.shape[-2:]
    return kv.unsqueeze(-3).expand(*shape[:-4], kv.shape[-3], groups, *kv.shape[-2:]).reshape(
        *kv.shape[:-3], kv.shape[-3] * groups, *kv.shape[-2:])


def _torch_dtype(t: Tensor) -> str:
    """A tensor's dtype as torch's messages name it."""
    return _C_TYPE_NAMES.get(t.dtype.name, t.dtype.name)


# ---- multi-head attention (nn.MultiheadAttention's forward) ----------------------------------------

def multi_head_attention(query: Tensor, key: Tensor, value: Tensor, num_heads: int,
                         in_proj: tuple[Tensor, Tensor, Tensor], in_bias: tuple[Tensor | None, ...],
                         bias_kv: tuple[Tensor, Tensor] | None, add_zero_attn: bool, dropout_p: float,
                         out_proj_weight: Tensor, out_proj_bias: Tensor | None, training: bool,
                         key_padding_mask: Tensor | None, need_weights: bool, attn_mask: Tensor | None,
                         average_attn_weights: bool, is_causal: bool) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention on (L, N, E) query and (S, N, ·) key/value, as torch's
    ``multi_head_attention_forward``: project q, k, v (``in_proj`` weights, ``in_bias``), split E into
    heads, attend, join the heads and project out. Masks follow nn.MultiheadAttention: a boolean
    ``attn_mask`` (L, S) or (N·H, L, S) or ``key_padding_mask`` (N, S) marks with True what may NOT
    be attended; float masks are added. With ``need_weights`` the weights are returned, averaged over
    the heads if ``average_attn_weights``; without, the attention is one scaled_dot_product_attention."""
    L, N, E = query.shape
    S = key.shape[0]
    head_dim = E // num_heads
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    use_causal_hint = is_causal and key_padding_mask is None and not need_weights
    attn_mask = None if use_causal_hint else _inverted_mask(attn_mask, query.dtype, "attn_mask")
    key_padding_mask = _inverted_mask(key_padding_mask, query.dtype, "key_padding_mask")
    expected = {2: (L, S), 3: (N * num_heads, L, S)}
    if attn_mask is not None and attn_mask.shape != expected[attn_mask.ndim]:
        raise RuntimeError(f"The shape of the {attn_mask.ndim}D attn_mask is {_size(attn_mask.shape)}, but should be "
                           f"{expected[attn_mask.ndim]}.")
    if key_padding_mask is not None:
        for i, n in enumerate((N, S)):
            if key_padding_mask.shape[i] != n:
                raise AssertionError(f"Expected key_padded_mask.shape[{i}] to be {n}, but got "
                                     f"{key_padding_mask.shape[i]}")
    q, k, v = (linear(x, w, b) for x, w, b in zip((query, key, value), in_proj, in_bias))
    if bias_kv is not None:
        k = cat([k, bias_kv[0].expand(1, N, E)])
        v = cat([v, bias_kv[1].expand(1, N, E)])
        attn_mask, key_padding_mask = _pad_column(attn_mask), _pad_column(key_padding_mask)
    q, k, v = (x.reshape(x.shape[0], N * num_heads, head_dim).transpose(0, 1) for x in (q, k, v))  # (N·H, ·, hd)
    if add_zero_attn:
        k = cat([k, Tensor(np.zeros((N * num_heads, 1, head_dim), k.dtype))], 1)
        v = cat([v, Tensor(np.zeros((N * num_heads, 1, head_dim), v.dtype))], 1)
        attn_mask, key_padding_mask = _pad_column(attn_mask), _pad_column(key_padding_mask)
    S = k.shape[1]
    if attn_mask is not None and attn_mask.ndim == 2:
        attn_mask = attn_mask.unsqueeze(0)
    if key_padding_mask is not None:  # (N, S) → (N·H, 1, S), added to the attention mask
        padding = key_padding_mask.reshape(N, 1, 1, S).expand(N, num_heads, 1, S).reshape(N * num_heads, 1, S)
        attn_mask = padding if attn_mask is None else attn_mask + padding
    p = dropout_p if training else 0.0
    if need_weights:  # the weights returned are those the values are averaged with: after dropout, as torch's
        scores = q.matmul(k.transpose(1, 2)) * (1 / math.sqrt(head_dim))
        weights = softmax(scores if attn_mask is None else scores + attn_mask, dim=-1)
        weights = _dropout(weights, p) if p > 0 else weights
        heads = weights.matmul(v)  # (N·H, L, hd)
    else:
        mask = attn_mask if attn_mask is None or attn_mask.shape[0] == 1 else attn_mask.reshape(N, num_heads, -1, S)
        heads = scaled_dot_product_attention(q.reshape(N, num_heads, L, head_dim), k.reshape(N, num_heads, S, head_dim),
                                             v.reshape(N, num_heads, S, head_dim), mask, p, use_causal_hint)
    joined = heads.reshape(N, num_heads, L, head_dim).permute(2, 0, 1, 3).reshape(L * N, E)
    out = linear(joined, out_proj_weight, out_proj_bias).reshape(L, N, E)
    if not need_weights:
        return out, None
    weights = weights.reshape(N, num_heads, L, S)
    return out, weights.mean(dim=1) if average_attn_weights else weights


def check_attention_shapes(query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None,
                           attn_mask: Tensor | None, num_heads: int, same_embed_dim: bool) -> bool:
    """nn.MultiheadAttention's input checks, with torch's messages, before anything runs; returns
    whether the input is batched (3-D; 2-D is one unbatched sequence)."""
    if query.ndim not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D query "
                             "tensor")
    batched = query.ndim == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {query.ndim}-D but found "
                             f"{key.ndim}-D and {value.ndim}-D tensors respectively")
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or {query.ndim - 1}-D but "
                             f"found {key_padding_mask.ndim}-D tensor instead")
    if attn_mask is not None and attn_mask.ndim not in (2, 3):
        raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                             f"{attn_mask.ndim}-D tensor instead")
    if not batched and attn_mask is not None and attn_mask.ndim == 3:
        expected = (num_heads, query.shape[0], key.shape[0])
        if attn_mask.shape != expected:
            raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got {_size(attn_mask.shape)}")
    if same_embed_dim and key.shape != value.shape:
        raise AssertionError(f"key shape {_size(key.shape)} does not match value shape {_size(value.shape)}")
    if not same_embed_dim and key.shape[:-1] != value.shape[:-1]:
        raise AssertionError(f"key's sequence and batch dims {_size(key.shape[:-1])} do not match value's "
                             f"{_size(value.shape[:-1])}")
    return batched


def _size(shape: tuple[int, ...]) -> str:
    """A shape as torch prints it."""
    return f"torch.Size({list(shape)})"


def _inverted_mask(mask: Tensor | None, dtype: np.dtype[Any], name: str) -> Tensor | None:
    """nn.MultiheadAttention's mask convention (True: may NOT attend) as an additive float mask."""
    if mask is None:
        return None
    if mask.dtype == np.bool_:
        return Tensor(np.where(mask._data, dtype.type(-np.inf), dtype.type(0)))
    check_mask_type(mask, name)
    return mask if mask.dtype == dtype else mask.to(dtype)


def check_mask_type(mask: Tensor | None, name: str) -> None:
    """torch's error for a mask of nn.MultiheadAttention's convention that is neither bool nor float."""
    if mask is not None and mask.dtype != np.bool_ and not np.issubdtype(mask.dtype, np.floating):
        raise AssertionError(f"only bool and floating types of {name} are supported")


def _pad_column(mask: Tensor | None) -> Tensor | None:
    """A mask with one more key column that takes part (an added bias or zero key)."""
    if mask is None:
        return None
    return cat([mask, Tensor(np.zeros(mask.shape[:-1] + (1,), mask.dtype))], -1)
