"""Checkpoints across world sizes, as three jobs sharing a directory (argv[2]); the trajectory is 5
steps on the mean gradient of 2 (real or simulated) ranks, its reference taken by the 2-rank job:

    save   (2 ranks): 3 steps, state_dict() -> after3.pkl; 2 more steps -> final.pkl. In the same job: the
                      state reloaded on 2 ranks, and a plain optimizer's state loaded on 2 ranks, both continued
    resume (1 rank):  after3.pkl into the plain optimizer, continued 2 steps; into a ShardedOptimizer of
                      world size 1, continued 1 step -> after4.pkl
    finish (2 ranks): after4.pkl continued 1 step

Each job writes <mode>.json: per case and check, the largest relative difference from the reference.
"""
import copy
import json
import os
import pickle
import sys

from sharded_exact import SHAPES, compare_states, groups_of, make_params, relative, set_gradients

import minigrad.distributed as dist
from minigrad import optim
from minigrad.distributed import ShardedOptimizer

CASES = {"Adam": (optim.Adam, dict(lr=0.01)), "ASGD": (optim.ASGD, dict(lr=0.01, t0=1)),
         "Adafactor": (optim.Adafactor, dict(lr=0.01)), "SGD-momentum": (optim.SGD, dict(lr=0.1, momentum=0.9))}


def params_with(values):
    params = make_params(SHAPES)
    for p, value in zip([p for group in params for p in group], values):
        p._data[...] = value
    return params


def values(params):
    return [p.numpy().copy() for group in params for p in group]


def optimizer(case, params, sharded):
    optimizer_class, options = CASES[case]
    options = {k: v for k, v in options.items() if k != "lr"}
    groups = groups_of(params, CASES[case][1]["lr"])
    lr = CASES[case][1]["lr"]
    return ShardedOptimizer(optimizer_class, groups, lr=lr, **options) if sharded else \
        optimizer_class(groups, lr=lr, **options)


def run(opt, params, steps, ranks):
    for step in steps:
        set_gradients(params, step, ranks)
        opt.step()


def error(params, reference):
    return max(relative(value, expected) for value, expected in zip(values(params), reference))


def load(directory, name):
    with open(os.path.join(directory, name), "rb") as file:
        return pickle.load(file)


def save(directory, name, data):
    with open(os.path.join(directory, name), "wb") as file:
        pickle.dump(data, file)


def main():
    mode, directory = sys.argv[1:3]
    dist.init()
    comm, rank, world = dist.communicator(), dist.get_rank(), dist.get_world_size()
    ranks = [rank] if world == 2 else [0, 1]  # this rank's gradient, or both simulated ranks' in one process
    results, after3, after4, final = {}, {}, {}, {}
    for case in CASES:
        if mode == "save":
            params = make_params(SHAPES)
            opt = optimizer(case, params, sharded=True)
            run(opt, params, range(3), ranks)
            after3[case] = dict(state=opt.state_dict(), values=values(params))
            run(opt, params, range(3, 5), ranks)
            final[case] = values(params)
            saved = comm.bcast(after3[case], root=0)
            again = params_with(saved["values"])  # 2 ranks save -> 2 ranks load
            opt = optimizer(case, again, sharded=True)
            opt.load_state_dict(saved["state"])
            run(opt, again, range(3, 5), ranks)
            plain_params = make_params(SHAPES)  # plain -> 2 ranks
            plain = optimizer(case, plain_params, sharded=False)
            run(plain, plain_params, range(3), range(world))
            sharded_params = params_with(values(plain_params))
            opt = optimizer(case, sharded_params, sharded=True)
            plain_state = copy.deepcopy(plain.state_dict())
            opt.load_state_dict(plain_state)
            loaded_state = opt.state_dict()  # gathered back: the state loaded
            run(plain, plain_params, range(3, 5), range(world))
            run(opt, sharded_params, range(3, 5), ranks)
            results[case] = {"2 ranks -> 2 ranks": error(again, final[case]),
                             "plain -> 2 ranks": error(sharded_params, values(plain_params))}
            if rank == 0:
                results[case]["plain -> 2 ranks, state_dict()"] = compare_states(loaded_state, plain_state)
        else:
            reference = load(directory, "final.pkl")[case]
            if mode == "resume":
                saved = load(directory, "after3.pkl")[case]
                params = params_with(saved["values"])  # 2 ranks -> plain
                plain = optimizer(case, params, sharded=False)
                plain.load_state_dict(saved["state"])
                run(plain, params, range(3, 5), ranks)
                params_of_one = params_with(saved["values"])  # 2 ranks -> 1 rank
                opt = optimizer(case, params_of_one, sharded=True)
                opt.load_state_dict(saved["state"])
                run(opt, params_of_one, [3], ranks)
                after4[case] = dict(state=opt.state_dict(), values=values(params_of_one))
                run(opt, params_of_one, [4], ranks)
                results[case] = {"2 ranks -> plain": error(params, reference),
                                 "2 ranks -> 1 rank": error(params_of_one, reference)}
            else:
                saved = load(directory, "after4.pkl")[case]  # 1 rank -> 2 ranks
                params = params_with(saved["values"])
                opt = optimizer(case, params, sharded=True)
                opt.load_state_dict(saved["state"])
                run(opt, params, [4], ranks)
                results[case] = {"1 rank -> 2 ranks": error(params, reference)}
    if rank == 0:
        for name, data in (("after3.pkl", after3), ("after4.pkl", after4), ("final.pkl", final)):
            if data:
                save(directory, name, data)
        with open(os.path.join(directory, f"{mode}.json"), "w") as file:
            json.dump(results, file, indent=1, default=float)


if __name__ == "__main__":
    main()
