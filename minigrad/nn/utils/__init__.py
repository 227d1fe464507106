"""minigrad.nn.utils (torch.nn.utils): gradient clipping, implemented in ``clip_grad.py``."""
from .clip_grad import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
