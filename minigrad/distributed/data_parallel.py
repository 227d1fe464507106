"""Data parallelism: every rank holds the whole model and trains it on its own part of each batch;
backward averages the gradients over the ranks, so every rank takes the same optimizer step.

``DistributedDataParallel`` does what torch's does on the CPU: the parameters go into buckets
(in reverse order, as backward tends to produce their gradients; per dtype; a small first bucket
of 1 MiB, then ``bucket_cap_mb``-sized ones, 25 MiB by default), and once backward has
accumulated the gradient of every parameter of a bucket, the bucket's flattened gradients start a
non-blocking all-reduce (``Iallreduce``), overlapping the rest of backward. Buckets start in the
same order on every rank (an MPI collective must), and the last gradient of the pass waits for
them all and writes the averages back into ``.grad``: when ``loss.backward()`` returns, the
gradients are the world's mean.
"""
from __future__ import annotations

import contextlib
import hashlib
import time
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import numpy as np

from .. import distributed as dist
from ..autograd.engine import is_grad_enabled, mark_modified
from ..nn.module import Module
from ..tensor import Tensor, _wrap

if TYPE_CHECKING:
    from mpi4py import MPI

    from .._typing import Array

MiB = 1024 * 1024
FIRST_BUCKET_BYTES = 1 * MiB  # torch's: a small first bucket starts communicating early in backward
DEFAULT_BUCKET_CAP_MB = 25


def _named_tensors(module_or_tensors: Module | Iterable[Tensor]) -> list[tuple[str, Tensor]]:
    if isinstance(module_or_tensors, Module):
        return list(module_or_tensors.named_parameters()) + list(module_or_tensors.named_buffers())
    if isinstance(module_or_tensors, Tensor):
        raise TypeError("broadcast_parameters: expected a Module or an iterable of Tensors, got a single Tensor "
                        "(wrap it in a list)")
    tensors = list(module_or_tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"broadcast_parameters: element {i} is a {type(t).__name__}, not a Tensor")
    return [(str(i), t) for i, t in enumerate(tensors)]


def check_same_shapes(named: list[tuple[str, Tensor]], what: str) -> None:
    """Raise the same ValueError on every rank unless every rank holds tensors of the same names,
    shapes, dtypes and requires_grad, in the same order: a digest of them is all-gathered and compared."""
    signature = ";".join(f"{name}:{tuple(t.shape)}:{t.dtype}:{t.requires_grad}" for name, t in named).encode()
    digest = np.frombuffer(hashlib.sha256(signature).digest(), np.uint8)
    comm = dist.communicator()
    digests = np.empty((comm.Get_size(), digest.size), np.uint8)
    comm.Allgather(digest, digests)
    differing = [rank for rank in range(comm.Get_size()) if not np.array_equal(digests[rank], digests[0])]
    if differing:
        elements = sum(t.numel() for _, t in named)
        raise ValueError(f"{what}: the model differs between ranks: rank(s) {differing} hold parameters or buffers "
                         "of other names, shapes, dtypes or requires_grad than rank 0 (this rank, "
                         f"{comm.Get_rank()}: {len(named)} tensors, {elements} elements); every rank must build "
                         "the same model")


