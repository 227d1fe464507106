"""Neural-network layers with torch.nn's names, parameter names and default initialisation.
``minigrad.nn.functional`` is ``minigrad.functional`` itself (one module under torch's path too)."""
from .. import functional
from . import init, utils
from .activation import (CELU, ELU, GELU, SELU, Dropout, Dropout2d, Flatten, Hardsigmoid, Hardswish, Hardtanh,
                         LeakyReLU, LogSigmoid, LogSoftmax, Mish, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softplus,
                         Softsign,
                         Tanh, Unflatten)
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import AvgPool1d, AvgPool2d, Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, MaxPool1d, MaxPool2d
from .linear import Identity, Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CosineSimilarity, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss,
                   MSELoss, NLLLoss, PairwiseDistance, SmoothL1Loss)
from .module import Module
from .normalization import (BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm1d, InstanceNorm2d, LayerNorm,
                            SyncBatchNorm)
from .rnn import GRU, LSTM, RNN
from .sampling import AdaptiveAvgPool1d, AdaptiveAvgPool2d, Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .sparse import Embedding
from .transformer import (MultiheadAttention, Transformer, TransformerDecoder, TransformerDecoderLayer,
                          TransformerEncoder, TransformerEncoderLayer)
from ..tensor import Parameter

__all__ = ["functional", "init", "utils", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict",
           "ParameterList", "ParameterDict", "Linear", "Identity",
           "Embedding", "Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "SyncBatchNorm",
           "InstanceNorm1d", "InstanceNorm2d", "LayerNorm", "RNN",
           "LSTM", "GRU", "ReLU", "Tanh", "Sigmoid", "GELU", "LeakyReLU", "Softmax", "LogSoftmax", "Dropout", "Flatten",
           "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCEWithLogitsLoss", "ELU", "CELU", "SELU", "Mish",
           "Hardtanh", "ReLU6", "SiLU", "Softplus", "Softsign", "LogSigmoid", "Hardsigmoid", "Hardswish", "Dropout2d",
           "Unflatten", "MaxPool1d", "AvgPool1d", "BCELoss", "SmoothL1Loss", "HuberLoss", "KLDivLoss",
           "CosineSimilarity", "PairwiseDistance", "ConvTranspose1d", "ConvTranspose2d",
           "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "GroupNorm", "MultiheadAttention", "Transformer", "TransformerEncoder", "TransformerEncoderLayer",
           "TransformerDecoder", "TransformerDecoderLayer"]
