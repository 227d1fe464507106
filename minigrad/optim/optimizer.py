"""The optimizer base class: torch.optim.Optimizer's contract.

A parameter is a Tensor (usually a ``Parameter``) whose array is float32/float64, C-contiguous and
writeable, updated in place, with ``.grad`` of the same shape and dtype, or None to skip it. The
kernels receive those very arrays (``p._data``, ``p.grad._data``): no copies.
Subclasses gather a param group into lists and hand them to one kernel call per dtype; the kernel
is ``minigrad._C`` (C++) or its twin ``minigrad.optim.kernels_numpy``, chosen by ``backend``.
"""
from __future__ import annotations

import reprlib
from collections import defaultdict
from itertools import chain
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable, Sequence, TypeVar, Union

import numpy as np

from .. import _C
from ..autograd.engine import mark_modified
from ..tensor import Tensor
from . import kernels_numpy

if TYPE_CHECKING:
    from .._typing import Array

    ParamGroup = dict[str, Any]  # "params" (a list of parameters) and the hyperparameters (any values)
    State = dict[str, Any]  # a parameter's state: its arrays and its step count
    Params = Union[Iterable[Tensor], Iterable[ParamGroup]]  # the parameters, or param groups
    # one kernel call of a step: (group, step key, params, their states, {state name: arrays})
    KernelCall = tuple[ParamGroup, Hashable, list[Tensor], list[State], dict[str, list[Array]]]
    Buckets = dict[tuple[np.dtype[Any], Hashable], tuple[list[Tensor], list[State]]]  # see _buckets
    Loss = TypeVar("Loss")

# name -> the kernels: a module, or a stand-in with the same functions (the bench commands time them)
BACKENDS: dict[str, Any] = {"cpp": _C, "numpy": kernels_numpy}


def require(condition: bool, message: str, *values: object) -> None:
    """Hyperparameter validation with torch's messages (formatted only on failure: this runs every step)."""
    if not condition:
        raise ValueError(message.format(*values))


