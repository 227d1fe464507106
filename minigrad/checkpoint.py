"""Checkpoints: ``save(obj, f)`` and ``load(f)``, torch's ``torch.save``/``torch.load`` without pickle.

``f`` is a path or a binary file object (``save`` calls its ``write``, ``load`` reads all its ``read``
gives). ``obj`` is a tree of dicts, lists and tuples whose leaves are Python ``None``/``bool``/``int``/
``float``/``str``, NumPy arrays and scalars of bool, (u)int8-64 or float16/32/64, and minigrad
Tensors and Parameters. Dict keys may be ``None``, bool,
int, float, str, NumPy scalars, or tuples of these (optimizer state dicts key parameters by int).
What loads is what was saved: int and str keys, tuples and lists, bools and ints, and floats bit for
bit (inf and nan with its sign and payload); a Tensor as a Tensor and a Parameter as a Parameter, with
their ``requires_grad`` (a tensor made by an op loads as a leaf holding its values, as in torch). But
arrays (a tensor's too) come back as writeable, C-contiguous, little-endian copies, none shared with
another, and other subclasses (of Tensor, IntEnum, OrderedDict, namedtuple) as their base.
``save`` refuses anything else with a ``TypeError`` naming its path (a Module: save its ``state_dict()``;
sets, bytes, masked arrays, object, complex, structured or float128 arrays, a Tensor as a dict key)
before writing anything.

Format v2: a safetensors file whose tensors are the arrays, named by their dotted path in the tree
(``"state.0.exp_avg"``, with ``#N`` appended where that name is taken), and whose metadata holds
``format``, the tree as JSON in which every type is explicit and arrays are referred to by name
(``{"array": name}``, ``{"tensor": name, "requires_grad": false}``, ``{"parameter": ...}``), and
``sha256``: the SHA-256 of the whole file with that field's 64 hex digits read as zeros. ``load``
checks it first, so a damaged byte anywhere raises ``ValueError``. v1 files still load, with v1's
weaker guarantee: their CRC-32 covers only the arrays' bytes. Loading parses JSON and copies bytes:
it never runs code.

Writes to a path are atomic: the bytes go to a locked temporary file beside the target (the file a
symlink points to), which keeps the old file's permission bits, is flushed and fsynced, and then
replaces the target in one ``os.replace``, so a crash leaves the old file whole. The next save of that
target deletes the temporaries that saves which died left behind (``flock`` tells them from live ones;
on Windows, where a file open in another process cannot be deleted, the failed deletion does). A file
object gets no such guarantee: ``save`` writes to it and leaves flushing and closing to its owner.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import secrets
import stat
import struct
import zlib
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import safetensors
import safetensors.numpy

from .device import check_device
from .nn.module import Module
from .tensor import Parameter, Tensor

if TYPE_CHECKING:
    from _typeshed import StrOrBytesPath

try:
    import fcntl
except ImportError:  # Windows: no flock, but a file open in a live save cannot be deleted either
    fcntl = None

FORMAT = "minigrad.checkpoint.v2"
_V1 = "minigrad.checkpoint.v1"
_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64"}  # what safetensors stores and NumPy has
_FIELD = b'"sha256":"'  # once in a header: the tree's quotes are escaped, tensor entries are objects
_ZEROS = b"0" * 64
_MAX_HEADER = 100_000_000  # bytes: safetensors refuses larger headers, at save as at load


def save(obj: object, f: StrOrBytesPath | IO[bytes]) -> None:
    """Write ``obj`` (see the module docstring) to ``f``: a path, written atomically (to the file it links
    to), or a binary file object, written at its position with ``write`` (not atomic).

    Raises ``TypeError`` naming the place in ``obj`` of anything that could not come back, and
    ``ValueError`` for an ``obj`` that contains itself or is too large for a header, before writing.
    """
    is_path = isinstance(f, (str, bytes, os.PathLike))
    if not is_path and (isinstance(f, io.TextIOBase) or not callable(getattr(f, "write", None))):
        raise TypeError(f"save: f must be a path or a file object opened for binary writing, got {type(f).__name__}")
    tensors: dict[str, np.ndarray] = {}
    try:
        tree = json.dumps(_encode(obj, (), tensors), allow_nan=False, separators=(",", ":"))
    except RecursionError:
        raise ValueError("save: obj is nested too deeply (or contains itself)") from None
    metadata = {"format": FORMAT, "sha256": _ZEROS.decode(), "tree": tree}
    try:
        data = safetensors.numpy.save(tensors, metadata=metadata)
    except safetensors.SafetensorError:  # all that is left to refuse: a header over _MAX_HEADER (newer
        data = None                      # safetensors refuse it here, older ones only at load)
    if data is None or struct.unpack("<Q", data[:8])[0] > _MAX_HEADER:
        raise ValueError(f"save: obj does not fit in a safetensors header of {_MAX_HEADER} bytes; "
                         "hold bulk data in arrays, not in lists or strings")
    start = _digest_start(data)
    view = memoryview(data)
    chunks = (view[:start], _sha256(data, start), view[start + 64:])
    if is_path:
        _atomic_write(os.path.realpath(os.fsdecode(f)), chunks)
    else:
        for chunk in chunks:
            f.write(chunk)


def load(f: StrOrBytesPath | IO[bytes], map_location: Any = None, *, weights_only: bool | None = True,
         mmap: bool | None = None) -> Any:
    """Read a checkpoint written by ``save`` from a path or a binary file object (all that its ``read``
    gives): arrays and tensors come back as writeable, C-contiguous copies.

    The keywords are torch's. ``map_location`` may be None, ``"cpu"`` (or anything whose ``str`` is
    ``"cpu"``, such as a device object), a dict whose values are ``"cpu"``, or a callable (not called:
    everything loads on the CPU); naming another device is a ``ValueError``. ``weights_only`` is always
    true in effect, since ``load`` never unpickles: ``weights_only=False`` is accepted and changes
    nothing. ``mmap`` needs a path, as in torch, and changes nothing either: the file is read whole, to
    check its hash before anything is decoded.

    Raises ``ValueError`` naming ``f`` for anything that is not an intact minigrad checkpoint.
    """
    _check_map_location(map_location)
    for name, flag in (("weights_only", weights_only), ("mmap", mmap)):
        if not (flag is None or isinstance(flag, bool)):
            raise TypeError(f"load: {name} must be a bool or None, got {type(flag).__name__}")
    is_path = isinstance(f, (str, bytes, os.PathLike))
    if not is_path and (isinstance(f, io.TextIOBase) or not callable(getattr(f, "read", None))):
        raise TypeError(f"load: f must be a path or a file object opened for binary reading, got {type(f).__name__}")
    if mmap and not is_path:
        raise ValueError("load: f must be a file path in order to use the mmap argument")
    if is_path:
        name = os.fspath(f)
        with open(name, "rb") as file:
            data = file.read()
    else:
        name = getattr(f, "name", None) or repr(f)
        data = f.read()
        if not isinstance(data, bytes):
            raise TypeError(f"load: f.read() must return bytes, got {type(data).__name__}")
    try:
        metadata = _header(data).get("__metadata__")
        version = metadata.get("format") if isinstance(metadata, dict) else None
        if version not in (FORMAT, _V1):
            raise ValueError(f"not a minigrad checkpoint of a known format (format {version!r})")
        if version == FORMAT:
            start = _digest_start(data)
            if data[start:start + 64] != _sha256(data, start):
                raise ValueError("SHA-256 mismatch: the file is damaged")
        arrays = safetensors.numpy.load(data)
        if version == _V1 and metadata.get("crc32") != str(_crc32(arrays)):
            raise ValueError("checksum mismatch: the arrays' bytes are corrupted")
        return _decode(json.loads(metadata["tree"]), arrays)
    except (ValueError, TypeError, KeyError, IndexError, RecursionError, safetensors.SafetensorError) as err:
        raise ValueError(f"{name} is not a readable minigrad checkpoint: {err}") from err


def _check_map_location(map_location):
    """Refuse a ``map_location`` that names a device other than the CPU."""
    if map_location is None or callable(map_location):
        return
    items = map_location.items() if isinstance(map_location, dict) else [(None, map_location)]
    for key, where in items:
        try:
            check_device(str(where))
        except RuntimeError:
            name = "map_location" if key is None else f"map_location[{key!r}]"
            raise ValueError(f"load: {name} is {where!r}, but minigrad runs on the CPU only: use None or "
                             "'cpu'") from None


def _header(data):
    """The safetensors JSON header: an 8-byte little-endian length, then that many bytes of JSON."""
    if len(data) < 8:
        raise ValueError(f"file too short ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("header length exceeds the file size (truncated, or not a safetensors file)")
    if n > _MAX_HEADER:
        raise ValueError(f"header of {n} bytes, over safetensors' limit of {_MAX_HEADER}")
    header = json.loads(data[8:8 + n])
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return header


def _digest_start(data):
    """Offset of the digest's hex digits: right after the header's one ``"sha256":"``."""
    end = 8 + struct.unpack("<Q", data[:8])[0]
    at = data.find(_FIELD, 8, end)
    if at < 0 or data.find(_FIELD, at + 1, end) >= 0:
        raise ValueError("the header does not hold exactly one sha256 field")
    return at + len(_FIELD)


