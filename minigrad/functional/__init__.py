"""minigrad.functional (F): neural-network ops with torch.nn.functional's signatures.

Where an op lives (one home per op, its forward next to its backward):
- Tensor methods (minigrad/tensor.py) carry the algebra the dunders need: arithmetic, elementwise
  math, reductions, shapes and indexing, plus the activations torch also has as Tensor methods
  (``relu``, ``sigmoid``, ``tanh``). F's functions of the same name call those methods.
- What torch keeps only in ``torch.nn.functional`` lives here, one file per family: activation
  (also softmax and dropout), attention, loss, distance, linear (also embeddings), normalization, conv (also
  pooling and padding), rnn. Where minigrad also offers such an op as a Tensor method (``gelu``,
  ``softplus``, ``leaky_relu``), the method calls the function here.
- An op with no backward of its own is composed of other ops (``silu``, ``mse_loss``, ...); a
  dedicated backward is written where it is faster or more stable.

Signatures follow torch's; the losses' options after ``weight`` are keyword-only (torch keeps the
deprecated ``size_average``/``reduce`` at those positions), and ``inplace`` flags are accepted but
the result is always a new tensor.
"""
from .activation import (celu, dropout, dropout2d, elu, gelu, hardsigmoid, hardswish, hardtanh, leaky_relu, log_softmax,
                         logsigmoid, mish, relu, relu6, selu, sigmoid, silu, softmax, softplus, softsign, tanh)
from .attention import scaled_dot_product_attention
from .conv import (avg_pool1d, avg_pool2d, conv1d, conv2d, conv_transpose1d, conv_transpose2d, max_pool1d, max_pool2d,
                   pad)
from .distance import cosine_similarity, pairwise_distance
from .linear import embedding, linear, one_hot
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, kl_div, l1_loss,
                   mse_loss, nll_loss, smooth_l1_loss)
from .normalization import batch_norm, group_norm, instance_norm, layer_norm, normalize
from .rnn import gru_layer, lstm_layer, rnn_layer
from .sampling import adaptive_avg_pool1d, adaptive_avg_pool2d, interpolate

__all__ = ["relu", "leaky_relu", "gelu", "softplus", "silu", "tanh", "sigmoid", "softmax", "log_softmax", "dropout",
           "elu", "selu", "celu", "mish", "hardtanh", "relu6", "hardsigmoid", "hardswish", "softsign", "logsigmoid",
           "dropout2d", "linear", "embedding", "one_hot", "pad", "cross_entropy", "nll_loss", "mse_loss", "l1_loss",
           "binary_cross_entropy_with_logits", "binary_cross_entropy", "smooth_l1_loss", "huber_loss", "kl_div",
           "cosine_similarity", "pairwise_distance", "normalize", "layer_norm", "batch_norm", "instance_norm", "conv2d", "conv1d",
           "max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d", "rnn_layer", "lstm_layer", "gru_layer",
           "conv_transpose1d", "conv_transpose2d", "interpolate", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "group_norm", "scaled_dot_product_attention"]
