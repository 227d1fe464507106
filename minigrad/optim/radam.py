from __future__ import annotations

from typing import TYPE_CHECKING

from .adam import validate_adam_family
from .optimizer import Optimizer

if TYPE_CHECKING:
    from ..tensor import Tensor
    from .._typing import Array
    from .optimizer import ParamGroup, Params


class RAdam(Optimizer):
    """RAdam, as torch.optim.RAdam: Adam whose adaptive step is rectified, and left out while the
    variance of the adaptive rate is intractable (ρₜ ≤ 5)::

        d ← −g if maximize else g
        θ ← θ·(1 − lr·λ) if decoupled_weight_decay, else d ← d + λθ
        m ← m + (1 − β1)(d − m);    v ← β2·v + (1 − β2)·d²
        ρ∞ = 2/(1 − β2) − 1;    ρₜ = ρ∞ − 2t·β2ᵗ/(1 − β2ᵗ)
        ρₜ > 5:  rect = √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ))
                 θ ← θ − lr·m/(1 − β1ᵗ) · √(1 − β2ᵗ)/(√v + eps) · rect
        else:    θ ← θ − lr·m/(1 − β1ᵗ)

    ρₜ, rect and the bias corrections are computed here once per step, in float64.
    """

    def __init__(self, params: Params, lr: float | Tensor = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, backend: str = "cpp", skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                        capturable=capturable, differentiable=differentiable,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _validate(self, group: ParamGroup) -> None:
        validate_adam_family(group)

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def _kernel_call(self, group: ParamGroup, step: float, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        bias_correction2 = 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        rectified = rho_t > 5.0
        rect = 1.0
        if rectified:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        self._kernels.radam(data, grads, state_lists["exp_avg"], state_lists["exp_avg_sq"], lr=lr, beta1=beta1,
                            beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                            bias_correction1=1 - beta1 ** step, bias_correction2_sqrt=bias_correction2 ** 0.5,
                            rect=rect, rectified=rectified, maximize=group["maximize"],
                            decoupled_weight_decay=group["decoupled_weight_decay"])
