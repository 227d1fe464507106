"""Schedules that rise and fall: cosine annealing (with warm restarts), the cyclical lr and the 1cycle
policy; the last two also cycle the momentum (``group["momentum"]``, or ``betas[0]`` for Adam-like
optimizers) inversely to the lr."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

from .base import LRScheduler, callable_state, per_group, restore_callable, set_group_value

if TYPE_CHECKING:
    from ..optimizer import Optimizer, ParamGroup
    from .base import Lr, PerGroup

__all__ = ["CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR"]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from ``base_lr`` to ``eta_min`` over ``T_max`` steps (no restarts):

    ``lr_t = eta_min + (base_lr − eta_min)·(1 + cos(π·t / T_max)) / 2``,
    applied as torch does, recursively:
    ``lr_t = eta_min + (lr_{t−1} − eta_min)·(1 + cos(π·t/T_max)) / (1 + cos(π·(t−1)/T_max))``.
    Past ``T_max`` the lr climbs back up, a cosine of period ``2·T_max``.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Lr]:
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and self.last_epoch > 0:  # a first step that is not step 0 (torch's order of terms)
            return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(self.last_epoch * math.pi / self.T_max)) / 2
                    for base_lr in self.base_lrs]
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:  # at the trough: the ratio is 0/0
            return [lr + (base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
                    for lr, base_lr in zip(self._current_lrs(), self.base_lrs)]
        ratio = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / (
            1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max))
        return [ratio * (lr - self.eta_min) + self.eta_min for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[Lr]:
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov & Hutter 2017): ``lr = eta_min + (base_lr − eta_min)·(1 + cos(π·T_cur/T_i)) / 2``,
    where ``T_cur`` counts the steps since the last restart and the i-th period lasts
    ``T_i = T_0·T_mult^i`` steps. ``step(epoch)`` (not deprecated here, as in torch) accepts a
    fractional epoch, e.g. ``epoch + batch / batches``.
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        if T_0 <= 0 or not isinstance(T_0, int):
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if T_mult < 1 or not isinstance(T_mult, int):
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, (float, int)):
            raise ValueError(f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur: float = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Lr]:
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """One step, or (``epoch`` given) straight to that point of the schedule."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        elif epoch < 0:
            raise ValueError(f"Expected non-negative epoch, but got {epoch}")
        elif epoch < self.T_0:
            self.T_i = self.T_0
            self.T_cur = epoch
        elif self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        else:  # n whole periods T_0·(1 + T_mult + … + T_mult^(n−1)) lie before epoch
            n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult ** n
        self.last_epoch = math.floor(epoch)
        self._set_lrs(self.get_lr())