class Optimizer:
    """Base class: param groups, per-parameter state, state_dict, zero_grad and the step protocol.

    Subclasses set ``defaults`` and define ``_validate(group)`` (torch's messages), the state they
    keep (``_state_names``, ``_new_state``), what splits a group into kernel calls besides the dtype
    (``_step_keys``) and the kernel call itself (``_kernel_call``).
    ``skip_nonfinite=True`` skips the whole step (parameters, state and step counts untouched)
    when any gradient holds a NaN or an infinity, counting such steps in ``skipped_steps``.
    """

    def __init__(self, params: Params, defaults: dict[str, Any], backend: str = "cpp",
                 skip_nonfinite: bool = False) -> None:
        _refuse_what_needs_torch(defaults)
        self.defaults = defaults
        self.state: defaultdict[Tensor, State] = defaultdict(dict)
        self.param_groups: list[ParamGroup] = []
        self.backend = backend
        self.skip_nonfinite = skip_nonfinite
        self.skipped_steps = 0
        if isinstance(params, Tensor):  # iterating it would give its rows: views the step never writes back
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {type(params).__module__}.{type(params).__qualname__}")
        if isinstance(params, (set, frozenset)):
            raise TypeError("params must be an ordered collection (a list), not a set: a set's order changes between runs")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        for group in groups if isinstance(groups[0], dict) else [{"params": groups}]:
            self.add_param_group(group)  # type: ignore[arg-type]  # a dict, or the group made of the list

    @property
    def backend(self) -> str:
        """'cpp' (the compiled kernels) or 'numpy' (their twins); may be switched between steps."""
        return self._backend

    @backend.setter
    def backend(self, name: str) -> None:
        if name not in BACKENDS:
            raise ValueError(f"backend must be one of {sorted(BACKENDS)}, got {name!r}")
        self._backend, self._kernels = name, BACKENDS[name]

    def __getstate__(self) -> dict[str, Any]:  # copy.deepcopy(opt): the kernels are found again by backend name
        return {name: value for name, value in self.__dict__.items() if name != "_kernels"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.backend = self._backend

    def add_param_group(self, param_group: ParamGroup) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of parameters in sets will change between runs; use a list instead")
        params = [params] if isinstance(params, Tensor) else list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]  # named_parameters(): (name, param) pairs
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            if any(len(p) != 2 for p in params):
                raise TypeError("a named parameter must be a (name, param) pair, as named_parameters() gives")
            params = [p[1] for p in params]
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"params[{i}]: optimizer can only optimize Tensors (such as minigrad.Parameter), "
                                f"but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"params[{i}]: can't optimize a non-leaf Tensor (made by '{p.grad_fn}')")
        _C.check_arrays("add_param_group", [("params", [p._data for p in params])], read_only=[], one_dtype=False)
        if any(("param_names" in group) != bool(names) for group in self.param_groups):
            raise ValueError("all optimizer param groups should be with/without names. cannot add param group "
                             f"{'with' if names else 'without'} names to the optimizer")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        group = {**self.defaults, **param_group, "params": params}
        if names:
            group["param_names"] = names
        lr = group.get("lr")
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        self._validate(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every gradient (``grad = None``), or zero it in place with ``set_to_none=False``."""
        for p in chain.from_iterable(group["params"] for group in self.param_groups):
            if set_to_none:
                p._grad = None  # (no shape checks to run for None)
            elif p._grad is not None:
                p._grad.zero_() if p._grad.is_sparse else p._grad._data.fill(0)  # sparse: no entries left, as torch

    def step(self, closure: Callable[[], Loss] | None = None) -> Loss | None:
        """One update of every parameter that has a gradient; returns ``closure()``'s loss if given.

        All or nothing: every group's hyperparameters, and every parameter, gradient and state array
        of every kernel call, are checked before the first call writes anything; step counts move
        only after all calls ran. A rejected step leaves parameters, state and counts as they were.
        """
        loss = closure() if closure is not None else None
        if len(self.param_groups) == 1 and not self.skip_nonfinite and self._step_in_one_call(self.param_groups[0]):
            return loss
        for index, group in enumerate(self.param_groups):
            self._validate(group)
            params = group["params"]
            if any(p._grad is not None and p._grad.is_sparse for p in params):
                raise RuntimeError(_sparse_grad_error(type(self).__name__))
            _C.check_arrays(f"{type(self).__name__}.step: param_groups[{index}]",
                            [("params", [p._data for p in params]), ("grads", _grad_arrays(params))],
                            one_dtype=False, skip_missing=True)
        if self.skip_nonfinite and not self._grads_finite():
            self.skipped_steps += 1
            return loss
        self._run(self._checked_calls())
        return loss

    def _step_in_one_call(self, group: ParamGroup) -> bool:
        """The steady state of a training loop, with as little Python as possible: one group whose
        every parameter has a gradient and all its state, in one bucket. Then the kernel's own checks
        (those of step(), made before it writes anything) are all that is needed. Returns False,
        having changed nothing, when that is not the case or the kernel refuses the arrays: step()
        then takes the general path, which splits the group into buckets or raises the error that
        names the group."""
        params = group["params"]
        if not params:
            return False
        state_of = self.state.get
        states: list[State] = [state_of(p) for p in params]  # type: ignore[misc]  # no None: checked next
        if None in states:  # a parameter's first step: the general path creates its state after checking
            return False
        # a state array not created yet is None here, which the kernel's checks refuse: then the
        # general path creates it (a name a parameter does not need, _state_names_for, stays None)
        state_lists = _state_lists(self._state_names(group), states)
        keys = self._step_keys(states)
        if keys.count(keys[0]) != len(keys):
            return False
        self._validate(group)
        try:  # a parameter without gradient (None) fails the kernel's check too
            self._run([(group, keys[0], params, states, state_lists)])
        except (TypeError, ValueError):  # raised by the kernel's checks, before any write
            return False
        return True

    def _checked_calls(self) -> list[KernelCall]:
        """Every kernel call of this step as (group, key, params, states, state_lists), each checked
        as its kernel will check it, with the state it needs created. If any check fails, the state
        created here is removed again before the error propagates."""
        calls: list[KernelCall] = []
        created: list[tuple[Tensor, str]] = []
        try:
            for index, group in enumerate(self.param_groups):
                names = self._state_names(group)
                for (_, key), (params, states) in self._buckets(group, created).items():
                    state_lists = _state_lists(names, states)
                    in_call = {id(p): s for p, s in zip(params, states)}  # checked in group order: indices
                    lists = [("params", [p._data for p in group["params"]]),  # in messages are the group's
                             ("grads", _grad_arrays(p if id(p) in in_call else None for p in group["params"]))]
                    lists += [(f"state['{name}']", [in_call[id(p)].get(name) if id(p) in in_call else None
                                                    for p in group["params"]]) for name in names]
                    _C.check_arrays(f"{type(self).__name__}.step: param_groups[{index}]", lists, skip_missing=True,
                                    factored=[f"state['{name}']" for name in self.factored_state])
                    calls.append((group, key, params, states, state_lists))
        except BaseException:
            self._forget(created)
            raise
        return calls

    def _forget(self, created: list[tuple[Tensor, str]]) -> None:
        """Remove the state entries (param, name) a rejected step created."""
        for p, name in created:
            del self.state[p][name]
            if not self.state[p]:
                del self.state[p]

    def _run(self, calls: list[KernelCall]) -> None:
        """The kernel calls; then, once all succeeded, every updated parameter's version (so that a
        graph that saved it refuses to backpropagate) and step count."""
        for group, key, params, _, state_lists in calls:
            grads = _grad_arrays(params)  # none is None: the checks ran
            self._kernel_call(_numbers(group), key, [p._data for p in params], grads, state_lists)
        mark_modified(*(p for _, _, params, _, _ in calls for p in params))
        if self.counts_steps:
            for group, key, _, states, _ in calls:
                self._advance(group, key, states)

    def _grads_finite(self) -> bool:
        return all(np.isfinite(p._grad._data).all() for group in self.param_groups for p in group["params"]
                   if p._grad is not None)

    def _buckets(self, group: ParamGroup, created: list[tuple[Tensor, str]]) -> Buckets:
        """The group's parameters that have a gradient, as {(dtype, step key): (params, states)}:
        each bucket is one kernel call. The key sees the state as it was before this step; then the
        state arrays each parameter needs (``_state_names_for``) are created where missing, each
        noted as (param, name) in ``created``."""
        buckets: Buckets = {}
        with_grad = [p for p in group["params"] if p._grad is not None]
        with_grad_states = [self.state.get(p, {}) for p in with_grad]
        for p, state, key in zip(with_grad, with_grad_states, self._step_keys(with_grad_states)):
            params, states = buckets.setdefault((p._data.dtype, key), ([], []))
            state = self.state[p]
            for name in self._state_names_for(group, p):
                if name not in state:
                    state[name] = self._new_state(p, name, group)
                    created.append((p, name))
            params.append(p)
            states.append(state)
        return buckets

    # ---- what each optimizer defines ------------------------------------------------------------

    counts_steps = True  # keep state["step"], the number of updates each parameter has had (_advance)
    scalar_state: tuple[str, ...] = ()  # per-parameter state that is a number, not an array (besides "step")

    def _validate(self, group: ParamGroup) -> None:
        """Raise torch's ValueError for an invalid hyperparameter of ``group``."""
        raise NotImplementedError

    def _state_names(self, group: ParamGroup) -> tuple[str, ...]:
        """The state arrays this group's options use (each zeros_like(param) unless ``_new_state`` says)."""
        return ()

    def _state_names_for(self, group: ParamGroup, param: Tensor) -> tuple[str, ...]:
        """Those of ``_state_names(group)`` that ``param`` needs (here all); in a kernel call the
        others are None in their lists."""
        return self._state_names(group)

    # state lists in Adafactor's factored layouts, in the kernel's order [row factor, column factor,
    # unfactored]: checked for the reduced shapes, None where a parameter's shape does not use them
    factored_state: tuple[str, ...] = ()

    def _new_state(self, param: Tensor, name: str, group: ParamGroup) -> Array:
        return np.zeros_like(param._data)

    def _step_keys(self, states: list[State]) -> Sequence[Hashable]:
        """For each state, what besides the dtype its parameter's kernel call depends on (parameters
        whose keys differ go in separate calls); sees the states as they are before the step. Here
        the step t about to be taken (bias corrections and decayed rates depend on it)."""
        return [s.get("step", 0) + 1 for s in states]

    def _advance(self, group: ParamGroup, key: Any, states: list[State]) -> None:
        """After a step's kernel calls all ran: the state that moves with the step, here the count
        (``key`` is the step just taken). An optimizer whose key carries more (a per-parameter
        product, a decayed rate) moves that too."""
        for s in states:
            s["step"] = key

    def _scalar_state_value(self, name: str, value: float, index: object) -> float:
        """A saved entry of ``scalar_state`` (already a real number), checked; raise to refuse it."""
        return value

    def _kernel_call(self, group: ParamGroup, key: Any, data: list[Array], grads: list[Array],
                     state_lists: dict[str, list[Array]]) -> None:
        """One call of this optimizer's kernel (``self._kernels``) over these lists: ``state_lists``
        maps each of ``_state_names(group)`` to its arrays; ``key`` is the parameters' step key."""
        raise NotImplementedError

    # ---- checkpoints: torch's state_dict layout -------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: state}, 'param_groups': [group with 'params' as indices]}, parameters
        numbered in group order. Like torch, the state's arrays are the live ones, not copies."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            groups.append({**{k: v for k, v in group.items() if k != "params"},
                           "params": [index[id(p)] for p in group["params"]]})
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if s}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a ``state_dict()`` (ours or torch's, converted to NumPy): arrays are copied and cast
        to their parameter's dtype. The whole dict is checked (structure, step counts, array shapes
        and dtypes, hyperparameters) before anything changes."""
        saved_groups, saved_state = state_dict_parts(state_dict)
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(s["params"]) != len(g["params"]) for s, g in zip(saved_groups, self.param_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        by_index = {_index(i): p for s, g in zip(saved_groups, self.param_groups) for i, p in zip(s["params"], g["params"])}
        new_state: defaultdict[Tensor, State] = defaultdict(dict)
        for i, saved in saved_state.items():
            if _index(i) not in by_index:
                raise ValueError(f"loaded state dict has state for parameter {i}, which no parameter group lists")
            if not isinstance(saved, dict):
                raise TypeError(f"loaded state dict: the state of parameter {i} must be a dict, got {type(saved).__name__}")
            p = by_index[_index(i)]
            new_state[p] = {name: self._scalar_state_value(name, _number(value, name, i), i) if name in self.scalar_state
                            else _state_value(value, p, name, i) for name, value in saved.items()}
            missing = [name for name in self.scalar_state if "step" in saved and name not in saved]
            if missing:  # it moves with the step count: without it the next step would start it over
                raise TypeError(f"loaded state dict: state {missing[0]!r} of parameter {i} is missing (a parameter "
                                "that has taken steps has it)")
        new_groups = loaded_groups(saved_groups, self.param_groups)
        for group in new_groups:
            self._validate(group)
        self.state, self.param_groups = new_state, new_groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} (backend={self.backend!r})"]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines)


def state_dict_parts(state_dict: object) -> tuple[Sequence[ParamGroup], dict[Any, Any]]:
    """(param_groups, state) of a state dict, checked for structure: a TypeError otherwise."""
    if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
        raise TypeError("state_dict must be a dict with 'state' and 'param_groups', as state_dict() returns")
    saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
    if not isinstance(saved_groups, (list, tuple)) or not all(isinstance(g, dict) and "params" in g
                                                              for g in saved_groups):
        raise TypeError("state_dict['param_groups'] must be a list of dicts, each with 'params'")
    if not isinstance(saved_state, dict):
        raise TypeError(f"state_dict['state'] must be a dict, got {type(saved_state).__name__}")
    return saved_groups, saved_state


def loaded_groups(saved_groups: Sequence[ParamGroup], groups: Sequence[ParamGroup]) -> list[ParamGroup]:
    """The param groups after loading: each saved group's hyperparameters over its live group's
    parameters (and their names, kept unless the saved group has its own)."""
    return [{**{k: v for k, v in g.items() if k == "param_names"},
             **{k: v for k, v in s.items() if k != "params"}, "params": g["params"]}
            for s, g in zip(saved_groups, groups)]


def _index(i: object) -> int:
    """A parameter's index in a state dict: an int (or a str of one, as JSON gives back)."""
    if isinstance(i, bool) or not isinstance(i, (int, np.integer, str)) or not str(i).lstrip("-").isdigit():
        raise TypeError(f"loaded state dict: parameter indices must be integers, got {i!r}")
    return int(i)


