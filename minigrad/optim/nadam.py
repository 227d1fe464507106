from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .adam import validate_adam_family
from .optimizer import Optimizer, _index, require

if TYPE_CHECKING:
    from .._typing import Array
    from .optimizer import KernelCall, ParamGroup, Params, State


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

    def __init__(self, params: Params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False, backend: str = "cpp", skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _validate(self, group: ParamGroup) -> None:
        validate_adam_family(group)
        require(group["momentum_decay"] >= 0, "Invalid momentum_decay value: {}", group["momentum_decay"])

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    counts_steps = False  # the step count moves with mu_product, in _run

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

    def _run(self, calls: list[KernelCall]) -> None:
        super()._run(calls)
        for group, key, _, states, _ in calls:
            step, mu_product = cast("tuple[int, float]", key)  # a key of _step_keys
            product = _momentum_schedule(group, step, mu_product)[2]
            for s in states:
                s["step"], s["mu_product"] = step, product

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """As Optimizer.load_state_dict; each parameter's ``mu_product`` is a number (torch's 0-d
        tensor, converted to NumPy, is one too), checked with the rest before anything changes."""
        saved_state = state_dict.get("state") if isinstance(state_dict, dict) else None
        if not isinstance(saved_state, dict):
            return super().load_state_dict(state_dict)  # which raises the base class's error
        products = {i: _mu_product(s.get("mu_product"), i) for i, s in saved_state.items() if isinstance(s, dict) and s}
        arrays = {i: {k: v for k, v in s.items() if k != "mu_product"} if isinstance(s, dict) else s
                  for i, s in saved_state.items()}
        super().load_state_dict({**state_dict, "state": arrays})
        by_index = {_index(i): p for saved, group in zip(state_dict["param_groups"], self.param_groups)
                    for i, p in zip(saved["params"], group["params"])}
        for i, product in products.items():
            self.state[by_index[_index(i)]]["mu_product"] = product


def _momentum_schedule(group: ParamGroup, step: int, mu_product: float) -> tuple[float, float, float]:
    """(μₜ, μₜ₊₁, Πₜ) at step t from Πₜ₋₁, as torch computes them: Πₜ in float32."""
    beta1, psi = group["betas"][0], group["momentum_decay"]
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
    return mu, mu_next, float(np.float32(mu_product) * np.float32(mu))


def _mu_product(value: object, index: object) -> float:
    """A checked saved ``mu_product``: a real number between 0 and 1 (a product of μ's in [0, 1))."""
    number = value.item() if isinstance(value, (np.ndarray, np.generic)) and np.size(value) == 1 else value
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise TypeError(f"loaded state dict: state 'mu_product' of parameter {index} must be a number, got "
                        f"{type(value).__name__}")
    if not 0 <= number <= 1:
        raise ValueError(f"loaded state dict: state 'mu_product' of parameter {index} must be between 0 and 1, "
                         f"got {number}")
    return float(number)
