from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import numpy as np

from .optimizer import Optimizer, require

if TYPE_CHECKING:
    from ..tensor import Tensor
    from .._typing import Array
    from .optimizer import ParamGroup, Params, State

    StepKey = tuple[int, Optional[float], float]  # (t, η or None before the first step, μ)


def _float32(x: float) -> float:
    """x rounded to float32: torch keeps η and μ in float32 tensors (its default scalar dtype)."""
    return float(np.float32(x))


class ASGD(Optimizer):
    """Averaged stochastic gradient descent, as torch.optim.ASGD::

        d ← −g if maximize else g;    d ← d + λθ
        θ ← θ·(1 − lambd·η);   θ ← θ − η·d
        ax ← ax + (θ − ax)·μ, or ax ← θ when μ = 1
        then, for the next step:  η ← lr / (1 + lambd·lr·t)^alpha,   μ ← 1 / max(1, t − t0)

    η starts at lr and μ at 1. Each parameter's state keeps its own η and μ (computed here in
    float64 once per step and, as torch stores them, rounded to float32) besides ``step`` and ``ax``.
    """

    def __init__(self, params: Params, lr: float | Tensor = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False, *, backend: str = "cpp",
                 skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _validate(self, group: ParamGroup) -> None:
        require(group["lr"] >= 0, "Invalid learning rate: {}", group["lr"])
        require(group["weight_decay"] >= 0, "Invalid weight_decay value: {}", group["weight_decay"])

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("ax",)

    scalar_state = ("eta", "mu")  # torch's 0-d tensors: this step's rate and averaging weight

    def _step_keys(self, states: list[State]) -> list[StepKey]:
        """(t, η, μ) of the step about to be taken; η is None before the first step (then lr)."""
        return [(s.get("step", 0) + 1, s.get("eta"), s.get("mu", 1.0)) for s in states]

    def _kernel_call(self, group: ParamGroup, key: StepKey, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        _, eta, mu = key
        self._kernels.asgd(data, grads, state_lists["ax"], eta=_float32(group["lr"]) if eta is None else eta,
                           lambd=group["lambd"], mu=mu, weight_decay=group["weight_decay"],
                           maximize=group["maximize"])

    def _advance(self, group: ParamGroup, key: StepKey, states: list[State]) -> None:
        """The step count, and η and μ for the next step (in float32, as torch's tensors hold them)."""
        step, lr, lambd = key[0], group["lr"], group["lambd"]
        eta = _float32(lr / (1 + lambd * lr * step) ** group["alpha"])
        mu = _float32(1 / max(1, step - group["t0"]))
        for s in states:
            s.update(step=step, eta=eta, mu=mu)
