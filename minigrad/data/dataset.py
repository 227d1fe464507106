"""Map-style datasets, splitting them, and collating samples into batches of minigrad Tensors."""
from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, Protocol, Sequence, TypeVar

import numpy as np

from ..tensor import Tensor
from .sampler import permutation

if TYPE_CHECKING:
    from .._typing import Array, TensorLike

    S = TypeVar("S", bound=Sequence[Any])  # a tuple, list or namedtuple

    class MapDataset(Protocol):
        """What DataLoader, Subset and random_split take: a Dataset, or any object (a list) with
        ``len(ds)`` samples, ``ds[i]`` for ``0 <= i < len(ds)``."""
        def __len__(self) -> int: ...
        def __getitem__(self, index: int, /) -> Any: ...


def _array(x: TensorLike) -> Array:
    """The ndarray behind ``x``: ``x`` itself, a Tensor's array, or ``np.asarray(x)``."""
    if isinstance(x, np.ndarray):
        return x
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def _rng(seed: int | None, generator: np.random.Generator | None) -> np.random.Generator | None:
    """``generator``, else a new ``np.random.default_rng(seed)``, else None (minigrad's global one)."""
    if seed is not None and generator is not None:
        raise ValueError("pass seed or generator, not both")
    return np.random.default_rng(seed) if seed is not None else generator




def _rebuild(like: S, items: list[Any]) -> S:
    """A tuple/list/namedtuple of the same type as ``like`` holding ``items``."""
    return type(like)(*items) if hasattr(like, "_fields") else type(like)(items)  # type: ignore[call-arg]


def stack_samples(samples: Sequence[Any]) -> Any:
    """Stack a list of samples into one batch of arrays, along a new first axis.

    Arrays, Tensors and numbers are stacked (Python ints become int64, floats float64); tuples,
    lists and dicts are stacked field by field; strings are kept as a list.
    """
    first = samples[0]
    if isinstance(first, (str, bytes)):
        return list(samples)
    if isinstance(first, dict):
        return {key: stack_samples([s[key] for s in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError("every sample in a batch must have the same number of fields")
        return _rebuild(first, [stack_samples(list(field)) for field in zip(*samples)])
    batch = np.stack([_array(s) for s in samples])
    if batch.dtype.kind not in "biuf":
        raise TypeError(f"cannot batch samples of type {type(first).__name__}: expected arrays, numbers, "
                        "str, or tuples/lists/dicts of them")
    return batch


def to_tensors(batch: Any) -> Any:
    """``batch`` with every ndarray wrapped in a minigrad Tensor (tuples, lists and dicts recursed)."""
    if isinstance(batch, np.ndarray):
        return Tensor(batch)
    if isinstance(batch, dict):
        return {key: to_tensors(value) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        return _rebuild(batch, [to_tensors(x) for x in batch])
    return batch


def default_collate(samples: Sequence[Any]) -> Any:
    """The DataLoader's default ``collate_fn``: ``stack_samples``, then arrays become Tensors."""
    return to_tensors(stack_samples(samples))


def default_convert(sample: Any) -> Any:
    """The DataLoader's ``collate_fn`` when ``batch_size=None`` (no batching), as torch's: arrays and
    NumPy scalars become Tensors, tuples/lists/dicts are recursed, anything else is kept."""
    if isinstance(sample, np.generic) and sample.dtype.kind in "biuf":
        return Tensor(np.asarray(sample))
    if isinstance(sample, np.ndarray):
        return Tensor(sample) if sample.dtype.kind in "biuf" else sample
    if isinstance(sample, dict):
        return {key: default_convert(value) for key, value in sample.items()}
    if isinstance(sample, (tuple, list)):
        return _rebuild(sample, [default_convert(x) for x in sample])
    return sample


class Dataset:
    """A map-style dataset: ``len(ds)`` samples, ``ds[i]`` for ``0 <= i < len(ds)``.

    ``get_batch(indices)`` returns the samples at ``indices`` already stacked (as arrays, the
    form ``stack_samples`` gives); override it when a batch can be fetched in one go.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def get_batch(self, indices: Sequence[int] | Array) -> Any:
        return stack_samples([self[int(i)] for i in indices])


class TensorDataset(Dataset):
    """Sample ``i`` is ``(a[i], b[i], ...)`` for equally long arrays (or Tensors) ``a, b, ...``;
    a batch is one fancy-index per array."""

    def __init__(self, *arrays: TensorLike) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(_array(a) for a in arrays)
        if any(a.ndim == 0 or len(a) != len(self.arrays[0]) for a in self.arrays):
            raise ValueError(f"arrays must share their first dimension, got shapes {[a.shape for a in self.arrays]}")

    def __getitem__(self, index: int) -> tuple[Array, ...]:
        return tuple(a[index] for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def get_batch(self, indices: Sequence[int] | Array) -> tuple[Array, ...]:
        return tuple(a[indices] for a in self.arrays)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: MapDataset, indices: Sequence[int] | Array) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return len(self.indices)

    def get_batch(self, indices: Sequence[int] | Array) -> Any:
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(self.indices[indices])
        return super().get_batch(indices)


def random_split(dataset: MapDataset, lengths: Sequence[float], seed: int | None = None,
                 generator: np.random.Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1: then each gets
    ``floor(n · fraction)`` and the remainder is dealt one by one from the first split on (as torch).
    The permutation comes from ``generator``, ``np.random.default_rng(seed)``, or minigrad's global
    generator.
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        counts = [math.floor(n * fraction) for fraction in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                              stacklevel=2)
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(f"Sum of input lengths ({sum(lengths)}) does not equal the length of the input dataset ({n})")
    order = permutation(_rng(seed, generator), n)
    ends = np.cumsum(lengths)
    return [Subset(dataset, order[end - length:end]) for end, length in zip(ends, lengths)]
