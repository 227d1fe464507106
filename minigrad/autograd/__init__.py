"""Reverse-mode automatic differentiation: ``engine`` (graph nodes, the backward pass, grad mode),
``function`` (torch.autograd's ``grad``, ``backward`` and ``Function``) and ``gradcheck`` (the
finite-difference checker). tensor.py imports the engine, so this package imports nothing that
imports tensor.py at first: ``function``'s names load on first use."""
from typing import Any

from .engine import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled", "inference_mode", "grad", "backward",
           "Function"]


def __getattr__(name: str) -> Any:
    if name in ("grad", "backward", "Function", "FunctionCtx"):
        from . import function
        return getattr(function, name)
    raise AttributeError(f"module 'minigrad.autograd' has no attribute {name!r}")
