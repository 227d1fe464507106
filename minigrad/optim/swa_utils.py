"""Weight averaging with torch.optim.swa_utils' (2.13) semantics: ``AveragedModel`` (stochastic weight
averaging, SWA, by default; an exponential moving average, EMA, with ``get_ema_multi_avg_fn``),
the ``SWALR`` schedule and ``update_bn``.

The averages of floating-point tensors are updated in place by the multi-tensor kernels of
csrc/optim/averaging.h (``backend="cpp"``) or their NumPy twins (``backend="numpy"``), one call per
dtype::

    SWA (default):  a ← a + (p − a) / (n + 1)          n: the number of models averaged so far
    EMA:            a ← lerp(a, p, 1 − decay)          = decay·a + (1 − decay)·p

Integer buffers (BatchNorm's ``num_batches_tracked``, with ``use_buffers=True``) are averaged as
torch does: in float32, truncated back to integers.
"""
from __future__ import annotations

import copy
import math
from itertools import chain
from typing import TYPE_CHECKING, Any, Callable, Iterable, Union

import numpy as np

from ..autograd import no_grad
from ..autograd.engine import mark_modified
from ..nn.module import Module
from ..nn.normalization import _BatchNorm, _InstanceNorm
from ..tensor import Tensor
from .lr_scheduler.base import LRScheduler, per_group
from .optimizer import BACKENDS

if TYPE_CHECKING:
    from .lr_scheduler.base import Lr, PerGroup
    from .optimizer import Optimizer

    Count = Union[Tensor, int]  # n_averaged: the models averaged so far
    MultiAvgFn = Callable[[list[Tensor], list[Tensor], Count], None]  # updates the averages in place
    AvgFn = Callable[[Tensor, Tensor, Count], Tensor]  # returns the new average of one tensor

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn", "get_ema_avg_fn",
           "get_swa_avg_fn"]


def _count(n_averaged: Count) -> int:
    return int(n_averaged.item()) if isinstance(n_averaged, Tensor) else int(n_averaged)


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def _average_integers(averages: list[Tensor], currents: list[Tensor],
                      average: Callable[[Any, Any], Any]) -> None:
    """a ← trunc(average(a, p)), computed in float32 (torch's default dtype for integer tensors divided
    or scaled by a float)."""
    for a, p in zip(averages, currents):
        value = average(a._data.astype(np.float32), p._data.astype(np.float32))
        np.copyto(a._data, np.trunc(value), casting="unsafe")


def get_ema_multi_avg_fn(decay: float = 0.999, *, backend: str = "cpp") -> MultiAvgFn:
    """The in-place EMA of lists of tensors: a ← lerp(a, p, 1 − decay), i.e. decay·a + (1 − decay)·p."""
    _check_decay(decay)
    kernels = BACKENDS[backend]

    def ema_update(averages: list[Tensor], currents: list[Tensor], n_averaged: Count) -> None:
        if averages and averages[0]._data.dtype.kind == "f":
            kernels.lerp([a._data for a in averages], [p._data for p in currents], weight=1 - decay)
        else:
            keep, take = np.float32(decay), np.float32(1 - decay)
            _average_integers(averages, currents, lambda a, p: a * keep + p * take)
    return ema_update


def get_swa_multi_avg_fn(*, backend: str = "cpp") -> MultiAvgFn:
    """The in-place equal-weight average of lists of tensors: a ← lerp(a, p, 1/(n + 1)). Like torch's,
    with n_averaged a tensor the weight 1/(n + 1) is a float32 number."""
    kernels = BACKENDS[backend]

    def swa_update(averages: list[Tensor], currents: list[Tensor], n_averaged: Count) -> None:
        n = _count(n_averaged)
        if averages and averages[0]._data.dtype.kind == "f":
            weight = float(np.float32(1) / np.float32(n + 1)) if isinstance(n_averaged, Tensor) else 1 / (n + 1)
            kernels.lerp([a._data for a in averages], [p._data for p in currents], weight=weight)
        else:
            _average_integers(averages, currents, lambda a, p: a + (p - a) / np.float32(n + 1))
    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> AvgFn:
    """The EMA of one tensor: returns decay·a + (1 − decay)·p."""
    _check_decay(decay)
    return lambda average, current, n_averaged: decay * average + (1 - decay) * current


