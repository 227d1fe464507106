"""Checkpoints: ``save(obj, path)`` and ``load(path)`` without pickle.

``obj`` is a tree of dicts, lists and tuples whose leaves are NumPy arrays (or anything with a
``.data`` array, such as a minigrad Tensor, saved as that array), NumPy scalars, and Python
``None``/``bool``/``int``/``float``/``str``. Dict keys may be any such leaf (optimizer state
dicts key parameters by int). The file is a safetensors file: the arrays are its tensors, named
by their path in the tree (``"state.0.exp_avg"``); its metadata holds a CRC-32 of the arrays'
bytes and the tree as JSON in which every type is explicit, so that int and str keys, tuples and
lists, bools and ints, and floats (bit for bit, inf and nan included) come back as they went in.
Tensors and numpy arrays load as numpy arrays. Loading parses JSON and copies bytes: it never
runs code.

Writes are atomic: the bytes go to a temporary file in the target's directory, are flushed and
fsynced, and then replace the target in one ``os.replace``, so a crash leaves the old file whole.
"""
import json
import math
import os
import secrets
import struct
import zlib

import numpy as np
import safetensors
import safetensors.numpy

FORMAT = "minigrad.checkpoint.v1"
_KINDS = "biuf"  # bool, signed and unsigned ints, floats: the dtypes safetensors stores


def save(obj, path):
    """Write ``obj`` (see the module docstring) to ``path`` atomically."""
    tensors = {}
    tree = _encode(obj, (), tensors)
    metadata = {"format": FORMAT, "crc32": str(_crc32(tensors)),
                "tree": json.dumps(tree, allow_nan=False, separators=(",", ":"))}
    _atomic_write(os.fspath(path), safetensors.numpy.save(tensors, metadata=metadata))


def load(path):
    """Read a checkpoint written by ``save``: arrays come back as writeable, C-contiguous copies.

    Raises ``ValueError`` naming ``path`` for anything that is not an intact minigrad checkpoint.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        metadata = _header(data).get("__metadata__")
        if not isinstance(metadata, dict) or metadata.get("format") != FORMAT or "tree" not in metadata:
            raise ValueError("no minigrad metadata (a safetensors file written by something else?)")
        arrays = safetensors.numpy.load(data)
        if metadata.get("crc32") != str(_crc32(arrays)):
            raise ValueError("checksum mismatch: the arrays' bytes are corrupted")
        return _decode(json.loads(metadata["tree"]), arrays)
    except (ValueError, TypeError, KeyError, IndexError, RecursionError, safetensors.SafetensorError) as err:
        raise ValueError(f"{path} is not a readable minigrad checkpoint: {err}") from err


def _crc32(arrays):
    """CRC-32 of the arrays' bytes, in name order."""
    crc = 0
    for name in sorted(arrays):
        crc = zlib.crc32(arrays[name].reshape(-1).view(np.uint8), crc)
    return crc


def _header(data):
    """The safetensors JSON header: an 8-byte little-endian length, then that many bytes of JSON."""
    if len(data) < 8:
        raise ValueError(f"file too short ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("header length exceeds the file size (truncated, or not a safetensors file)")
    header = json.loads(data[8:8 + n])
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return header


def _encode(obj, path, tensors):
    """The JSON form of ``obj``; arrays go into ``tensors`` under their dotted path."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.generic):
        return {"scalar": _add_array(np.asarray(obj), path, tensors)}
    if isinstance(obj, int):
        return int(obj)  # an int subclass (IntEnum) is stored as a plain int
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else {"float": repr(float(obj))}
    if isinstance(obj, (list, tuple)):
        items = [_encode(x, path + (i,), tensors) for i, x in enumerate(obj)]
        return {"tuple": items} if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {"dict": [[_encode(k, path + ("key",), tensors), _encode(v, path + (k,), tensors)]
                         for k, v in obj.items()]}
    array = obj if isinstance(obj, np.ndarray) else getattr(obj, "data", None)
    if isinstance(array, np.ndarray):
        return {"array": _add_array(array, path, tensors)}
    raise TypeError(f"cannot save {type(obj).__name__} at {_dotted(path)!r}: a checkpoint holds arrays, "
                    "numbers, str, None, and dicts/lists/tuples of them")


def _add_array(array, path, tensors):
    if array.dtype.kind not in _KINDS:
        raise TypeError(f"cannot save an array of dtype {array.dtype} at {_dotted(path)!r}: "
                        "only bool, integer and floating-point arrays")
    name = _dotted(path)
    if name in tensors:
        name = f"{name}#{len(tensors)}"
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
    if not (isinstance(node, dict) and len(node) == 1):
        raise ValueError(f"unexpected node {node!r:.80}")
    (tag, value), = node.items()
    if tag == "tuple" and isinstance(value, list):
        return tuple(_decode(x, arrays) for x in value)
    if tag == "dict" and isinstance(value, list):
        return {_decode(k, arrays): _decode(v, arrays) for k, v in value}
    if tag == "float" and value in ("inf", "-inf", "nan"):
        return float(value)
    if tag in ("array", "scalar") and isinstance(value, str):
        if value not in arrays:
            raise ValueError(f"the tree refers to a tensor {value!r} that the file does not hold")
        array = np.require(arrays[value], requirements="CWA")
        return array[()] if tag == "scalar" else array
    raise ValueError(f"unexpected node {node!r:.80}")


def _atomic_write(path, data):
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 & ~umask, as open() gives
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
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
