"""Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict: submodules or parameters
registered under their index or key."""
from __future__ import annotations

import operator
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView, overload

import numpy as np

from ..tensor import Parameter, Tensor
from .module import Module

if TYPE_CHECKING:
    from .._typing import TensorLike


class Sequential(Module):
    """Calls its modules in order, each on the previous one's output."""
    _modules: OrderedDict[str, Module]  # type: ignore[assignment]  # never None in a container

    @overload
    def __init__(self, *modules: Module) -> None: ...
    @overload
    def __init__(self, modules: Mapping[str, Module], /) -> None: ...
    def __init__(self, *modules: Any) -> None:
        super().__init__()
        items = modules[0].items() if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)) \
            else ((str(i), m) for i, m in enumerate(modules))
        for name, module in items:
            self.add_module(name, module)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    @overload
    def __getitem__(self, index: int) -> Module: ...
    @overload
    def __getitem__(self, index: slice) -> Sequential: ...
    def __getitem__(self, index: int | slice) -> Module | Sequential:
        modules = list(self._modules.values())
        return Sequential(*modules[index]) if isinstance(index, slice) else modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        _insert(self, index, module)
        return self


class ModuleList(Module):
    """A list of modules, registered as '0', '1', ... (no forward of its own)."""
    _modules: OrderedDict[str, Module]  # type: ignore[assignment]  # never None in a container

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        _insert(self, index, module)

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(_abs_index(index, len(self)), module)

    def __delitem__(self, index: int | slice) -> None:
        """Delete, then renumber the rest '0', '1', ... (as torch)."""
        modules = list(self._modules.values())
        del modules[index]
        self._modules.clear()
        self._modules.update((str(i), m) for i, m in enumerate(modules))

    @overload
    def __getitem__(self, index: int) -> Module: ...
    @overload
    def __getitem__(self, index: slice) -> ModuleList: ...
    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        modules = list(self._modules.values())
        return ModuleList(modules[index]) if isinstance(index, slice) else modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of modules, registered under their keys (no forward of its own)."""
    _modules: OrderedDict[str, Module]  # type: ignore[assignment]  # never None in a container

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        for name, module in (modules or {}).items():
            self.add_module(name, module)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> KeysView[str]:
        return self._modules.keys()

    def values(self) -> ValuesView[Module]:
        return self._modules.values()

    def items(self) -> ItemsView[str, Module]:
        return self._modules.items()


class ParameterList(Module):
    """A list of parameters, registered as '0', '1', ...; Tensors, ndarrays and lists are made
    Parameters (sharing the memory where they can), as torch does with tensors."""
    _parameters: OrderedDict[str, Parameter]  # type: ignore[assignment]  # never None in a container

    def __init__(self, values: Iterable[Parameter | TensorLike] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    @overload
    def __getitem__(self, index: int) -> Parameter: ...
    @overload
    def __getitem__(self, index: slice) -> ParameterList: ...
    def __getitem__(self, index: int | slice) -> Parameter | ParameterList:
        if isinstance(index, slice):
            return ParameterList(list(self)[index])
        return self._parameters[_abs_index(index, len(self))]

    def __setitem__(self, index: int, value: Parameter | TensorLike) -> None:
        self.register_parameter(_abs_index(index, len(self)), _as_parameter(value))

    def append(self, value: Parameter | TensorLike) -> ParameterList:
        self.register_parameter(str(len(self)), _as_parameter(value))
        return self

    def extend(self, values: Iterable[Parameter | TensorLike]) -> ParameterList:
        if not isinstance(values, Iterable) or isinstance(values, (Tensor, np.ndarray)):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got {type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def __iadd__(self, values: Iterable[Parameter | TensorLike]) -> ParameterList:
        return self.extend(values)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def extra_repr(self) -> str:
        return "\n".join(f"  ({name}): {_describe(p)}" for name, p in self._parameters.items())


class ParameterDict(Module):
    """A dict of parameters, registered under their (string) keys; values converted as in ParameterList.
    A plain dict is added in sorted key order, an OrderedDict or a sequence of pairs in its own order
    (as torch)."""
    _parameters: OrderedDict[str, Parameter]  # type: ignore[assignment]  # never None in a container

    def __init__(self, parameters: Mapping[str, Parameter | TensorLike] | Iterable[tuple[str, Parameter | TensorLike]]
                 | None = None) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        return self._parameters[key]

    def __setitem__(self, key: str, value: Parameter | TensorLike) -> None:
        if not isinstance(key, str):
            raise TypeError("Index given to ParameterDict cannot be used as a key as it is not a string "
                            f"(type is '{type(key).__name__}')")
        self.register_parameter(key, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        del self._parameters[key]

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def keys(self) -> KeysView[str]:
        return self._parameters.keys()

    def values(self) -> ValuesView[Parameter]:
        return self._parameters.values()

    def items(self) -> ItemsView[str, Parameter]:
        return self._parameters.items()

    def get(self, key: str, default: Parameter | None = None) -> Parameter | None:
        return self._parameters.get(key, default)

    def pop(self, key: str) -> Parameter:
        return self._parameters.pop(key)

    def clear(self) -> None:
        self._parameters.clear()

    def update(self, parameters: Mapping[str, Parameter | TensorLike] | Iterable[tuple[str, Parameter | TensorLike]]
               ) -> None:
        if not isinstance(parameters, Iterable):
            raise TypeError("ParametersDict.update should be called with an iterable of key/value pairs, but got "
                            + type(parameters).__name__)
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs: Iterable[Any] = parameters.items()
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())
        else:
            pairs = []
            for j, pair in enumerate(parameters):
                if not isinstance(pair, Iterable):
                    raise TypeError(f"ParameterDict update sequence element #{j} should be Iterable; is "
                                    + type(pair).__name__)
                pairs.append(tuple(pair))
                if len(pairs[-1]) != 2:
                    raise ValueError(f"ParameterDict update sequence element #{j} has length {len(pairs[-1])}; "
                                     "2 is required")
        for key, value in pairs:
            self[key] = value

    def extra_repr(self) -> str:
        return "\n".join(f"  ({key}): {_describe(p)}" for key, p in self._parameters.items())


def _as_parameter(value: Parameter | TensorLike) -> Parameter:
    return value if isinstance(value, Parameter) else Parameter(value)


def _describe(p: Parameter) -> str:
    return f"Parameter containing: [{p.dtype} of size {'x'.join(map(str, p.shape))}]"


def _abs_index(index: int, length: int) -> str:
    """``index`` (negative from the end) as a registered name, else IndexError."""
    index = operator.index(index)
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range")
    return str(index % length)


def _insert(container: Sequential | ModuleList, index: int, module: Module) -> None:
    """Insert ``module`` before position ``index`` (as list.insert), renumbering those after it."""
    if not isinstance(module, Module):
        raise TypeError(f"{type(module).__name__} is not a Module subclass")
    modules = list(container._modules.values())
    modules.insert(index, module)
    container._modules.clear()
    for i, m in enumerate(modules):
        container.add_module(str(i), m)
