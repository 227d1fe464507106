"""minigrad: a small, fast, readable deep-learning library.

Reverse-mode autodiff over NumPy; optimizer updates in C++/OpenMP kernels (``minigrad._C``)
with NumPy twins (``minigrad.optim.kernels_numpy``).
"""
from ._C import build_info, get_num_threads, set_num_threads, set_simd
from . import optim

__version__ = build_info()["version"]
