"""Optimizers with torch.optim's API; each step runs the C++ kernels (``backend="cpp"``) or their
NumPy twins (``backend="numpy"``)."""
from . import kernels_numpy, lr_scheduler, swa_utils
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .lbfgs import LBFGS
from .lion import Lion
from .muon import Muon
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .schedulefree import ScheduleFreeAdamW, ScheduleFreeSGD
from .sgd import SGD
from .sparse_adam import SparseAdam

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "ASGD",
           "Rprop", "Adafactor", "SparseAdam", "LBFGS", "Muon", "Lion", "ScheduleFreeAdamW", "ScheduleFreeSGD",
           "kernels_numpy", "lr_scheduler", "swa_utils"]
