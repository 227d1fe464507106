"""DataLoader: ``torch.utils.data.DataLoader``'s arguments and semantics, batches as minigrad Tensors.

With ``num_workers > 0`` batches are fetched in worker processes started with "forkserver" (or
"spawn" where there is none; plain fork is unsafe once OpenMP's thread pool runs), which import
the dataset's class: define it in a module, not in an interactive session. The main process
iterates the sampler and sends each worker lists of indices; a worker fetches and collates, and with
the default collate sends back NumPy arrays, which the main process wraps in Tensors.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.context
import pickle
import queue
import random
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import numpy as np

from .dataset import _rng, default_collate, default_convert, stack_samples, to_tensors
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, check_generator, random_seed

if TYPE_CHECKING:
    from .dataset import MapDataset

_POLL = 0.1  # seconds between liveness checks: of the workers (main side), of the main process (worker side)
_JOIN = 1.0  # seconds a worker gets to exit after being told to, before it is terminated


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns in a worker: its ``id``, ``num_workers``, its ``seed``
    (``base_seed + id``) and its copy of the ``dataset``."""
    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process: this worker's ``WorkerInfo``; None in the main process."""
    return _worker_info


class _KeyErrorMessage(str):
    def __repr__(self) -> str:  # KeyError shows repr(message): keep the traceback's newlines readable
        return str(self)


class _WorkerError:
    """An exception raised in a worker, with its traceback as text, to re-raise in the main process."""

    def __init__(self, worker_id: int) -> None:
        exc_type, exc, tb = sys.exc_info()
        assert exc_type is not None
        try:
            pickle.loads(pickle.dumps(exc_type))
            self.exc_type: type[BaseException] = exc_type
        except Exception:  # a class the main process could not import
            self.exc_type = RuntimeError
        self.message = (f"Caught {exc_type.__name__} in DataLoader worker process {worker_id}.\nOriginal "
                        + "".join(traceback.format_exception(exc_type, exc, tb)))

    def reraise(self) -> None:
        message = _KeyErrorMessage(self.message) if self.exc_type is KeyError else self.message
        try:
            error = self.exc_type(message)
        except Exception:
            raise RuntimeError(self.message) from None
        raise error


def _fetch(dataset: Any, indices: Any, auto: bool, collate_fn: Callable[[Any], Any] | None) -> Any:
    """One batch (or, when ``auto`` is False, one sample) as a worker sends it: with the default
    collate (``collate_fn`` None) still arrays, which ``_finish`` wraps."""
    if not auto:
        sample = dataset[indices]
        return sample if collate_fn is None else collate_fn(sample)
    if collate_fn is None:
        if hasattr(dataset, "get_batch"):  # one fancy-index per array for a TensorDataset
            return dataset.get_batch(indices)
        return stack_samples([dataset[i] for i in indices])
    return collate_fn([dataset[i] for i in indices])


def _finish(batch: Any, auto: bool, collate_fn: Callable[[Any], Any] | None) -> Any:
    if collate_fn is not None:
        return batch
    return to_tensors(batch) if auto else default_convert(batch)


