"""Every optimizer, both backends: a ShardedOptimizer against the plain optimizer stepped (in this
same program, on every rank) on the world's mean gradient, in float64. Rank 0 writes, as JSON to
argv[1], per case: the largest relative difference of the parameters over the steps and of the
final state (``state_dict()`` gathered on rank 0 against the plain one), and any structural mismatch.

Group 0's 35 elements split 17 | 18 inside its second tensor, its (1,) tensor is smaller than the
world and has a gradient on odd steps only; group 1 holds one element, so rank 0's shard of it is
empty. Gradients are drawn from (step, rank, parameter): the same on every run and world size.
"""
import json
import sys

import numpy as np

import minigrad.distributed as dist
from minigrad import optim
from minigrad.distributed import ShardedOptimizer
from minigrad.nn import Parameter
from minigrad.tensor import _wrap

STEPS = 4
SHAPES = [[(3, 5), (7,), (1,), (2, 2, 3)], [(1,)]]
MATRICES = [[(3, 5), (4, 2), (1, 1)], [(2, 2)]]  # Muon's: 2-D only
CASES = {
    "SGD": (optim.SGD, dict(lr=0.1)),
    "SGD-nesterov": (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "Adam": (optim.Adam, dict(lr=0.01)),
    "Adam-amsgrad": (optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    "AdamW": (optim.AdamW, dict(lr=0.01)),
    "Adamax": (optim.Adamax, dict(lr=0.01)),
    "NAdam": (optim.NAdam, dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)),
    "RAdam": (optim.RAdam, dict(lr=0.01)),
    "Adagrad": (optim.Adagrad, dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    "Adadelta": (optim.Adadelta, dict(lr=1.0)),
    "RMSprop": (optim.RMSprop, dict(lr=0.01, momentum=0.9, centered=True)),
    "Rprop": (optim.Rprop, dict(lr=0.01)),
    "ASGD": (optim.ASGD, dict(lr=0.01, t0=2)),
    "Lion": (optim.Lion, dict(lr=0.01, weight_decay=0.1)),
    "Adafactor": (optim.Adafactor, dict(lr=0.01)),
    "Muon": (optim.Muon, dict(lr=0.01)),
    "ScheduleFreeAdamW": (optim.ScheduleFreeAdamW, dict(lr=0.01, warmup_steps=2)),
    "ScheduleFreeSGD": (optim.ScheduleFreeSGD, dict(lr=0.1)),
}


def gradient(step, rank, index, shape):
    return np.random.default_rng([step, rank, index]).standard_normal(shape)


def make_params(shapes, dtypes=None):
    params, index = [], 0
    for shapes_of_group in shapes:
        group = []
        for shape in shapes_of_group:
            dtype = (dtypes or {}).get(index, np.float64)
            group.append(Parameter(np.random.default_rng([99, index]).standard_normal(shape).astype(dtype)))
            index += 1
        params.append(group)
    return params


def groups_of(params, lr):
    return [{"params": params[0]}, {"params": params[1], "lr": lr / 2}]


def set_gradients(params, step, ranks):
    """Each parameter's gradient: the mean of those of ``ranks`` (this rank alone, or the whole world)."""
    flat = [p for group in params for p in group]
    for index, p in enumerate(flat):
        if index == 2 and step % 2 == 0:
            p.grad = None
            continue
        total = sum(gradient(step, rank, index, p.shape).astype(p.dtype) for rank in ranks)  # as MPI sums them
        p.grad = _wrap(total / p.dtype.type(len(ranks)))
    return flat


def relative(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b), initial=0) / max(np.max(np.abs(b), initial=0), 1e-300))


def compare_states(sharded, plain):
    """(largest relative difference of the state arrays and numbers, description of any mismatch)."""
    if sharded["param_groups"] != plain["param_groups"]:
        return np.inf, f"param_groups differ: {sharded['param_groups']} != {plain['param_groups']}"
    if sharded["state"].keys() != plain["state"].keys():
        return np.inf, f"state of parameters {sorted(sharded['state'])} != {sorted(plain['state'])}"
    error = 0.0
    for index, expected in plain["state"].items():
        got = sharded["state"][index]
        if got.keys() != expected.keys():
            return np.inf, f"parameter {index}: state {sorted(got)} != {sorted(expected)}"
        for name, value in expected.items():
            if isinstance(value, np.ndarray):
                if got[name].shape != value.shape or got[name].dtype != value.dtype:
                    return np.inf, f"parameter {index} {name}: {got[name].shape} {got[name].dtype} != " \
                                   f"{value.shape} {value.dtype}"
            elif type(got[name]) is not type(value):
                return np.inf, f"parameter {index} {name}: {got[name]!r} != {value!r}"
            error = max(error, relative(got[name], value))
    return error, ""


