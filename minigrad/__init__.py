"""minigrad: a small, fast, readable deep-learning library.

Reverse-mode autodiff over NumPy; optimizer updates in C++/OpenMP kernels (``minigrad._C``)
with NumPy twins (``minigrad.optim.kernels_numpy``).
"""
import builtins
import os
import sys

import numpy as _numpy

from ._C import build_info, get_num_threads, get_thread_policy, set_num_threads, set_simd, set_thread_policy
from . import optim
from .device import device
from .random import Generator, default_generator, manual_seed
from .tensor import Parameter, Tensor, float16, float32, float64, int8, int16, int32, int64, uint8
from .ops.elementwise import (abs, allclose, clamp, clamp_max, clamp_min, cos, equal, exp, isclose, isfinite, isinf,
                              isnan, log, logical_and, logical_not, logical_or, logical_xor, masked_fill, maximum,
                              minimum, relu, sigmoid, sin, sqrt, tanh, where)
from .ops.linalg import baddbmm, bmm, einsum, matmul, mm
from .ops.movement import (cat, chunk, expand, flatten, flip, gather, index_select, permute, repeat, reshape, roll,
                           scatter, scatter_add, split, squeeze, stack, t, transpose, tril, triu, unsqueeze)
from .ops.reduce import (all, amax, amin, any, argmax, argmin, argsort, cumsum, logsumexp, max, mean, min, norm, sort,
                         std, sum, topk, var)
from .creation import (BoolTensor, DoubleTensor, FloatTensor, IntTensor, LongTensor, arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, linspace, logspace, ones,
                       ones_like, rand, rand_like, randint, randn, randn_like, tensor, zeros, zeros_like)
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import gradcheck  # through the alias module, so that minigrad.gradcheck stays this function
from . import autograd, cuda, functional
from . import data, nn
from . import distributed  # (mpi4py is imported by distributed.init(), not here)
from .checkpoint import load, save
from .functional import log_softmax, softmax
from .sparse import sparse_coo_tensor

# torch's module paths: one module under both names (not a copy)
sys.modules[__name__ + ".nn.functional"] = functional
sys.modules[__name__ + ".utils.data"] = data
from . import utils  # noqa: E402
utils.data = data  # type: ignore[attr-defined]

# torch's dtype names (they shadow Python's bool, int and float inside this module only) and aliases
float, double, half, long, int, short, bool = float32, float64, float16, int64, int32, int16, _numpy.bool_
clip, concat, concatenate, swapaxes = clamp, cat, cat, transpose


def is_tensor(obj: object) -> builtins.bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> builtins.int:
    return input.numel()

__all__ = ["build_info", "get_num_threads", "get_thread_policy", "set_num_threads", "set_simd", "set_thread_policy",
           "device", "Generator", "Parameter", "Tensor", "FloatTensor", "DoubleTensor", "LongTensor", "IntTensor",
           "BoolTensor", "default_generator", "manual_seed",
           "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
           "float", "double", "half", "long", "int", "short", "bool",
           "abs", "allclose", "equal", "isclose", "baddbmm", "bmm", "einsum", "matmul", "mm", "is_tensor", "numel",
           "clamp", "clamp_max", "clamp_min", "clip", "cos", "exp", "isfinite", "isinf", "isnan", "log",
           "logical_and", "logical_not", "logical_or", "logical_xor", "masked_fill", "maximum", "minimum", "relu",
           "sigmoid", "sin", "sqrt", "tanh", "where",
           "cat", "concat", "concatenate", "chunk", "expand", "flatten", "flip", "gather", "index_select", "permute",
           "repeat", "reshape", "roll", "scatter", "scatter_add", "split", "squeeze", "stack", "swapaxes", "t",
           "transpose", "tril", "triu", "unsqueeze",
           "all", "amax", "amin", "any", "argmax", "argmin", "argsort", "cumsum", "logsumexp", "max", "mean", "min",
           "norm", "sort", "std", "sum", "topk", "var", "softmax", "log_softmax",
           "arange", "as_tensor", "empty", "empty_like", "eye", "from_numpy", "full", "full_like", "linspace",
           "logspace", "ones", "ones_like", "rand", "rand_like", "randint", "randn", "randn_like", "tensor", "zeros",
           "zeros_like", "enable_grad", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled",
           "gradcheck", "load", "save", "optim", "autograd", "cuda", "functional", "data", "nn", "utils",
           "sparse_coo_tensor"]

__version__ = build_info()["version"]

if hasattr(os, "register_at_fork"):
    # GNU OpenMP's thread pool does not survive fork(): a child that opened a parallel region would
    # wait forever for threads it does not have (multiprocessing forks by default on Linux). So a
    # forked child runs the kernels on its calling thread; set_num_threads(n) there is at its risk.
    os.register_at_fork(after_in_child=lambda: set_num_threads(1))
