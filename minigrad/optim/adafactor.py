from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .optimizer import Optimizer, _index, require

if TYPE_CHECKING:
    from .._typing import Array
    from ..tensor import Tensor
    from .optimizer import ParamGroup, Params

FACTORED = ("row_var", "col_var")  # a ≥ 2-D parameter's state
STATE_NAMES = FACTORED + ("variance",)  # the lists of a kernel call, in the kernel's order


class Adafactor(Optimizer):
    """Adafactor, as torch.optim.Adafactor::

        G ← −g if maximize else g;    ρ ← min(lr, 1/√t);    w ← t^beta2_decay
        α ← max(eps2, RMS(θ))·ρ;      θ ← θ·(1 − lr·λ)
        θ of ≥ 2 dims (over the last two, batched over the others):
            R ← lerp(R, mean over columns of G², w);   C ← lerp(C, mean over rows of G², w)
            V̂ ← R·C / max(mean over rows of R, eps1)          (R: row_var, C: col_var)
        θ of < 2 dims:  V ← lerp(V, G², w);   V̂ ← V       (V: variance)
        U ← G / √max(V̂, eps1²);    θ ← θ − α / max(1, RMS(U)/d) · U

    ``eps=(None, eps2)`` takes eps1 as the machine epsilon of the group's first parameter with a
    gradient, as torch does. The reductions (RMS(θ), the row and column means, RMS(U)) run in the
    kernel, in float64. A parameter with no elements is left as it is (torch raises
    ZeroDivisionError for it).
    """

    def __init__(self, params: Params, lr: float | Tensor = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 foreach: bool | None = None, maximize: bool = False, backend: str = "cpp",
                 skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _validate(self, group: ParamGroup) -> None:
        eps1, eps2 = group["eps"]
        require(group["lr"] >= 0, "Learning rate should be >= 0 but is: {}", group["lr"])
        require(group["beta2_decay"] <= 0, "beta2_decay should be <= 0 but is: {}", group["beta2_decay"])
        require(eps1 is None or eps1 >= 0, "epsilon1 should be >= 0 but is: {}", eps1)
        require(eps2 >= 0, "epsilon2 should be >= 0 but is: {}", eps2)
        require(group["d"] >= 1, "Clipping threshold d should be >= 1 but is: {}", group["d"])
        require(group["weight_decay"] >= 0, "weight_decay should be >= 0 but is: {}", group["weight_decay"])

    factored_state = STATE_NAMES

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return STATE_NAMES

    def _state_names_for(self, group: ParamGroup, param: Tensor) -> tuple[str, ...]:
        return FACTORED if param._data.ndim >= 2 else ("variance",)

    def _new_state(self, param: Tensor, name: str, group: ParamGroup) -> Array:
        shape = list(param._data.shape)
        if name in FACTORED:
            shape[-1 if name == "row_var" else -2] = 1
        return np.zeros(shape, dtype=param._data.dtype)

    def _kernel_call(self, group: ParamGroup, step: int, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        lr, (eps1, eps2) = group["lr"], group["eps"]
        if eps1 is None:  # torch takes it from the first parameter with a gradient, whatever the dtype of the others
            # (with no gradient at all, any: the kernel's checks then refuse the call before any write)
            first = next((p for p in group["params"] if p._grad is not None), group["params"][0])
            eps1 = float(np.finfo(first._data.dtype).eps)
        self._kernels.adafactor(data, grads, state_lists["row_var"], state_lists["col_var"], state_lists["variance"],
                                lr=lr, weight_decay=group["weight_decay"], eps1=eps1, eps2=eps2, d=group["d"],
                                rho=min(lr, 1 / step ** 0.5), one_minus_beta2=step ** group["beta2_decay"],
                                maximize=group["maximize"])

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Optimizer's, with row_var and col_var checked for their reduced shapes (the base class
        checks every other array against its parameter's shape); all or nothing as there."""
        factored: dict[tuple[object, str], Any] = {}
        if isinstance(state_dict, dict) and isinstance(state_dict.get("state"), dict):
            stripped = {}
            for i, saved in state_dict["state"].items():
                if isinstance(saved, dict):
                    factored.update({(i, name): saved[name] for name in FACTORED if name in saved})
                    saved = {name: value for name, value in saved.items() if name not in FACTORED}
                stripped[i] = saved
            state_dict = {**state_dict, "state": stripped}
        before = self.state, self.param_groups
        super().load_state_dict(state_dict)
        try:
            by_index = {_index(i): p for s, g in zip(state_dict["param_groups"], self.param_groups)
                        for i, p in zip(s["params"], g["params"])}
            for (i, name), value in factored.items():
                p = by_index[_index(i)]
                expected = self._new_state(p, name, self.param_groups[0]).shape if p._data.ndim >= 2 else None
                array = np.asarray(value)
                if array.dtype.kind not in "biuf":
                    raise TypeError(f"loaded state dict: state {name!r} of parameter {i} must be an array of real "
                                    f"numbers, got dtype {array.dtype}")
                if array.shape != expected:
                    raise ValueError(f"loaded state dict: state {name!r} of parameter {i} has shape {array.shape} "
                                     f"but the parameter of shape {p._data.shape} needs {expected}")
                self.state[p][name] = np.array(array, dtype=p._data.dtype, order="C", copy=True)
        except BaseException:
            self.state, self.param_groups = before
            raise