def _broadcast_tensors(tensors: list[Tensor], src: int = 0) -> None:
    """Rank ``src``'s values into ``tensors`` on every rank: one ``Bcast`` per dtype of a flat buffer."""
    comm = dist.communicator()
    by_dtype: dict[np.dtype[Any], list[Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t._data.dtype, []).append(t)
    for group in by_dtype.values():
        flat = np.concatenate([t._data.reshape(-1) for t in group]) if comm.Get_rank() == src else \
            np.empty(sum(t._data.size for t in group), group[0]._data.dtype)
        comm.Bcast(flat, root=src)
        offset = 0
        for t in group:
            t._data[...] = flat[offset:offset + t._data.size].reshape(t._data.shape)
            offset += t._data.size
    mark_modified(*tensors)


def broadcast_parameters(module_or_tensors: Module | Iterable[Tensor], src: int = 0) -> None:
    """Give every rank rank ``src``'s parameters (and, for a Module, its buffers), in place: the
    same start everywhere. First the ranks compare the tensors' names, shapes, dtypes and
    requires_grad, and all raise the same ValueError if they differ."""
    dist.check_rank("src", src)
    named = _named_tensors(module_or_tensors)
    check_same_shapes(named, "broadcast_parameters")
    _broadcast_tensors([t for _, t in named], src)


class _Bucket:
    """Parameters whose flattened gradients are all-reduced together, as one contiguous buffer."""

    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        self.offsets = np.cumsum([0] + [p.numel() for p in params]).tolist()
        self.buffer = np.empty(self.offsets[-1], params[0]._data.dtype)
        self.waiting = len(params)  # the parameters whose gradient this backward has not accumulated yet

    def slot(self, index: int) -> Array:
        return self.buffer[self.offsets[index]:self.offsets[index + 1]]


def assign_buckets(params: Sequence[Tensor], cap_bytes: int, first_cap_bytes: int) -> list[list[Tensor]]:
    """torch DDP's buckets (as it rebuilds them after the first iteration, in the order gradients
    became ready: the parameters' reverse order): per dtype, a bucket closes once it holds at least
    its cap, ``first_cap_bytes`` for a dtype's first bucket and ``cap_bytes`` after it; the buckets
    ordered by the first parameter they hold."""
    closed: list[tuple[int, list[Tensor]]] = []
    open_buckets: dict[np.dtype[Any], tuple[int, list[Tensor], int]] = {}  # dtype -> (first index, params, bytes)
    caps: dict[np.dtype[Any], int] = {}
    for index, p in enumerate(reversed(params)):
        dtype = p._data.dtype
        first, bucket, size = open_buckets.pop(dtype, (index, [], 0))
        bucket.append(p)
        size += p._data.nbytes
        if size >= caps.setdefault(dtype, first_cap_bytes):
            closed.append((first, bucket))
            caps[dtype] = cap_bytes
        else:
            open_buckets[dtype] = (first, bucket, size)
    closed += [(first, bucket) for first, bucket, _ in open_buckets.values()]
    return [bucket for _, bucket in sorted(closed, key=lambda item: item[0])]


_gradients: MPI.Intracomm | None = None


def _gradients_communicator() -> MPI.Intracomm:
    """A duplicate of the world's communicator, made once, for every DDP's buckets: their
    all-reduces start in the same order on every rank, but other collectives (SyncBatchNorm's in
    backward, a loss averaged) may interleave with them differently on different ranks."""
    global _gradients
    if _gradients is None:
        _gradients = dist.communicator().Dup()
    return _gradients


class DistributedDataParallel(Module):
    """``module`` trained on every rank, its gradients averaged over the ranks in backward (see the
    module's docstring). Construction broadcasts rank 0's parameters and buffers (after checking
    that every rank built the same model); with ``broadcast_buffers`` each forward that will average
    (see ``forward``) in training mode does it for the buffers again. BatchNorm normalises with each
    rank's local batch (its running statistics are rank 0's, broadcast at each such forward).

    ``find_unused_parameters``: look, after each such forward, for the parameters its output does
    not depend on, and count them as reduced when its backward begins (their gradient is the others'
    mean, 0 for this rank; one that no rank used keeps the gradient it had, None after ``zero_grad``,
    as in one process); without it a parameter that gets no gradient holds the reduction back, which
    the next such forward reports. ``no_sync()``: a block whose forwards' backward passes only
    accumulate locally (the next one outside averages the sum).
    """

    def __init__(self, module: Module, bucket_cap_mb: float | None = None, broadcast_buffers: bool = True,
                 find_unused_parameters: bool = False) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError("DistributedDataParallel: module must be a minigrad.nn.Module, got "
                            f"{type(module).__name__}")
        if bucket_cap_mb is not None and (isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float))
                                          or not bucket_cap_mb > 0):
            raise ValueError(f"bucket_cap_mb must be a positive number of MiB, got {bucket_cap_mb!r}")
        self._comm = _gradients_communicator()  # (raises unless minigrad.distributed.init() ran)
        self.module = module
        self.broadcast_buffers, self.find_unused_parameters = broadcast_buffers, find_unused_parameters
        broadcast_parameters(module)
        params = [p for p in module.parameters() if p.requires_grad]
        cap = int((DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb) * MiB)
        first_cap = FIRST_BUCKET_BYTES if bucket_cap_mb is None else cap
        self._buckets = [_Bucket(bucket) for bucket in assign_buckets(params, cap, first_cap)]
        self._place = {id(p): (b, i) for b, bucket in enumerate(self._buckets) for i, p in enumerate(bucket.params)}
        self._handles = [p.register_post_accumulate_grad_hook(self._gradient_ready) for p in params]
        self._requests: list[MPI.Request] = []
        self._next_bucket = 0  # the first bucket not started yet (they start in order)
        self._reported = 0  # parameters whose gradient this backward accumulated
        self._sync = True
        self._armed = False  # a forward with grad enabled and sync on expects its backward to average
        self._unused: dict[int, Tensor] = {}  # (find_unused_parameters) the parameters the forward did not reach
        self.wait_seconds = 0.0  # time backward spent waiting for all-reduces to finish (the exposed communication)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The module's forward. As torch's, the forward decides: one with grad enabled and outside
        ``no_sync`` (training: first giving every rank rank 0's buffers) makes its backward average
        the gradients; another (under ``no_grad``: an evaluation, a logged output) communicates
        nothing and leaves a backward still to come as it was; a backward of another graph does not
        average."""
        syncing = is_grad_enabled() and self._sync
        if syncing:
            if self._reported:
                raise RuntimeError("Expected to have finished reduction in the prior iteration before starting a "
                                   "new one: some parameters got no gradient in the last backward. Pass "
                                   "find_unused_parameters=True to DistributedDataParallel if the model does not use "
                                   "all its parameters in every forward")
            if self.broadcast_buffers and self.training:
                _broadcast_tensors(list(self.module.buffers()))
        out = self.module(*args, **kwargs)
        if syncing:
            self._armed = True
            self._unused = self._unreached(out) if self.find_unused_parameters else {}
        return out

    def __deepcopy__(self, memo: dict[int, Any]) -> DistributedDataParallel:
        raise TypeError("copy.deepcopy(DistributedDataParallel): a copy's backward would not average its gradients; "
                        "copy its module (ddp.module) and wrap that")

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """The backward passes of forwards made in this block accumulate gradients locally, without communicating."""
        previous, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = previous

    def _unreached(self, out: Any) -> dict[int, Tensor]:
        """The parameters the graph of ``out`` (tensors, possibly nested) does not reach, by id."""
        reached: set[int] = set()
        stack = [t for t in _tensors_in(out) if t._requires_grad]
        while stack:
            t = stack.pop()
            if id(t) not in reached:
                reached.add(id(t))
                stack.extend(p for p in t._parents if p._requires_grad)
        return {id(p): p for bucket in self._buckets for p in bucket.params if id(p) not in reached}

    def _gradient_ready(self, p: Tensor) -> None:
        """Backward accumulated ``p``'s gradient (if a forward armed it). The first one of a backward
        also counts the unused parameters as reduced, with the gradients they hold by then (none after
        ``zero_grad``)."""
        if not self._armed:
            return
        if self._reported == 0:
            for unused in self._unused.values():
                self._into_bucket(unused)
        self._into_bucket(p)

    def _into_bucket(self, p: Tensor) -> None:
        """Copy ``p``'s gradient into its bucket; a full bucket starts its all-reduce (after every
        bucket before it); the last gradient waits for all and writes the means back."""
        b, i = self._place[id(p)]
        bucket = self._buckets[b]
        grad = p._grad
        if grad is not None and grad.is_sparse:
            raise RuntimeError("DistributedDataParallel does not support sparse gradients (nn.Embedding(sparse=True)); "
                               "use dense embeddings")
        slot = bucket.slot(i)
        if grad is None:
            slot.fill(0)
        else:
            slot[...] = grad._data.reshape(-1)
        bucket.waiting -= 1
        self._reported += 1
        self._start_ready_buckets()
        if self._reported == len(self._place):
            self._finish()

    def _start_ready_buckets(self) -> None:
        from mpi4py import MPI
        while self._next_bucket < len(self._buckets) and self._buckets[self._next_bucket].waiting == 0:
            self._requests.append(self._comm.Iallreduce(MPI.IN_PLACE, self._buckets[self._next_bucket].buffer,
                                                        op=MPI.SUM))
            self._next_bucket += 1
            MPI.Request.Testall(self._requests)  # MPICH moves a non-blocking collective on only inside MPI calls

    def _finish(self) -> None:
        from mpi4py import MPI
        start = time.perf_counter()
        MPI.Request.Waitall(self._requests)
        self.wait_seconds += time.perf_counter() - start
        world = dist.get_world_size()
        unused_everywhere = self._unused_everywhere()
        for bucket in self._buckets:
            for i, p in enumerate(bucket.params):
                if id(p) in unused_everywhere:  # no rank's loss depends on it: no gradient, as in one process
                    continue
                mean = bucket.slot(i).reshape(p._data.shape)
                if isinstance(p._grad, Tensor):
                    np.divide(mean, world, out=p._grad._data)
                else:  # None (a sparse gradient was refused as it came)
                    p._grad = _wrap(mean / world)
            bucket.waiting = len(bucket.params)
        self._requests, self._next_bucket, self._reported, self._armed, self._unused = [], 0, 0, False, {}

    def _unused_everywhere(self) -> set[int]:
        """(With find_unused_parameters) the parameters this forward left unused on every rank."""
        if not self.find_unused_parameters:
            return set()
        from mpi4py import MPI
        ids = list(self._place)
        used = np.array([i not in self._unused for i in ids], np.uint8)
        self._comm.Allreduce(MPI.IN_PLACE, used, op=MPI.MAX)
        return {i for i, anywhere in zip(ids, used) if not anywhere}


def _tensors_in(out: Any) -> Iterator[Tensor]:
    """The tensors in a forward's output: a tensor, or tuples, lists and dict values of them."""
    if isinstance(out, Tensor):
        yield out
    elif isinstance(out, (tuple, list)):
        for item in out:
            yield from _tensors_in(item)
    elif isinstance(out, dict):
        for item in out.values():
            yield from _tensors_in(item)
