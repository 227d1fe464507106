"""minigrad.functional (F): neural-network ops with torch.nn.functional's signatures.

Most ops are compositions of Tensor ops. Those below have their own backward, next to the forward,
where it is faster or more stable: ``linear``, ``softmax``/``log_softmax`` and the losses built on
log-probabilities (``cross_entropy`` fuses log-softmax with the loss), ``conv2d`` (im2col through
``as_strided`` + one GEMM; col2im in the backward), the pools, ``embedding`` and the
normalization shared by ``layer_norm`` and ``batch_norm``.

Signatures follow torch's; the losses' options after ``weight`` are keyword-only (torch keeps the
deprecated ``size_average``/``reduce`` at those positions), and ``inplace`` flags are accepted but
the result is always a new tensor.
"""
import functools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .tensor import Tensor, _data, _make, default_generator

# ---- activations ----------------------------------------------------------------------------------------


def relu(input, inplace=False):
    """``inplace`` is accepted for torch compatibility; minigrad always returns a new tensor."""
    return input.relu()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return input.leaky_relu(negative_slope)


def gelu(input, approximate="none"):
    return input.gelu(approximate)


def softplus(input, beta=1.0, threshold=20.0):
    return input.softplus(beta, threshold)


def silu(input, inplace=False):
    return input * input.sigmoid()


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def softmax(input, dim):
    x = input.data
    y = np.exp(x - x.max(dim, keepdims=True))
    y /= y.sum(dim, keepdims=True)
    return _make(y, (input,), lambda g: (y * (g - (g * y).sum(dim, keepdims=True)),))


def _log_softmax(x, dim):
    z = x - x.max(dim, keepdims=True)
    return z - np.log(np.exp(z).sum(dim, keepdims=True))


def log_softmax(input, dim):
    out = _log_softmax(input.data, dim)
    return _make(out, (input,), lambda g: (g - np.exp(out) * g.sum(dim, keepdims=True),))


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` (drawn from minigrad's generator) and scale the rest
    by 1/(1-p); the identity when not training."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return input
    dtype = input.dtype if input.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    keep = default_generator().random(input.shape, dtype) >= p
    return input * (keep * dtype.type(1 / (1 - p) if p < 1 else 0))


# ---- linear layers and embeddings ---------------------------------------------------------------------


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` with weight (out_features, in_features); one node."""
    x, w = input.data, weight.data
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not fit weight of shape {w.shape} "
                         "(out_features, in_features): the input's last dim must be in_features")
    out = x @ w.T
    if bias is not None:
        out += bias.data

    def backward(g):
        g2 = g.reshape(-1, g.shape[-1])
        gx = g @ w if input.requires_grad else None
        gw = g2.T @ x.reshape(-1, x.shape[-1]) if weight.requires_grad else None
        gb = g2.sum(0) if bias is not None and bias.requires_grad else None
        return gx, gw, gb
    return _make(out, (input, weight) if bias is None else (input, weight, bias), backward)


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` (num_embeddings, dim) at the integer ``input``; the row at ``padding_idx``
    gets no gradient."""
    index, w = np.asarray(_data(input)), weight.data
    if index.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {index.dtype}")
    if index.size and not (-len(w) <= index.min() and index.max() < len(w)):
        raise IndexError(f"embedding: indices must lie in [0, {len(w)}), got {index.min()}..{index.max()}")

    def backward(g):
        gw = np.zeros_like(w, dtype=g.dtype)
        np.add.at(gw, index.reshape(-1), g.reshape(-1, w.shape[1]))
        if padding_idx is not None:
            gw[padding_idx] = 0
        return (gw,)
    return _make(w[index], (weight,), backward)


def one_hot(tensor, num_classes=-1):
    labels = np.asarray(_data(tensor))
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects an integer tensor, got {labels.dtype}")
    num_classes = int(labels.max()) + 1 if num_classes == -1 and labels.size else max(num_classes, 0)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"one_hot: class values must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    return Tensor(np.eye(num_classes, dtype=np.int64)[labels])


