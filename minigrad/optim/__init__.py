"""Optimizers with torch.optim's API; each step runs the C++ kernels (``backend="cpp"``) or their
NumPy twins (``backend="numpy"``)."""
from . import kernels_numpy, lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD
from .schedulefree import ScheduleFreeAdamW, ScheduleFreeSGD
from . import swa_utils

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "kernels_numpy", "lr_scheduler",
           "ScheduleFreeAdamW", "ScheduleFreeSGD", "swa_utils"]
