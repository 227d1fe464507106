from __future__ import annotations

from typing import TYPE_CHECKING, Hashable

from .optimizer import Optimizer, require

if TYPE_CHECKING:
    from .._typing import Array
    from .optimizer import ParamGroup, Params


class Lion(Optimizer):
    """Lion, EvoLved Sign Momentum (Chen et al. 2023, "Symbolic Discovery of Optimization
    Algorithms", Algorithm 2), with decoupled weight decay::

        d ← −g if maximize else g
        c = β1·m + (1 − β1)·d
        θ ← θ·(1 − lr·λ);   θ ← θ − lr·sign(c)
        m ← β2·m + (1 − β2)·d

    sign(0) = 0 and a NaN propagates. torch.optim has no Lion: arguments and messages follow its
    style. State: ``exp_avg`` (m) and ``step``, the number of updates (the update does not use it).
    """

    def __init__(self, params: Params, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0, *, maximize: bool = False, backend: str = "cpp",
                 skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _validate(self, group: ParamGroup) -> None:
        require(group["lr"] >= 0, "Invalid learning rate: {}", group["lr"])
        require(0 <= group["betas"][0] < 1, "Invalid beta parameter at index 0: {}", group["betas"][0])
        require(0 <= group["betas"][1] < 1, "Invalid beta parameter at index 1: {}", group["betas"][1])
        require(group["weight_decay"] >= 0, "Invalid weight_decay value: {}", group["weight_decay"])

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("exp_avg",)

    def _kernel_call(self, group: ParamGroup, key: Hashable, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        beta1, beta2 = group["betas"]
        self._kernels.lion(data, grads, state_lists["exp_avg"], lr=group["lr"], beta1=beta1, beta2=beta2,
                           weight_decay=group["weight_decay"], maximize=group["maximize"])
