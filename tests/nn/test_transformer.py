"""nn.MultiheadAttention and the transformer layers against torch's, with torch's weights copied in
(float64): outputs, attention weights, input gradients and every parameter's gradient, over both
batch layouts, masks and options; parameter names, initialisation and errors."""
import itertools

import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor, nn

torch = pytest.importorskip("torch")


def twins(ours, theirs):
    """``ours`` with ``theirs``' weights (float64 both), both in training mode."""
    theirs.double().train()
    ours.to(dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ours.train()
    return ours, theirs


def inputs(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    return [Tensor(a, requires_grad=True) for a in arrays], [torch.tensor(a, requires_grad=True) for a in arrays]


def backward_both(out, expected, seed=9):
    weights = np.random.default_rng(seed).standard_normal(tuple(expected.shape))
    (out * Tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()


def assert_same(ours, theirs, rtol=1e-10):
    np.testing.assert_allclose(ours.numpy() if isinstance(ours, Tensor) else ours, theirs.detach().numpy(),
                               rtol=rtol, atol=1e-10)


def assert_same_grads(ours_module, theirs_module, ours_inputs=(), theirs_inputs=()):
    theirs_params = dict(theirs_module.named_parameters())
    for name, p in ours_module.named_parameters():
        assert p.grad is not None, name
        assert_same(p.grad, theirs_params[name].grad)
    for a, b in zip(ours_inputs, theirs_inputs):
        assert_same(a.grad, b.grad)


# ---- MultiheadAttention -----------------------------------------------------------------------------

def mha_masks(mask_kind, L, S, N, H):
    rng = np.random.default_rng(3)
    if mask_kind is None:
        return {}, {}
    if mask_kind == "causal":
        m = np.triu(np.ones((L, S), bool), 1)
        return dict(attn_mask=Tensor(m), is_causal=True), dict(attn_mask=torch.tensor(m), is_causal=True)
    if mask_kind == "bool2d":
        m = rng.random((L, S)) < 0.3
        m[:, 0] = False
        return dict(attn_mask=Tensor(m)), dict(attn_mask=torch.tensor(m))
    if mask_kind == "float3d":
        m = rng.standard_normal((N * H, L, S))
        return dict(attn_mask=Tensor(m)), dict(attn_mask=torch.tensor(m))
    if mask_kind == "padding":
        m = np.zeros((N, S), bool)
        m[0, -2:] = True
        return dict(key_padding_mask=Tensor(m)), dict(key_padding_mask=torch.tensor(m))
    m, pad = rng.random((L, S)) < 0.2, np.zeros((N, S), bool)  # both
    m[:, 0] = False
    pad[-1, -1] = True
    return (dict(attn_mask=Tensor(m), key_padding_mask=Tensor(pad)),
            dict(attn_mask=torch.tensor(m), key_padding_mask=torch.tensor(pad)))


MHA_CASES = list(itertools.product([False, True], [None, "causal", "bool2d", "float3d", "padding", "both"],
                                   [True, False]))


@pytest.mark.parametrize("batch_first, mask_kind, need_weights", MHA_CASES)
def test_multihead_attention_equals_torch(batch_first, mask_kind, need_weights):
    E, H, L, S, N = 8, 2, 4, 4, 3  # (causal needs L == S)
    ours, theirs = twins(nn.MultiheadAttention(E, H, batch_first=batch_first),
                         torch.nn.MultiheadAttention(E, H, batch_first=batch_first))
    shape_q, shape_kv = ((N, L, E), (N, S, E)) if batch_first else ((L, N, E), (S, N, E))
    (q, k, v), (tq, tk, tv) = inputs(shape_q, shape_kv, shape_kv)
    ours_masks, theirs_masks = mha_masks(mask_kind, L, S, N, H)
    out, weights = ours(q, k, v, need_weights=need_weights, **ours_masks)
    expected, expected_weights = theirs(tq, tk, tv, need_weights=need_weights, **theirs_masks)
    assert_same(out, expected)
    assert (weights is None) == (expected_weights is None)
    if weights is not None:
        assert_same(weights, expected_weights)
    backward_both(out, expected)
    assert_same_grads(ours, theirs, (q, k, v), (tq, tk, tv))


@pytest.mark.parametrize("options", [dict(kdim=5, vdim=3), dict(bias=False), dict(add_bias_kv=True),
                                     dict(add_zero_attn=True), dict(add_bias_kv=True, add_zero_attn=True, kdim=6)])
@pytest.mark.parametrize("average", [True, False])
def test_multihead_attention_options_equal_torch(options, average):
    E, H, L, S, N = 6, 3, 3, 5, 2
    ours, theirs = twins(nn.MultiheadAttention(E, H, **options), torch.nn.MultiheadAttention(E, H, **options))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    (q, k, v), (tq, tk, tv) = inputs((L, N, E), (S, N, options.get("kdim", E)), (S, N, options.get("vdim", E)))
    pad = np.zeros((N, S), bool)
    pad[1, 0] = True
    out, weights = ours(q, k, v, key_padding_mask=Tensor(pad), average_attn_weights=average)
    expected, expected_weights = theirs(tq, tk, tv, key_padding_mask=torch.tensor(pad), average_attn_weights=average)
    assert_same(out, expected)
    assert_same(weights, expected_weights)
    backward_both(out, expected)
    assert_same_grads(ours, theirs, (q, k, v), (tq, tk, tv))


def test_multihead_attention_unbatched_and_weights_in_the_graph():
    ours, theirs = twins(nn.MultiheadAttention(4, 2), torch.nn.MultiheadAttention(4, 2))
    (q, kv), (tq, tkv) = inputs((3, 4), (5, 4))
    out, weights = ours(q, kv, kv)
    expected, expected_weights = theirs(tq, tkv, tkv)
    assert out.shape == (3, 4) and weights.shape == (3, 5)
    assert_same(out, expected)
    ((weights * weights).sum() + out.sum()).backward()  # the weights carry gradients too
    ((expected_weights * expected_weights).sum() + expected.sum()).backward()
    assert_same_grads(ours, theirs, (q, kv), (tq, tkv))


def test_multihead_attention_dropout_is_off_in_eval_and_on_in_training():
    m = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = Tensor(np.random.default_rng(0).standard_normal((4, 2, 8)))
    m.eval()
    first, second = m(x, x, x)[0].numpy(), m(x, x, x)[0].numpy()
    np.testing.assert_array_equal(first, second)
    m.train()
    assert not np.allclose(m(x, x, x)[0].numpy(), first)


def test_multihead_attention_init_and_errors():
    m = nn.MultiheadAttention(16, 4)
    bound = np.sqrt(6 / (16 + 48))  # xavier_uniform over (3E, E)
    assert np.abs(m.in_proj_weight.numpy()).max() <= bound and (m.in_proj_bias.numpy() == 0).all()
    assert (m.out_proj.bias.numpy() == 0).all() and m.in_proj_weight.numpy().std() > bound / 3
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    x = Tensor(np.zeros((2, 1, 16)))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 16, but got 8"):
        m(Tensor(np.zeros((2, 1, 8))), x, x)


# ---- the transformer layers ----------------------------------------------------------------------

def causal(n):
    return nn.Transformer.generate_square_subsequent_mask(n, dtype=np.float64), \
        torch.nn.Transformer.generate_square_subsequent_mask(n, dtype=torch.float64)


def test_generate_square_subsequent_mask_is_torchs():
    ours, theirs = causal(4)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3).dtype == np.float32


LAYER_CASES = list(itertools.product([False, True], [False, True], ["relu", "gelu", "callable"]))


def activation(name, framework):
    if name != "callable":
        return name
    return (lambda x: mg.functional.silu(x)) if framework == "mg" else (lambda x: torch.nn.functional.silu(x))


@pytest.mark.parametrize("batch_first, norm_first, act", LAYER_CASES)
def test_encoder_layer_equals_torch(batch_first, norm_first, act):
    d, nhead, L, N = 8, 2, 5, 3
    options = dict(dim_feedforward=16, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    ours, theirs = twins(nn.TransformerEncoderLayer(d, nhead, activation=activation(act, "mg"), **options),
                         torch.nn.TransformerEncoderLayer(d, nhead, activation=activation(act, "torch"), **options))
    (x,), (tx,) = inputs((N, L, d) if batch_first else (L, N, d))
    mask, tmask = causal(L)
    pad = np.zeros((N, L), bool)
    pad[0, -1] = True
    out = ours(x, src_mask=mask, src_key_padding_mask=Tensor(pad))
    expected = theirs(tx, src_mask=tmask, src_key_padding_mask=torch.tensor(pad))
    assert_same(out, expected)
    backward_both(out, expected)
    assert_same_grads(ours, theirs, (x,), (tx,))


@pytest.mark.parametrize("batch_first, norm_first, act", LAYER_CASES[::2])
def test_decoder_layer_equals_torch(batch_first, norm_first, act):
    d, nhead, T, S, N = 8, 4, 4, 6, 2
    options = dict(dim_feedforward=12, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    ours, theirs = twins(nn.TransformerDecoderLayer(d, nhead, activation=activation(act, "mg"), **options),
                         torch.nn.TransformerDecoderLayer(d, nhead, activation=activation(act, "torch"), **options))
    (tgt, memory), (ttgt, tmemory) = inputs((N, T, d) if batch_first else (T, N, d),
                                            (N, S, d) if batch_first else (S, N, d))
    mask, tmask = causal(T)
    pad = np.zeros((N, S), bool)
    pad[1, :2] = True
    out = ours(tgt, memory, tgt_mask=mask, memory_key_padding_mask=Tensor(pad))
    expected = theirs(ttgt, tmemory, tgt_mask=tmask, memory_key_padding_mask=torch.tensor(pad))
    assert_same(out, expected)
    backward_both(out, expected)
    assert_same_grads(ours, theirs, (tgt, memory), (ttgt, tmemory))


@pytest.mark.parametrize("batch_first, norm_first", [(False, False), (True, True)])
def test_transformer_equals_torch(batch_first, norm_first):
    d, nhead, S, T, N = 8, 2, 5, 4, 2
    options = dict(num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16, dropout=0.0,
                   batch_first=batch_first, norm_first=norm_first)
    ours, theirs = twins(nn.Transformer(d, nhead, **options), torch.nn.Transformer(d, nhead, **options))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    (src, tgt), (tsrc, ttgt) = inputs((N, S, d) if batch_first else (S, N, d), (N, T, d) if batch_first else (T, N, d))
    mask, tmask = causal(T)
    out = ours(src, tgt, tgt_mask=mask)
    expected = theirs(tsrc, ttgt, tgt_mask=tmask)
    assert_same(out, expected)
    backward_both(out, expected)
    assert_same_grads(ours, theirs, (src, tgt), (tsrc, ttgt))


def test_encoder_stack_clones_the_layer_and_applies_the_norm():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    encoder = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8))
    assert len(encoder.layers) == 3 and encoder.layers[0] is not layer
    assert encoder.layers[0].linear1.weight is not encoder.layers[1].linear1.weight
    np.testing.assert_array_equal(encoder.layers[2].linear1.weight.numpy(), layer.linear1.weight.numpy())
    out = encoder(Tensor(np.random.default_rng(0).standard_normal((5, 2, 8))))
    np.testing.assert_allclose(out.numpy().mean(-1), 0, atol=1e-5)  # the final LayerNorm


def test_transformer_errors():
    model = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(Tensor(np.zeros((3, 2, 8), np.float32)), Tensor(np.zeros((3, 4, 8), np.float32)))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        model(Tensor(np.zeros((3, 2, 6), np.float32)), Tensor(np.zeros((3, 2, 6), np.float32)))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def _transformer_3d_src_2d_tgt(lib, zeros):
    return lib.Transformer(8, 2, 1, 1, 16, 0.0, batch_first=True)(zeros(2, 5, 8), zeros(5, 8))


def _encoder_int_mask(lib, zeros):
    encoder = lib.TransformerEncoder(lib.TransformerEncoderLayer(8, 2, 16, 0.0), 1, enable_nested_tensor=False)
    return encoder(zeros(5, 2, 8), mask=zeros(5, 5).long())


def _encoder_layer_int_mask(lib, zeros):
    return lib.TransformerEncoderLayer(8, 2, 16, 0.0)(zeros(5, 2, 8), src_mask=zeros(5, 5).long())


def _attention_mask_of_another_shape(lib, zeros):
    functional = lib.functional
    return functional.scaled_dot_product_attention(zeros(2, 3, 4), zeros(2, 3, 4), zeros(2, 3, 4),
                                                   attn_mask=zeros(4, 4))


def _encoder_layer_int_masks(lib, zeros):
    return lib.TransformerEncoderLayer(8, 2, 16, 0.0)(zeros(5, 2, 8), src_mask=zeros(5, 5).long(),
                                                      src_key_padding_mask=zeros(2, 5).long())


def _encoder_int_padding_mask(lib, zeros):
    encoder = lib.TransformerEncoder(lib.TransformerEncoderLayer(8, 2, 16, 0.0), 1, enable_nested_tensor=False)
    return encoder(zeros(5, 2, 8), src_key_padding_mask=zeros(2, 5).long())


def _attention_mask_larger_than_the_scores(lib, zeros):
    return lib.functional.scaled_dot_product_attention(zeros(2, 3, 4), zeros(2, 5, 4), zeros(2, 5, 4),
                                                       attn_mask=zeros(4, 2, 3, 5))


@pytest.mark.parametrize("call", [_transformer_3d_src_2d_tgt, _encoder_int_mask, _encoder_layer_int_mask,
                                  _attention_mask_of_another_shape, _encoder_layer_int_masks,
                                  _encoder_int_padding_mask, _attention_mask_larger_than_the_scores])
def test_bad_inputs_get_torchs_error_and_message(call):
    with pytest.raises(Exception) as expected:
        call(torch.nn, torch.zeros)
    with pytest.raises(type(expected.value)) as got:
        call(nn, mg.zeros)
    assert str(got.value) == str(expected.value)


def test_multihead_attention_returns_the_weights_after_dropout():
    """As torch's: the weights returned are those the values were averaged with."""
    m = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = Tensor(np.random.default_rng(0).standard_normal((6, 3, 8)))
    m.eval()
    plain = m(x, x, x, average_attn_weights=False)[1].numpy()
    np.testing.assert_allclose(plain.sum(-1), 1)
    m.train()
    w = m(x, x, x, average_attn_weights=False)[1].numpy()
    assert (w == 0).any()  # dropped, the rest scaled by 1/(1 − p)
    np.testing.assert_allclose(w[w != 0], 2 * plain[w != 0], rtol=1e-6)


MASK_ERRORS = [  # (query, key, value shapes, key_padding_mask shape, attn_mask shape): torch's error and message
    ((3, 2, 4), (5, 2, 4), (5, 2, 4), None, (2, 3, 5)),     # 3-D mask of (N, L, S), not (N·H, L, S)
    ((3, 2, 4), (5, 2, 4), (5, 2, 4), None, (3, 4)),
    ((3, 2, 4), (5, 2, 4), (5, 2, 4), None, (1, 3, 5, 1)),
    ((3, 2, 4), (5, 2, 4), (5, 2, 4), (2, 4), None),
    ((3, 2, 4), (5, 2, 4), (5, 2, 4), (2, 1, 5), None),
    ((3, 4), (5, 4), (5, 4), (1, 5), None),
    ((3, 4), (5, 4), (5, 4), None, (3, 3, 5)),
    ((3, 2, 4), (5, 2, 4), (6, 2, 4), None, None),
]


@pytest.mark.parametrize("q, k, v, padding, mask", MASK_ERRORS)
def test_multihead_attention_refuses_masks_and_inputs_of_the_wrong_shape_as_torch(q, k, v, padding, mask):
    ours, theirs = nn.MultiheadAttention(4, 2), torch.nn.MultiheadAttention(4, 2)
    shapes = (q, k, v)
    mg_args = [Tensor(np.zeros(s, np.float32)) for s in shapes]
    torch_args = [torch.zeros(s) for s in shapes]
    kw = lambda lib, make: dict(key_padding_mask=None if padding is None else make(padding),  # noqa: E731
                                attn_mask=None if mask is None else make(mask))
    with pytest.raises(Exception) as expected:
        theirs(*torch_args, **kw(torch, lambda s: torch.zeros(s, dtype=torch.bool)))
    with pytest.raises(type(expected.value)) as got:
        ours(*mg_args, **kw(mg, lambda s: Tensor(np.zeros(s, bool))))
    assert str(got.value) == str(expected.value)


def test_attention_masks_of_another_float_dtype_and_empty_keys_as_torch():
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 2)))
    mask = rng.standard_normal((3, 5)).astype(np.float32)
    ours_mask, theirs_mask = Tensor(mask, requires_grad=True), torch.tensor(mask, requires_grad=True)
    out = mg.functional.scaled_dot_product_attention(*(Tensor(a) for a in (q, k, v)), attn_mask=ours_mask)
    expected = torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(a) for a in (q, k, v)),
                                                                attn_mask=theirs_mask)
    assert out.dtype == np.float64
    assert_same(out, expected)
    out.sum().backward()
    expected.sum().backward()
    assert ours_mask.grad.dtype == np.float32
    np.testing.assert_allclose(ours_mask.grad.numpy(), theirs_mask.grad.numpy(), rtol=1e-5, atol=1e-6)
    empty = mg.functional.scaled_dot_product_attention(Tensor(q), Tensor(k[:, :0]), Tensor(v[:, :0]))
    assert empty.shape == (2, 3, 2) and (empty.numpy() == 0).all()
