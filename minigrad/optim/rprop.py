from __future__ import annotations

from typing import TYPE_CHECKING, Hashable

import numpy as np

from .optimizer import Optimizer, require

if TYPE_CHECKING:
    from .._typing import Array
    from ..tensor import Tensor
    from .optimizer import ParamGroup, Params


class Rprop(Optimizer):
    """Resilient backpropagation, as torch.optim.Rprop::

        d ← −g if maximize else g;   s = sign(d·prev)
        step_size ← clamp(step_size·(etaplus if s > 0, etaminus if s < 0, 1 if s = 0), *step_sizes)
        d ← 0 where s < 0   (the sign flipped: no move now, and no flip seen next step)
        θ ← θ − sign(d)·step_size;   prev ← d

    step_size starts at lr in every element, prev at 0. As torch's, sign(NaN) = 0.
    """

    def __init__(self, params: Params, lr: float | Tensor = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False,
                 backend: str = "cpp", skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _validate(self, group: ParamGroup) -> None:
        etaminus, etaplus = group["etas"]
        require(group["lr"] >= 0, "Invalid learning rate: {}", group["lr"])
        require(0 < etaminus < 1 < etaplus, "Invalid eta values: {}, {}", etaminus, etaplus)

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("prev", "step_size")

    def _new_state(self, param: Tensor, name: str, group: ParamGroup) -> Array:
        return np.full_like(param._data, group["lr"]) if name == "step_size" else np.zeros_like(param._data)

    def _kernel_call(self, group: ParamGroup, key: Hashable, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        (etaminus, etaplus), (step_size_min, step_size_max) = group["etas"], group["step_sizes"]
        self._kernels.rprop(data, grads, state_lists["prev"], state_lists["step_size"], etaminus=etaminus,
                            etaplus=etaplus, step_size_min=step_size_min, step_size_max=step_size_max,
                            maximize=group["maximize"])