MAX_STEP = 2 ** 53  # beyond, a float step count stops counting (and bias corrections are 1)


def _number(value: object, name: str, index: object) -> float:
    """A saved state entry that is a number (or a one-element array of one, as torch's 0-d tensors become)."""
    number = value.item() if isinstance(value, (np.ndarray, np.generic)) and np.size(value) == 1 else value
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise TypeError(f"loaded state dict: state {name!r} of parameter {index} must be a number, got "
                        f"{type(value).__name__}")
    return float(number)


def _state_value(value: object, param: Tensor, name: str, index: object) -> Array | int | float:
    """A checked copy of one saved state entry: the step count as a number (a whole number in
    [0, 2**53]), arrays of real numbers cast to the parameter's dtype and checked for shape."""
    if name == "step":
        step = value.item() if isinstance(value, (np.ndarray, np.generic)) and np.size(value) == 1 else value
        if isinstance(step, bool) or not isinstance(step, (int, float)):
            raise TypeError(f"loaded state dict: state 'step' of parameter {index} must be a number, got "
                            f"{type(value).__name__}")
        if not (0 <= step <= MAX_STEP and float(step).is_integer()):
            raise ValueError(f"loaded state dict: state 'step' of parameter {index} must be a whole number of steps "
                             f"between 0 and 2**53, got {reprlib.repr(value)}")
        return step
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"loaded state dict: state {name!r} of parameter {index} must be an array of real numbers, "
                        f"got dtype {array.dtype}")
    if array.shape != param._data.shape:
        raise ValueError(f"loaded state dict: state {name!r} of parameter {index} has shape {array.shape} "
                         f"but the parameter has shape {param._data.shape}")
    return np.array(array, dtype=param._data.dtype, order="C", copy=True)


