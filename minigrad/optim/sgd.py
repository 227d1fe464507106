from __future__ import annotations

from typing import TYPE_CHECKING

from .optimizer import Optimizer, require

if TYPE_CHECKING:
    from ..tensor import Tensor
    from .._typing import Array
    from .optimizer import ParamGroup, Params, State


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, as torch.optim.SGD::

        d ← −g if maximize else g;    d ← d + λθ
        b ← d on the first step, else μ·b + (1 − dampening)·d
        d ← d + μ·b if nesterov else b            (when momentum μ ≠ 0)
        θ ← θ − lr·d
    """

    def __init__(self, params: Params, lr: float | Tensor = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None,
                 backend: str = "cpp", skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _validate(self, group: ParamGroup) -> None:
        require(group["lr"] >= 0, "Invalid learning rate: {}", group["lr"])
        require(group["momentum"] >= 0, "Invalid momentum value: {}", group["momentum"])
        require(group["weight_decay"] >= 0, "Invalid weight_decay value: {}", group["weight_decay"])
        require(not group["nesterov"] or (group["momentum"] > 0 and group["dampening"] == 0),
                "Nesterov momentum requires a momentum and zero dampening")

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("momentum_buffer",) if group["momentum"] != 0 else ()

    counts_steps = False  # torch's SGD keeps no step count

    def _step_keys(self, states: list[State]) -> list[bool]:
        return ["momentum_buffer" not in s for s in states]  # the first step: b ← d

    def _kernel_call(self, group: ParamGroup, first_step: bool, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        self._kernels.sgd(data, grads, state_lists.get("momentum_buffer", []), lr=group["lr"],
                          weight_decay=group["weight_decay"], momentum=group["momentum"],
                          dampening=group["dampening"], nesterov=group["nesterov"], maximize=group["maximize"],
                          first_step=first_step)
