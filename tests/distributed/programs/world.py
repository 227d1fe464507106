"""minigrad.distributed's world under mpiexec; each rank writes what it sees to DIR/rank<r>.json.

    world.py DIR        rank, size, local rank, print0, all_reduce, broadcast, DistributedSampler's defaults
    world.py DIR raise  then rank 1 raises while rank 0 waits in a barrier: the job must abort
    world.py DIR exit   then rank 1 calls sys.exit(3) through minigrad's command line: the job must abort
"""
import json
import os
import sys

import numpy as np

import minigrad as mg
import minigrad.distributed as dist

dist.init()
dist.init()  # a second call does nothing
rank = dist.get_rank()
summed = np.array([rank + 1.0, 10.0 * rank])
dist.all_reduce(summed)
mean = mg.tensor([float(rank), 2.0 * rank])
dist.all_reduce(mean, "mean")
biggest = np.array([rank], np.int64)
dist.all_reduce(biggest, "max")
shared = np.full(3, float(rank))
dist.broadcast(shared, src=1)
sampler = mg.data.DistributedSampler(range(7), shuffle=False)
dist.print0("printed once")
with open(os.path.join(sys.argv[1], f"rank{rank}.json"), "w") as f:
    json.dump({"rank": rank, "size": dist.get_world_size(), "local_rank": dist.get_local_rank(),
               "summed": summed.tolist(), "mean": mean.tolist(), "max": biggest.tolist(), "shared": shared.tolist(),
               "sampler": list(sampler), "main": dist.is_main_process()}, f)
if sys.argv[2:] == ["raise"] and rank == 1:
    raise ValueError("rank 1 failed mid-step")
if sys.argv[2:] == ["exit"] and rank == 1:
    from minigrad import cli
    cli.COMMANDS["info"] = (lambda argv: sys.exit(3), "")
    cli.main(["info"])
dist.barrier()