def _refuse_what_needs_torch(defaults: dict[str, Any]) -> None:
    """torch's execution switches: ``foreach`` and ``fused`` are accepted and change nothing (every step
    is already one fused multi-tensor kernel call per group and dtype); the two that need what minigrad
    does not have are refused at construction."""
    if defaults.get("capturable"):
        raise ValueError("capturable=True is for CUDA graph capture; minigrad's tensors live on the CPU, "
                         "leave capturable=False")
    if defaults.get("differentiable"):
        raise NotImplementedError("differentiable=True (an optimizer step recorded by autograd) is not supported: "
                                  "minigrad's steps update parameters in place, outside the graph")


def _numbers(group: ParamGroup) -> ParamGroup:
    """The group as the kernel call reads it: a Tensor-valued lr (which a scheduler or the user may
    fill in place between steps) is read as a float at each step, as torch does without capturable."""
    lr = group.get("lr")
    return {**group, "lr": float(lr)} if isinstance(lr, Tensor) else group


def _state_lists(names: tuple[str, ...], states: list[State]) -> dict[str, list[Array]]:
    """{name: each state's array}, None where a state lacks it (a kernel's checks refuse that, or
    take it where the parameter's shape does not use the array: Adafactor's factored state)."""
    return {name: [s.get(name) for s in states] for name in names}  # type: ignore[misc]


def _grad_arrays(params: Iterable[Tensor | None]) -> list[Any]:
    """The gradients' arrays (None for a parameter without gradient, or in place of a None; a sparse
    gradient as it is, which the dense kernels refuse)."""
    return [(g if g.is_sparse else g._data) if p is not None and (g := p._grad) is not None else None
            for p in params]


# torch 2.13's errors for a sparse gradient; SGD and Adagrad accept one in torch, not (yet) in minigrad
_SPARSE_GRAD_ERRORS = {"Adam": "Adam does not support sparse gradients, please consider SparseAdam instead",
                       "RMSprop": "RMSprop does not support sparse gradients",
                       "Adadelta": "Adadelta does not support sparse gradients"}


def _sparse_grad_error(name: str) -> str:
    return _SPARSE_GRAD_ERRORS.get("Adam" if name == "AdamW" else name) or (
        f"{name} does not support sparse gradients in minigrad, please consider SparseAdam instead (or densify the "
        "gradient first: p.grad = p.grad.to_dense())")
