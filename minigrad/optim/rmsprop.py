from __future__ import annotations

from typing import TYPE_CHECKING, Hashable

from .optimizer import Optimizer, require

if TYPE_CHECKING:
    from ..tensor import Tensor
    from .._typing import Array
    from .optimizer import ParamGroup, Params


class RMSprop(Optimizer):
    """RMSprop, as torch.optim.RMSprop::

        d ← −g if maximize else g;    d ← d + λθ
        v ← α·v + (1 − α)·d²
        avg ← √(v − ḡ²) with ḡ ← ḡ + (1 − α)(d − ḡ) if centered, else √v
        avg ← avg + eps                           (eps outside the root)
        b ← μ·b + d / avg;  θ ← θ − lr·b          if momentum μ > 0
        θ ← θ − lr·d / avg                        otherwise
    """

    def __init__(self, params: Params, lr: float | Tensor = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False, *,
                 backend: str = "cpp", skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _validate(self, group: ParamGroup) -> None:
        require(group["lr"] >= 0, "Invalid learning rate: {}", group["lr"])
        require(group["eps"] >= 0, "Invalid epsilon value: {}", group["eps"])
        require(group["momentum"] >= 0, "Invalid momentum value: {}", group["momentum"])
        require(group["weight_decay"] >= 0, "Invalid weight_decay value: {}", group["weight_decay"])
        require(group["alpha"] >= 0, "Invalid alpha value: {}", group["alpha"])

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("square_avg",) + (("momentum_buffer",) if group["momentum"] > 0 else ()) + \
            (("grad_avg",) if group["centered"] else ())

    def _kernel_call(self, group: ParamGroup, key: Hashable, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        self._kernels.rmsprop(data, grads, state_lists["square_avg"], state_lists.get("grad_avg", []),
                              state_lists.get("momentum_buffer", []), lr=group["lr"], alpha=group["alpha"],
                              eps=group["eps"], weight_decay=group["weight_decay"], momentum=group["momentum"],
                              centered=group["centered"], maximize=group["maximize"])