def _worker_loop(dataset: Any, auto: bool, collate_fn: Callable[[Any], Any] | None, index_queue: Any,
                 data_queue: Any, epoch: Any, base_seed: int, worker_id: int, num_workers: int,
                 worker_init_fn: Callable[[int], None] | None) -> None:
    """A worker: seed as torch does, call ``worker_init_fn``, then fetch ``(epoch, i, indices)`` tasks
    until None, sending back ``(epoch, i, pickled batch or _WorkerError)``."""
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    seed = base_seed + worker_id
    random.seed(seed)
    import minigrad
    minigrad.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([base_seed, worker_id]).generate_state(4))
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init_error = None
    if worker_init_fn is not None:
        try:
            worker_init_fn(worker_id)
        except Exception:
            init_error = _WorkerError(worker_id)
    parent = multiprocessing.parent_process()
    while True:
        try:
            task = index_queue.get(timeout=_POLL)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                break
            continue
        if task is None:
            break
        task_epoch, i, indices = task
        if task_epoch != epoch.value:  # a stale task: the main process moved on (or is shutting down)
            continue
        payload: Any
        if init_error is not None:  # a worker whose worker_init_fn failed serves only that error
            payload = init_error
        else:
            try:
                payload = pickle.dumps(_fetch(dataset, indices, auto, collate_fn), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:
                payload = _WorkerError(worker_id)
        data_queue.put((task_epoch, i, payload))
    data_queue.cancel_join_thread()  # whatever is still unsent is no longer wanted
    data_queue.close()


def _default_context() -> multiprocessing.context.BaseContext:
    """"forkserver", its server preloading minigrad (workers then start in milliseconds, not a
    fresh import each), or "spawn" where there is no forkserver (Windows)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    import multiprocessing.forkserver as forkserver
    preload = getattr(getattr(forkserver, "_forkserver", None), "_preload_modules", None)
    if isinstance(preload, list) and "minigrad" not in preload:  # no effect once the server runs
        context.set_forkserver_preload([*preload, "minigrad"])
    return context


class _SingleProcessIter:
    """``iter(loader)`` with ``num_workers=0``: fetch in this process."""

    def __init__(self, loader: DataLoader) -> None:
        self._dataset, self._mode = loader.dataset, loader._mode()
        self._index_sampler = loader._index_sampler
        self._indices = iter(self._index_sampler)

    def __iter__(self) -> _SingleProcessIter:
        return self

    def __len__(self) -> int:
        return len(self._index_sampler)  # type: ignore[arg-type]

    def __next__(self) -> Any:
        indices = next(self._indices)
        return _finish(_fetch(self._dataset, indices, *self._mode), *self._mode)


class _WorkerIter:
    """``iter(loader)`` with workers: keeps ``prefetch_factor * num_workers`` tasks out, dealt to
    the workers in turn, and yields the results in the sampler's order (or as they come, without
    ``in_order``). With ``persistent_workers`` the loader keeps it and ``_reset`` starts each pass."""

    def __init__(self, loader: DataLoader) -> None:
        ctx: Any = loader.multiprocessing_context or _default_context()
        n = self._num_workers = loader.num_workers
        self._closed = False
        self._workers: list[Any] = []
        self._index_queues = [ctx.Queue() for _ in range(n)]
        self._data_queue = ctx.Queue()
        self._epoch = ctx.Value("q", -1, lock=False)
        self._persistent, self._timeout, self._in_order = loader.persistent_workers, loader.timeout, loader.in_order
        self._mode = loader._mode()
        self._prefetch = max(1, int(loader.prefetch_factor or 2) * n)
        self._reset(loader)  # draws the first pass's order before the seed, so it equals num_workers=0's
        base_seed = random_seed(loader.generator)
        try:
            for worker_id in range(n):
                worker = ctx.Process(target=_worker_loop, daemon=True,
                                     args=(loader.dataset, self._mode[0], self._mode[1], self._index_queues[worker_id],
                                           self._data_queue, self._epoch, base_seed, worker_id, n,
                                           loader.worker_init_fn))
                worker.start()
                self._workers.append(worker)
        except BaseException:
            self._shutdown()
            raise

    def _reset(self, loader: DataLoader) -> None:
        self._index_sampler = loader._index_sampler
        self._batches = iter(self._index_sampler)
        self._epoch.value += 1
        self._sent = self._received = 0
        self._results: dict[int, Any] = {}
        self._exhausted = False
        for _ in range(self._prefetch):
            self._send()

    def _send(self) -> None:
        if self._exhausted:
            return
        try:
            indices = next(self._batches)
        except StopIteration:
            self._exhausted = True
            return
        self._index_queues[self._sent % self._num_workers].put((self._epoch.value, self._sent, indices))
        self._sent += 1

    def __iter__(self) -> _WorkerIter:
        return self

    def __len__(self) -> int:
        return len(self._index_sampler)  # type: ignore[arg-type]

    def __next__(self) -> Any:
        if self._closed:
            raise StopIteration
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            if self._received == self._sent:  # nothing out, and the sampler is exhausted
                if not self._persistent:
                    self._shutdown()
                raise StopIteration
            if self._in_order and self._received in self._results:
                payload = self._results.pop(self._received)
                break
            if not self._in_order and self._results:
                payload = self._results.pop(next(iter(self._results)))
                break
            self._receive(deadline)
        self._received += 1
        self._send()
        if isinstance(payload, _WorkerError):
            payload.reraise()
        return _finish(pickle.loads(payload), *self._mode)

    def _receive(self, deadline: float | None) -> None:
        """Wait for one result of this pass; RuntimeError if a worker died or ``timeout`` ran out."""
        while True:
            wait = _POLL if deadline is None else max(0.0, min(_POLL, deadline - time.monotonic()))
            try:
                epoch, i, payload = self._data_queue.get(timeout=wait)
            except queue.Empty:
                self._check_workers()
                if deadline is not None and time.monotonic() >= deadline:
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds") from None
                continue
            if epoch == self._epoch.value:
                self._results[i] = payload
                return

    def _check_workers(self) -> None:
        for worker_id, worker in enumerate(self._workers):
            code = worker.exitcode
            if code is not None:
                how = f"was killed by signal {signal.Signals(-code).name}" if code < 0 and -code in \
                    signal.valid_signals() else "exited unexpectedly"
                self._shutdown()
                raise RuntimeError(f"DataLoader worker {worker_id} (pid {worker.pid}) {how} with exit code {code}")

    def _shutdown(self) -> None:
        """Stop the workers (terminating any that do not exit within ``_JOIN`` seconds) and the queues."""
        if self._closed:
            return
        self._closed = True
        self._epoch.value = -1  # workers skip the tasks still queued
        for index_queue in self._index_queues:
            try:
                index_queue.put(None)
            except Exception:
                pass
        deadline = time.monotonic() + _JOIN
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.terminate()
                worker.join()
        for q in [*self._index_queues, self._data_queue]:
            q.cancel_join_thread()
            q.close()

    def __del__(self) -> None:
        if hasattr(self, "_closed"):
            self._shutdown()


class DataLoader:
    """Iterate over ``dataset`` in batches, as torch's DataLoader; a batch is
    ``collate_fn([dataset[i] for i in indices])`` for each list of indices the batch sampler gives.

    Samplers: ``shuffle=True`` is ``RandomSampler(dataset, generator=generator)`` (a new
    permutation per pass), else ``SequentialSampler``; a ``sampler`` replaces them; ``BatchSampler(
    sampler, batch_size, drop_last)`` groups, or ``batch_sampler`` replaces it (then batch_size,
    shuffle, sampler and drop_last must be left at their defaults). ``batch_size=None`` turns batching
    off: each item is ``collate_fn(dataset[i])``, by default ``default_convert``.
    ``collate_fn`` None is ``default_collate`` (arrays stacked into Tensors); with it, a dataset's
    ``get_batch(indices)`` fetches a batch at once (one fancy-index for a ``TensorDataset``).

    ``num_workers > 0`` fetches in that many processes (``multiprocessing_context``: a start method
    or context, default "forkserver"/"spawn"), ``prefetch_factor`` (default 2) batches ahead each;
    results come in the sampler's order (as they arrive if ``in_order=False``). Each pass draws a
    ``base_seed`` from ``generator`` (else minigrad's global generator) and worker ``k`` seeds
    ``random``, NumPy's and minigrad's global generators from ``base_seed + k``, then calls
    ``worker_init_fn(k)``; ``get_worker_info()`` describes the worker. ``persistent_workers`` keeps
    the workers (and their seeds) across passes. A worker's exception is re-raised here with its
    traceback; a dead worker, or no batch within ``timeout`` seconds (if > 0), is a RuntimeError.
    The dataset, collate_fn and worker_init_fn must be picklable (module-level) for workers.

    ``pin_memory`` and ``pin_memory_device`` are accepted and do nothing: minigrad is CPU-only.
    ``seed`` (minigrad's own) shuffles from ``np.random.default_rng(seed)``; ``generator`` is a
    ``np.random.Generator`` or anything with its ``permutation``/``integers`` methods.
    """

    _frozen = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")

    def __init__(self, dataset: MapDataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler[Any] | Iterable[Any] | None = None,
                 batch_sampler: Sampler[Any] | Iterable[Any] | None = None, num_workers: int = 0,
                 collate_fn: Callable[[Any], Any] | None = None, pin_memory: bool = False, drop_last: bool = False,
                 timeout: float = 0, worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: str | multiprocessing.context.BaseContext | None = None,
                 generator: Any = None, *, prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True, seed: int | None = None) -> None:
        self._initialized = False
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)):
            raise TypeError(f"num_workers should be an int, but got num_workers={num_workers!r}")
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout should be a number of seconds, but got timeout={timeout!r}")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        elif num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                       or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        generator = check_generator(_rng(seed, generator))
        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and "
                                 "drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, int(batch_size), bool(drop_last))
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._iterator: _WorkerIter | None = None
        self._initialized = True

    @property
    def multiprocessing_context(self) -> multiprocessing.context.BaseContext | None:
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context: str | multiprocessing.context.BaseContext | None) -> None:
        if context is not None:
            if self.num_workers == 0:
                raise ValueError("multiprocessing_context can only be used with multi-process loading "
                                 f"(num_workers > 0), but got num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"multiprocessing_context option should specify a valid start method in "
                                     f"{methods!r}, but got multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError("multiprocessing_context option should be a valid context object or a string "
                                f"specifying the start method, but got multiprocessing_context={context}")
        self._multiprocessing_context = context

    def __setattr__(self, name: str, value: Any) -> None:
        if name in DataLoader._frozen and getattr(self, "_initialized", False):
            raise ValueError(f"{name} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Iterable[Any]:
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def _mode(self) -> tuple[bool, Callable[[Any], Any] | None]:
        """(batching?, the collate_fn to run, None for the built-in one: arrays there, Tensors here)."""
        builtin = self.collate_fn is (default_collate if self._auto_collation else default_convert)
        return self._auto_collation, None if builtin else self.collate_fn

    def __len__(self) -> int:
        return len(self._index_sampler)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Any]:
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            return _WorkerIter(self)
        if self._iterator is None or self._iterator._closed:
            self._iterator = _WorkerIter(self)
        else:
            self._iterator._reset(self)
        return self._iterator