def run_case(optimizer_class, options, shapes, world, rank, average_gradients=True, scheduler=None, nonfinite=None,
             dtypes=None):
    comm = dist.communicator()
    mine, reference = make_params(shapes, dtypes), make_params(shapes, dtypes)
    lr = options["lr"]
    options = {k: v for k, v in options.items() if k != "lr"}
    sharded = ShardedOptimizer(optimizer_class, groups_of(mine, lr), lr=lr, average_gradients=average_gradients,
                               **options)
    plain = optimizer_class(groups_of(reference, lr), lr=lr, **options)
    schedulers = [scheduler(sharded), scheduler(plain)] if scheduler else []
    if hasattr(plain, "train"):
        sharded.train()
        plain.train()
    param_error = 0.0
    for step in range(STEPS):
        flat = set_gradients(mine, step, [rank] if average_gradients else range(world))
        if nonfinite is not None and step == nonfinite and rank == world - 1:
            flat[0].grad._data[0, 0] = np.inf  # an element rank 0 owns
        sharded.step()
        set_gradients(reference, step, range(world))
        if nonfinite is not None and step == nonfinite:
            reference[0][0].grad._data[0, 0] = np.inf
        plain.step()
        for s in schedulers:
            s.step()
        param_error = max([param_error] + [relative(p.numpy(), q.numpy()) for group, other in zip(mine, reference)
                                           for p, q in zip(group, other)])
    if hasattr(plain, "eval"):
        sharded.eval()
        plain.eval()
        param_error = max([param_error] + [relative(p.numpy(), q.numpy()) for group, other in zip(mine, reference)
                                           for p, q in zip(group, other)])
    everywhere = comm.allgather(np.concatenate([p.numpy().reshape(-1) for group in mine for p in group]))
    same_on_ranks = all(np.array_equal(everywhere[0], other) for other in everywhere)
    state = sharded.state_dict()
    result = dict(param_error=param_error, same_on_ranks=same_on_ranks, state_bytes=sharded.state_bytes(),
                  skipped=[sharded.skipped_steps, plain.skipped_steps])
    if rank == 0:
        result["state_error"], result["mismatch"] = compare_states(state, plain.state_dict())
    else:
        result["state_is_none"] = state is None
    return result


def main():
    dist.init()
    world, rank = dist.get_world_size(), dist.get_rank()
    results = {}
    for backend in ("cpp", "numpy"):
        for name, (optimizer_class, options) in CASES.items():
            shapes = MATRICES if optimizer_class is optim.Muon else SHAPES
            results[f"{name}-{backend}"] = run_case(optimizer_class, {**options, "backend": backend}, shapes, world,
                                                    rank)
    results["Adam-StepLR"] = run_case(optim.Adam, dict(lr=0.01), SHAPES, world, rank,
                                      scheduler=lambda opt: optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5))
    results["Adam-already-averaged"] = run_case(optim.Adam, dict(lr=0.01), SHAPES, world, rank,
                                                average_gradients=False)
    results["Adam-skip-nonfinite"] = run_case(optim.Adam, dict(lr=0.01, skip_nonfinite=True), SHAPES, world, rank,
                                              nonfinite=1)
    results["Adam-float32-and-float64"] = run_case(optim.Adam, dict(lr=0.01), SHAPES, world, rank,
                                                   dtypes={1: np.float32, 3: np.float32})
    results["Adafactor-float32-and-float64"] = run_case(optim.Adafactor, dict(lr=0.01), SHAPES, world, rank,
                                                        dtypes={0: np.float32})
    gathered = dist.communicator().gather(results, root=0)
    if rank == 0:
        for other in gathered[1:]:
            for case, result in other.items():
                results[case]["param_error"] = max(results[case]["param_error"], result["param_error"])
                results[case]["state_is_none_elsewhere"] = result["state_is_none"]
                results[case].setdefault("state_bytes_per_rank", [results[case]["state_bytes"]]).append(
                    result["state_bytes"])
        with open(sys.argv[1], "w") as file:
            json.dump(results, file, indent=1, default=float)


if __name__ == "__main__":
    main()
