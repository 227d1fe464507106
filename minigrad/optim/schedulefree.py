"""Schedule-Free AdamW and SGD (Defazio et al. 2024, "The Road Less Scheduled"), as the reference
implementation, the ``schedulefree`` package (``AdamWScheduleFree``, ``SGDScheduleFree``): the same
arguments (but its ``foreach``: one fused kernel call here), defaults, state names and group entries, so its checkpoints load here and the same steps
give the same trajectory.

No learning-rate schedule: the parameters the loss is evaluated at, y, interpolate between a base
SGD/Adam sequence z and the running average x of z, whose weight ckp1 decays on its own. While
training the parameters hold y; ``eval()`` moves them to x (the weights to evaluate and save) and
``train()`` back to y, so call ``opt.train()`` before training (the optimizer starts in eval mode)
and ``opt.eval()`` before evaluating. x is never stored: y = (1 − β)z + βx gives it back.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Hashable, Sequence

from ..autograd.engine import mark_modified
from .adam import Adam
from .optimizer import Optimizer, require

if TYPE_CHECKING:
    from .._typing import Array
    from ..tensor import Tensor
    from .optimizer import Loss, ParamGroup, Params, State

# the group entries the reference keeps besides the hyperparameters (its "group-level state")
GROUP_STATE = dict(k=0, train_mode=False, weight_sum=0.0, lr_max=-1.0, scheduled_lr=0.0)


class _ScheduleFree(Optimizer):
    """What both share: the group-level schedule (k, weight_sum, lr_max), train()/eval() and the
    step that refuses to run in eval mode. Subclasses name their interpolation momentum β."""

    counts_steps = False  # the step count is the group's k, not per parameter

    def _momentum(self, group: ParamGroup) -> float:
        raise NotImplementedError

    def _step_keys(self, states: list[State]) -> Sequence[Hashable]:
        return [None] * len(states)  # the whole group steps with the group's k: one call per dtype

    def _new_state(self, param: Tensor, name: str, group: ParamGroup) -> Array:
        return param._data.copy() if name == "z" else super()._new_state(param, name, group)

    @staticmethod
    def _schedule(group: ParamGroup) -> tuple[dict[str, Any], float]:
        """The group's entries after this step, and the averaging weight ckp1 of this step:
        lr_k = lr·min(1, (k+1)/warmup_steps);  w_k = (k+1)^r · max_{i≤k}(lr_i)^weight_lr_power;
        ckp1 = w_k / Σ_{i≤k} w_i (0 while that sum is 0)."""
        k = group["k"]
        lr = group["lr"] * ((k + 1) / group["warmup_steps"] if k < group["warmup_steps"] else 1.0)
        lr_max = max(lr, group["lr_max"])
        weight = (k + 1) ** group["r"] * lr_max ** group["weight_lr_power"]
        weight_sum = group["weight_sum"] + weight
        ckp1 = weight / weight_sum if weight_sum != 0 else 0.0
        return dict(k=k + 1, scheduled_lr=lr, lr_max=lr_max, weight_sum=weight_sum), ckp1

    def step(self, closure: Callable[[], Loss] | None = None) -> Loss | None:
        """One update (see the class); raises, changing nothing, when the optimizer is in eval mode."""
        if not self.param_groups[0]["train_mode"]:  # the reference looks at the first group only
            raise RuntimeError("Optimizer was not in train mode when step is called. Please insert .train() and "
                               ".eval() calls on the optimizer. See documentation for details.")
        skipped = self.skipped_steps
        loss = super().step(closure)
        if self.skipped_steps == skipped:  # the step ran: every group's schedule moves on
            for group in self.param_groups:
                group.update(self._schedule(group)[0])
        return loss

    def train(self) -> None:
        """Parameters to y = lerp(x, z, 1 − β), the point gradients are taken at (no-op in train mode)."""
        self._switch(True, lambda beta: 1 - beta)

    def eval(self) -> None:
        """Parameters to x = lerp(y, z, 1 − 1/β), the average to evaluate and save (no-op in eval mode)."""
        self._switch(False, lambda beta: 1 - 1 / beta)

    def _switch(self, train_mode: bool, weight: Callable[[float], float]) -> None:
        for group in self.param_groups:
            if group["train_mode"] == train_mode:
                continue
            w = weight(self._momentum(group))
            params = [p for p in group["params"] if "z" in self.state.get(p, {})]
            for dtype in {p._data.dtype for p in params}:
                same = [p for p in params if p._data.dtype == dtype]
                self._kernels.lerp([p._data for p in same], [self.state[p]["z"] for p in same], weight=w)
            mark_modified(*params)
            group["train_mode"] = train_mode


class ScheduleFreeAdamW(_ScheduleFree):
    """Schedule-Free AdamW (the reference's ``AdamWScheduleFree``), at step k (from 0) of a group::

        lr_k = lr·min(1, (k+1)/warmup_steps);   c = ckp1 (see _schedule: weights (k+1)^r·lr_max^weight_lr_power)
        v ← β2·v + (1 − β2)·g²;   d ← g / (√(v / (1 − β2^(k+1))) + eps) + λy
        y ← lerp(y, z, c) + lr_k·(β1(1 − c) − 1)·d;   z ← z − lr_k·d

    y is the parameter in train mode; x = lerp(y, z, 1 − 1/β1) in eval mode. Weight decay λ is taken
    at y and goes through z, as in the reference. State: ``z``, ``exp_avg_sq``; the group keeps
    ``k``, ``weight_sum``, ``lr_max``, ``scheduled_lr`` and ``train_mode``.
    """

    def __init__(self, params: Params, lr: float = 0.0025, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, warmup_steps: int = 0, r: float = 0.0,
                 weight_lr_power: float = 2.0, *, backend: str = "cpp", skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, r=r, warmup_steps=warmup_steps, weight_lr_power=weight_lr_power,
                        weight_decay=weight_decay, **GROUP_STATE)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _momentum(self, group: ParamGroup) -> float:
        return float(group["betas"][0])

    _validate = Adam._validate  # the reference checks nothing: torch's AdamW checks and messages

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("z", "exp_avg_sq")

    def _kernel_call(self, group: ParamGroup, key: None, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        entries, ckp1 = self._schedule(group)
        lr, (beta1, beta2) = entries["scheduled_lr"], group["betas"]
        self._kernels.schedulefree_adamw(data, grads, state_lists["z"], state_lists["exp_avg_sq"], lr=lr, ckp1=ckp1,
                                         y_step=lr * (beta1 * (1 - ckp1) - 1), beta2=beta2, eps=group["eps"],
                                         weight_decay=group["weight_decay"], bias_correction2=1 - beta2 ** entries["k"])


class ScheduleFreeSGD(_ScheduleFree):
    """Schedule-Free SGD (the reference's ``SGDScheduleFree``), at step k (from 0) of a group::

        lr_k, c as ScheduleFreeAdamW;   d ← g + λy
        y ← lerp(y, z, c) + lr_k·(momentum·(1 − c) − 1)·d;   z ← z − lr_k·d

    y is the parameter in train mode; x = lerp(y, z, 1 − 1/momentum) in eval mode. State: ``z``; the
    group keeps ``k``, ``weight_sum``, ``lr_max``, ``scheduled_lr`` and ``train_mode``.
    """

    def __init__(self, params: Params, lr: float = 1.0, momentum: float = 0.9, weight_decay: float = 0,
                 warmup_steps: int = 0, r: float = 0.0, weight_lr_power: float = 2, *, backend: str = "cpp",
                 skip_nonfinite: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, r=r, warmup_steps=warmup_steps, weight_lr_power=weight_lr_power,
                        weight_decay=weight_decay, **GROUP_STATE)
        super().__init__(params, defaults, backend, skip_nonfinite)

    def _momentum(self, group: ParamGroup) -> float:
        return float(group["momentum"])

    def _validate(self, group: ParamGroup) -> None:  # the reference's messages
        require(group["lr"] >= 0, "Invalid learning rate: {}", group["lr"])
        require(group["weight_decay"] >= 0, "Invalid weight_decay value: {}", group["weight_decay"])
        require(0 < group["momentum"] < 1, "Momentum must be between 0 and 1 exclusive: {}", group["momentum"])

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        return ("z",)

    def _kernel_call(self, group: ParamGroup, key: None, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        entries, ckp1 = self._schedule(group)
        lr = entries["scheduled_lr"]
        self._kernels.schedulefree_sgd(data, grads, state_lists["z"], lr=lr, ckp1=ckp1,
                                       y_step=lr * (group["momentum"] * (1 - ckp1) - 1),
                                       weight_decay=group["weight_decay"])
