"""Alias of ``minigrad.autograd.gradcheck`` (its old path)."""
from .autograd.gradcheck import GradcheckError, gradcheck

__all__ = ["GradcheckError", "gradcheck"]
