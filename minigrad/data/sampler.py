"""Samplers: which dataset indices a DataLoader fetches, in which order, as in ``torch.utils.data``.

A ``generator`` here is a ``np.random.Generator`` or any object with its ``permutation`` and
``integers`` methods; None means minigrad's global generator (``manual_seed`` makes it reproducible).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Iterable, Iterator, Sequence, Sized, TypeVar

import numpy as np

from ..random import default_generator

if TYPE_CHECKING:
    from .._typing import Array

T_co = TypeVar("T_co", covariant=True)


def check_generator(generator: Any) -> Any:
    """``generator`` if it is None or looks like a ``np.random.Generator``, else a TypeError."""
    if generator is not None and not (hasattr(generator, "permutation") or hasattr(generator, "integers")):
        raise TypeError("generator should be a numpy.random.Generator (or have its permutation/integers methods), "
                        f"but got generator={generator!r}")
    return generator


def _gen(generator: Any) -> Any:
    """``generator``, or minigrad's global one."""
    return default_generator() if generator is None else generator


def permutation(generator: Any, n: int) -> Array:
    """A random permutation of ``range(n)`` (int64) from ``generator``, or minigrad's global one if None."""
    gen = _gen(generator)
    if hasattr(gen, "permutation"):
        return np.asarray(gen.permutation(n), dtype=np.int64)
    return np.random.default_rng(int(gen.integers(0, 2**63 - 1))).permutation(n)


def random_seed(generator: Any) -> int:
    """A seed in ``[0, 2**63 - 1)`` drawn from ``generator`` (minigrad's global one if None)."""
    gen = _gen(generator)
    if hasattr(gen, "integers"):
        return int(gen.integers(0, 2**63 - 1))
    return int.from_bytes(np.asarray(gen.permutation(256)[:8], dtype=np.uint8).tobytes(), "little") >> 1


class Sampler(Generic[T_co]):
    """Base class: ``iter(sampler)`` yields dataset indices (or, for a batch sampler, lists of them);
    ``len(sampler)``, when defined, is how many."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError


class _ArraySampler(Sampler[int]):
    """A sampler whose whole epoch is one index array (``_indices()``); BatchSampler slices it."""

    def _indices(self) -> Array:
        raise NotImplementedError

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())


class SequentialSampler(_ArraySampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _indices(self) -> Array:
        return np.arange(len(self.data_source))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(_ArraySampler):
    """Random indices of ``data_source``: a new permutation every pass, or with ``replacement``
    ``num_samples`` independent draws. ``num_samples`` (default ``len(data_source)``) above the
    length without replacement concatenates permutations, as torch."""

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Any = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = check_generator(generator)
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        n = self.num_samples
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={n}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _indices(self) -> Array:
        n, k = len(self.data_source), int(self.num_samples)
        if self.replacement:
            return np.asarray(_gen(self.generator).integers(0, n, size=k), dtype=np.int64)
        parts = [permutation(self.generator, n) for _ in range(k // n)]
        if k % n:
            parts.append(permutation(self.generator, n)[:k % n])
        return np.concatenate(parts) if len(parts) != 1 else parts[0]

    def __len__(self) -> int:
        return int(self.num_samples)


class SubsetRandomSampler(_ArraySampler):
    """The given ``indices`` in a new random order every pass."""

    def __init__(self, indices: Sequence[int] | Array, generator: Any = None) -> None:
        self.indices = indices
        self.generator = check_generator(generator)

    def _indices(self) -> Array:
        return np.asarray(self.indices)[permutation(self.generator, len(self.indices))]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(_ArraySampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights: Sequence[float] | Array, num_samples: int, replacement: bool = True,
                 generator: Any = None) -> None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        self.weights = np.asarray(weights, dtype=np.float64)
        if self.weights.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {self.weights.shape}")
        self.num_samples, self.replacement, self.generator = int(num_samples), replacement, check_generator(generator)

    def _indices(self) -> Array:
        gen = _gen(self.generator)
        if not hasattr(gen, "choice"):
            gen = np.random.default_rng(random_seed(gen))
        p = self.weights / self.weights.sum()
        return np.asarray(gen.choice(len(p), size=self.num_samples, replace=self.replacement, p=p), dtype=np.int64)

    def __len__(self) -> int:
        return self.num_samples


class DistributedSampler(_ArraySampler):
    """The part of ``dataset`` that replica ``rank`` of ``num_replicas`` (data-parallel processes)
    reads in an epoch, as ``torch.utils.data.DistributedSampler``: the epoch's order (shuffled by a
    generator seeded ``seed + epoch``, the same on every replica; ``set_epoch`` moves it on) is made
    a multiple of ``num_replicas`` long, by repeating its start or (``drop_last``) cutting its end,
    and replica ``rank`` takes every ``num_replicas``-th index from position ``rank``. The replicas
    read disjoint parts of equal length. ``num_replicas`` and ``rank`` default to the world of
    ``minigrad.distributed`` (its size and this process's rank)."""

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from .. import distributed
            if not distributed.is_initialized():
                raise RuntimeError("DistributedSampler: give num_replicas and rank, or call "
                                   "minigrad.distributed.init() first (under mpiexec) for the world's size and this process's rank")
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        for name, value in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} should be an integer, but got {name}={value!r}")
        if num_replicas < 1:
            raise ValueError(f"num_replicas should be a positive integer value, but got num_replicas={num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} should be a boolean value, but got {name}={flag!r}")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, int(seed), drop_last, 0
        n = len(dataset)  # per replica: the remainder dropped, or the last round filled (ceil)
        self.num_samples = n // self.num_replicas if drop_last else -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Shuffle the next epochs with ``seed + epoch`` (call it before each epoch's loop, on every replica)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)):
            raise TypeError(f"epoch should be an integer, but got epoch={epoch!r}")
        self.epoch = int(epoch)

    def _indices(self) -> Array:
        n = len(self.dataset)
        order = np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle else np.arange(n)
        if self.total_size > n:  # repeat the order from its start (several times over for a tiny dataset)
            order = np.resize(order, self.total_size)
        return order[:self.total_size][self.rank::self.num_replicas]

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Group the indices of ``sampler`` into lists of ``batch_size``; ``drop_last`` drops a final
    shorter one."""

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), drop_last

    def __iter__(self) -> Iterator[list[int]]:
        size = self.batch_size
        if type(self.sampler) in (SequentialSampler, RandomSampler, SubsetRandomSampler, WeightedRandomSampler):
            indices = self.sampler._indices()  # type: ignore[union-attr]  # one array, sliced: no loop per sample
            stop = len(indices) - len(indices) % size if self.drop_last else len(indices)
            for start in range(0, stop, size):
                yield indices[start:start + size].tolist()
            return
        batch: list[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
