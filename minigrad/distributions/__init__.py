"""Probability distributions with torch.distributions' API, for what reinforcement learning and
variational code use: ``Normal``, ``Categorical``, ``Bernoulli``, ``Independent``, and
``kl_divergence`` between them. ``sample`` draws from minigrad's generator (``manual_seed``), outside
the graph; ``rsample`` (Normal) is differentiable in the parameters, as are ``log_prob``, ``entropy``
and the KL. Arguments and values are checked as torch checks them, with torch's messages, unless
``validate_args=False`` (or ``Distribution.set_default_validate_args(False)``)."""
from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .independent import Independent
from .kl import kl_divergence, register_kl
from .normal import Normal

__all__ = ["Bernoulli", "Categorical", "Distribution", "Independent", "Normal", "constraints", "kl_divergence",
           "register_kl"]
