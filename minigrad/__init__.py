"""minigrad: a small, fast, readable deep-learning library.

Reverse-mode autodiff over NumPy; optimizer updates in C++/OpenMP kernels (``minigrad._C``)
with NumPy twins (``minigrad.optim.kernels_numpy``).
"""
import os

from ._C import build_info, get_num_threads, get_thread_policy, set_num_threads, set_simd, set_thread_policy
from . import optim
from .tensor import (Parameter, Tensor, default_generator, float16, float32, float64, int8, int16, int32, int64,
                     manual_seed, uint8)
from .ops.elementwise import maximum, minimum, where
from .ops.movement import cat, stack
from .creation import (arange, empty, empty_like, eye, full, full_like, ones, ones_like, rand, rand_like, randint,
                       randn, randn_like, tensor, zeros, zeros_like)
from .autograd import enable_grad, is_grad_enabled, no_grad
from .gradcheck import gradcheck  # through the alias module, so that minigrad.gradcheck stays this function
from . import autograd, functional
from . import data, nn
from .checkpoint import load, save

__all__ = ["build_info", "get_num_threads", "get_thread_policy", "set_num_threads", "set_simd", "set_thread_policy",
           "Parameter", "Tensor", "cat", "default_generator", "float16", "float32", "float64", "int8", "int16", "int32",
           "int64", "manual_seed", "maximum", "minimum", "stack", "uint8", "where", "arange", "empty", "empty_like",
           "eye", "full", "full_like", "ones", "ones_like", "rand", "rand_like", "randint", "randn", "randn_like",
           "tensor", "zeros", "zeros_like", "enable_grad", "is_grad_enabled", "no_grad", "gradcheck", "load", "save",
           "optim", "autograd", "functional", "data", "nn"]

__version__ = build_info()["version"]

if hasattr(os, "register_at_fork"):
    # GNU OpenMP's thread pool does not survive fork(): a child that opened a parallel region would
    # wait forever for threads it does not have (multiprocessing forks by default on Linux). So a
    # forked child runs the kernels on its calling thread; set_num_threads(n) there is at its risk.
    os.register_at_fork(after_in_child=lambda: set_num_threads(1))
