"""minigrad's compiled optimizer kernels (csrc/bindings.cpp; see csrc/optim/ and csrc/driver.h).

Each kernel updates lists of arrays in place. The array lists come first, by position or by name:
each exactly a list or a tuple of C-contiguous float32 or float64 ndarrays, all of one dtype (a list
the options do not use, such as ``momentum_buffers`` when ``momentum == 0``, may be empty). Every
hyperparameter is keyword-only.
"""
from collections.abc import Sequence
from typing import Literal, SupportsIndex, TypedDict, TypeVar, type_check_only

import numpy as np
from numpy.typing import NDArray

_Float = TypeVar("_Float", np.float32, np.float64)
_Arrays = list[NDArray[_Float]] | tuple[NDArray[_Float], ...]

def sgd(params: _Arrays[_Float], grads: _Arrays[_Float], momentum_buffers: _Arrays[_Float], *, lr: float,
        weight_decay: float, momentum: float, dampening: float, nesterov: bool, maximize: bool,
        first_step: bool) -> None:
    """SGD step over a list of tensors, in place (csrc/optim/sgd.h)."""
def adagrad(params: _Arrays[_Float], grads: _Arrays[_Float], state_sums: _Arrays[_Float], *, clr: float,
            weight_decay: float, eps: float, maximize: bool) -> None:
    """Adagrad step over a list of tensors, in place (csrc/optim/adagrad.h)."""
def adadelta(params: _Arrays[_Float], grads: _Arrays[_Float], square_avgs: _Arrays[_Float],
             acc_deltas: _Arrays[_Float], *, lr: float, rho: float, eps: float, weight_decay: float,
             maximize: bool) -> None:
    """Adadelta step over a list of tensors, in place (csrc/optim/adadelta.h)."""
def rmsprop(params: _Arrays[_Float], grads: _Arrays[_Float], square_avgs: _Arrays[_Float],
            grad_avgs: _Arrays[_Float], momentum_buffers: _Arrays[_Float], *, lr: float, alpha: float, eps: float,
            weight_decay: float, momentum: float, centered: bool, maximize: bool) -> None:
    """RMSprop step over a list of tensors, in place (csrc/optim/rmsprop.h)."""
def adam(params: _Arrays[_Float], grads: _Arrays[_Float], exp_avgs: _Arrays[_Float], exp_avg_sqs: _Arrays[_Float],
         max_exp_avg_sqs: _Arrays[_Float], *, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
         step_size: float, bias_correction2_sqrt: float, amsgrad: bool, maximize: bool,
         decoupled_weight_decay: bool) -> None:
    """Adam/AdamW step over a list of tensors, in place (csrc/optim/adam.h)."""
def axpy(xs: _Arrays[_Float], ys: _Arrays[_Float], *, alpha: float) -> None:
    """x += alpha * y over a list of tensors: the in-place bandwidth reference for benchmarks (csrc/optim/axpy.h)."""
def schedulefree_adamw(params: _Arrays[_Float], grads: _Arrays[_Float], zs: _Arrays[_Float],
                       exp_avg_sqs: _Arrays[_Float], *, lr: float, ckp1: float, y_step: float, beta2: float,
                       eps: float, weight_decay: float, bias_correction2: float) -> None:
    """Schedule-Free AdamW step over a list of tensors, in place (csrc/optim/schedulefree.h)."""
def schedulefree_sgd(params: _Arrays[_Float], grads: _Arrays[_Float], zs: _Arrays[_Float], *, lr: float,
                     ckp1: float, y_step: float, weight_decay: float) -> None:
    """Schedule-Free SGD step over a list of tensors, in place (csrc/optim/schedulefree.h)."""
def lerp(starts: _Arrays[_Float], ends: _Arrays[_Float], *, weight: float) -> None:
    """start = lerp(start, end, weight) over a list of tensors, in place: EMA and the Schedule-Free train/eval
    switch (csrc/optim/averaging.h)."""
def running_mean(means: _Arrays[_Float], values: _Arrays[_Float], *, count: float) -> None:
    """mean += (value - mean) / count over a list of tensors, in place: SWA (csrc/optim/averaging.h)."""

def check_arrays(op: str, lists: Sequence[tuple[str, object]], read_only: Sequence[str] = ["grads"],
                 one_dtype: bool = True, skip_missing: bool = False, unused: Sequence[str] = []) -> None:
    """The kernels' argument checks, for the NumPy twins and the optimizer classes: lists is
    [(name, arrays), ...] with params first and grads second (with ``skip_missing``, a tensor whose
    grads entry is None is left out); raises TypeError or ValueError before any kernel writes."""

def set_simd(level: str) -> None:
    """Use the kernels compiled for this SIMD level (one of ``build_info()["simd_supported"]``)."""
def set_num_threads(n: SupportsIndex) -> None: ...
def get_num_threads() -> int: ...
def set_thread_policy(policy: str) -> None:
    """'adaptive' (default) or 'fixed'; results are bitwise identical either way."""
def get_thread_policy() -> Literal["adaptive", "fixed"]: ...

@type_check_only
class _BuildInfo(TypedDict):
    version: str
    compiler: str
    openmp: bool
    openmp_version: int | None  # _OPENMP, e.g. 201511
    num_threads: int
    thread_policy: Literal["adaptive", "fixed"]
    simd_compiled: list[str]
    simd_supported: list[str]
    simd: str
    grain: int  # elements per thread of a parallel call

def build_info() -> _BuildInfo: ...
