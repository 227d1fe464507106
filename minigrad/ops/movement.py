"""Shapes and indexing: views, permutations, indexing with its scattering backward, and joining
tensors (``cat``, ``stack``), as functions of the input tensor(s), which the Tensor methods call."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..tensor import Tensor, _axes, _index, _node, _shape, _unwrap

if TYPE_CHECKING:
    from .._typing import Array, Dim, Index, TensorLike


def reshape(input: Tensor, *shape: int | Sequence[int]) -> Tensor:
    shape, in_shape = _shape(shape), input._data.shape
    try:
        out = input._data.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape: a tensor of shape {in_shape} ({input._data.size} elements) cannot be viewed "
                         f"as shape {shape}") from None
    return _node(out, (input,), lambda g: (g.reshape(in_shape),), "reshape")


def view(input: Tensor, *shape: int | Sequence[int]) -> Tensor:
    """``reshape`` that never copies: a tensor whose memory cannot take the new shape (a transposed
    matrix flattened) raises, as torch's ``view``, instead of returning a copy that writes would miss."""
    out = input.reshape(*shape)
    if out.numel() and not np.may_share_memory(out._data, input._data):  # a copy is a new buffer
        raise RuntimeError(f"view size is not compatible with input tensor's size and stride (shape {input.shape}, "
                           f"strides {input._data.strides}); use .reshape(...) instead")
    return out


def view_as(input: Tensor, other: Tensor) -> Tensor:
    return view(input, other.shape)


def permute(input: Tensor, *dims: int | Sequence[int]) -> Tensor:
    dims = _shape(dims)
    if sorted(d % input.ndim for d in dims) != list(range(input.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {input.ndim} dims of shape {input.shape}")
    inverse = np.argsort([d % input.ndim for d in dims])
    return _node(input._data.transpose(dims), (input,), lambda g: (g.transpose(inverse),), "permute")


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    dims = list(range(input.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return input.permute(dims)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    if not -input.ndim - 1 <= dim <= input.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-input.ndim - 1}, {input.ndim}], "
                         f"but got {dim})")
    shape = list(input.shape)
    shape.insert(dim if dim >= 0 else dim + input.ndim + 1, 1)
    return input.reshape(shape)


def squeeze(input: Tensor, dim: Dim = None) -> Tensor:
    axes = [a for a in _axes(dim, input.ndim) if input.shape[a] == 1]
    return input.reshape([n for a, n in enumerate(input.shape) if a not in axes])


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if input.ndim == 0:
        return input.reshape(1)
    start, end = start_dim % input.ndim, end_dim % input.ndim
    return input.reshape(input.shape[:start] + (-1,) + input.shape[end + 1:])


def expand(input: Tensor, *sizes: int | Sequence[int]) -> Tensor:
    """A broadcast view to ``sizes`` (-1 keeps a dim); backward sums back like any broadcast."""
    sizes = _shape(sizes)
    lead = len(sizes) - input.ndim
    shape = tuple(input.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    try:
        out = np.broadcast_to(input._data, shape)
    except ValueError:
        raise ValueError(f"expand: a tensor of shape {input.shape} cannot be expanded to {sizes}") from None
    return _node(out, (input,), lambda g: (g,), "expand")


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return input.expand(other.shape)



def gather(input: Tensor, dim: int, index: Tensor | Array) -> Tensor:
    """torch.gather: ``out[i][j] = input[index[i][j]][j]`` for dim 0 (and so on)."""
    index = _unwrap(index)
    if index.ndim != input.ndim:
        raise ValueError(f"gather: index has {index.ndim} dims, the tensor {input.ndim} (shape {input.shape})")
    full: list[Array] = list(np.indices(index.shape, sparse=True))
    full[_axes(dim, input.ndim)[0]] = index
    return input[tuple(full)]


def split(input: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Views along ``dim``: pieces of ``split_size`` (the last may be smaller), or of the listed sizes."""
    axis = _axes(dim, input.ndim)[0]
    n = input.shape[axis]
    sizes = split_size_or_sections
    if isinstance(sizes, int):
        if sizes <= 0:
            raise ValueError(f"split: split_size must be positive, got {sizes}")
        sizes = [sizes] * (n // sizes) + ([n % sizes] if n % sizes else [])
    if sum(sizes) != n:
        raise ValueError(f"split: sizes {list(sizes)} do not add up to dim {dim}'s length {n} (shape {input.shape})")
    starts = np.cumsum([0, *sizes])
    return tuple(input[(slice(None),) * axis + (slice(a, b),)] for a, b in zip(starts[:-1], starts[1:]))


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    return input.split(max(1, math.ceil(input.shape[_axes(dim, input.ndim)[0]] / chunks)), dim)


def getitem(input: Tensor, index: Index) -> Tensor:
    """NumPy indexing; the backward scatters, adding up repeated advanced indices."""
    index = _index(index)
    shape = input._data.shape
    basic = all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))
                for i in (index if isinstance(index, tuple) else (index,)))

    def backward(g: Array) -> tuple[Array]:
        gx = np.zeros(shape, g.dtype)
        if basic:
            gx[index] = g
        else:
            np.add.at(gx, index, g)
        return (gx,)
    return _node(input._data[index], (input,), backward, "index")


def cat(tensors: Sequence[TensorLike], dim: int = 0) -> Tensor:
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    axis = _axes(dim, tensors[0].ndim)[0]
    try:
        out = np.concatenate([t._data for t in tensors], axis)
    except ValueError:
        raise ValueError(f"cat: shapes {[t.shape for t in tensors]} differ outside dim {dim}") from None
    bounds = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    return _node(out, tuple(tensors), lambda g: np.split(g, bounds, axis), "cat")


def stack(tensors: Sequence[TensorLike], dim: int = 0) -> Tensor:
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if len({t.shape for t in tensors}) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def repeat(input: Tensor, *sizes: int | Sequence[int]) -> Tensor:
    """Tile the tensor ``sizes[d]`` times along each dim (leading new dims for extra sizes), as torch's
    ``repeat``; the backward sums the copies."""
    reps = _shape(sizes)
    if len(reps) < input.ndim:
        raise ValueError(f"repeat: the number of repeats ({len(reps)}) can not be smaller than the number of dims "
                         f"of the tensor ({input.ndim})")
    shape = (1,) * (len(reps) - input.ndim) + input.shape
    out = np.tile(input._data.reshape(shape), reps)

    def backward(g: Array) -> tuple[Array]:
        pairs = [n for r, s in zip(reps, shape) for n in (r, s)]
        return (g.reshape(pairs).sum(tuple(range(0, len(pairs), 2))).reshape(input.shape),)
    return _node(out, (input,), backward, "repeat")


def t(input: Tensor) -> Tensor:
    """The transpose of a matrix (a tensor of at most 2 dims is returned as it is for 0-D and 1-D)."""
    if input.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return input if input.ndim < 2 else input.transpose(0, 1)
