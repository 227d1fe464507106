from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .optimizer import Optimizer, require

if TYPE_CHECKING:
    from .._typing import Array
    from ..tensor import Tensor
    from .optimizer import ParamGroup, Params


class Adagrad(Optimizer):
    """Adagrad, as torch.optim.Adagrad (state is created at construction)::

        d ← −g if maximize else g;    d ← d + λθ
        clr ← lr / (1 + (t − 1)·lr_decay)
        s ← s + d²                                (s starts at initial_accumulator_value)
        θ ← θ − clr·d / (√s + eps)
    """

    def __init__(self, params: Params, lr: float | Tensor = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None,
                 backend: str = "cpp", skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults, backend, skip_nonfinite)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p].update(step=0, sum=self._new_state(p, "sum", group))

    def _validate(self, group: ParamGroup) -> None:
        require(group["lr"] >= 0, "Invalid learning rate: {}", group["lr"])
        require(group["lr_decay"] >= 0, "Invalid lr_decay value: {}", group["lr_decay"])
        require(group["weight_decay"] >= 0, "Invalid weight_decay value: {}", group["weight_decay"])
        require(group["initial_accumulator_value"] >= 0, "Invalid initial_accumulator_value value: {}",
                group["initial_accumulator_value"])
        require(group["eps"] >= 0, "Invalid epsilon value: {}", group["eps"])

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("sum",)

    def _new_state(self, param: Tensor, name: str, group: ParamGroup) -> Array:
        return np.full_like(param._data, group["initial_accumulator_value"])

    def _kernel_call(self, group: ParamGroup, step: float, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        self._kernels.adagrad(data, grads, state_lists["sum"], clr=clr, weight_decay=group["weight_decay"],
                              eps=group["eps"], maximize=group["maximize"])
