"""Reverse-mode automatic differentiation: ``engine`` (graph nodes, the backward pass, grad mode)
and ``gradcheck`` (the finite-difference checker). tensor.py imports the engine, so this package
imports nothing that imports tensor.py."""
from .engine import enable_grad, is_grad_enabled, no_grad

__all__ = ["no_grad", "enable_grad", "is_grad_enabled"]
