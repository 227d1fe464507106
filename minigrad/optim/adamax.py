from __future__ import annotations

from typing import TYPE_CHECKING

from .adam import validate_adam_family
from .optimizer import Optimizer

if TYPE_CHECKING:
    from ..tensor import Tensor
    from .._typing import Array
    from .optimizer import ParamGroup, Params


class Adamax(Optimizer):
    """Adamax, as torch.optim.Adamax: Adam with an infinity norm u in place of the second moment::

        d ← −g if maximize else g;    d ← d + λθ
        m ← m + (1 − β1)(d − m);    u ← max(β2·u, |d| + eps)
        θ ← θ − lr/(1 − β1ᵗ) · m / u

    The bias correction is computed here once per step, in float64.
    """

    def __init__(self, params: Params, lr: float | Tensor = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False, backend: str = "cpp",
                 skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _validate(self, group: ParamGroup) -> None:
        validate_adam_family(group)

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("exp_avg", "exp_inf")

    def _kernel_call(self, group: ParamGroup, step: float, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        self._kernels.adamax(data, grads, state_lists["exp_avg"], state_lists["exp_inf"], beta1=beta1, beta2=beta2,
                             eps=group["eps"], weight_decay=group["weight_decay"], step_size=lr / (1 - beta1 ** step),
                             maximize=group["maximize"])
