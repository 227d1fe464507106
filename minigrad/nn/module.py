"""Module: the container of parameters, buffers and submodules, with torch.nn.Module's API."""
from __future__ import annotations

import warnings
from collections import OrderedDict, namedtuple
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, Mapping, TypeVar, overload

import numpy as np

from ..device import check_device, to_arguments
from ..tensor import Parameter, Tensor
from ..utils.hooks import RemovableHandle

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
    _forward_pre_hooks: OrderedDict[int, Callable[..., Any]]
    _forward_hooks: OrderedDict[int, Callable[..., Any]]
    _forward_pre_hooks_with_kwargs: OrderedDict[int, bool]  # the ids of hooks registered with_kwargs=True
    _forward_hooks_with_kwargs: OrderedDict[int, bool]
    _forward_hooks_always_called: OrderedDict[int, bool]
    _hook_ids: OrderedDict[int, bool]  # every hook of both kinds: the one check __call__ makes

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        for name in ("_forward_pre_hooks", "_forward_hooks", "_forward_pre_hooks_with_kwargs",
                     "_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_hook_ids"):
            object.__setattr__(self, name, OrderedDict())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._hook_ids:
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    # ---- forward hooks -------------------------------------------------------------------------------

    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before each ``forward``; a result other than None replaces ``args``
        (a non-tuple is wrapped in one). With ``with_kwargs``, ``hook(module, args, kwargs)`` may return
        a ``(args, kwargs)`` pair. ``prepend`` runs it before the hooks already registered."""
        flags = (self._forward_pre_hooks_with_kwargs,) if with_kwargs else ()
        return self._add_hook(self._forward_pre_hooks, hook, prepend, flags)

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` (``hook(module, args, kwargs, output)`` with ``with_kwargs``)
        after each ``forward``; a result other than None replaces the output. ``always_call`` runs it even
        when ``forward`` or an earlier hook raises. ``prepend`` runs it before the hooks already registered."""
        flags = ((self._forward_hooks_with_kwargs,) if with_kwargs else ()) + \
            ((self._forward_hooks_always_called,) if always_call else ())
        return self._add_hook(self._forward_hooks, hook, prepend, flags)

    def _add_hook(self, hooks: OrderedDict[int, Callable[..., Any]], hook: Callable[..., Any], prepend: bool,
                  flags: tuple[OrderedDict[int, bool], ...]) -> RemovableHandle:
        handle = RemovableHandle(hooks, extra_dicts=(*flags, self._hook_ids))
        hooks[handle.id] = hook
        for flag in (*flags, self._hook_ids):
            flag[handle.id] = True
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def _call_with_hooks(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``__call__`` when hooks are registered, with torch's semantics."""
        called = set()
        try:
            for hook_id, hook in list(self._forward_pre_hooks.items()):
                if hook_id in self._forward_pre_hooks_with_kwargs:
                    new = hook(self, args, kwargs)
                    if new is not None:
                        if not (isinstance(new, tuple) and len(new) == 2):
                            raise RuntimeError("forward pre-hook must return None or a tuple of (new_args, "
                                               f"new_kwargs), but got {new}.")
                        args, kwargs = new
                else:
                    new = hook(self, args)
                    if new is not None:
                        args = new if isinstance(new, tuple) else (new,)
            result = self.forward(*args, **kwargs)
            for hook_id, hook in list(self._forward_hooks.items()):
                called.add(hook_id)
                with_kwargs = hook_id in self._forward_hooks_with_kwargs
                new = hook(self, args, kwargs, result) if with_kwargs else hook(self, args, result)
                if new is not None:
                    result = new
            return result
        except Exception:
            self._run_always_called_hooks(args, kwargs, called)
            raise

    def _run_always_called_hooks(self, args: tuple[Any, ...], kwargs: dict[str, Any], called: set[int]) -> None:
        """After an error in ``forward`` or a hook: the ``always_call`` forward hooks not yet run, on output
        None; their own errors are warnings (the first error propagates)."""
        for hook_id, hook in list(self._forward_hooks.items()):
            if hook_id in self._forward_hooks_always_called and hook_id not in called:
                try:
                    if hook_id in self._forward_hooks_with_kwargs:
                        hook(self, args, kwargs, None)
                    else:
                        hook(self, args, None)
                except Exception as e:
                    warnings.warn("forward hook with ``always_call=True`` raised an exception that was silenced "
                                  f"as another error was raised in forward: {e}", stacklevel=3)

    # ---- registration ------------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if isinstance(value, Parameter):
            self._forget(name, keep=self._parameters)
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self._forget(name, keep=self._modules)
            self.add_module(name, value)
        elif name in self._parameters:
            self.register_parameter(name, value)
        elif name in self._buffers:
            self.register_buffer(name, value, persistent=name not in self._non_persistent)
        elif name in self._modules:
            self.add_module(name, value)
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: Mapping[str, object] | None = None) -> None:
        """Drop ``name`` from every registry but ``keep`` (re-registering keeps its place, as in torch)."""
        for registry in (self._parameters, self._buffers, self._modules, self.__dict__):
            if registry is not keep:
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

    def _check_name(self, kind: str, name: object, registry: Mapping[str, object]) -> None:
        """torch's checks of a name to register: a non-empty string without '.', not another attribute."""
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register a Parameter (or None: an absent optional parameter, such as bias=False)."""
        self._check_name("parameter", name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} as parameter '{name}' "
                            "(minigrad.Parameter or None required)")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | Array | None, persistent: bool = True) -> None:
        """Register a tensor (or None) that is state but not trained, such as running statistics; an
        ndarray is wrapped without a copy. ``persistent=False`` keeps it out of ``state_dict``."""
        self._check_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, (Tensor, np.ndarray)):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(Tensor, ndarray or None required)")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = Tensor(tensor) if isinstance(tensor, np.ndarray) else tensor
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)

    def add_module(self, name: str, module: Module | None) -> None:
        self._check_name("module", name, self._modules)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` ("" is this module), else AttributeError."""
        module = self
        for item in target.split(".") if target else []:
            if not hasattr(module, item):
                raise AttributeError(f"{type(module).__name__} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target``, else AttributeError."""
        module, name = self._owner(target)
        param = getattr(module, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target``, else AttributeError."""
        module, name = self._owner(target)
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        buffer: Tensor = getattr(module, name)
        return buffer

    def _owner(self, target: str) -> tuple[Module, str]:
        """(the submodule holding dotted path ``target``'s last name, that name), else AttributeError."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{type(module).__name__} has no attribute `{name}`")
        return module, name

    # ---- traversal ---------------------------------------------------------------------------------

    def named_modules(self, prefix: str = "", memo: set[int] | None = None,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every submodule, depth first; each module once
        unless ``remove_duplicate`` is False."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(f"{prefix}.{name}" if prefix else name, memo, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return ((name, m) for name, m in self._modules.items() if m is not None)

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    @overload
    def _named_members(self, registry: Literal["_parameters"], recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]: ...
    @overload
    def _named_members(self, registry: Literal["_buffers"], recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]: ...
    def _named_members(self, registry: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        seen = set()
        modules = self.named_modules(remove_duplicate=remove_duplicate) if recurse else [("", self)]
        for prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a shared parameter once unless ``remove_duplicate`` is False."""
        return ((f"{prefix}.{n}" if prefix else n, p)
                for n, p in self._named_members("_parameters", recurse, remove_duplicate))

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
                p._grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def requires_grad_(self: ModuleT, requires_grad: bool = True) -> ModuleT:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self: ModuleT, *args: Any, **kwargs: Any) -> ModuleT:
        """Cast floating-point parameters and buffers, as torch: ``to(dtype)``, ``to(device)``,
        ``to(device, dtype)``, ``to(tensor)`` (its dtype) or by keyword (``device=``, ``dtype=``,
        ``non_blocking=`` accepted and ignored). The only device is the CPU. Parameters keep their
        identity (their arrays and grads are replaced); build optimizers after this, as in torch."""
        dtype, _ = to_arguments(args, kwargs)
        return self if dtype is None else self._cast(_float_dtype(dtype), floating_only=True)

    def _cast(self: ModuleT, dtype: np.dtype[Any], floating_only: bool) -> ModuleT:
        """Cast parameters (with their grads) and buffers (only floating-point ones if ``floating_only``)."""
        for module in self.modules():
            for p in module._parameters.values():
                if p is not None:
                    grad = p._grad
                    p._grad = None  # a grad of the old dtype would not fit the new data
                    p.data = np.ascontiguousarray(p._data, dtype=dtype)
                    if grad is not None:
                        p.grad = grad.astype(dtype) if grad.is_sparse else grad._data.astype(dtype)
            for b in module._buffers.values():
                if b is not None and (b.dtype.kind == "f" or not floating_only):
                    b.data = b._data.astype(dtype)
        return self

    def type(self: ModuleT, dst_type: DTypeLike) -> ModuleT:
        """Cast all parameters and buffers (integer buffers too, as torch) to ``dst_type``."""
        return self._cast(_float_dtype(dst_type), floating_only=False)

    def cpu(self: ModuleT) -> ModuleT:
        return self

    def cuda(self: ModuleT, device: object = None) -> ModuleT:
        check_device("cuda" if device is None else device, "cuda")
        return self

    def float(self: ModuleT) -> ModuleT:
        return self.to(np.float32)

    def double(self: ModuleT) -> ModuleT:
        return self.to(np.float64)

    def half(self: ModuleT) -> ModuleT:
        return self.to(np.float16)

    # ---- state_dict ----------------------------------------------------------------------------------

    def state_dict(self, prefix: str = "") -> OrderedDict[str, Tensor]:
        """{dotted name: tensor} for every parameter and persistent buffer, torch's keys and order
        (each module's own parameters, then its buffers, then its children). The tensors are
        detached but share memory with the model, as torch's: clone them (or save to disk) to keep
        a snapshot."""
        return OrderedDict((key, t.detach()) for key, _, _, t in self._state_entries(prefix))

    def _state_entries(self, prefix: str = "") -> Iterator[tuple[str, Module, str, Tensor]]:
        """(state_dict key, owning module, attribute name, tensor) in ``state_dict`` order."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, self, name, p
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                yield prefix + name, self, name, b
        for name, module in self.named_children():
            yield from module._state_entries(f"{prefix}{name}.")

    def load_state_dict(self, state_dict: Mapping[str, Tensor | ArrayLike], strict: bool = True,
                        assign: bool = False) -> IncompatibleKeys:
        """Copy arrays (or Tensors) into the parameters and buffers, in place; with ``assign``, make
        them the parameters and buffers instead (sharing memory; parameters keep ``requires_grad``).
        With ``strict``, missing or unexpected keys are an error; a shape mismatch always is. Checks
        all before changing any."""
        own = list(self._state_entries())
        missing = [key for key, _, _, _ in own if key not in state_dict]
        unexpected = [k for k in state_dict if k not in {key for key, _, _, _ in own}]
        errors = []
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        updates: list[tuple[Module, str, Tensor, Any]] = []
        for key, module, name, target in own:
            if key in state_dict:
                value = state_dict[key]
                array = np.asarray(value._data if isinstance(value, Tensor) else value)
                if array.shape != target.shape:
                    errors.append(f"size mismatch for {key}: copying a param with shape {array.shape} from "
                                  f"checkpoint, the shape in current model is {target.shape}.")
                elif assign:  # built now, so that a dtype a Parameter cannot hold fails before any change
                    new = Parameter(array, target.requires_grad) if isinstance(target, Parameter) else Tensor(array)
                    updates.append((module, name, target, new))
                else:
                    updates.append((module, name, target, array))
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for module, name, target, new in updates:
            if assign:
                setattr(module, name, new)
            else:
                target.detach().copy_(new)
        return IncompatibleKeys(missing, unexpected)

    # ---- printing ------------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self.named_children()]
        extra = self.extra_repr().split("\n") if self.extra_repr() else []
        if len(extra) == 1 and not children:
            return f"{type(self).__name__}({extra[0]})"
        if not extra and not children:
            return f"{type(self).__name__}()"
        return f"{type(self).__name__}(\n  " + "\n  ".join(extra + children) + "\n)"



def _float_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    """``dtype`` as a NumPy dtype that parameters can hold (float32 or float64), else TypeError."""
    dtype = np.dtype(dtype)
    if dtype == np.float16:
        raise TypeError("Module.to: float16 (half) is not supported: minigrad's parameters are float32 or float64")
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"Module.to: dtype must be float32 or float64, got {dtype}")
    return dtype
