"""ZeRO stage 1 (as in DeepSpeed): the optimizer state split over the ranks.

Per param group and dtype the parameters, in group order, make one flat vector of E elements; rank r
owns the contiguous range [r·E//N, (r+1)·E//N) of it. Each parameter that overlaps the range gives
the rank a *piece*: a leaf Tensor over those elements of the parameter's own array (a view, so the
optimizer's in-place update is the parameter's). This rank's optimizer, ``optimizer_class`` over its
pieces with the same hyperparameters, keeps state for them only: state memory ÷ N. A step::

    local gradients --Reduce_scatter(sum) / N--> the shard's mean gradient --kernel--> the shard updated
    --Allgatherv--> every rank's parameters whole again

An optimizer whose update of an element reads other elements of its tensor (Adafactor's factored
second moment and RMS, Muon's orthogonalisation) cannot be cut inside a tensor: it is sharded by
whole tensors instead, each given to the rank with the fewest elements so far, largest first (as
torch's ZeroRedundancyOptimizer balances). Either way the flat vector is the pieces in rank order.
Besides its shard's state, a rank keeps that flat vector (E elements per group and dtype) as the
buffer both collectives work in, and its shard of the mean gradient.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import numpy as np

from .. import distributed as dist
from ..autograd.engine import mark_modified
from ..optim import (ASGD, LBFGS, SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RAdam, RMSprop, Rprop,
                     ScheduleFreeAdamW, ScheduleFreeSGD, SparseAdam)
from ..optim.optimizer import Optimizer, _index, loaded_groups, state_dict_parts
from ..tensor import Tensor, _wrap
from .data_parallel import check_same_shapes

if TYPE_CHECKING:
    from mpi4py import MPI

    from .._typing import Array
    from ..optim.optimizer import ParamGroup, Params, State

Loss = TypeVar("Loss")

# whose update of an element reads only that element's parameter, gradient and state (and numbers
# of its group and step): cut anywhere. Any other Optimizer subclass (Adafactor, Muon, one of the
# user's) is sharded by whole tensors: right for any update that reads no other tensor.
ELEMENTWISE: tuple[type[Optimizer], ...] = (SGD, Adam, AdamW, Adamax, NAdam, RAdam, Adagrad, Adadelta, RMSprop,
                                            Rprop, ASGD, Lion, ScheduleFreeAdamW, ScheduleFreeSGD)
REFUSED: dict[type[Optimizer], str] = {
    LBFGS: "its line search evaluates the closure over all parameters at once and keeps one global state",
    SparseAdam: "its gradients are sparse rows, which are not reduce-scattered",
}
GROUP_ONLY = ("params", "param_names")  # a group's entries that are not hyperparameters


@dataclass
class _Piece:
    """Elements [start, stop) of the flattened parameter ``index`` (state_dict's numbering), owned by
    ``rank``; on that rank ``tensor`` is a leaf over them (of the parameter's shape when whole, 1-D if not)."""
    index: int
    param: Tensor
    start: int
    stop: int
    rank: int
    tensor: Tensor | None = None

    @property
    def whole(self) -> bool:
        return self.stop - self.start == self.param._data.size

    @property
    def own(self) -> Tensor:
        """The leaf over the piece (on its rank)."""
        assert self.tensor is not None, "a piece of another rank"
        return self.tensor

    def gradient(self) -> Array | None:
        """The piece's elements of the parameter's (dense) gradient, or None without one."""
        grad = self.param._grad
        return grad._data.reshape(-1)[self.start:self.stop] if isinstance(grad, Tensor) else None

    def view(self) -> Array:
        data = self.param._data
        return data if self.whole else data.reshape(-1)[self.start:self.stop]


@dataclass
class _Layout:
    """One param group's parameters of one dtype: its pieces in flat order (by rank, then parameter),
    how many elements each rank owns, and the buffers of a step."""
    group: int
    pieces: list[_Piece]
    counts: list[int]
    displs: list[int]
    flat: Array  # E elements: the gradients to reduce-scatter, then the parameters to all-gather
    shard: Array  # this rank's mean gradient


def _agree(comm: MPI.Intracomm, problem: Exception | None, what: str) -> None:
    """Raise on every rank if any rank met a ``problem``: its own error where it happened, a
    ValueError naming those ranks elsewhere (then no rank waits in a later collective)."""
    failed = np.zeros(comm.Get_size(), np.int8)
    comm.Allgather(np.array([problem is not None], np.int8), failed)
    if problem is not None:
        raise problem
    if failed.any():
        raise ValueError(f"{what} failed on rank(s) {np.flatnonzero(failed).tolist()} (see the error there); "
                         "nothing was changed")


class ShardedOptimizer:
    """``optimizer_class(params, **options)`` with its state split over the ranks (see the module).

    Call it on every rank with the same arguments and the same parameters (shapes, dtypes, order).
    It averages the gradients itself (a Reduce_scatter replaces DistributedDataParallel's
    all-reduce): use it with a plain model, each rank's ``backward`` leaving its local gradients.
    With ``average_gradients=False`` the gradients are taken as already averaged (a model wrapped in
    DistributedDataParallel) and each rank just reads its shard of them. A parameter must have a
    gradient on every rank or on none. ``skip_nonfinite`` skips a step on every rank when any shard's
    mean gradient holds a NaN or an infinity.

    Elementwise optimizers (``ELEMENTWISE``) are cut anywhere; Adafactor, Muon and other optimizers
    by whole tensors; LBFGS and SparseAdam are refused. ``optimizer`` is this rank's optimizer over
    its pieces. ``state_dict()`` (a collective) returns the full state, as ``optimizer_class`` over
    all the parameters would, on rank 0 and None elsewhere; ``load_state_dict`` takes such a state
    on every rank, whatever world size saved it. ``state_bytes()`` is this rank's share of the state.
    The schedule-free optimizers' ``train()`` and ``eval()`` are here too. Construction builds
    ``optimizer_class`` once over all the parameters to check and complete the groups (Adagrad's
    full state exists for that moment). ``param_groups`` are the full groups: a scheduler or the
    user may change their hyperparameters between steps (``add_param_group`` is not supported).
    """

    def __init__(self, optimizer_class: type[Optimizer], params: Params, *, average_gradients: bool = True,
                 **options: Any) -> None:
        if not (isinstance(optimizer_class, type) and issubclass(optimizer_class, Optimizer)):
            given = f"an instance of {type(optimizer_class).__name__}" if isinstance(optimizer_class, Optimizer) \
                else repr(optimizer_class)
            raise TypeError(f"optimizer_class must be an optimizer class such as minigrad.optim.Adam, got {given}")
        refused = next((why for cls, why in REFUSED.items() if issubclass(optimizer_class, cls)), None)
        if refused:
            raise TypeError(f"optimizer_class={optimizer_class.__name__} cannot be sharded: {refused}")
        self._comm = dist.communicator()
        self.rank, self.world_size = self._comm.Get_rank(), self._comm.Get_size()
        self.average_gradients = average_gradients
        self.skip_nonfinite = bool(options.pop("skip_nonfinite", False))
        self.skipped_steps = 0
        problem: Exception | None = None
        try:  # the optimizer over all parameters normalises and checks the groups with its own messages
            template = optimizer_class(params, **options)
        except Exception as error:  # (the same on every rank, unless the parameters differ between ranks)
            problem = error
        _agree(self._comm, problem, "ShardedOptimizer()")
        self.defaults = template.defaults
        self.param_groups: list[ParamGroup] = template.param_groups
        self._params = [p for group in self.param_groups for p in group["params"]]
        check_same_shapes([(str(i), p) for i, p in enumerate(self._params)], "ShardedOptimizer")
        del template
        self._elementwise = optimizer_class in ELEMENTWISE
        self._layouts = self._lay_out()
        own_groups: list[list[_Piece]] = [[] for _ in self.param_groups]
        for layout in self._layouts:
            own_groups[layout.group] += [piece for piece in layout.pieces if piece.rank == self.rank]
        for piece in (piece for pieces in own_groups for piece in pieces):
            piece.tensor = _wrap(piece.view())
        self._own_groups = own_groups
        self.optimizer = optimizer_class([{**_hyperparameters(group), "params": [piece.own for piece in pieces]}
                                          for group, pieces in zip(self.param_groups, own_groups)], **options)

    def _lay_out(self) -> list[_Layout]:
        """The layouts of all groups: element ranges, or whole tensors to the least loaded rank."""
        layouts = []
        load = [0] * self.world_size  # elements given to each rank so far (whole tensors)
        index = 0
        for g, group in enumerate(self.param_groups):
            by_dtype: dict[np.dtype[Any], list[tuple[int, Tensor]]] = {}
            for p in group["params"]:
                by_dtype.setdefault(p._data.dtype, []).append((index, p))
                index += 1
            for dtype, params in by_dtype.items():
                pieces: list[_Piece] = []
                if self._elementwise:
                    total = sum(p._data.size for _, p in params)
                    bounds = [r * total // self.world_size for r in range(self.world_size + 1)]
                    offset = 0
                    for i, p in params:
                        size = p._data.size
                        if size == 0:  # a parameter without elements still has (empty) state: rank 0's
                            pieces.append(_Piece(i, p, 0, 0, 0))
                        for r in range(self.world_size):
                            start, stop = max(offset, bounds[r]), min(offset + size, bounds[r + 1])
                            if start < stop:
                                pieces.append(_Piece(i, p, start - offset, stop - offset, r))
                        offset += size
                else:
                    for i, p in sorted(params, key=lambda item: -item[1]._data.size):
                        rank = load.index(min(load))
                        load[rank] += p._data.size
                        pieces.append(_Piece(i, p, 0, p._data.size, rank))
                pieces.sort(key=lambda piece: (piece.rank, piece.index))
                counts = [sum(piece.stop - piece.start for piece in pieces if piece.rank == r)
                          for r in range(self.world_size)]
                displs = [sum(counts[:r]) for r in range(self.world_size)]
                layouts.append(_Layout(g, pieces, counts, displs, np.empty(sum(counts), dtype),
                                       np.empty(counts[self.rank], dtype)))
        return layouts

    # ---- the step ---------------------------------------------------------------------------------

    def step(self, closure: Callable[[], Loss] | None = None) -> Loss | None:
        """Reduce-scatter the gradients, update this rank's shard, all-gather the parameters. Every
        check (hyperparameters, which parameters have gradients, their shapes) runs, and is agreed
        on by all ranks, before anything changes."""
        from mpi4py import MPI
        loss = closure() if closure is not None else None
        for group, own in zip(self.param_groups, self.optimizer.param_groups):
            self.optimizer._validate({**own, **_hyperparameters(group)})  # what a scheduler or the user changed
        has_grad = self._agree_on_gradients()
        for group, own in zip(self.param_groups, self.optimizer.param_groups):
            own.update(_hyperparameters(group))
        for layout in self._layouts:
            self._shard_gradients(layout, has_grad)
        if self.skip_nonfinite:  # this rank's pieces' gradients: its part of the mean gradient
            finite = np.array([all(np.isfinite(t._grad._data).all() for group in self.optimizer.param_groups
                                   for t in group["params"] if isinstance(t._grad, Tensor))], np.int8)
            self._comm.Allreduce(MPI.IN_PLACE, finite, op=MPI.MIN)
            if not finite[0]:
                self.skipped_steps += 1
                return loss
        self.optimizer.step()
        for group, own in zip(self.param_groups, self.optimizer.param_groups):
            group.update(_hyperparameters(own))  # what the step moved (the schedule-free group schedule)
        self._all_gather(has_grad)
        return loss

    def _agree_on_gradients(self) -> Array:
        """Which parameters have a gradient (a bool per parameter, the same on every rank); raises
        on every rank if the ranks disagree or a gradient is not a dense array of its parameter's shape."""
        from mpi4py import MPI
        present = np.zeros(len(self._params) + 1, np.int64)  # the last: ranks with a bad gradient
        problem = None
        for i, p in enumerate(self._params):
            grad = p._grad
            if grad is None:
                continue
            present[i] = 1
            if grad.is_sparse or grad._data.shape != p._data.shape or grad._data.dtype != p._data.dtype:
                problem = problem or TypeError(
                    f"ShardedOptimizer.step: the gradient of parameter {i} must be a dense array of its shape "
                    f"{p._data.shape} and dtype {p._data.dtype}, got "
                    + ("a sparse gradient" if grad.is_sparse else f"{grad._data.shape} {grad._data.dtype}"))
        present[-1] = problem is not None
        self._comm.Allreduce(MPI.IN_PLACE, present, op=MPI.SUM)
        if problem is not None:
            raise problem
        if present[-1]:
            raise ValueError("ShardedOptimizer.step failed on another rank: a gradient there is not a dense array "
                             "of its parameter's shape and dtype (see the error there); nothing was changed")
        partial = np.flatnonzero((present[:-1] != 0) & (present[:-1] != self.world_size))
        if partial.size:
            raise ValueError(f"ShardedOptimizer.step: parameter(s) {partial.tolist()} have a gradient on some ranks "
                             "but not on others; every rank must compute the same parameters' gradients")
        return present[:-1] != 0

    def _shard_gradients(self, layout: _Layout, has_grad: Array) -> None:
        """This rank's part of the mean gradient into ``layout.shard``; its pieces' ``grad`` are views of it."""
        from mpi4py import MPI
        if self.average_gradients:
            offset = 0
            for piece in layout.pieces:
                size = piece.stop - piece.start
                gradient = piece.gradient()
                layout.flat[offset:offset + size] = 0 if gradient is None else gradient
                offset += size
            if has_grad[[piece.index for piece in layout.pieces]].any():
                self._comm.Reduce_scatter(layout.flat, layout.shard, recvcounts=layout.counts, op=MPI.SUM)
                layout.shard /= self.world_size
        offset = 0
        for piece in (piece for piece in layout.pieces if piece.rank == self.rank):
            size = piece.stop - piece.start
            tensor, gradient = piece.own, piece.gradient()
            tensor._data = piece.view()  # the parameter's array, even if it was rebound since
            shard = layout.shard[offset:offset + size]
            if gradient is not None and not self.average_gradients:
                shard[...] = gradient
            tensor._grad = _wrap(shard.reshape(tensor._data.shape)) if has_grad[piece.index] else None
            offset += size

    def _all_gather(self, updated: Array) -> None:
        """Every rank's updated pieces into every rank's parameters (those marked ``updated``)."""
        from mpi4py import MPI
        for layout in self._layouts:
            if not updated[[piece.index for piece in layout.pieces]].any():
                continue
            offset = layout.displs[self.rank]
            for piece in (piece for piece in layout.pieces if piece.rank == self.rank):
                size = piece.stop - piece.start
                layout.flat[offset:offset + size] = piece.view().reshape(-1)
                offset += size
            self._comm.Allgatherv(MPI.IN_PLACE, [layout.flat, (layout.counts, layout.displs)])
            offset = 0
            for piece in layout.pieces:
                size = piece.stop - piece.start
                if piece.rank != self.rank and updated[piece.index]:
                    piece.param._data.reshape(-1)[piece.start:piece.stop] = layout.flat[offset:offset + size]
                offset += size
        mark_modified(*(p for p, changed in zip(self._params, updated) if changed))

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (``grad = None``), or zero it in place with ``set_to_none=False``."""
        for p in self._params:
            if set_to_none:
                p._grad = None
            elif p._grad is not None:
                p._grad.zero_() if p._grad.is_sparse else p._grad._data.fill(0)

    def train(self) -> None:
        """The schedule-free optimizers' ``train()`` (parameters to y), on every rank's shard, then gathered."""
        self._switch("train")

    def eval(self) -> None:
        """The schedule-free optimizers' ``eval()`` (parameters to x), on every rank's shard, then gathered."""
        self._switch("eval")

    def _switch(self, mode: str) -> None:
        switch = getattr(self.optimizer, mode, None)
        if switch is None:
            raise AttributeError(f"{type(self.optimizer).__name__} has no {mode}() (the schedule-free optimizers do)")
        switch()
        for group, own in zip(self.param_groups, self.optimizer.param_groups):
            group.update(_hyperparameters(own))
        self._all_gather(np.ones(len(self._params), bool))

    def state_bytes(self) -> int:
        """Bytes of the optimizer state arrays this rank holds (its shard's)."""
        return state_bytes(self.optimizer)

    # ---- checkpoints ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any] | None:
        """Collective, so call it on EVERY rank (``if rank == 0: save(opt.state_dict())`` would hang
        the job): on rank 0 the full state in torch's layout, as ``optimizer_class`` over all the
        parameters gives it (same keys, shapes, step counts); None on the other ranks. Each state
        array's pieces are gathered (Gatherv) per layout; a table of which state each piece has, its
        numbers and shapes, is summed onto rank 0 (each entry has one owner, the others add zeros)."""
        from mpi4py import MPI
        own = self.optimizer
        array_names = tuple(dict.fromkeys(name for group in own.param_groups for name in own._state_names(group)))
        names = array_names + (("step",) if own.counts_steps else ()) + own.scalar_state
        state: dict[int, State] = {}
        for layout in self._layouts:
            width = 2 + max(piece.param._data.ndim for piece in layout.pieces)
            table = np.zeros((len(layout.pieces), len(names), width))  # present, number or ndim, shape...
            for k, piece in enumerate(layout.pieces):
                for j, name in enumerate(names):
                    value = own.state.get(piece.own, {}).get(name) if piece.rank == self.rank else None
                    if isinstance(value, np.ndarray):
                        table[k, j, :2 + value.ndim] = (1, value.ndim, *value.shape)
                    elif value is not None:
                        table[k, j, :2] = (1, value)
            self._comm.Reduce(MPI.IN_PLACE if self.rank == 0 else table, table if self.rank == 0 else None,
                              op=MPI.SUM, root=0)
            shapes = [[tuple(int(n) for n in table[k, j, 2:2 + int(table[k, j, 1])]) for j in range(len(names))]
                      for k in range(len(layout.pieces))]
            arrays = {name: self._gather_state(layout, j, name, table, shapes) for j, name in enumerate(array_names)}
            if self.rank != 0:
                continue
            parts: dict[int, list[int]] = {}  # each parameter's pieces, in flat order (its elements' order)
            for k, piece in enumerate(layout.pieces):
                parts.setdefault(piece.index, []).append(k)
            for index, ks in parts.items():
                piece, first = layout.pieces[ks[0]], ks[0]
                entry: State = {}
                for j, name in enumerate(names):
                    if not table[first, j, 0]:
                        continue
                    if name in arrays:
                        whole = np.concatenate([arrays[name][k].reshape(-1) for k in ks])
                        entry[name] = whole.reshape(shapes[first][j] if len(ks) == 1 else piece.param._data.shape)
                    else:
                        number = float(table[first, j, 1])
                        entry[name] = int(number) if name == "step" and number.is_integer() else number
                if entry:
                    state[index] = entry
        if self.rank != 0:
            return None
        index = 0
        groups = []
        for group in self.param_groups:
            groups.append({**{k: v for k, v in group.items() if k != "params"},
                           "params": list(range(index, index + len(group["params"])))})
            index += len(group["params"])
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def _gather_state(self, layout: _Layout, j: int, name: str, table: Array,
                      shapes: list[list[tuple[int, ...]]]) -> dict[int, Array]:
        """State array ``name`` (column ``j`` of the table) of every piece that has it, on rank 0: {piece: array}."""
        states = [self.optimizer.state.get(piece.own, {}) for piece in layout.pieces if piece.rank == self.rank]
        mine = [state[name].reshape(-1) for state in states if name in state]
        send = np.concatenate(mine) if mine else np.empty(0, layout.flat.dtype)
        if self.rank != 0:
            self._comm.Gatherv(send, None, root=0)
            return {}
        sizes = [math.prod(shapes[k][j]) if table[k, j, 0] else 0 for k in range(len(layout.pieces))]
        counts = [sum(size for size, piece in zip(sizes, layout.pieces) if piece.rank == r)
                  for r in range(self.world_size)]
        received = np.empty(sum(counts), layout.flat.dtype)
        self._comm.Gatherv(send, [received, (counts, [sum(counts[:r]) for r in range(self.world_size)])], root=0)
        arrays, offset = {}, 0
        for k, size in enumerate(sizes):
            if table[k, j, 0]:
                arrays[k] = received[offset:offset + size]
            offset += size
        return arrays

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a full state (``state_dict()``'s, saved by any number of ranks, or that of the plain
        optimizer) on every rank: each takes its pieces' slices. Checked as the plain optimizer checks
        it; if any rank refuses it, every rank raises and none changes."""
        own = self.optimizer
        before = own.state, own.param_groups
        problem: Exception | None = None
        try:
            own.load_state_dict(self._own_part(state_dict))
        except Exception as error:
            problem = error
        try:
            _agree(self._comm, problem, "ShardedOptimizer.load_state_dict")
        except Exception:
            own.state, own.param_groups = before
            raise
        self.param_groups = loaded_groups(state_dict["param_groups"], self.param_groups)

    def _own_part(self, full: dict[str, Any]) -> dict[str, Any]:
        """The state dict of this rank's optimizer: each piece's group and the slices of its parameter's state."""
        saved_groups, saved_state = state_dict_parts(full)
        if len(saved_groups) != len(self.param_groups) or any(
                len(s["params"]) != len(g["params"]) for s, g in zip(saved_groups, self.param_groups)):
            raise ValueError("loaded state dict does not match the optimizer's param groups (their number or sizes)")
        saved_index = [_index(i) for s in saved_groups for i in s["params"]]  # by our parameter index
        by_saved = {_index(i): value for i, value in saved_state.items()}
        unknown = by_saved.keys() - set(saved_index)
        if unknown:
            raise ValueError(f"loaded state dict has state for parameter {min(unknown)}, which no parameter group "
                             "lists")
        scalars = ("step",) + self.optimizer.scalar_state
        state = {}  # a rank has one piece of a parameter at most: numbered as the saved parameter, for messages
        for piece in (piece for pieces in self._own_groups for piece in pieces):
            index = saved_index[piece.index]
            saved = by_saved.get(index)
            if isinstance(saved, dict) and not piece.whole:
                saved = {name: value if name in scalars else _slice(value, piece, name, index)
                         for name, value in saved.items()}
            if saved is not None:
                state[index] = saved
        return {"state": state, "param_groups": [{**_hyperparameters(saved_group),
                                                  "params": [saved_index[piece.index] for piece in pieces]}
                                                 for saved_group, pieces in zip(saved_groups, self._own_groups)]}


def state_bytes(optimizer: Optimizer) -> int:
    """Bytes of the state arrays ``optimizer`` holds."""
    return sum(value.nbytes for state in optimizer.state.values() for value in state.values()
               if isinstance(value, np.ndarray))


def _slice(value: object, piece: _Piece, name: str, index: int) -> Array:
    """The piece's elements of a saved state array (parameter ``index`` in the saved numbering), which
    must have the parameter's shape."""
    array = np.asarray(value)
    if array.shape != piece.param._data.shape:
        raise ValueError(f"loaded state dict: state {name!r} of parameter {index} has shape {array.shape} "
                         f"but the parameter has shape {piece.param._data.shape}")
    return array.reshape(-1)[piece.start:piece.stop]


def _hyperparameters(group: ParamGroup) -> dict[str, Any]:
    return {k: v for k, v in group.items() if k not in GROUP_ONLY}