def _sha256(data, start):
    """Hex SHA-256 of ``data`` with its 64 bytes at ``start`` read as zeros."""
    view = memoryview(data)
    digest = hashlib.sha256(view[:start])
    digest.update(_ZEROS)
    digest.update(view[start + 64:])
    return digest.hexdigest().encode()


def _crc32(arrays):
    """v1's checksum: CRC-32 of the arrays' bytes, in name order."""
    crc = 0
    for name in sorted(arrays):
        crc = zlib.crc32(arrays[name].reshape(-1).view(np.uint8), crc)
    return crc


def _encode(obj, path, tensors):
    """The JSON form of ``obj``; arrays go into ``tensors`` under a name derived from ``path``."""
    if isinstance(obj, np.generic):  # before str and float: np.str_ and np.float64 subclass them
        return {"scalar": _add_array(np.asarray(obj), path, tensors)}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):  # an int subclass (IntEnum) is stored as a plain int
        return int(obj) if obj.bit_length() <= 64 else {"int": hex(obj)}  # any JSON reader parses 20 digits
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else {"float": struct.pack(">d", obj).hex()}
    if isinstance(obj, (list, tuple)):
        items = [_encode(x, path + (i,), tensors) for i, x in enumerate(obj)]
        return {"tuple": items} if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        for key in obj:
            _check_key(key, path)
        return {"dict": [[_encode(k, path + ("key",), tensors), _encode(v, path + (k,), tensors)]
                         for k, v in obj.items()]}
    if isinstance(obj, Tensor):  # a non-leaf by its values: it loads as a leaf, as in torch
        kind = "parameter" if isinstance(obj, Parameter) else "tensor"
        return {kind: _add_array(obj._data, path, tensors), "requires_grad": obj.requires_grad}
    if isinstance(obj, np.ndarray):
        return {"array": _add_array(obj, path, tensors)}
    if isinstance(obj, Module):
        raise TypeError(f"save: cannot save a Module ({type(obj).__name__}) at {_dotted(path)!r}: minigrad never "
                        "pickles; save its state_dict() instead, and restore it with load_state_dict()")
    raise TypeError(f"save: cannot save {type(obj).__name__} at {_dotted(path)!r}: a checkpoint holds arrays, "
                    "numbers, str, None, and dicts/lists/tuples of them")