def pad(input, pad, mode="constant", value=0.0):
    """torch's ``pad``: (left, right) of the last dim first, then of the one before, ...; negative
    amounts crop. Modes: constant, reflect, replicate, circular."""
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: {pad} must hold (before, after) pairs for at most {input.ndim} dims")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if any(a < 0 or b < 0 for a, b in widths):  # crop first, then pad by the positive amounts
        input = input[tuple(slice(max(-a, 0), n - max(-b, 0)) for (a, b), n in zip(widths, input.shape))]
        widths = [(max(a, 0), max(b, 0)) for a, b in widths]
    if mode == "constant":
        inner = tuple(slice(a, a + n) for (a, _), n in zip(widths, input.shape))
        return _make(np.pad(input.data, widths, constant_values=value), (input,), lambda g: (g[inner],))
    modes = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}
    if mode not in modes:
        raise ValueError(f"pad: mode must be constant, reflect, replicate or circular, got {mode!r}")
    source = np.pad(np.arange(input.numel()).reshape(input.shape), widths, mode=modes[mode])
    return input.reshape(-1)[source]  # a gather, whose backward adds repeated elements up


# ---- losses -----------------------------------------------------------------------------------------


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _rows(x):
    """(N, C, d1, ...) → (N·d1·..., C); (C,) → (1, C): one row of class scores per prediction."""
    if x.ndim == 1:
        return x[None]
    return x if x.ndim == 2 else np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _unrows(g, shape):
    if len(shape) <= 2:
        return g.reshape(shape)
    return np.moveaxis(g.reshape((shape[0],) + shape[2:] + (shape[1],)), -1, 1)


def _class_weights(name, shape, dtype, target, weight, ignore_index, label_smoothing):
    """How much each class's log-probability counts in each row's loss, q (rows × C), with
    loss_row = −Σ_c q_c·log p_c, and the denominator of 'mean' (torch's: the summed weight of the
    counted targets; the number of rows for class-probability targets)."""
    n_classes = shape[1] if len(shape) > 1 else shape[0]
    eps = label_smoothing
    w = None if weight is None else np.asarray(_data(weight), dtype)
    if w is not None and w.shape != (n_classes,):
        raise ValueError(f"{name}: weight must have shape ({n_classes},), got {w.shape}")
    t = np.asarray(_data(target))
    if t.dtype.kind == "f":  # class probabilities
        if t.shape != shape:
            raise ValueError(f"{name}: probability targets must have the input's shape {shape}, got {t.shape}")
        q = _rows(t.astype(dtype, copy=False)) * (1 - eps) + eps / n_classes
        return (q if w is None else q * w), len(q)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices or float probabilities, got {t.dtype}")
    expected = shape[:1] + shape[2:] if len(shape) > 1 else ()
    if t.shape != expected:
        raise ValueError(f"{name}: target of shape {t.shape} does not match input of shape {shape}; expected "
                         f"class indices of shape {expected}")
    t = t.reshape(-1)
    rows = np.flatnonzero(t != ignore_index)
    labels = t[rows]
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise IndexError(f"{name}: target values must lie in [0, {n_classes}) (or equal ignore_index), got "
                         f"{labels.min()}..{labels.max()}")
    q = np.zeros((t.size, n_classes), dtype)
    q[rows, labels] = 1 - eps
    if eps:
        q[rows] += eps / n_classes
    if w is None:
        return q, len(rows)
    q *= w
    return q, w[labels].sum()


def _weighted_nll(input, logp, q, denom, reduction, fused_softmax):
    """The loss −Σ q·logp per row, reduced, with its backward: −q (on log-probabilities) or
    p·Σq − q (on logits, when ``fused_softmax``)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    shape = input.shape
    losses = -(q * np.where(q != 0, logp, 0)).sum(-1)  # 0·(−inf) counts as 0
    out = (losses.reshape(shape[:1] + shape[2:] if len(shape) > 1 else ()) if reduction == "none"
           else losses.sum() / (denom if reduction == "mean" else 1))

    def backward(g):
        scale = np.reshape(g, (-1, 1)) / (denom if reduction == "mean" else 1)
        grad = np.exp(logp) * q.sum(-1, keepdims=True) - q if fused_softmax else -q
        return (_unrows(grad * scale, shape),)
    return _make(out, (input,), backward)


def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy between logits (N, C, ...) and integer targets (N, ...) or class probabilities
    (N, C, ...), with torch's weight / ignore_index / label_smoothing semantics; log-softmax and the
    loss share one stable node."""
    x = input.data
    if x.ndim == 0:
        raise ValueError("cross_entropy: input must have a class dimension, got a 0-d tensor")
    q, denom = _class_weights("cross_entropy", x.shape, x.dtype, target, weight, ignore_index, label_smoothing)
    return _weighted_nll(input, _log_softmax(_rows(x), -1), q, denom, reduction, fused_softmax=True)


