"""Normalization: ``layer_norm`` and ``batch_norm`` share one normalizing node with a fused
backward; the affine part is composed of Tensor ops."""
import numpy as np

from ..tensor import Tensor, _data, _node


def _normalize(name, input, axes, eps):
    """(x − mean) / sqrt(var + eps) over ``axes``, with the fused backward
    rstd · (g − mean(g) − x̂ · mean(g·x̂)); also returns the batch mean and (biased) variance."""
    x = input.data
    mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    rstd = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * rstd

    def backward(g):
        return (rstd * (g - g.mean(axes, keepdims=True) - xhat * (g * xhat).mean(axes, keepdims=True)),)
    return _node(xhat, (input,), backward, name), mean, var


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
    xhat, _, _ = _normalize("layer_norm", input, tuple(range(input.ndim - len(shape), input.ndim)), eps)
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
        xhat, mean, var = _normalize("batch_norm", input, axes, eps)
        for running, batch in ((running_mean, mean), (running_var, var * (n / (n - 1)))):
            if running is not None:
                running = _data(running)
                running *= 1 - momentum
                running += momentum * batch.reshape(-1)
    else:
        mean, var = np.reshape(_data(running_mean), shape), np.reshape(_data(running_var), shape)
        xhat = (input - mean) * (1 / np.sqrt(var + eps))
    return _affine(xhat, weight, bias, shape)
