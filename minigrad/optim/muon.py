from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .optimizer import Optimizer, require

if TYPE_CHECKING:
    from .._typing import Array
    from .optimizer import ParamGroup, Params


class Muon(Optimizer):
    """Muon, as torch.optim.Muon, for 2-D parameters::

        B ← lerp(B, g, 1 − μ);    M ← lerp(g, B, μ) if nesterov else B
        O ← NS(M): Newton–Schulz with (a, b, c) = ns_coefficients, ns_steps times, on X = M/max(‖M‖_F, eps)
            (transposed while it has more rows than columns):  A ← X·Xᵀ;  X ← a·X + (b·A + c·A·A)·X
        θ ← θ·(1 − lr·λ);    θ ← θ − adjusted_lr·O

    adjusted_lr = lr·√max(1, rows/cols) ("original", the default) or lr·0.2·√max(rows, cols)
    ("match_rms_adamw"). The per-element steps are the kernels; the matrix products are NumPy's
    matmul in the parameter's dtype (torch runs them in bfloat16: its trajectories differ from these
    by bfloat16's rounding).
    """

    def __init__(self, params: Params, lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, ns_coefficients: tuple[float, float, float] = (3.4445, -4.775, 2.0315),
                 eps: float = 1e-7, ns_steps: int = 5, adjust_lr_fn: str | None = None, *, backend: str = "cpp",
                 skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _validate(self, group: ParamGroup) -> None:
        require(group["lr"] >= 0, "Learning rate should be >= 0 but is: {}", group["lr"])
        require(group["momentum"] >= 0, "momentum should be >= 0 but is: {}", group["momentum"])
        require(group["weight_decay"] >= 0, "weight decay should be >= 0 but is: {}", group["weight_decay"])
        require(group["adjust_lr_fn"] in (None, "original", "match_rms_adamw"),
                "Adjust learning rate function {} is not supported", group["adjust_lr_fn"])
        # torch checks these two when it orthogonalises; here before the step writes anything
        require(group["ns_steps"] < 100, "Number of steps must be less than 100 for computational efficiency")
        require(len(group["ns_coefficients"]) == 3, "Coefficients must be a tuple of exactly 3 values")
        for p in group["params"]:
            require(p.ndim == 2, "Muon only supports 2D parameters whereas we found a parameter with size: {}",
                    p.size())

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("momentum_buffer",)

    counts_steps = False  # torch's Muon keeps no step count

    def _kernel_call(self, group: ParamGroup, key: object, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        updates = [np.empty_like(g) for g in grads]
        self._kernels.muon_momentum(grads, state_lists["momentum_buffer"], updates, momentum=group["momentum"],
                                    nesterov=group["nesterov"])
        by_lr: dict[float, tuple[list[Array], list[Array]]] = {}
        for p, update in zip(data, updates):
            params, orthos = by_lr.setdefault(adjusted_lr(group["lr"], group["adjust_lr_fn"], p.shape), ([], []))
            params.append(p)
            orthos.append(newton_schulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"]))
        for lr, (params, orthos) in by_lr.items():
            self._kernels.muon_update(params, orthos, lr=group["lr"], weight_decay=group["weight_decay"],
                                      adjusted_lr=lr)


def newton_schulz(m: Array, coefficients: tuple[float, float, float], steps: int, eps: float) -> Array:
    """Newton–Schulz orthogonalisation of a matrix, in its dtype (torch's _zeropower_via_newtonschulz
    without the cast to bfloat16): X ← M/max(‖M‖_F, eps), transposed if tall; A ← X·Xᵀ;
    X ← a·X + (b·A + c·A·A)·X, ``steps`` times."""
    a, b, c = coefficients
    tall = m.shape[0] > m.shape[1]
    x = m.T if tall else m
    x = x / x.dtype.type(max(np.linalg.norm(x), eps))
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * (gram @ gram)) @ x
    return np.ascontiguousarray(x.T if tall else x)


def adjusted_lr(lr: float, adjust_lr_fn: str | None, shape: tuple[int, ...]) -> float:
    """torch's _adjust_lr: the update's RMS made alike across matrix shapes (a matrix without columns has no update)."""
    rows, cols = shape[:2]
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    return lr * math.sqrt(max(1, rows / cols)) if cols else lr