def nll_loss(input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    """The negative log-likelihood of integer targets under log-probabilities ``input`` (N, C, ...)."""
    x = input.data
    if np.asarray(_data(target)).dtype.kind not in "iu":
        raise TypeError("nll_loss: target must hold integer class indices")
    q, denom = _class_weights("nll_loss", x.shape, x.dtype, target, weight, ignore_index, 0.0)
    return _weighted_nll(input, _rows(x), q, denom, reduction, fused_softmax=False)


def mse_loss(input, target, *, reduction="mean"):
    d = input - target
    return _reduce(d * d, reduction)


def l1_loss(input, target, *, reduction="mean"):
    return _reduce((input - target).abs(), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction="mean", pos_weight=None):
    """−[p·y·log σ(x) + (1−y)·log(1−σ(x))] = (1−y)·x + (1 + (p−1)·y)·softplus(−x), stable for any x
    (p = ``pos_weight``)."""
    log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
    loss = (1 - target) * input + log_weight * (-input).softplus(threshold=math.inf)
    return _reduce(loss if weight is None else loss * weight, reduction)


def binary_cross_entropy(input, target, weight=None, *, reduction="mean"):
    """On probabilities; each log is clamped at −100, as in torch."""
    loss = -(target * input.log().clamp(min=-100) + (1 - target) * (1 - input).log().clamp(min=-100))
    return _reduce(loss if weight is None else loss * weight, reduction)


# ---- normalization ----------------------------------------------------------------------------------------


def _normalize(input, axes, eps):
    """(x − mean) / sqrt(var + eps) over ``axes``, with the fused backward
    rstd · (g − mean(g) − x̂ · mean(g·x̂)); also returns the batch mean and (biased) variance."""
    x = input.data
    mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    rstd = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * rstd

    def backward(g):
        return (rstd * (g - g.mean(axes, keepdims=True) - xhat * (g * xhat).mean(axes, keepdims=True)),)
    return _make(xhat, (input,), backward), mean, var


def _affine(x, weight, bias, shape):
    if weight is not None:
        x = x * (weight.reshape(shape) if isinstance(weight, Tensor) else np.reshape(weight, shape))
    if bias is not None:
        x = x + (bias.reshape(shape) if isinstance(bias, Tensor) else np.reshape(bias, shape))
    return x


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if input.shape[input.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} does not match the end of the input shape "
                         f"{input.shape}")
    xhat, _, _ = _normalize(input, tuple(range(input.ndim - len(shape), input.ndim)), eps)
    return _affine(xhat, weight, bias, shape)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalize each channel (dim 1) over the batch and spatial dims. Training uses the batch
    statistics and updates ``running_mean``/``running_var`` (ndarrays, or Tensors) in place with
    ``momentum`` (the variance unbiased, as in torch); evaluation uses the running statistics."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, ...), got {input.shape}")
    shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
    axes = (0,) + tuple(range(2, input.ndim))
    if training:
        n = input.numel() // input.shape[1]
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                             f"{input.shape}")
        xhat, mean, var = _normalize(input, axes, eps)
        for running, batch in ((running_mean, mean), (running_var, var * (n / (n - 1)))):
            if running is not None:
                running = _data(running)
                running *= 1 - momentum
                running += momentum * batch.reshape(-1)
    else:
        mean, var = np.reshape(_data(running_mean), shape), np.reshape(_data(running_var), shape)
        xhat = (input - mean) * (1 / np.sqrt(var + eps))
    return _affine(xhat, weight, bias, shape)


# ---- convolution and pooling -----------------------------------------------------------------------------


