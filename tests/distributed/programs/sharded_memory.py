"""Optimizer state memory per rank of ShardedOptimizer(Adam) after one step, for the digits CNN and the
char-LSTM (its 96-character vocabulary, hidden size 128), against the plain Adam's. Rank 0 writes
{model: {"plain": bytes, "per_rank": [bytes of each rank]}} as JSON to argv[1] and prints a line per model.

    mpiexec -n 2 python tests/distributed/programs/sharded_memory.py memory.json
"""
import json
import sys

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
from minigrad.distributed import ShardedOptimizer
from minigrad.distributed.sharded import state_bytes
from minigrad.examples.char_lstm import CharModel
from minigrad.examples.digits_cnn import cnn
from minigrad.optim import Adam
from minigrad.tensor import _wrap


def main():
    dist.init()
    comm = dist.communicator()
    results = {}
    for name, build in (("digits CNN", cnn), ("char-LSTM", lambda: CharModel(96, 128))):
        mg.manual_seed(0)
        params = list(build().parameters())
        for p in params:
            p.grad = _wrap(np.ones_like(p.numpy()))
        sharded = ShardedOptimizer(Adam, params, lr=1e-3)
        sharded.step()
        plain = Adam([p.detach().clone().requires_grad_() for p in params], lr=1e-3)
        for p in plain.param_groups[0]["params"]:
            p.grad = _wrap(np.ones_like(p.numpy()))
        plain.step()
        per_rank = comm.gather(sharded.state_bytes(), root=0)
        results[name] = {"elements": sum(p.numel() for p in params), "plain": state_bytes(plain),
                         "per_rank": per_rank}
        dist.print0(f"{name}: {results[name]['elements']} parameters; Adam's state {state_bytes(plain)} bytes; "
                    f"sharded over {comm.Get_size()} rank(s): {per_rank} bytes")
    if dist.get_rank() == 0:
        with open(sys.argv[1], "w") as file:
            json.dump(results, file, indent=1)


if __name__ == "__main__":
    main()
