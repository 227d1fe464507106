"""Schedulers made of schedulers: one after another (SequentialLR) or all at once (ChainedScheduler)."""
from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING, Any, Sequence

from .base import LRScheduler, set_group_value
from .plateau import ReduceLROnPlateau

if TYPE_CHECKING:
    from ..optimizer import Optimizer

__all__ = ["SequentialLR", "ChainedScheduler"]


class _Combined(LRScheduler):
    """Holds ``_schedulers``, all driving ``optimizer``; the state_dict nests theirs."""

    _schedulers: Sequence[LRScheduler]

    def _check(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], what: str) -> None:
        name = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{name} expects at least one scheduler{what}, but got no scheduler.")
        for i, scheduler in enumerate(schedulers):
            if not hasattr(scheduler, "optimizer"):
                raise TypeError(f"{name} at index {i} should have `optimizer` as its attribute.")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(f"{name} does not support `ReduceLROnPlateau` scheduler as it requires additional "
                                 "kwargs to be specified when calling `step`, but got one at index "
                                 f"{i} in the given schedulers sequence.")
            if optimizer != scheduler.optimizer:
                raise ValueError(f"{name} expects all schedulers to belong to the same optimizer, but got scheduler "
                                 f"{type(scheduler).__name__} at index {i} has {scheduler.optimizer}, which is "
                                 f"different from {type(optimizer).__name__}.")

    _not_state = ("optimizer", "_schedulers")

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("_schedulers")
        super().load_state_dict(state)
        for scheduler, scheduler_state in zip(self._schedulers, saved):
            scheduler.load_state_dict(scheduler_state)


class SequentialLR(_Combined):
    """``schedulers[i]`` drives the lr from step ``milestones[i−1]`` on (the first from step 0); at its
    milestone a scheduler starts over at its epoch 0 (its closed form where it has one)."""

    def __init__(self, optimizer: Optimizer, schedulers: list[LRScheduler], milestones: list[int],
                 last_epoch: int = -1) -> None:
        self._check(optimizer, schedulers, "")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError("Sequential Schedulers expects number of schedulers provided to be one more than the "
                             f"number of milestone points, but got number of schedulers {len(schedulers)} and the "
                             f"number of milestones to be equal to {len(milestones)}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # undo the steps the schedulers made when they were built, then start the first one afresh
        for group in optimizer.param_groups:
            set_group_value(group, "lr", group["initial_lr"])
        _undo_initial_steps(self)
        first = self._schedulers[bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:  # type: ignore[override]  # no epoch
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


def _undo_initial_steps(scheduler: LRScheduler) -> None:
    """One step back for every scheduler held, however deeply nested, as torch's SequentialLR does."""
    if isinstance(scheduler, _Combined):
        for s in scheduler._schedulers:
            _undo_initial_steps(s)
    elif hasattr(scheduler, "last_epoch"):
        scheduler.last_epoch -= 1


class ChainedScheduler(_Combined):
    """Every scheduler steps at every step, in the order given: their (chainable) factors multiply."""

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        if schedulers:
            optimizer = optimizer or schedulers[0].optimizer
        self._check(optimizer, schedulers, " to be chained")  # type: ignore[arg-type]  # set unless none given
        self._schedulers = schedulers
        self.optimizer = optimizer  # type: ignore[assignment]
        self._last_lr = self._current_lrs()

    def step(self) -> None:  # type: ignore[override]  # no epoch
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._current_lrs()
