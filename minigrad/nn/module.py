"""Module: the container of parameters, buffers and submodules, with torch.nn.Module's API."""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, Mapping, TypeVar, overload

import numpy as np

from ..tensor import Parameter, Tensor

if TYPE_CHECKING:
    from .._typing import Array, ArrayLike, DTypeLike

    ModuleT = TypeVar("ModuleT", bound="Module")

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of every layer. Parameters, buffers (tensors that are state but not trained, such as
    running statistics) and submodules are registered by attribute assignment, in order;
    ``state_dict`` keys are their dotted paths, exactly as in torch."""

    _parameters: OrderedDict[str, Parameter | None]
    _buffers: OrderedDict[str, Tensor | None]
    _non_persistent: set[str]
    _modules: OrderedDict[str, Module | None]
    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- registration ------------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if isinstance(value, (Parameter, Module)):
            self._forget(name)
            (self._parameters if isinstance(value, Parameter) else self._modules)[name] = value  # type: ignore[assignment]
        elif name in self._parameters:
            self.register_parameter(name, value)
        elif name in self._buffers:
            self.register_buffer(name, value, persistent=name not in self._non_persistent)
        elif name in self._modules:
            self.add_module(name, value)
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules, self.__dict__):
            registry.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        for registry in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(registry)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register a Parameter (or None: an absent optional parameter, such as bias=False)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} as parameter '{name}' "
                            "(minigrad.Parameter or None required)")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | Array | None, persistent: bool = True) -> None:
        """Register a tensor (or None) that is state but not trained, such as running statistics; an
        ndarray is wrapped without a copy. ``persistent=False`` keeps it out of ``state_dict``."""
        if tensor is not None and not isinstance(tensor, (Tensor, np.ndarray)):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(Tensor, ndarray or None required)")
        self._forget(name)
        self._buffers[name] = Tensor(tensor) if isinstance(tensor, np.ndarray) else tensor
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._forget(name)
        self._modules[name] = module

    # ---- traversal ---------------------------------------------------------------------------------

    def named_modules(self, prefix: str = "", memo: set[int] | None = None) -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return ((name, m) for name, m in self._modules.items() if m is not None)

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    @overload
    def _named_members(self, registry: Literal["_parameters"], recurse: bool) -> Iterator[tuple[str, Parameter]]: ...
    @overload
    def _named_members(self, registry: Literal["_buffers"], recurse: bool) -> Iterator[tuple[str, Tensor]]: ...
    def _named_members(self, registry: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen = set()
        for prefix, module in self.named_modules() if recurse else [("", self)]:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        return ((f"{prefix}.{n}" if prefix else n, p) for n, p in self._named_members("_parameters", recurse))

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self._named_members("_parameters", recurse))

    def named_buffers(self, recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        return (b for _, b in self._named_members("_buffers", recurse))

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self: ModuleT, fn: Callable[[Module], object]) -> ModuleT:
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- modes, gradients, dtype -------------------------------------------------------------------

    def train(self: ModuleT, mode: bool = True) -> ModuleT:
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self: ModuleT) -> ModuleT:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def requires_grad_(self: ModuleT, requires_grad: bool = True) -> ModuleT:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self: ModuleT, dtype: DTypeLike) -> ModuleT:
        """Cast floating-point parameters and buffers to ``dtype`` (float32 or float64), in place of
        their arrays; build optimizers after this, as in torch."""
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"Module.to: dtype must be float32 or float64, got {dtype}")
        for module in self.modules():
            for p in module._parameters.values():
                if p is not None:
                    grad = p._grad
                    p._grad = None  # a grad of the old dtype would not fit the new data
                    p.data = np.ascontiguousarray(p._data, dtype=dtype)
                    p.grad = None if grad is None else grad._data.astype(dtype)
            for b in module._buffers.values():
                if b is not None and b.dtype.kind == "f":
                    b.data = b._data.astype(dtype)
        return self

    def float(self: ModuleT) -> ModuleT:
        return self.to(np.float32)

    def double(self: ModuleT) -> ModuleT:
        return self.to(np.float64)

    # ---- state_dict ----------------------------------------------------------------------------------

    def state_dict(self, prefix: str = "") -> OrderedDict[str, Tensor]:
        """{dotted name: tensor} for every parameter and persistent buffer, torch's keys and order
        (each module's own parameters, then its buffers, then its children). The tensors are
        detached but share memory with the model, as torch's: clone them (or save to disk) to keep
        a snapshot."""
        out = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                out[prefix + name] = b.detach()
        for name, module in self.named_children():
            out.update(module.state_dict(prefix=f"{prefix}{name}."))
        return out

    def load_state_dict(self, state_dict: Mapping[str, Tensor | ArrayLike], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays (or Tensors) into the parameters and buffers, in place. With ``strict``, missing
        or unexpected keys are an error; a shape mismatch always is. Checks all before copying any."""
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        values = {}
        for key, target in own.items():
            if key in state_dict:
                value = state_dict[key]
                value = np.asarray(value._data if isinstance(value, Tensor) else value)
                if value.shape != target.shape:
                    errors.append(f"size mismatch for {key}: copying a param with shape {value.shape} from "
                                  f"checkpoint, the shape in current model is {target.shape}.")
                values[key] = value
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for key, value in values.items():
            own[key].copy_(value)
        return IncompatibleKeys(missing, unexpected)

    # ---- printing ------------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self.named_children()]
        extra = self.extra_repr()
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = ([extra] if extra else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"
