"""parameters_to_vector and vector_to_parameters (torch.nn.utils.convert_parameters)."""
from __future__ import annotations

from typing import Iterable

from ...ops.movement import cat
from ...tensor import Tensor


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All ``parameters`` flattened and concatenated into one 1-D tensor (differentiable, as torch's)."""
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters``, in place (each keeps its memory and
    dtype); an extra tail of ``vec`` is ignored, as in torch. Checks sizes before copying any."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected minigrad.Tensor, but got: {type(vec).__name__}")
    if vec.ndim != 1:
        raise RuntimeError(f"vector_to_parameters: expected a 1-D vector, got shape {vec.shape}")
    params = list(parameters)
    needed = sum(p.numel() for p in params)
    if vec.numel() < needed:
        raise RuntimeError(f"vector_to_parameters: the parameters hold {needed} values but the vector only "
                           f"{vec.numel()}")
    start = 0
    for p in params:
        p.data.copy_(vec._data[start:start + p.numel()].reshape(p.shape))
        start += p.numel()
