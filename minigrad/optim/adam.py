from __future__ import annotations

from typing import TYPE_CHECKING

from .optimizer import Optimizer, require

if TYPE_CHECKING:
    from ..tensor import Tensor
    from .._typing import Array
    from .optimizer import ParamGroup, Params


def validate_adam_family(group: ParamGroup) -> None:
    """torch's checks, in its order, of the hyperparameters Adam, Adamax, NAdam and RAdam share."""
    require(group["lr"] >= 0, "Invalid learning rate: {}", group["lr"])
    require(group["eps"] >= 0, "Invalid epsilon value: {}", group["eps"])
    require(0 <= group["betas"][0] < 1, "Invalid beta parameter at index 0: {}", group["betas"][0])
    require(0 <= group["betas"][1] < 1, "Invalid beta parameter at index 1: {}", group["betas"][1])
    require(group["weight_decay"] >= 0, "Invalid weight_decay value: {}", group["weight_decay"])


class Adam(Optimizer):
    """Adam, as torch.optim.Adam (AdamW with ``decoupled_weight_decay=True``)::

        d ← −g if maximize else g
        θ ← θ·(1 − lr·λ) if decoupled_weight_decay, else d ← d + λθ
        m ← m + (1 − β1)(d − m);    v ← β2·v + (1 − β2)·d²
        v̂ ← max(v̂, v) if amsgrad (on the raw v), and v̂ replaces v below
        θ ← θ − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps)

    The bias corrections are computed here once per step, in float64.
    """

    def __init__(self, params: Params, lr: float | Tensor = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False, backend: str = "cpp",
                 skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, foreach=foreach,
                        maximize=maximize, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _validate(self, group: ParamGroup) -> None:
        validate_adam_family(group)

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def _kernel_call(self, group: ParamGroup, step: float, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        self._kernels.adam(data, grads, state_lists["exp_avg"], state_lists["exp_avg_sq"],
                           state_lists.get("max_exp_avg_sq", []), lr=lr, beta1=beta1, beta2=beta2,
                           eps=group["eps"], weight_decay=group["weight_decay"], step_size=lr / bias_correction1,
                           bias_correction2_sqrt=bias_correction2 ** 0.5, amsgrad=group["amsgrad"],
                           maximize=group["maximize"], decoupled_weight_decay=group["decoupled_weight_decay"])


class AdamW(Adam):
    """Adam with decoupled weight decay (torch.optim.AdamW): θ ← θ·(1 − lr·λ) before the Adam step."""

    def __init__(self, params: Params, lr: float | Tensor = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, backend: str = "cpp", skip_nonfinite: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True, backend=backend, skip_nonfinite=skip_nonfinite)