class CyclicLR(LRScheduler):
    """The cyclical learning rate (Smith 2017), stepped once per batch: the lr climbs from ``base_lr``
    to ``max_lr`` over ``step_size_up`` steps and back over ``step_size_down`` (default: the same)::

        cycle = ⌊1 + t / total⌋;  x = 1 + t / total − cycle
        s = x / ratio while x ≤ ratio, else (x − 1) / (ratio − 1)      (ratio = up / total)
        lr = base_lr + (max_lr − base_lr)·s·scale_fn(cycle or t)

    ``mode`` picks scale_fn: ``"triangular"`` 1, ``"triangular2"`` 1/2^(cycle−1) (both per cycle),
    ``"exp_range"`` gamma^t (per step); a ``scale_fn`` of one's own replaces it, applied per
    ``scale_mode`` (``"cycle"`` or ``"iterations"``). With ``cycle_momentum`` the momentum goes the
    other way: ``max_momentum − (max_momentum − base_momentum)·s·scale_fn(…)``. Not chainable:
    it sets the lr from ``base_lr`` (which replaces the optimizer's lr at construction).
    """

    def __init__(self, optimizer: Optimizer, base_lr: PerGroup, max_lr: PerGroup, step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular", gamma: float = 1.0,
                 scale_fn: Callable[[float], float] | None = None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum: PerGroup = 0.8, max_momentum: PerGroup = 0.9,
                 last_epoch: int = -1) -> None:
        groups = optimizer.param_groups
        base_lrs = per_group("base_lr", groups, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, groups):
                set_group_value(group, "lr", lr)
        self.max_lrs = per_group("max_lr", groups, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError("mode is invalid and scale_fn is None")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_mode()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _uses_beta1(groups)
            self.base_momentums = per_group("base_momentum", groups, base_momentum)
            self.max_momentums = per_group("max_momentum", groups, max_momentum)
            if last_epoch == -1:
                for group, m_max, m_base in zip(groups, self.max_momentums, self.base_momentums):
                    _set_momentum(group, self.use_beta1, m_max)
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_mode(self) -> None:
        """The built-in modes fix their scale_mode."""
        if self._scale_fn_custom is None:
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x: float) -> float:
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def get_lr(self) -> list[Lr]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        scale_factor = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base_lr + (max_lr - base_lr) * scale_factor * scale
               for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, m_base, m_max in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                _set_momentum(group, self.use_beta1, m_max - (m_max - m_base) * scale_factor * scale)
        return lrs

    _not_state = ("optimizer", "_scale_fn_custom")

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "_scale_fn_custom": callable_state(self._scale_fn_custom)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved_fn = state.pop("_scale_fn_custom")
        super().load_state_dict(state)
        restore_callable(self._scale_fn_custom, saved_fn)
        self._init_scale_mode()


def _uses_beta1(groups: list[ParamGroup]) -> bool:
    """Whether momentum cycling drives ``betas[0]`` (Adam-like) or ``momentum``; neither: torch's error."""
    if all("betas" in group for group in groups):
        return True
    if all("momentum" in group for group in groups):
        return False
    raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")


def _set_momentum(group: ParamGroup, use_beta1: bool, momentum: float) -> None:
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith 2018), stepped once per batch; not chainable.

    The lr anneals from ``max_lr / div_factor`` up to ``max_lr`` over the first ``pct_start`` of
    ``total_steps`` (or ``epochs · steps_per_epoch``), then down to ``initial_lr / final_div_factor``;
    ``three_phase=True`` goes back down to ``initial_lr`` symmetrically before the final anneal.
    With ``cycle_momentum`` the momentum moves inversely between ``max_momentum`` and
    ``base_momentum``. ``anneal_strategy`` is ``"cos"`` or ``"linear"``.
    """

    def __init__(self, optimizer: Optimizer, max_lr: PerGroup, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: PerGroup = 0.85, max_momentum: PerGroup = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._anneal_func_type = anneal_strategy
        # each phase anneals group[start_*] to group[end_*], ending at step end_step
        warmup_end = float(pct_start * self.total_steps) - 1
        phases = [(warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum")]
        if three_phase:
            phases.append((float(2 * pct_start * self.total_steps) - 2,
                           "max_lr", "initial_lr", "base_momentum", "max_momentum"))
            phases.append((self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"))
        else:
            phases.append((self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"))
        keys = ("end_step", "start_lr", "end_lr", "start_momentum", "end_momentum")
        self._schedule_phases: list[dict[str, Any]] = [dict(zip(keys, phase)) for phase in phases]

        groups = optimizer.param_groups
        if last_epoch == -1:
            for group, lr in zip(groups, per_group("max_lr", groups, max_lr)):
                group["initial_lr"] = lr / div_factor
                group["max_lr"] = lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _uses_beta1(groups)
            if last_epoch == -1:
                for group, m_max, m_base in zip(groups, per_group("max_momentum", groups, max_momentum),
                                                per_group("base_momentum", groups, base_momentum)):
                    _set_momentum(group, self.use_beta1, m_max)
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[Lr]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"Tried to step {step} times. The specified number of total steps is {self.total_steps}")
        lrs: list[Lr] = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                if step <= phase["end_step"] or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (phase["end_step"] - start_step)
                    break
                start_step = phase["end_step"]
            lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                momentum = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                _set_momentum(group, self.use_beta1, momentum)
        return lrs