def _pad2d(x, top, bottom, left, right, fill=0):
    """x (N, C, H, W) with its last two dims padded by ``fill`` (x itself when there is nothing to pad)."""
    if not (top or bottom or left or right):
        return x
    out = np.full(x.shape[:2] + (x.shape[2] + top + bottom, x.shape[3] + left + right), fill, x.dtype)
    out[:, :, top: top + x.shape[2], left: left + x.shape[3]] = x
    return out


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _out_size(n, k, s, p, d, ceil_mode=False):
    """Output length of a sliding window (torch's formula, including ceil_mode's rule that the last
    window must start inside the input or its left padding)."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    return out - 1 if ceil_mode and (out - 1) * s >= n + p else out


def _windows(xp, kernel, out, stride, dilation):
    """The (N, C, KH, KW, OH, OW) view of every window of the padded ``xp`` (no copy)."""
    sN, sC, sH, sW = xp.strides
    return as_strided(xp, xp.shape[:2] + kernel + out, (sN, sC, dilation[0] * sH, dilation[1] * sW,
                                                       stride[0] * sH, stride[1] * sW), writeable=False)


@functools.lru_cache(maxsize=64)
def _window_index(shape, kernel, out, stride, dilation, order=(0, 1, 2, 3, 4, 5)):
    """Where each element of each window of ``_windows`` sits in a C-contiguous array of ``shape``
    (N, C, H, W): flat positions as an (N, C, KH, KW, OH, OW) array with its axes put in ``order``,
    raveled (read-only; cached per geometry)."""
    n, c, i, j, oh, ow = np.ogrid[tuple(slice(m) for m in shape[:2] + kernel + out)]
    height, width = shape[2:]
    row, column = oh * stride[0] + i * dilation[0], ow * stride[1] + j * dilation[1]
    position = ((n * shape[1] + c) * height + row) * width + column
    index = np.ascontiguousarray(position.transpose(order)).reshape(-1)
    index.flags.writeable = False
    return index


def _scatter_add(shape, index, values):
    """The adjoint of reading ``values`` at flat positions ``index`` of an array of ``shape``: a zero
    array with every value added at its position (repeated positions add up)."""
    out = np.zeros(math.prod(shape), values.dtype)
    np.add.at(out, index.reshape(-1), np.broadcast_to(values, index.shape).reshape(-1))
    return out.reshape(shape)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of (N, C, H, W) with weight (O, C/groups, KH, KW): im2col as one copy of
    an ``as_strided`` window view, then one (batched over groups) GEMM; the backward is a GEMM for the
    weight and a GEMM plus col2im for the input. ``padding`` may be 'valid' or 'same'."""
    if input.ndim == 3:
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    x, w = input.data, weight.data
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1] * groups or w.shape[0] % groups:
        raise ValueError(f"conv2d: input of shape {x.shape} (N, C, H, W) does not fit weight of shape {w.shape} "
                         f"(O, C/groups, KH, KW) with groups={groups}")
    (N, _, H, W), (O, Cg, KH, KW), G = x.shape, w.shape, groups
    stride, dilation = _pair(stride), _pair(dilation)
    if padding == "valid":
        padding = 0
    elif padding == "same":  # torch pads the extra element (for even kernels) at the end
        if stride != (1, 1):
            raise ValueError("conv2d: padding='same' needs stride 1")
        th, tw = dilation[0] * (KH - 1), dilation[1] * (KW - 1)
        return conv2d(pad(input, (tw // 2, tw - tw // 2, th // 2, th - th // 2)), weight, bias, 1, 0, dilation, groups)
    ph, pw = _pair(padding)
    OH, OW = _out_size(H, KH, stride[0], ph, dilation[0]), _out_size(W, KW, stride[1], pw, dilation[1])
    if OH <= 0 or OW <= 0:
        raise ValueError(f"conv2d: kernel {(KH, KW)} (dilation {dilation}) is larger than the padded input {x.shape}")
    xp = _pad2d(x, ph, ph, pw, pw)
    # im2col: rows (c, i, j), columns (n, oh, ow); groups split the rows
    cols = _windows(xp, (KH, KW), (OH, OW), stride, dilation).transpose(1, 2, 3, 0, 4, 5).reshape(G, Cg * KH * KW, -1)
    w2 = w.reshape(G, O // G, Cg * KH * KW)
    out = np.ascontiguousarray((w2 @ cols).reshape(O, N, OH, OW).transpose(1, 0, 2, 3))
    if bias is not None:
        out += bias.data.reshape(O, 1, 1)

    def backward(g):
        g2 = g.transpose(1, 0, 2, 3).reshape(G, O // G, -1)
        gx = gw = gb = None
        if weight.requires_grad:
            gw = (g2 @ cols.transpose(0, 2, 1)).reshape(w.shape)
        if bias is not None and bias.requires_grad:
            gb = g.sum((0, 2, 3))
        if input.requires_grad:  # col2im: scatter-add the columns' gradient back into the padded input
            index = _window_index(xp.shape, (KH, KW), (OH, OW), stride, dilation, order=(1, 2, 3, 0, 4, 5))
            gxp = _scatter_add(xp.shape, index, (w2.transpose(0, 2, 1) @ g2).reshape(-1))
            gx = gxp[:, :, ph: ph + H, pw: pw + W]
        return gx, gw, gb
    return _make(out, (input, weight) if bias is None else (input, weight, bias), backward)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """(N, C, L) with weight (O, C/groups, K), as a conv2d of height 1."""
    if isinstance(padding, int):
        padding = (0, padding)
    out = conv2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias, (1, stride), padding, (1, dilation), groups)
    return out.squeeze(-2)


def _pool_setup(name, x, kernel_size, stride, padding, dilation, ceil_mode, fill):
    """The padded input (with ``fill``, and extra at the end for ceil_mode) and the pool's geometry."""
    if x.ndim != 4:
        raise ValueError(f"{name}: expected an input of shape (N, C, H, W), got {x.shape}")
    kernel = _pair(kernel_size)
    stride, padding, dilation = _pair(stride or kernel), _pair(padding), _pair(dilation)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{name}: padding {padding} must be at most half the kernel size {kernel}")
    geometry = list(zip(x.shape[2:], kernel, stride, padding, dilation))
    out = tuple(_out_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in geometry)
    if min(out) <= 0:
        raise ValueError(f"{name}: kernel {kernel} is larger than the padded input of shape {x.shape}")
    ends = [max(0, (o - 1) * s + d * (k - 1) + 1 - n - p) for o, (n, k, s, p, d) in zip(out, geometry)]
    xp = _pad2d(x, padding[0], ends[0], padding[1], ends[1], fill)
    return xp, kernel, stride, padding, dilation, out


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The maximum of each window (the first one on ties, as torch); the backward routes each
    gradient to it. ``return_indices`` also returns its flat index in each H×W input plane."""
    x = input.data
    xp, kernel, stride, padding, dilation, out = _pool_setup("max_pool2d", x, kernel_size, stride, padding, dilation,
                                                             ceil_mode, -np.inf)
    windows = _windows(xp, kernel, out, stride, dilation)
    values, arg = windows[:, :, 0, 0].copy(), np.zeros(x.shape[:2] + out, np.intp)
    for k in range(1, kernel[0] * kernel[1]):  # a running maximum over the kernel offsets
        v = windows[:, :, k // kernel[1], k % kernel[1]]
        np.copyto(arg, k, where=v > values)
        np.maximum(values, v, out=values)

    def backward(g):
        index = _window_index(xp.shape, kernel, out, stride, dilation).reshape(x.shape[:2] + (-1,) + out)
        gxp = _scatter_add(xp.shape, np.take_along_axis(index, arg[:, :, None], 2), g[:, :, None])
        return (gxp[:, :, padding[0]: padding[0] + x.shape[2], padding[1]: padding[1] + x.shape[3]],)
    result = _make(values, (input,), backward)
    if not return_indices:
        return result
    rows = np.arange(out[0])[:, None] * stride[0] + arg // kernel[1] * dilation[0] - padding[0]
    cols = np.arange(out[1]) * stride[1] + arg % kernel[1] * dilation[1] - padding[1]
    return result, Tensor(rows * x.shape[3] + cols)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The mean of each window; windows are divided by their size, counting zero padding only if
    ``count_include_pad`` (never the extra cells of ceil_mode), or by ``divisor_override``."""
    x = input.data
    xp, kernel, stride, padding, dilation, out = _pool_setup("avg_pool2d", x, kernel_size, stride, padding, 1,
                                                             ceil_mode, 0)
    sums = _windows(xp, kernel, out, stride, dilation).sum((2, 3))
    if divisor_override:
        divisor = divisor_override
    else:  # count the cells each window covers: inside the input, or inside the padding too
        counted = np.zeros((1, 1) + xp.shape[2:], x.dtype)
        grow = (0, 0) if count_include_pad else padding
        counted[..., grow[0]: padding[0] + x.shape[2] + padding[0] - grow[0],
                grow[1]: padding[1] + x.shape[3] + padding[1] - grow[1]] = 1
        divisor = _windows(counted, kernel, out, stride, dilation).sum((2, 3))

    def backward(g):
        index = _window_index(xp.shape, kernel, out, stride, dilation).reshape(x.shape[:2] + kernel + out)
        gxp = _scatter_add(xp.shape, index, (g / divisor)[:, :, None, None])
        return (gxp[:, :, padding[0]: padding[0] + x.shape[2], padding[1]: padding[1] + x.shape[3]],)
    return _make((sums / divisor).astype(x.dtype, copy=False), (input,), backward)


# ---- recurrent layers: a whole sequence per node, backpropagation through time in the backward ------


def _sigmoid(a):
    return 0.5 * (1 + np.tanh(0.5 * a))  # σ(a) = (1 + tanh(a/2)) / 2: stable for any a


def _recurrent(x_proj, states, w_hh, b_hh, forward, backward):
    """The node of a fused recurrent layer: ``forward(xp, states, w, b)`` returns the output array and
    what the backward needs; ``backward(g, saved)`` returns the gradients of x_proj, of each initial
    state, and the per-step gate gradients ``dgates`` (T, B, G·H) from which dW_hh and db_hh follow."""
    w, b = w_hh.data, (b_hh.data if b_hh is not None else 0)
    out, saved = forward(x_proj.data, [s.data for s in states], w, b)
    inputs = saved["inputs"]  # the hidden state entering each step, (T, B, H)

    def backward_all(g):
        dx, dstates, dgates = backward(g, saved, w)
        dw = dgates.reshape(-1, dgates.shape[-1]).T @ inputs.reshape(-1, inputs.shape[-1])
        grads = (dx, *dstates, dw)
        return grads + ((dgates.sum((0, 1)),) if b_hh is not None else ())
    parents = (x_proj, *states, w_hh) + ((b_hh,) if b_hh is not None else ())
    return _make(out, parents, backward_all)


def rnn_layer(x_proj, h0, w_hh, b_hh=None, nonlinearity="tanh"):
    """An Elman RNN layer over a sequence: h_t = act(x_proj_t + h_{t−1}·W_hhᵀ + b_hh), with
    x_proj = x·W_ihᵀ + b_ih of shape (T, B, H). Returns all h_t, (T, B, H)."""
    relu = nonlinearity == "relu"

    def forward(xp, states, w, b):
        hs = np.empty((len(xp) + 1,) + states[0].shape, xp.dtype)
        hs[0] = states[0]
        for t in range(len(xp)):
            a = xp[t] + hs[t] @ w.T + b
            hs[t + 1] = np.maximum(a, 0) if relu else np.tanh(a)
        return hs[1:], {"inputs": hs[:-1], "hs": hs}

    def backward(g, saved, w):
        hs = saved["hs"]
        da = np.empty_like(g)
        dh = np.zeros_like(hs[0])
        for t in reversed(range(len(g))):
            dh = dh + g[t]
            da[t] = dh * (hs[t + 1] > 0) if relu else dh * (1 - hs[t + 1] * hs[t + 1])
            dh = da[t] @ w
        return da, (dh,), da
    return _recurrent(x_proj, (h0,), w_hh, b_hh, forward, backward)


def lstm_layer(x_proj, h0, c0, w_hh, b_hh=None):
    """An LSTM layer over a sequence, gates in torch's order i, f, g, o:
    (i, f, g, o) = (σ, σ, tanh, σ)(x_proj_t + h_{t−1}·W_hhᵀ + b_hh);  c_t = f·c_{t−1} + i·g;
    h_t = o·tanh(c_t). x_proj = x·W_ihᵀ + b_ih is (T, B, 4H). Returns (T, B, 2H): h_t in [..., :H],
    c_t in [..., H:]."""
    def forward(xp, states, w, b):
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

    def backward(grad, saved, w):
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
    return _recurrent(x_proj, (h0, c0), w_hh, b_hh, forward, backward)


def gru_layer(x_proj, h0, w_hh, b_hh=None):
    """A GRU layer over a sequence, gates in torch's order r, z, n: with x_proj = x·W_ihᵀ + b_ih
    (T, B, 3H) and a = h_{t−1}·W_hhᵀ + b_hh, r = σ(x_r + a_r), z = σ(x_z + a_z),
    n = tanh(x_n + r·a_n), h_t = (1 − z)·n + z·h_{t−1}. Returns all h_t, (T, B, H)."""
    def forward(xp, states, w, b):
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

    def backward(g, saved, w):
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
    return _recurrent(x_proj, (h0,), w_hh, b_hh, forward, backward)
