"""DistributedDataParallel under mpiexec, checked on every rank against one process training on the
whole batch; rank 0 writes what it found as JSON to the path given.

    ddp.py OUT exact OPTIMIZER BUCKET_CAP_MB   20 steps, global batch 12, split over the ranks
    ddp.py OUT no_sync                         2 micro-batches accumulated in no_sync, then one synced
    ddp.py OUT unused                          a branch the loss does not use, with find_unused_parameters
                                               (then one rank 0 alone uses, and a forward of rank 0's alone)
    ddp.py OUT forward_decides                 a forward in no_sync, its backward outside: no averaging;
                                               a forward, a no_grad forward of rank 0's, the backward: averaging
    ddp.py OUT unused_unflagged                the same without it: the next forward's error
    ddp.py OUT shapes                          rank 1 builds another model: the error each rank got, in OUT.<rank>
    ddp.py OUT raise                           rank 1 raises in its third backward: the job aborts
"""
import copy
import json
import sys

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
import minigrad.functional as F
import minigrad.nn as nn

dist.init()
rank, world = dist.get_rank(), dist.get_world_size()
out_path, mode = sys.argv[1], sys.argv[2]
GLOBAL_BATCH = 12


class Net(nn.Module):
    def __init__(self, hidden=7, unused=False):
        super().__init__()
        self.first, self.second = nn.Linear(5, hidden), nn.Linear(hidden, 3)
        self.unused = nn.Linear(5, 3) if unused else None  # a branch forward takes only when told
        self.to(mg.float64)

    def forward(self, x, branch=False):
        out = self.second(F.relu(self.first(x)))
        return out + self.unused(x) if branch else out


def batch(step):
    rng = np.random.default_rng(step)
    return rng.standard_normal((GLOBAL_BATCH, 5)), rng.integers(0, 3, GLOBAL_BATCH)


def local(x, y):
    """This rank's contiguous part of the global batch (equal parts)."""
    part = len(y) // world
    return x[rank * part:(rank + 1) * part], y[rank * part:(rank + 1) * part]


def loss_of(model, x, y):
    return F.cross_entropy(model(mg.tensor(x)), mg.tensor(y))


def flat(model):
    return np.concatenate([p.detach().numpy().reshape(-1) for p in model.parameters()])


def same_on_every_rank(values):
    gathered = np.empty((world, values.size), values.dtype)
    dist.communicator().Allgather(values, gathered)
    return all(gathered[r].tobytes() == gathered[0].tobytes() for r in range(world))


def optimizer(name, params):
    return mg.optim.SGD(params, lr=0.1, momentum=0.9) if name == "momentum" else mg.optim.Adam(params, lr=0.01)


def report(**found):
    if rank == 0:
        with open(out_path, "w") as f:
            json.dump(found, f)


mg.manual_seed(rank)  # different initial weights on each rank: DDP must broadcast rank 0's
if mode == "exact":
    name, cap = sys.argv[3], float(sys.argv[4])
    net = Net()
    model = dist.DistributedDataParallel(net, bucket_cap_mb=cap)
    reference = copy.deepcopy(net)  # rank 0's weights, trained on the whole batch in this process
    opt, ref_opt = optimizer(name, model.parameters()), optimizer(name, reference.parameters())
    identical, worst = [], 0.0
    for step in range(20):
        x, y = batch(step)
        for m, o, (bx, by) in ((model, opt, local(x, y)), (reference, ref_opt, (x, y))):
            o.zero_grad()
            loss_of(m, bx, by).backward()
            o.step()
        ours, theirs = flat(model), flat(reference)
        identical.append(same_on_every_rank(ours))
        worst = max(worst, float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-300))))
    report(identical=identical, worst_relative=worst, buckets=len(model._buckets),
           bucket_sizes=[len(b.params) for b in model._buckets])
