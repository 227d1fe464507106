"""Shapes and indexing: views, permutations, indexing with its scattering backward, and joining
tensors (``cat``, ``stack``), as functions of the input tensor(s), which the Tensor methods call."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from ..tensor import Tensor, _axes, _index, _node, _shape, _unwrap

if TYPE_CHECKING:
    from .._typing import Array, Dim, Index, Scalar, TensorLike


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
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    shape = (1,) * (len(reps) - input.ndim) + input.shape
    if min(reps, default=0) < 0:
        sizes = [r * n for r, n in zip(reps, shape)]
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: {sizes}")
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


def flip(input: Tensor, dims: Sequence[int]) -> Tensor:
    """The tensor reversed along each of ``dims``: ``out[i] = x[n − 1 − i]``; the backward flips g back."""
    if isinstance(dims, int):
        raise TypeError("flip(): argument 'dims' (position 2) must be tuple of ints, not int")
    axes = _axes(dims, input.ndim)
    axes = axes if input.ndim else ()  # a 0-d tensor takes dim 0 or -1, which change nothing
    return _node(np.flip(input._data, axes), (input,), lambda g: (np.flip(g, axes),), "flip")


def roll(input: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
    """Rotate by ``shifts[k]`` along ``dims[k]`` (``out[(i + s) % n] = x[i]``); without ``dims`` the flattened
    tensor is rolled and reshaped. The backward rolls g by −shifts."""
    shift = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dim = () if dims is None else (dims,) if isinstance(dims, int) else tuple(dims)
    if not shift:
        raise RuntimeError("`shifts` required")
    if len(shift) != len(dim) and not (dims is None and len(shift) == 1):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shift)}, dims:{len(dim)}")
    if dim and input.ndim == 0:
        raise IndexError(f"Dimension specified as {dim[0]} but tensor has no dimensions")
    axes = tuple(_axes(d, input.ndim)[0] for d in dim) or None  # one by one: a dim may repeat
    back = tuple(-s for s in shift)
    return _node(np.roll(input._data, shift, axes), (input,), lambda g: (np.roll(g, back, axes),), "roll")


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the matrices in the last two dims: ``x[..., i, j]`` where ``j − i <= diagonal``,
    else 0 (batched over the leading dims); the backward keeps the same triangle of g."""
    return _triangle(input, diagonal, np.tril, "tril")


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the matrices in the last two dims: ``x[..., i, j]`` where ``j − i >= diagonal``,
    else 0 (batched over the leading dims); the backward keeps the same triangle of g."""
    return _triangle(input, diagonal, np.triu, "triu")


def _triangle(input: Tensor, diagonal: int, part: Callable[[Array, int], Array], name: str) -> Tensor:
    if input.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    return _node(part(input._data, diagonal), (input,), lambda g: (part(g, diagonal),), name)


# ---- index-based ops: gather and its adjoints ------------------------------------------------------------
def gather(input: Tensor, dim: int, index: TensorLike) -> Tensor:
    """``out[i][j] = x[index[i][j]][j]`` for dim 0 (and so on); the backward adds g at those positions."""
    where = _gather_positions("gather", input, dim, index)
    out, shape = _at_least_1d(input)[where], np.shape(_unwrap(index))
    return out if out.shape == shape else out.reshape(shape)


def scatter(input: Tensor, dim: int, index: TensorLike, src: Tensor | Scalar | None = None, *,
            value: Scalar | None = None) -> Tensor:
    """``input`` with ``out[index[i][j]][j] = src[i][j]`` for dim 0 (and so on), or ``= value``. The gradient of
    ``input`` is g with the written positions zeroed; that of ``src`` is g gathered at ``index``."""
    fill = value if src is None else src
    if fill is None:
        raise TypeError("scatter() missing the 'src' or 'value' argument")
    return _scatter("scatter", input, dim, index, fill)


def scatter_add(input: Tensor, dim: int, index: TensorLike, src: Tensor) -> Tensor:
    """``input`` with ``out[index[i][j]][j] += src[i][j]`` for dim 0 (and so on; repeated positions add up). The
    gradient of ``input`` is g; that of ``src`` is g gathered at ``index``."""
    return _scatter("scatter_add", input, dim, index, src)


def _scatter(name: str, input: Tensor, dim: int, index: TensorLike, src: Tensor | Scalar) -> Tensor:
    source = src if isinstance(src, Tensor) else None
    where = _gather_positions(name, input, dim, index, source)
    x = _at_least_1d(input)._data
    out = x.copy()
    if source is None:
        out[where] = src
        return _node(out.reshape(input.shape), (input,),
                     lambda g: (_zero_at(g.reshape(x.shape), where).reshape(input.shape),), name)
    if source.dtype != input.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    src_shape = source.shape or (1,)
    corner = tuple(slice(n) for n in np.broadcast(*where).shape)  # the part of src that index covers
    part = source._data.reshape(src_shape)[corner]
    if name == "scatter_add":
        np.add.at(out, where, part)
    else:
        out[where] = part

    def backward(g: Array) -> tuple[Array, Array]:
        g = g.reshape(x.shape)
        gsrc = np.zeros(src_shape, g.dtype)
        gsrc[corner] = g[where]
        return (g if name == "scatter_add" else _zero_at(g, where)).reshape(input.shape), gsrc.reshape(source.shape)
    return _node(out.reshape(input.shape), (input, source), backward, name)


def sum_rows(rows: Array, values: Array) -> tuple[Array, Array]:
    """The distinct ``rows`` (int ≥ 0, 1-D) in increasing order and, for each, the sum along axis 0 of the
    ``values`` at its positions: np.unique with np.add.at's sums, ~5× faster (a stable sort, then one
    add.reduceat over the runs of equal rows)."""
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    if not len(ordered):
        return ordered, values[:0]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return ordered[starts], np.add.reduceat(values[order], starts, axis=0)


def add_rows(out: Array, rows: Array, values: Array) -> None:
    """``out[rows[i]] += values[i]`` for every i, in place, repeated rows adding up (np.add.at's result)."""
    distinct, sums = sum_rows(rows, values)
    out[distinct] += sums


def index_select(input: Tensor, dim: int, index: TensorLike) -> Tensor:
    """The slices of ``input`` along ``dim`` at the positions in the vector ``index`` (repeats allowed);
    the backward adds g back at those positions (index_add)."""
    axis = _axes(dim, input.ndim)[0]
    index = np.asarray(_unwrap(index))
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if index.dtype not in (np.int32, np.int64):
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    if input.ndim == 0 and index.size != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got {index.size} value(s)")
    x, index = np.atleast_1d(input._data), index.reshape(-1)
    if ((index < 0) | (index >= x.shape[axis])).any():
        raise IndexError("index out of range in self")

    def backward(g: Array) -> tuple[Array]:
        gx = np.zeros(x.shape, g.dtype)
        g = g.reshape(gx.shape[:axis] + (-1,) + gx.shape[axis + 1:])
        add_rows(np.moveaxis(gx, axis, 0), index, np.moveaxis(g, axis, 0))  # a view: adds into gx
        return (gx.reshape(input.shape),)
    out = np.take(x, index, axis)
    return _node(out.reshape(input.shape) if input.ndim == 0 else out, (input,), backward, "index_select")


def _gather_positions(name: str, input: Tensor, dim: int, index: TensorLike,
                      src: Tensor | None = None) -> tuple[Array, ...]:
    """torch's checks of gather's / scatter's ``index``, then the positions it names as a NumPy index: along ``dim``
    the index's values, along the other dims its own coordinates. A 0-d tensor counts as 1-d, as in torch."""
    axis = _axes(dim, input.ndim)[0]
    index = np.asarray(_unwrap(index))
    if index.size == 0:  # nothing to read or write: torch checks nothing more
        return (np.zeros((0,) * max(input.ndim, 1), np.int64),) * max(input.ndim, 1)
    if index.dtype not in (np.int32, np.int64):
        raise RuntimeError(f"{name.partition('_')[0]}(): Expected dtype int32/int64 for index")
    if max(index.ndim, 1) != max(input.ndim, 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as "
                           f"{'input' if name == 'gather' else 'self'} tensor")
    if src is not None and max(src.ndim, 1) != max(index.ndim, 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    shape, index = input.shape or (1,), index.reshape(index.shape or (1,))
    sizes: tuple[int, ...] = index.shape
    larger = [d for d, n in enumerate(sizes) if d != axis and n > shape[d]]
    if name == "gather" and larger:
        raise RuntimeError(f"Size does not match at dimension {larger[0]} expected index {list(sizes)} to be "
                           f"no larger than self {list(input.shape)} apart from dimension {axis}")
    beyond_src = src is not None and any(n > m for n, m in zip(sizes, src.shape or (1,)))
    if name != "gather" and (larger or beyond_src):
        and_src = "" if src is None else f" and to be no larger size than src {list(src.shape)}"
        raise RuntimeError(f"Expected index {list(sizes)} to be no larger than self {list(input.shape)} apart "
                           f"from dimension {axis}{and_src}")
    outside = (index < 0) | (index >= shape[axis])
    if outside.any():
        raise RuntimeError(f"index {index[outside][0]} is out of bounds for dimension {axis} with size {shape[axis]}")
    where: list[Array] = list(np.indices(index.shape, sparse=True))
    where[axis] = index
    return tuple(where)


def _at_least_1d(input: Tensor) -> Tensor:
    return input if input.ndim else input.reshape(1)


def _zero_at(g: Array, where: tuple[Array, ...]) -> Array:
    """``g`` with the positions ``where`` set to 0 (a copy)."""
    g = g.copy()
    g[where] = 0
    return g
