"""Training over several processes with MPI (``pip install "minigrad[mpi]"``: mpi4py and an MPI
library), started by ``mpiexec -n N python script.py`` or ``mpiexec -n N minigrad train TASK --distributed``.

    dist.init()                                  # the world: every process mpiexec started
    sampler = DistributedSampler(dataset)        # each rank reads its own part (minigrad.data)
    model = DistributedDataParallel(net)         # same start on every rank; gradients averaged in backward
    opt = Adam(model.parameters(), lr=1e-3)

or, with the optimizer's state split over the ranks (ZeRO stage 1), a plain model:

    broadcast_parameters(net)                    # the same start on every rank
    opt = ShardedOptimizer(Adam, net.parameters(), lr=1e-3)   # it averages the gradients itself

Every transfer is a buffer-based MPI collective over NumPy arrays (no pickling). Once ``init`` ran,
an exception that escapes on any rank aborts the whole job (``MPI.COMM_WORLD.Abort``) instead of
leaving the other ranks waiting in a collective forever.
"""
from __future__ import annotations

import builtins
import os
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mpi4py import MPI

    from .._typing import Array

__all__ = ["init", "is_available", "is_initialized", "get_rank", "get_world_size", "get_local_rank", "barrier",
           "is_main_process", "print0", "all_reduce", "broadcast", "launched_by_mpiexec", "communicator",
           "DistributedDataParallel", "broadcast_parameters", "ShardedOptimizer", "abort_on_exit", "check_rank"]

INSTALL_HINT = 'pip install "minigrad[mpi]" (mpi4py and an MPI library, which gives mpiexec)'
# what a launcher sets in each process it starts: MPICH's and Intel MPI's (Hydra: PMI), Open MPI's
LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE")

_comm: MPI.Intracomm | None = None
_local_rank = 0


def is_available() -> bool:
    """Whether mpi4py (and with it an MPI library) can be imported."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def launched_by_mpiexec() -> bool:
    """Whether this process was started by an MPI launcher (mpiexec, mpirun, srun with PMI)."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


def init() -> None:
    """Join the world of processes mpiexec started (``MPI.COMM_WORLD``); a second call does nothing.

    Raises RuntimeError when mpi4py is not installed, or when this process was not started by
    mpiexec (then it would be a world of one, which is surely not what was meant). From here on an
    exception that escapes on any rank aborts every rank (see the module's docstring)."""
    global _comm, _local_rank
    if _comm is not None:
        return
    if not is_available():
        raise RuntimeError(f"minigrad.distributed needs mpi4py and an MPI library: {INSTALL_HINT}")
    if not launched_by_mpiexec():
        raise RuntimeError("minigrad.distributed.init(): this process was not started by mpiexec; run it as "
                           "'mpiexec -n N python script.py' (or 'mpiexec -n N minigrad train TASK --distributed')")
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)  # the ranks on this machine
    _local_rank = node.Get_rank()
    node.Free()
    _comm = comm
    _abort_on_uncaught_exception()


def _abort_on_uncaught_exception() -> None:
    """An exception escaping on one rank would leave the others waiting in a collective forever:
    after printing it, abort the whole job (mpi4py's finaliser calls ``COMM_WORLD.Abort`` at exit)."""
    from mpi4py import run
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, traceback: TracebackType | None) -> None:
        previous(kind, value, traceback)
        run.set_abort_status(value if isinstance(value, (SystemExit, KeyboardInterrupt)) else 1)
    sys.excepthook = hook


def abort_on_exit(error: BaseException) -> None:
    """For a program that catches everything at its top (minigrad's command line), before it
    re-raises ``error``: once ``init`` ran, the job aborts at exit unless ``error`` is a SystemExit
    with status 0 (a ``sys.exit`` never reaches ``sys.excepthook``)."""
    if _comm is not None:
        from mpi4py import run
        run.set_abort_status(error)


def is_initialized() -> bool:
    """Whether ``init`` ran in this process."""
    return _comm is not None


def communicator() -> MPI.Intracomm:
    """The world's communicator (``MPI.COMM_WORLD``), for what this module does not wrap."""
    if _comm is None:
        raise RuntimeError("minigrad.distributed is not initialized: call minigrad.distributed.init() first")
    return _comm


def get_rank() -> int:
    """This process's rank in the world, from 0."""
    return communicator().Get_rank()


def get_world_size() -> int:
    """The number of processes in the world."""
    return communicator().Get_size()


def get_local_rank() -> int:
    """This process's rank among the world's processes on this machine."""
    communicator()
    return _local_rank


def is_main_process() -> bool:
    """True on rank 0, and in a process that is not distributed: where output and checkpoints are written."""
    return _comm is None or _comm.Get_rank() == 0


def print0(*args: Any, **kwargs: Any) -> None:
    """``print`` on rank 0 only (everywhere when not distributed)."""
    if is_main_process():
        builtins.print(*args, **kwargs)


def barrier() -> None:
    """Wait until every rank reached this call."""
    communicator().Barrier()


def _buffer(array: Any, name: str) -> Array:
    """The C-contiguous, writeable NumPy array behind ``array`` (a Tensor or an ndarray), for MPI to write into."""
    from ..tensor import Tensor
    data = array._data if isinstance(array, Tensor) else array
    if not isinstance(data, np.ndarray) or not data.flags.c_contiguous or not data.flags.writeable:
        flags = (f" (contiguous: {data.flags.c_contiguous}, writeable: {data.flags.writeable})"
                 if isinstance(data, np.ndarray) else "")
        raise TypeError(f"{name} must be a C-contiguous, writeable NumPy array or Tensor, got {type(array).__name__}"
                        + flags)
    if data.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {data.dtype}")
    return data


REDUCTIONS = {"sum": "SUM", "mean": "SUM", "max": "MAX", "min": "MIN"}  # all_reduce's op -> MPI's


def all_reduce(array: Any, op: str = "sum") -> None:
    """Combine ``array`` (an ndarray or Tensor, of the same shape and dtype on every rank) over all
    ranks in place: ``op`` is 'sum', 'mean', 'max' or 'min'."""
    if op not in REDUCTIONS:
        raise ValueError(f"op must be one of {sorted(REDUCTIONS)}, got {op!r}")
    data = _buffer(array, "array")
    if op == "mean" and data.dtype.kind != "f":
        raise TypeError(f"op='mean' needs a floating-point array, got dtype {data.dtype}")
    comm = communicator()
    from mpi4py import MPI
    comm.Allreduce(MPI.IN_PLACE, data, op=getattr(MPI, REDUCTIONS[op]))
    if op == "mean":
        data /= comm.Get_size()
    _mark_modified(array)


def broadcast(array: Any, src: int = 0) -> None:
    """Overwrite ``array`` on every rank with rank ``src``'s, in place (same shape and dtype everywhere)."""
    check_rank("src", src)
    communicator().Bcast(_buffer(array, "array"), root=src)
    _mark_modified(array)


def check_rank(name: str, value: object) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is a rank of the world."""
    size = communicator().Get_size()
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
        raise ValueError(f"{name} must be a rank in [0, {size - 1}], got {value!r}")


def _mark_modified(array: Any) -> None:
    """A Tensor changed in place: a graph that saved it refuses to backpropagate (as after any in-place op)."""
    from ..autograd.engine import mark_modified
    from ..tensor import Tensor
    if isinstance(array, Tensor):
        mark_modified(array)


from .data_parallel import DistributedDataParallel, broadcast_parameters  # noqa: E402  (they use the above)
from .sharded import ShardedOptimizer  # noqa: E402
