import numpy as np

from .optimizer import Optimizer, require


class Adagrad(Optimizer):
    """Adagrad, as torch.optim.Adagrad (state is created at construction)::

        d ← −g if maximize else g;    d ← d + λθ
        clr ← lr / (1 + (t − 1)·lr_decay)
        s ← s + d²                                (s starts at initial_accumulator_value)
        θ ← θ − clr·d / (√s + eps)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *,
                 maximize=False, backend="cpp", skip_nonfinite=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults, backend, skip_nonfinite)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p].update(step=0, sum=self._new_state(p, "sum", group))

    def _validate(self, group):
        require(group["lr"] >= 0, "Invalid learning rate: {}", group["lr"])
        require(group["lr_decay"] >= 0, "Invalid lr_decay value: {}", group["lr_decay"])
        require(group["weight_decay"] >= 0, "Invalid weight_decay value: {}", group["weight_decay"])
        require(group["initial_accumulator_value"] >= 0, "Invalid initial_accumulator_value value: {}",
                group["initial_accumulator_value"])
        require(group["eps"] >= 0, "Invalid epsilon value: {}", group["eps"])

    def _state_names(self, group):
        return ("sum",)

    def _new_state(self, param, name, group):
        return np.full_like(param.data, group["initial_accumulator_value"])

    def _kernel_call(self, group, step, data, grads, state_lists):
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        self._kernels.adagrad(data, grads, state_lists["sum"], clr=clr, weight_decay=group["weight_decay"],
                              eps=group["eps"], maximize=group["maximize"])