def _check_key(key, path):
    """Refuse a dict key that would not load as an equal, hashable key (an array, a Tensor)."""
    if isinstance(key, tuple):
        for item in key:
            _check_key(item, path)
    elif not (key is None or isinstance(key, (bool, int, float, str, np.generic))):
        raise TypeError(f"save: dict key at {_dotted(path)!r} is a {type(key).__name__}; keys must be None, bool, "
                        "int, float, str, NumPy scalars or tuples of these (an array key loads unhashable)")


def _add_array(array, path, tensors):
    masked = isinstance(array, np.ma.MaskedArray)  # its mask would be lost
    if masked or array.dtype.name not in _DTYPES:
        what = "a masked array" if masked else f"dtype {array.dtype}"
        raise TypeError(f"save: cannot save {what} at {_dotted(path)!r}: only unmasked bool, "
                        "(u)int8-64 and float16/32/64 arrays and scalars")
    base = _dotted(path).encode("utf-8", "backslashreplace").decode()  # names must be valid UTF-8
    name, n = base, 1
    while name in tensors or name == "__metadata__":  # a fresh name: never overwrite another array
        name, n = f"{base}#{n}", n + 1
    # safetensors reads raw memory (strides must be C's) and stores little-endian
    tensors[name] = np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")
    return name


