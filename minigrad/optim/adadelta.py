from __future__ import annotations

from typing import TYPE_CHECKING, Hashable

from .optimizer import Optimizer, require

if TYPE_CHECKING:
    from ..tensor import Tensor
    from .._typing import Array
    from .optimizer import ParamGroup, Params


class Adadelta(Optimizer):
    """Adadelta, as torch.optim.Adadelta::

        d ← −g if maximize else g;    d ← d + λθ
        v ← ρ·v + (1 − ρ)·d²
        Δ ← √(u + eps) / √(v + eps) · d           (u: acc_delta before this step)
        u ← ρ·u + (1 − ρ)·Δ²
        θ ← θ − lr·Δ
    """

    def __init__(self, params: Params, lr: float | Tensor = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False, backend: str = "cpp",
                 skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, foreach=foreach, capturable=capturable,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _validate(self, group: ParamGroup) -> None:
        require(group["lr"] >= 0, "Invalid learning rate: {}", group["lr"])
        require(0 <= group["rho"] <= 1, "Invalid rho value: {}", group["rho"])
        require(group["eps"] >= 0, "Invalid epsilon value: {}", group["eps"])
        require(group["weight_decay"] >= 0, "Invalid weight_decay value: {}", group["weight_decay"])

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("square_avg", "acc_delta")

    def _kernel_call(self, group: ParamGroup, key: Hashable, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        self._kernels.adadelta(data, grads, state_lists["square_avg"], state_lists["acc_delta"], lr=group["lr"],
                               rho=group["rho"], eps=group["eps"], weight_decay=group["weight_decay"],
                               maximize=group["maximize"])