elif mode == "no_sync":
    net = Net()
    model = dist.DistributedDataParallel(net)
    reference = copy.deepcopy(net)
    (x0, y0), (x1, y1) = batch(0), batch(1)
    with model.no_sync():
        loss_of(model, *local(x0, y0)).backward()
    unsynced = np.concatenate([p.grad.numpy().reshape(-1) for p in model.parameters() if p.grad is not None])
    loss_of(model, *local(x1, y1)).backward()
    loss_of(reference, x0, y0).backward()
    loss_of(reference, x1, y1).backward()
    grads = np.concatenate([p.grad.numpy().reshape(-1) for p in model.parameters() if p.grad is not None])
    expected = np.concatenate([p.grad.numpy().reshape(-1) for p in reference.parameters() if p.grad is not None])
    report(unsynced_differs=not same_on_every_rank(unsynced), max_difference=float(np.max(np.abs(grads - expected))),
           identical=same_on_every_rank(grads))
elif mode in ("unused", "unused_unflagged"):
    model = dist.DistributedDataParallel(Net(unused=True), find_unused_parameters=mode == "unused")
    found = {}
    for step in range(2):
        try:
            loss_of(model, *local(*batch(step))).backward()
        except RuntimeError as error:
            found["error"] = str(error)
            break
    unused = model.module.unused.weight.grad
    found["unused_grad_none"] = unused is None  # unused on every rank: no gradient, as in one process
    found["used_identical"] = same_on_every_rank(model.module.first.weight.grad.numpy().reshape(-1))
    if mode == "unused":
        if rank == 0:  # a forward of rank 0's alone, outside the graph: it must not start any collective
            with mg.no_grad():
                model(mg.tensor(batch(9)[0]))
        model(mg.tensor(batch(8)[0]), branch=True).sum().backward()  # the branch used everywhere: it has a grad
        x, y = local(*batch(2))
        expected = np.zeros((3, 5))  # the branch's mean gradient when rank 0 alone uses it
        if rank == 0:
            alone = copy.deepcopy(model.module)
            alone.zero_grad()
            F.cross_entropy(alone(mg.tensor(x), branch=True), mg.tensor(y)).backward()
            expected = alone.unused.weight.grad.numpy() / world
        dist.broadcast(expected, src=0)
        out = model(mg.tensor(x), branch=rank == 0)  # the branch: rank 0's alone
        model.zero_grad()  # after the forward, before its backward: an unused one's gradient is read in backward
        F.cross_entropy(out, mg.tensor(y)).backward()
        found["partly_used_error"] = float(np.max(np.abs(model.module.unused.weight.grad.numpy() - expected)))
    report(**found)
elif mode == "forward_decides":
    model = dist.DistributedDataParallel(Net())
    with model.no_sync():
        loss = loss_of(model, *local(*batch(0)))
    loss.backward()  # outside the block, but its forward was inside: local gradients, as in torch
    found = {"local": not same_on_every_rank(model.module.first.weight.grad.numpy().reshape(-1))}
    model.zero_grad()
    loss = loss_of(model, *local(*batch(1)))
    if rank == 0:  # between the forward and its backward, an evaluation on one rank: nothing changes
        with mg.no_grad():
            model(mg.tensor(batch(9)[0]))
    loss.backward()
    found["averaged"] = same_on_every_rank(model.module.first.weight.grad.numpy().reshape(-1))
    report(**found)
elif mode == "shapes":
    try:
        dist.DistributedDataParallel(Net(hidden=7 if rank == 0 else 8))
        said = "no error"
    except ValueError as error:
        said = f"ValueError: {error}"
    with open(f"{out_path}.{rank}", "w") as f:  # each rank's own file: the ranks' printed lines may interleave
        f.write(said)
elif mode == "raise":
    model = dist.DistributedDataParallel(Net())
    for step in range(5):
        if step == 2 and rank == 1:
            raise RuntimeError("rank 1 failed in step 2")
        loss_of(model, *local(*batch(step))).backward()
    report(steps=5)
