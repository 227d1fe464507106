"""Neural-network layers with torch.nn's names, parameter names and default initialisation."""
from . import init, utils
from .activation import GELU, Dropout, Flatten, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .containers import ModuleDict, ModuleList, Sequential
from .conv import AvgPool2d, Conv1d, Conv2d, MaxPool2d
from .linear import Identity, Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .rnn import GRU, LSTM, RNN
from .sparse import Embedding
from ..tensor import Parameter

__all__ = ["init", "utils", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Linear", "Identity",
           "Embedding", "Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "RNN",
           "LSTM", "GRU", "ReLU", "Tanh", "Sigmoid", "GELU", "LeakyReLU", "Softmax", "LogSoftmax", "Dropout", "Flatten",
           "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCEWithLogitsLoss"]
