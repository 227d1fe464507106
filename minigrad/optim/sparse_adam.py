from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .. import _C
from .optimizer import Optimizer, require

if TYPE_CHECKING:
    from .._typing import Array
    from ..tensor import Tensor
    from .optimizer import KernelCall, Loss, ParamGroup, Params


class SparseAdam(Optimizer):
    """SparseAdam, as torch.optim.SparseAdam: Adam on the rows a row-sparse gradient names (the
    gradient of ``nn.Embedding(sparse=True)``), the other rows and their moments untouched. With the
    gradient coalesced (each row r once, duplicates summed) and d = −g if maximize else g, on row r::

        m ← m + (1 − β1)(d − m);    v ← v + (1 − β2)(d² − v)
        θ ← θ − lr·√(1 − β2ᵗ)/(1 − β1ᵗ) · m / (√v + eps)

    ``t`` counts this parameter's steps (rows that stay untouched are not corrected for the steps
    they missed, as in torch). A dense gradient is refused with torch's error.
    """

    def __init__(self, params: Params, lr: float | Tensor = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 maximize: bool = False, *, backend: str = "cpp", skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _validate(self, group: ParamGroup) -> None:
        require(group["lr"] > 0, "Invalid learning rate: {}", group["lr"])
        require(group["eps"] > 0, "Invalid epsilon value: {}", group["eps"])
        require(0 <= group["betas"][0] < 1, "Invalid beta parameter at index 0: {}", group["betas"][0])
        require(0 <= group["betas"][1] < 1, "Invalid beta parameter at index 1: {}", group["betas"][1])

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def step(self, closure: Callable[[], Loss] | None = None) -> Loss | None:
        """One update of the gradient's rows of every parameter that has a gradient; all or nothing,
        as Optimizer.step (each gradient is coalesced and the kernel's checks run before any write)."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            self._validate(group)
            if any(p._grad is not None and not p._grad.is_sparse for p in group["params"]):
                raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")
        if self.skip_nonfinite and not self._grads_finite():
            self.skipped_steps += 1
            return loss
        self._run(self._checked_calls())
        return loss

    def _checked_calls(self) -> list[KernelCall]:
        """As Optimizer's, with each gradient coalesced (its rows and values are the kernel's lists)."""
        calls: list[KernelCall] = []
        created: list[tuple[Tensor, str]] = []
        try:
            for group in self.param_groups:
                for (_, key), (params, states) in self._buckets(group, created).items():
                    grads = [p._grad.coalesce() for p in params]  # type: ignore[union-attr]  # all sparse
                    lists = {"exp_avg": [s["exp_avg"] for s in states], "exp_avg_sq": [s["exp_avg_sq"] for s in states],
                             "rows": [g._rows for g in grads], "values": [g._vals for g in grads]}
                    _C.check_sparse_adam([p._data for p in params], lists["exp_avg"], lists["exp_avg_sq"],
                                         lists["rows"], lists["values"])
                    calls.append((group, key, params, states, lists))
        except BaseException:
            self._forget(created)
            raise
        return calls

    def _kernel_call(self, group: ParamGroup, step: float, data: list[Array], grads: list[Any],
                     state_lists: dict[str, list[Array]]) -> None:
        """``grads``: the SparseTensors as they are; their coalesced rows and values are in ``state_lists``."""
        beta1, beta2 = group["betas"]
        self._kernels.sparse_adam(data, state_lists["exp_avg"], state_lists["exp_avg_sq"], state_lists["rows"],
                                  state_lists["values"], beta1=beta1, beta2=beta2, eps=group["eps"],
                                  step_size=group["lr"] * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step),
                                  maximize=group["maximize"])

    def _grads_finite(self) -> bool:
        return all(np.isfinite(g._vals).all() for group in self.param_groups for p in group["params"]
                   if (g := p._grad) is not None and g.is_sparse)
