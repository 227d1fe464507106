"""SyncBatchNorm under mpiexec: a conv net with SyncBatchNorm in DistributedDataParallel on each
rank's part of a batch against the same net with BatchNorm2d on the whole batch, in one process.
Rank 0 writes the worst relative differences (outputs, parameters, running statistics) as JSON."""
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
mg.manual_seed(0)
net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))
net.to(mg.float64)
reference = copy.deepcopy(net)
model = dist.DistributedDataParallel(nn.SyncBatchNorm.convert_sync_batchnorm(net))
opt, ref_opt = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), mg.optim.SGD(reference.parameters(), lr=0.1,
                                                                                      momentum=0.9)


def relative(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


worst = {"output": 0.0, "parameters": 0.0, "running": 0.0}
for step in range(10):
    rng = np.random.default_rng(step)
    x, y = rng.standard_normal((8, 2, 4, 4)) * 3 + 1, rng.integers(0, 3, 8)
    part = slice(rank * 8 // world, (rank + 1) * 8 // world)
    out, ref_out = model(mg.tensor(x[part])), reference(mg.tensor(x))
    worst["output"] = max(worst["output"], relative(out.detach().numpy(), ref_out.detach().numpy()[part]))
    for o, m, o_opt, t in ((out, model, opt, y[part]), (ref_out, reference, ref_opt, y)):
        o_opt.zero_grad()
        F.cross_entropy(o, mg.tensor(t)).backward()
        o_opt.step()
    ours = np.concatenate([p.detach().numpy().reshape(-1) for p in model.parameters()])
    theirs = np.concatenate([p.detach().numpy().reshape(-1) for p in reference.parameters()])
    worst["parameters"] = max(worst["parameters"], relative(ours, theirs))
    bn, ref_bn = model.module[1], reference[1]
    for name in ("running_mean", "running_var"):
        worst["running"] = max(worst["running"], relative(getattr(bn, name).numpy(), getattr(ref_bn, name).numpy()))
worst["converted"] = type(model.module[1]).__name__
worst["batches_tracked"] = int(model.module[1].num_batches_tracked.item())
if rank == 0:
    with open(sys.argv[1], "w") as f:
        json.dump(worst, f)
