"""Devices as torch names them, on a library that runs on the CPU only: ``device("cpu")`` is where
every tensor lives; other devices can be named (as torch code does: ``device("cuda" if
cuda.is_available() else "cpu")``) but moving anything to them raises an error naming the device."""
from __future__ import annotations

from typing import Any

_TYPES = ("cpu", "cuda", "mps", "xpu", "meta", "xla", "hip", "mtia")


class device:
    """``device("cpu")``, ``device("cuda:0")``, ``device("cuda", 0)``: a type and an optional index.
    Equal to another device or to its string (``x.device == "cpu"``)."""
    __slots__ = ("type", "index")
    type: str
    index: int | None

    def __init__(self, type: str | device, index: int | None = None) -> None:  # torch's parameter names
        name = type
        if isinstance(name, device):
            index = name.index if index is None else index
            name = name.type
        if not isinstance(name, str):
            raise TypeError(f"device: expected a str such as 'cpu', got {name!r}")
        kind, _, number = name.partition(":")
        if kind not in _TYPES or (number and not number.isdigit()) or (number and index is not None):
            raise RuntimeError(f"Expected one of {', '.join(_TYPES)} device type at start of device string: {name}")
        self.type, self.index = kind, int(number) if number else index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:  # not a device name: unequal, as any other object
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def check_device(where: Any, name: str = "device") -> None:
    """Accept None, "cpu", "cpu:0" or a cpu ``device``; refuse any other device with an error naming it."""
    if where is None:
        return
    if isinstance(where, int) and not isinstance(where, bool):  # torch reads a bare int as a CUDA index
        where = device("cuda", where)
    if not isinstance(where, (str, device)):
        raise TypeError(f"{name}: expected a device or a str such as 'cpu', got {type(where).__name__}")
    where = device(where)
    if where.type != "cpu":
        raise RuntimeError(f"{name}: device '{where}' is not available: minigrad runs on the CPU only "
                           "(cuda.is_available() is False)")


def is_device(value: Any) -> bool:
    """Whether ``value`` names a device (a ``device``, or a str that parses as one)."""
    if isinstance(value, device):
        return True
    if not isinstance(value, str):
        return False
    return value.partition(":")[0] in _TYPES


def to_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, bool]:
    """(dtype or None, copy) from the arguments torch's ``.to`` takes: ``to(dtype)``, ``to(device,
    dtype=None)``, ``to(tensor)`` (its dtype), ``to(device=..., dtype=...)``, then ``non_blocking``
    (accepted, nothing is asynchronous) and ``copy``. A device other than the CPU raises."""
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"to() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    rest = list(args)
    where, dtype = kwargs.get("device"), kwargs.get("dtype")
    if rest and (is_device(rest[0]) or isinstance(rest[0], int) and not isinstance(rest[0], bool)):
        if "device" in kwargs:
            raise TypeError("to() got multiple values for argument 'device'")
        where = rest.pop(0)
    if rest and hasattr(rest[0], "_data"):  # a Tensor: its dtype (and its device, always the CPU)
        dtype = rest.pop(0).dtype
    elif rest and not isinstance(rest[0], bool):
        if "dtype" in kwargs:
            raise TypeError("to() got multiple values for argument 'dtype'")
        dtype = rest.pop(0)
    if len(rest) > 2 or any(not isinstance(a, bool) for a in rest):
        raise TypeError(f"to() received an invalid combination of arguments: {args!r}")
    check_device(where)
    copy = kwargs.get("copy", rest[1] if len(rest) == 2 else False)
    return dtype, bool(copy)
