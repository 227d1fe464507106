"""minigrad.nn.utils (torch.nn.utils): gradient clipping (``clip_grad.py``), parameters as one vector
(``convert_parameters.py``) and padding of variable-length sequences (the ``rnn`` module)."""
from . import rnn  # noqa: F401  (minigrad.nn.utils.rnn: pad_sequence, as torch's path)
from .clip_grad import clip_grad_norm_, clip_grad_value_, get_total_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "parameters_to_vector", "vector_to_parameters"]
