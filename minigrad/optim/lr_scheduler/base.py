"""The scheduler base class and the helpers its subclasses share.

A scheduler drives ``group["lr"]`` of any optimizer whose ``param_groups`` is a list of dicts with
an ``"lr"`` key. Construction performs step 0 (``last_epoch`` becomes 0); call ``step()`` after
each ``optimizer.step()``. As in torch, most schedulers are *chainable*: ``get_lr()`` updates the
current ``group["lr"]`` multiplicatively, so changes made by others compose, while the deprecated
``step(epoch)`` jumps to ``epoch`` with the schedule's closed form from ``base_lrs``.
``state_dict()`` is plain data (numbers, lists, dicts), so ``minigrad.save`` can hold it.
An lr that is a Tensor stays that Tensor: new values are written into it (``fill_``), as torch does.
"""
from __future__ import annotations

import copy
import types
import warnings
from typing import TYPE_CHECKING, Any, Callable, Union

from ...tensor import Tensor

if TYPE_CHECKING:
    from ..optimizer import Optimizer, ParamGroup

    Lr = Union[float, Tensor]  # a group's lr: a number, or a Tensor written in place
    PerGroup = Union[float, list[float], tuple[float, ...]]  # one value for every param group, or one per group

__all__ = ["LRScheduler"]


class LRScheduler:
    """Base class: subclasses implement ``get_lr()``, the lrs for step ``last_epoch``, and may
    implement ``_closed_form_lr()``, the lrs at step ``last_epoch`` straight from ``base_lrs``.

    ``last_epoch=-1`` starts fresh and records each group's lr as ``initial_lr``; resuming with
    ``last_epoch >= 0`` needs ``initial_lr`` already in every group (from the optimizer's state).
    """

    _is_initial = False  # True only inside the step made by the constructor (or by SequentialLR's restart)

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", _copy(group["lr"]))
            elif "initial_lr" not in group:
                raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a "
                               "scheduler with last_epoch >= 0: load the optimizer's state first")
        self.base_lrs: list[Lr] = _group_values(optimizer.param_groups, "initial_lr")
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Step 0 (a fresh start, or the step after ``last_epoch`` when resuming)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def _current_lrs(self) -> list[Lr]:
        return _group_values(self.optimizer.param_groups, "lr")

    def get_lr(self) -> list[Lr]:
        """The lrs for step ``last_epoch`` (called by ``step``; use ``get_last_lr`` to read them)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[Lr]:
        """The lrs set by the latest ``step``, one per param group."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance one step; ``epoch`` (deprecated, as in torch) jumps to that step instead."""
        self._step_count += 1
        if epoch is not None:
            warnings.warn("passing an epoch to step() is deprecated (as in torch): call step() once per "
                          "step instead", UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            lrs = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form: Callable[[], list[Lr]] | None = getattr(self, "_closed_form_lr", None)
            lrs = closed_form() if closed_form is not None else self.get_lr()
        self._set_lrs(lrs)

    def _set_lrs(self, lrs: list[Lr]) -> None:
        groups = self.optimizer.param_groups
        if len(lrs) != len(groups):
            raise ValueError(f"{type(self).__name__} computed {len(lrs)} lrs for {len(groups)} param groups")
        for group, lr in zip(groups, lrs):
            set_group_value(group, "lr", lr)
        self._last_lr = self._current_lrs()

    _not_state: tuple[str, ...] = ("optimizer",)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer, deep-copied."""
        return {key: copy.deepcopy(value) for key, value in vars(self).items() if key not in self._not_state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(copy.deepcopy(state_dict))


def _copy(value: Any) -> Any:
    """A Tensor's copy (so that later writes into the group's lr leave it alone), anything else as is."""
    return value.clone() if isinstance(value, Tensor) else value


def _group_values(groups: list[ParamGroup], key: str) -> list[Any]:
    return [_copy(group[key]) for group in groups]


def set_group_value(group: ParamGroup, key: str, value: Any) -> None:
    """``group[key] = value``, or written into it when it is a Tensor."""
    if isinstance(group[key], Tensor):
        group[key].fill_(value.reshape(()) if isinstance(value, Tensor) else value)
    else:
        group[key] = value


def per_group(name: str, groups: list[ParamGroup], value: PerGroup) -> list[Any]:
    """``value`` for every group: a list/tuple must have one entry per group, a scalar is repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(groups):
            raise ValueError(f"{name} must have the same length as optimizer.param_groups. "
                             f"{name} has {len(value)} values, param_groups has {len(groups)}.")
        return [_copy(v) for v in value]
    return [_copy(value)] * len(groups)


def callable_state(f: object) -> dict[str, Any] | None:
    """What a state_dict keeps of a user's function: nothing for a plain function or lambda, the
    attributes (deep-copied) of a callable object, as torch does."""
    return None if f is None or isinstance(f, types.FunctionType) else copy.deepcopy(vars(f))


def restore_callable(f: object, saved: dict[str, Any] | None) -> None:
    if saved is not None:
        vars(f).update(copy.deepcopy(saved))
