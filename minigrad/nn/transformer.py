"""Multi-head attention and the transformer (Vaswani et al. 2017), as torch.nn's: the same
constructor arguments, parameter names (so torch's state_dicts load unchanged), initialisation,
masks and sublayer order (post-norm x = norm(x + sublayer(x)), or pre-norm x = x + sublayer(norm(x))
with ``norm_first``)."""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .. import functional as F
from ..functional.attention import check_attention_shapes, check_mask_type, multi_head_attention
from ..tensor import Parameter, Tensor
from . import init
from .activation import Dropout
from .containers import ModuleList
from .linear import Linear, _empty_parameter
from .module import Module
from .normalization import LayerNorm

if TYPE_CHECKING:
    from .._typing import DTypeLike

    Activation = str | Callable[[Tensor], Tensor]


class MultiheadAttention(Module):
    """Attention over ``num_heads`` heads of embed_dim / num_heads features each::

        head_i = softmax(q W_qᵢᵀ (k W_kᵢᵀ)ᵀ / √d + mask) v W_vᵢᵀ;   out = [head_1 … head_H] W_oᵀ + b_o

    Inputs (L, N, E) — (N, L, E) with ``batch_first`` — or unbatched (L, E). ``kdim``/``vdim`` give
    keys and values their own widths (then q/k/v_proj_weight instead of one in_proj_weight);
    ``add_bias_kv`` appends a learned key and value, ``add_zero_attn`` a zero one. Returns
    (output, attention weights or None)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: object = None,
                 dtype: DTypeLike | None = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim, self.vdim = kdim if kdim is not None else embed_dim, vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _empty_parameter((3 * embed_dim, embed_dim), dtype)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = _empty_parameter((embed_dim, embed_dim), dtype)
            self.k_proj_weight = _empty_parameter((embed_dim, self.kdim), dtype)
            self.v_proj_weight = _empty_parameter((embed_dim, self.vdim), dtype)
            self.register_parameter("in_proj_weight", None)
        self.register_parameter("in_proj_bias", _empty_parameter((3 * embed_dim,), dtype) if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        self.bias_k: Parameter | None = _empty_parameter((1, 1, embed_dim), dtype) if add_bias_kv else None
        self.bias_v: Parameter | None = _empty_parameter((1, 1, embed_dim), dtype) if add_bias_kv else None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """torch's: Xavier-uniform projections, zero biases, Xavier-normal bias_k/bias_v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None and self.bias_v is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` to ``key``/``value``. ``key_padding_mask`` (N, S) and ``attn_mask``
        (L, S) or (N·num_heads, L, S): boolean, True where attention is NOT allowed, or float, added to
        the scores; ``is_causal`` is a hint that ``attn_mask`` is the causal mask (it must be given)."""
        batched = check_attention_shapes(query, key, value, key_padding_mask, attn_mask, self.num_heads,
                                         self._qkv_same_embed_dim)
        if self.batch_first and batched:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        if not batched:
            query, key, value = (x.unsqueeze(1) for x in (query, key, value))
            key_padding_mask = None if key_padding_mask is None else key_padding_mask.unsqueeze(0)
        if query.shape[-1] != self.embed_dim:
            raise AssertionError(f"was expecting embedding dimension of {self.embed_dim}, but got {query.shape[-1]}")
        in_proj = ((self.in_proj_weight[:self.embed_dim], self.in_proj_weight[self.embed_dim:2 * self.embed_dim],
                    self.in_proj_weight[2 * self.embed_dim:]) if self._qkv_same_embed_dim else
                   (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight))
        b = self.in_proj_bias
        in_bias = (None, None, None) if b is None else (b[:self.embed_dim], b[self.embed_dim:2 * self.embed_dim],
                                                         b[2 * self.embed_dim:])
        bias_kv = None if self.bias_k is None or self.bias_v is None else (self.bias_k, self.bias_v)
        out, weights = multi_head_attention(query, key, value, self.num_heads, in_proj, in_bias, bias_kv,
                                            self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
                                            self.training, key_padding_mask, need_weights, attn_mask,
                                            average_attn_weights, is_causal)
        if not batched:
            return out.squeeze(1), None if weights is None else weights.squeeze(0)
        return (out.transpose(0, 1) if self.batch_first else out), weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


def _activation(activation: Activation) -> Callable[[Tensor], Tensor]:
    if callable(activation):
        return activation
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


class _TransformerLayer(Module):
    """What both layers share: self-attention (and, with ``cross_attention``, attention over the
    encoder's output), the feed-forward block, a LayerNorm and a dropout per sublayer, created in
    torch's order so that the parameter names and their order are torch's."""

    def __init__(self, cross_attention: bool, d_model: int, nhead: int, dim_feedforward: int, dropout: float,
                 activation: Activation, layer_norm_eps: float, batch_first: bool, norm_first: bool, bias: bool,
                 dtype: DTypeLike | None) -> None:
        super().__init__()
        sublayers = 3 if cross_attention else 2
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        if cross_attention:
            self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                     batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        for i in range(1, sublayers + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        for i in range(1, sublayers + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation)
        self._ff_dropout = f"dropout{sublayers}"  # the feed-forward block's, the last sublayer's

    def _sa_block(self, x: Tensor, mask: Tensor | None, padding: Tensor | None, is_causal: bool) -> Tensor:
        return self.dropout1(self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=padding, need_weights=False,
                                            is_causal=is_causal)[0])

    def _ff_block(self, x: Tensor) -> Tensor:
        return getattr(self, self._ff_dropout)(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention then a feed-forward block (linear, activation, dropout, linear), each with
    dropout, a residual connection and a LayerNorm (after the sum; before the sublayer with
    ``norm_first``)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Activation = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: object = None,
                 dtype: DTypeLike | None = None) -> None:
        super().__init__(False, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                         norm_first, bias, dtype)

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        check_mask_type(src_key_padding_mask, "src_key_padding_mask")
        check_mask_type(src_mask, "src_mask")
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, attention over the encoder's output (``memory``), then the feed-forward
    block; each with dropout, a residual connection and a LayerNorm as TransformerEncoderLayer's."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Activation = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: object = None,
                 dtype: DTypeLike | None = None) -> None:
        super().__init__(True, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                         norm_first, bias, dtype)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    def _mha_block(self, x: Tensor, memory: Tensor, mask: Tensor | None, padding: Tensor | None,
                   is_causal: bool) -> Tensor:
        return self.dropout2(self.multihead_attn(x, memory, memory, attn_mask=mask, key_padding_mask=padding,
                                                 need_weights=False, is_causal=is_causal)[0])


def _clones(layer: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


def _is_causal(mask: Tensor | None, is_causal: bool | None, size: int) -> bool:
    """torch's reading of an ``is_causal`` of None: True when ``mask`` is the causal mask of ``size``."""
    if is_causal is not None:
        return is_causal
    if mask is None or mask.shape != (size, size):
        return False
    causal = Transformer.generate_square_subsequent_mask(size, dtype=mask.dtype if mask.dtype != np.bool_ else None)
    expected = causal._data != 0 if mask.dtype == np.bool_ else causal._data
    return bool(np.array_equal(mask._data, expected))


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (``layers.0``, ``layers.1``, ...), then ``norm``.
    ``enable_nested_tensor`` is accepted and changes nothing: torch's nested-tensor fast path (eval
    mode without grad) returns zeros at padded positions, this one their computed values."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, src: Tensor, mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        check_mask_type(src_key_padding_mask, "src_key_padding_mask")
        check_mask_type(mask, "mask")
        seq_dim = 1 if self.layers[0].self_attn.batch_first and src.ndim == 3 else 0
        causal = _is_causal(mask, is_causal, src.shape[seq_dim])
        for layer in self.layers:
            src = layer(src, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=causal)
        return src if self.norm is None else self.norm(src)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` (``layers.0``, ...), then ``norm``."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        seq_dim = 1 if self.layers[0].self_attn.batch_first and tgt.ndim == 3 else 0
        causal = _is_causal(tgt_mask, tgt_is_causal, tgt.shape[seq_dim])
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask, tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=causal,
                      memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """An encoder (``num_encoder_layers`` layers and a final LayerNorm) and a decoder over its
    output (``num_decoder_layers`` layers and a LayerNorm); every parameter of ≥ 2 dims
    Xavier-uniform, as torch's."""

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation: Activation = "relu",
                 custom_encoder: Module | None = None, custom_decoder: Module | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: object = None, dtype: DTypeLike | None = None) -> None:
        super().__init__()
        options: dict[str, Any] = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                       layer_norm_eps=layer_norm_eps, batch_first=batch_first, norm_first=norm_first, bias=bias,
                       dtype=dtype)
        self.encoder = custom_encoder if custom_encoder is not None else TransformerEncoder(
            TransformerEncoderLayer(d_model, nhead, **options), num_encoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self.decoder = custom_decoder if custom_decoder is not None else TransformerDecoder(
            TransformerDecoderLayer(d_model, nhead, **options), num_decoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: object = None, dtype: DTypeLike | None = None) -> Tensor:
        """The causal mask of ``sz`` positions: −inf above the diagonal (a later position), 0 elsewhere."""
        return Tensor(np.triu(np.full((sz, sz), -np.inf, dtype=np.dtype(dtype or np.float32)), k=1))
