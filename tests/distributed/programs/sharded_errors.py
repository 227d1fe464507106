"""Bad input to ShardedOptimizer on 2 ranks, some of it on one rank only: every rank must raise (no
rank left waiting in a collective) and nothing may change. Each rank writes, to argv[1]/errors_<rank>.json,
per case: the exception's type and message, and whether the parameters and the state stayed as they were.
"""
import copy
import json
import os
import sys

import numpy as np
from sharded_exact import SHAPES, groups_of, make_params, set_gradients

import minigrad.distributed as dist
from minigrad import optim
from minigrad.distributed import ShardedOptimizer
from minigrad.nn import Parameter
from minigrad.tensor import _wrap


def attempt(action):
    try:
        action()
    except Exception as error:
        return {"type": type(error).__name__, "message": str(error)}
    return {"type": None, "message": ""}


def snapshot(params, opt):
    state = opt.state_dict()
    return [p.numpy().copy() for group in params for p in group], copy.deepcopy(state)


def unchanged(before, after):
    (values, state), (values_after, state_after) = before, after
    same_values = all(np.array_equal(a, b) for a, b in zip(values, values_after))
    if state is None:
        return same_values
    same_state = state["state"].keys() == state_after["state"].keys() and all(
        state["state"][i].keys() == state_after["state"][i].keys()
        and all(np.array_equal(v, state_after["state"][i][k]) for k, v in state["state"][i].items())
        for i in state["state"]) and state["param_groups"] == state_after["param_groups"]
    return same_values and same_state


def main():
    dist.init()
    rank = dist.get_rank()
    results = {}
    params = make_params(SHAPES)
    flat = [p for group in params for p in group]

    def construct(optimizer_class, given=None, **options):
        return lambda: ShardedOptimizer(optimizer_class, groups_of(params, 0.01) if given is None else given,
                                        **{"lr": 0.01, **options})

    results["optimizer instance"] = attempt(construct(optim.Adam(flat)))
    results["optimizer name"] = attempt(construct("Adam"))
    results["LBFGS"] = attempt(construct(optim.LBFGS))
    results["SparseAdam"] = attempt(construct(optim.SparseAdam))
    results["empty params"] = attempt(construct(optim.Adam, []))
    results["negative lr"] = attempt(construct(optim.Adam, lr=-1.0))
    results["Muon with a 1-D parameter"] = attempt(construct(optim.Muon))
    results["params differ between ranks"] = attempt(construct(optim.Adam, [Parameter(np.zeros(3 + rank))]))

    opt = ShardedOptimizer(optim.Adam, groups_of(params, 0.01), lr=0.01)
    set_gradients(params, 0, [rank])
    opt.step()
    state = copy.deepcopy(opt.state_dict())
    full_state = dist.communicator().bcast(state, root=0)

    def step_with(change):
        set_gradients(params, 1, [rank])
        change()
        before = snapshot(params, opt)
        outcome = attempt(opt.step)
        outcome["unchanged"] = unchanged(before, snapshot(params, opt))
        return outcome

    def gradient_on_rank_1_only():
        if rank == 0:
            flat[1].grad = None

    def wrong_shape_on_rank_1():
        if rank == 1:
            flat[0]._grad = _wrap(np.zeros(4))

    def negative_lr():
        opt.param_groups[1]["lr"] = -0.5

    results["gradient on one rank only"] = step_with(gradient_on_rank_1_only)
    results["gradient of a wrong shape on rank 1"] = step_with(wrong_shape_on_rank_1)
    results["negative lr set in param_groups"] = step_with(negative_lr)
    opt.param_groups[1]["lr"] = 0.005
    results["train() of Adam"] = attempt(opt.train)

    def load(bad):
        before = snapshot(params, opt)
        outcome = attempt(lambda: opt.load_state_dict(bad))
        outcome["unchanged"] = unchanged(before, snapshot(params, opt))
        return outcome

    wrong_shape = copy.deepcopy(full_state)
    wrong_shape["state"][3]["exp_avg"] = np.zeros(5)  # parameter 3 (elements 23..35 of 35): rank 1's alone
    results["state of a wrong shape, one rank's"] = load(wrong_shape)
    bad_step = copy.deepcopy(full_state)
    bad_step["state"][0]["step"] = -1
    results["negative step count"] = load(bad_step)
    results["one group missing"] = load({**full_state, "param_groups": full_state["param_groups"][:1]})
    results["not a state dict"] = load([1, 2])
    results["then a good one loads"] = load(full_state)
    results["and steps"] = step_with(lambda: None)
    with open(os.path.join(sys.argv[1], f"errors_{rank}.json"), "w") as file:
        json.dump(results, file, indent=1)


if __name__ == "__main__":
    main()
