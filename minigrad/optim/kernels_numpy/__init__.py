"""NumPy twins of the C++ optimizer kernels (csrc/optim/), one module per kernel
beside its header: ``kernels_numpy/adam.py`` is the twin of ``csrc/optim/adam.h``.

Same function names, same signatures (the array lists, then keyword-only scalars), same in-place
contract as ``minigrad._C``: every call updates a list of tensors (one dtype) in place, after the
same argument checks. Written as a competent NumPy user would: in-place ufuncs with ``out=``,
scratch arrays only where the math needs them, and the same order of operations as the C++ loops (torch.optim's), so both agree to the bit
in most steps. They are the reference for tests and the honest baseline for speed.

Scalars are Python floats, so NumPy computes in the arrays' dtype (as the kernels cast them).
"""
from .adadelta import adadelta
from .adafactor import adafactor
from .adagrad import adagrad
from .adam import adam
from .adamax import adamax
from .asgd import asgd
from .averaging import lerp, running_mean
from .axpy import axpy
from .lion import lion
from .muon import muon_momentum, muon_update
from .nadam import nadam
from .radam import radam
from .rmsprop import rmsprop
from .rprop import rprop
from .schedulefree import schedulefree_adamw, schedulefree_sgd
from .sgd import sgd
from .sparse_adam import sparse_adam

__all__ = ["sgd", "adagrad", "adadelta", "rmsprop", "adam", "axpy", "adamax", "nadam", "radam", "asgd", "rprop", "lion",
           "sparse_adam", "adafactor", "muon_momentum", "muon_update", "schedulefree_adamw", "schedulefree_sgd", "lerp",
           "running_mean"]
