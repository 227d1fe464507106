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
_MaybeArrays = list[NDArray[_Float] | None] | tuple[NDArray[_Float] | None, ...]  # None where a shape needs none

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
def adamax(params: _Arrays[_Float], grads: _Arrays[_Float], exp_avgs: _Arrays[_Float], exp_infs: _Arrays[_Float], *,
           beta1: float, beta2: float, eps: float, weight_decay: float, step_size: float, maximize: bool) -> None:
    """Adamax step over a list of tensors, in place (csrc/optim/adamax.h)."""
def nadam(params: _Arrays[_Float], grads: _Arrays[_Float], exp_avgs: _Arrays[_Float], exp_avg_sqs: _Arrays[_Float], *,
          lr: float, beta1: float, beta2: float, eps: float, weight_decay: float, bias_correction2: float,
          grad_step_size: float, exp_avg_step_size: float, maximize: bool, decoupled_weight_decay: bool) -> None:
    """NAdam step over a list of tensors, in place (csrc/optim/nadam.h)."""
def radam(params: _Arrays[_Float], grads: _Arrays[_Float], exp_avgs: _Arrays[_Float], exp_avg_sqs: _Arrays[_Float], *,
          lr: float, beta1: float, beta2: float, eps: float, weight_decay: float, bias_correction1: float,
          bias_correction2_sqrt: float, rect: float, rectified: bool, maximize: bool,
          decoupled_weight_decay: bool) -> None:
    """RAdam step over a list of tensors, in place (csrc/optim/radam.h)."""
def asgd(params: _Arrays[_Float], grads: _Arrays[_Float], axs: _Arrays[_Float], *, eta: float, lambd: float, mu: float,
         weight_decay: float, maximize: bool) -> None:
    """ASGD step over a list of tensors, in place (csrc/optim/asgd.h)."""
def rprop(params: _Arrays[_Float], grads: _Arrays[_Float], prevs: _Arrays[_Float], step_sizes: _Arrays[_Float], *,
          etaminus: float, etaplus: float, step_size_min: float, step_size_max: float, maximize: bool) -> None:
    """Rprop step over a list of tensors, in place (csrc/optim/rprop.h)."""
def lion(params: _Arrays[_Float], grads: _Arrays[_Float], exp_avgs: _Arrays[_Float], *, lr: float, beta1: float,
         beta2: float, weight_decay: float, maximize: bool) -> None:
    """Lion step over a list of tensors, in place (csrc/optim/lion.h)."""

def sparse_adam(params: _Arrays[_Float], exp_avgs: _Arrays[_Float], exp_avg_sqs: _Arrays[_Float],
                indices: list[NDArray[np.int64]] | tuple[NDArray[np.int64], ...], values: _Arrays[_Float], *,
                beta1: float, beta2: float, eps: float, step_size: float, maximize: bool) -> None:
    """SparseAdam step on the rows of coalesced row-sparse gradients, in place (csrc/optim/sparse_adam.h)."""

def adafactor(params: _Arrays[_Float], grads: _Arrays[_Float], row_vars: _MaybeArrays[_Float],
              col_vars: _MaybeArrays[_Float], variances: _MaybeArrays[_Float], *, lr: float, weight_decay: float,
              eps1: float, eps2: float, d: float, rho: float, one_minus_beta2: float, maximize: bool) -> None:
    """Adafactor step over a list of tensors, in place: row_vars/col_vars for >= 2-D params, variances for the
    others, None elsewhere (csrc/optim/adafactor.h)."""
def muon_momentum(grads: _Arrays[_Float], momentum_buffers: _Arrays[_Float], updates: _Arrays[_Float], *,
                  momentum: float, nesterov: bool) -> None:
    """Muon's momentum over a list of tensors, in place; writes the matrices to orthogonalise (csrc/optim/muon.h)."""
def muon_update(params: _Arrays[_Float], orthos: _Arrays[_Float], *, lr: float, weight_decay: float,
                adjusted_lr: float) -> None:
    """Muon's parameter update over a list of tensors, in place (csrc/optim/muon.h)."""
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
                 one_dtype: bool = True, skip_missing: bool = False, unused: Sequence[str] = [],
                 factored: Sequence[str] = []) -> None:
    """The kernels' argument checks, for the NumPy twins and the optimizer classes: lists is
    [(name, arrays), ...] with params first and grads second (with ``skip_missing``, a tensor whose
    grads entry is None is left out); ``factored`` names Adafactor's [row factor, column factor,
    unfactored] lists, which hold None where a param's shape does not use them; raises TypeError or
    ValueError before any kernel writes."""

def check_sparse_adam(params: object, exp_avgs: object, exp_avg_sqs: object, indices: object,
                      values: object) -> None:
    """sparse_adam()'s argument checks, for its NumPy twin: raises TypeError or ValueError as the kernel would."""

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