def get_swa_avg_fn() -> AvgFn:
    """The equal-weight average of one tensor: returns a + (p − a) / (n + 1)."""
    return lambda average, current, n_averaged: average + (current - average) / (_count(n_averaged) + 1)


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and buffers, with ``use_buffers``) hold a running average
    of ``model``'s, updated by ``update_parameters(model)``: the first call copies, the later ones
    average with ``multi_avg_fn`` (lists of tensors, in place), or ``avg_fn`` (one tensor, returns the
    average), or by default the equal-weight average (SWA). ``n_averaged`` (a buffer) counts the calls.
    Without ``use_buffers`` the buffers are copied from ``model`` at every update."""

    def __init__(self, model: Module, device: object = None, avg_fn: AvgFn | None = None,
                 multi_avg_fn: MultiAvgFn | None = None, use_buffers: bool = False, *, backend: str = "cpp") -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", np.array(0, np.int64))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers
        self.backend = backend

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def _averaged(self, model: Module) -> Iterable[Tensor]:
        return chain(model.parameters(), model.buffers()) if self.use_buffers else model.parameters()

    @no_grad()
    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current parameters (and buffers, with ``use_buffers``) into the average."""
        pairs = list(zip(self._averaged(self.module), self._averaged(model)))  # as torch, up to the shorter
        n_averaged = self.n_averaged
        if _count(n_averaged) == 0:
            for a, p in pairs:
                a.detach().copy_(p.detach())
        elif self.avg_fn is not None and self.multi_avg_fn is None:
            for a, p in pairs:
                a.detach().copy_(self.avg_fn(a.detach(), p.detach(), n_averaged))
        else:
            update = self.multi_avg_fn or self._swa_update
            for dtype in dict.fromkeys(a._data.dtype for a, _ in pairs):  # one call per dtype, in order
                same = [(a, p) for a, p in pairs if a._data.dtype == dtype]
                update([a for a, _ in same], [p for _, p in same], n_averaged)
            mark_modified(*(a for a, _ in pairs))
        if not self.use_buffers:  # the buffers follow the model
            for b_average, b_model in zip(self.module.buffers(), model.buffers()):
                b_average.detach().copy_(b_model.detach())
        self.n_averaged += 1

    def _swa_update(self, averages: list[Tensor], currents: list[Tensor], n_averaged: Count) -> None:
        """The default: a ← a + (p − a) / (n + 1), as torch's per-tensor SWA on the CPU."""
        n = _count(n_averaged)
        if averages[0]._data.dtype.kind == "f":
            BACKENDS[self.backend].running_mean([a._data for a in averages], [p._data for p in currents], count=n + 1)
        else:
            _average_integers(averages, currents, lambda a, p: a + (p - a) / np.float32(n + 1))


@no_grad()
def update_bn(loader: Iterable[Any], model: Module, device: object = None) -> None:
    """Recompute the running statistics of every BatchNorm layer of ``model`` in one pass over
    ``loader`` (each batch a tensor, or a list/tuple whose first item is the input): the statistics
    are reset, then averaged over all batches with equal weights (momentum None), as torch's."""
    momenta: dict[_BatchNorm, float | None] = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm) and not isinstance(module, _InstanceNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for batch in loader:
        inputs = batch[0] if isinstance(batch, (list, tuple)) else batch
        model(inputs.to(device) if device is not None else inputs)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr to ``swa_lr`` (one value, or one per group) over ``anneal_epochs``
    steps, then hold it, as torch's SWALR: with α_t = anneal(min(1, t / max(1, anneal_epochs))),
    cosine (1 − cos πt)/2 or linear t, lr_t = α_t·swa_lr + (1 − α_t)·lr₀, where lr₀ is recovered
    from the current lr and α_{t−1} (so the schedule composes with changes made by others)."""

    def __init__(self, optimizer: Optimizer, swa_lr: PerGroup, anneal_epochs: int = 10,
                 anneal_strategy: str = "cos", last_epoch: int = -1) -> None:
        for value, group in zip(per_group("swa_lr", optimizer.param_groups, swa_lr), optimizer.param_groups):
            group["swa_lr"] = value
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self._anneal_strategy = anneal_strategy
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2 if self._anneal_strategy == "cos" else t

    def get_lr(self) -> list[Lr]:
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        lrs = []
        for group in self.optimizer.param_groups:
            swa_lr = group["swa_lr"]
            start = swa_lr if prev_alpha == 1 else (group["lr"] - prev_alpha * swa_lr) / (1 - prev_alpha)
            lrs.append(swa_lr * alpha + start * (1 - alpha))
        return lrs
