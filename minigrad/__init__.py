"""minigrad: a small, fast, readable deep-learning library.

Reverse-mode autodiff over NumPy; optimizer updates in C++/OpenMP kernels (``minigrad._C``)
with NumPy twins (``minigrad.optim.kernels_numpy``).
"""
from ._C import build_info, get_num_threads, get_thread_policy, set_num_threads, set_simd, set_thread_policy
from . import optim
from .tensor import (Parameter, Tensor, arange, cat, default_generator, empty, empty_like, enable_grad, eye,
                     float16, float32, float64, full, full_like, int8, int16, int32, int64, is_grad_enabled,
                     manual_seed, maximum, minimum, no_grad, ones, ones_like, rand, rand_like, randint, randn,
                     randn_like, stack, tensor, uint8, where, zeros, zeros_like)
from .gradcheck import gradcheck
from . import functional
from . import data, nn
from .checkpoint import load, save

__version__ = build_info()["version"]
