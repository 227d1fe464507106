from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .adam import validate_adam_family
from .optimizer import Optimizer, require

if TYPE_CHECKING:
    from ..tensor import Tensor
    from .._typing import Array
    from .optimizer import ParamGroup, Params, State


class NAdam(Optimizer):
    """NAdam, as torch.optim.NAdam (NAdamW with ``decoupled_weight_decay=True``): Adam with Nesterov
    momentum, whose coefficient μₜ warms up with ``momentum_decay`` ψ::

        d ← −g if maximize else g
        θ ← θ·(1 − lr·λ) if decoupled_weight_decay, else d ← d + λθ
        μₜ = β1·(1 − ½·0.96^(tψ));    Πₜ = Πₜ₋₁·μₜ  (Π₀ = 1)
        m ← m + (1 − β1)(d − m);    v ← β2·v + (1 − β2)·d²
        denom = √(v / (1 − β2ᵗ)) + eps
        θ ← θ − lr·(1 − μₜ)/(1 − Πₜ) · d / denom
        θ ← θ − lr·μₜ₊₁/(1 − Πₜ·μₜ₊₁) · m / denom

    Πₜ is each parameter's state ``mu_product``, a number kept as torch keeps it by default: in
    float32 (torch's scalar dtype), rounded after each product. The step sizes are computed here
    once per step, in float64.
    """

    def __init__(self, params: Params, lr: float | Tensor = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False, backend: str = "cpp",
                 skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, foreach=foreach, maximize=maximize,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _validate(self, group: ParamGroup) -> None:
        validate_adam_family(group)
        require(group["momentum_decay"] >= 0, "Invalid momentum_decay value: {}", group["momentum_decay"])

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    scalar_state = ("mu_product",)  # Πₜ, torch's 0-d tensor

    def _step_keys(self, states: list[State]) -> list[tuple[int, float]]:
        """(t, Πₜ₋₁): both enter the step sizes, and each parameter keeps its own product."""
        return [(s.get("step", 0) + 1, s.get("mu_product", 1.0)) for s in states]

    def _kernel_call(self, group: ParamGroup, key: tuple[int, float], data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        step, _ = key
        lr, (beta1, beta2) = group["lr"], group["betas"]
        mu, mu_next, mu_product = _momentum_schedule(group, *key)
        self._kernels.nadam(data, grads, state_lists["exp_avg"], state_lists["exp_avg_sq"], lr=lr, beta1=beta1,
                            beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                            bias_correction2=1 - beta2 ** step, grad_step_size=lr * (1 - mu) / (1 - mu_product),
                            exp_avg_step_size=lr * mu_next / (1 - mu_product * mu_next), maximize=group["maximize"],
                            decoupled_weight_decay=group["decoupled_weight_decay"])

    def _advance(self, group: ParamGroup, key: tuple[int, float], states: list[State]) -> None:
        """The step count and the product Πₜ move together."""
        step, mu_product = key
        product = _momentum_schedule(group, step, mu_product)[2]
        for s in states:
            s["step"], s["mu_product"] = step, product

    def _scalar_state_value(self, name: str, value: float, index: object) -> float:
        """A saved ``mu_product``: a product of μ's in [0, 1), so between 0 and 1."""
        if not 0 <= value <= 1:
            raise ValueError(f"loaded state dict: state 'mu_product' of parameter {index} must be between 0 and 1, "
                             f"got {value}")
        return value


def _momentum_schedule(group: ParamGroup, step: int, mu_product: float) -> tuple[float, float, float]:
    """(μₜ, μₜ₊₁, Πₜ) at step t from Πₜ₋₁, as torch computes them: Πₜ in float32."""
    beta1, psi = group["betas"][0], group["momentum_decay"]
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
    return mu, mu_next, float(np.float32(mu_product) * np.float32(mu))