def _dotted(path):
    return ".".join(map(str, path)) or "root"


def _decode(node, arrays):
    """Inverse of ``_encode``; raises ValueError/TypeError/KeyError on anything it did not write."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(x, arrays) for x in node]
    if not isinstance(node, dict):
        raise ValueError(f"unexpected node {node!r:.80}")
    if node.keys() in ({"tensor", "requires_grad"}, {"parameter", "requires_grad"}):
        requires_grad = node["requires_grad"]
        if not isinstance(requires_grad, bool):
            raise ValueError(f"unexpected node {node!r:.80}")
        kind, cls = ("parameter", Parameter) if "parameter" in node else ("tensor", Tensor)
        return cls(_array(node[kind], arrays), requires_grad=requires_grad)
    if len(node) != 1:
        raise ValueError(f"unexpected node {node!r:.80}")
    (tag, value), = node.items()
    if tag == "tuple" and isinstance(value, list):
        return tuple(_decode(x, arrays) for x in value)
    if tag == "dict" and isinstance(value, list):
        return {_decode(k, arrays): _decode(v, arrays) for k, v in value}
    if tag == "int" and isinstance(value, str) and re.fullmatch("-?0x[0-9a-f]+", value):
        return int(value, 16)
    if tag == "float" and isinstance(value, str) and re.fullmatch("[0-9a-f]{16}", value):
        return struct.unpack(">d", bytes.fromhex(value))[0]
    if tag == "float" and value in ("inf", "-inf", "nan"):  # as v1 wrote them
        return float(value)
    if tag in ("array", "scalar"):
        array = _array(value, arrays)
        return array[()] if tag == "scalar" else array
    raise ValueError(f"unexpected node {node!r:.80}")


def _array(name, arrays):
    """The array named ``name`` in the file, writeable, C-contiguous and aligned."""
    if not isinstance(name, str) or name not in arrays:
        raise ValueError(f"the tree refers to a tensor {name!r:.80} that the file does not hold")
    return np.require(arrays[name], requirements="CWA")


def _atomic_write(path, chunks):
    """Write ``chunks`` to a locked temporary file beside ``path``, fsync it, rename it over ``path``."""
    directory, name = os.path.split(path)
    _remove_stale_temps(directory, name)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None  # a new file: 0o666 & ~umask, as open() gives
    fd, tmp = _locked_temp(directory, name)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.chmod(tmp, mode)
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, path)  # while still open, hence locked: no other save takes it for stale
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _locked_temp(directory, name):
    """Create and lock ``.NAME.<12 hex digits>.tmp`` in ``directory``: (fd, path)."""
    while True:
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        if fcntl:
            fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink:  # not deleted as stale by another save before we locked it
            return fd, tmp
        os.close(fd)


def _remove_stale_temps(directory, name):
    """Delete the temporaries of ``name`` in ``directory`` that no live save holds locked."""
    pattern = re.compile(rf"\.{re.escape(name)}\.[0-9a-f]{{12}}\.tmp")
    try:
        candidates = [entry.path for entry in os.scandir(directory) if pattern.fullmatch(entry.name)]
    except OSError:
        return
    for tmp in candidates:
        try:
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                if fcntl:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if its save is still running
                os.unlink(tmp)
        except OSError:
            pass
        finally:
            os.close(fd)
