"""Data-parallel training, measured on this machine and scaled on paper: the training step of
digits-CNN and char-LSTM on 2 MPI ranks against one process, and the all-reduce of their gradients.

    mpiexec -n 2 minigrad bench ddp [--models digits-cnn,char-lstm] [--rounds 7] [--steps 20] [--json PATH]

One job, the candidates taking turns round by round (a round's order is the last one's reversed),
each at one thread: "2 ranks", both ranks training a DistributedDataParallel model on half of each
global batch of 32; "1 rank", rank 0 training a plain copy on the whole batch while rank 1 waits
in a barrier; and rank 0 alone at each machine count's share of the batch (16, 8, ..., 1), the
compute each of N machines would do. Rank 1 waits spinning on its own core, as MPICH's waits do
unless MPIR_CVAR_ENABLE_HEAVY_YIELD=1 (which yields the core but adds about half a millisecond to
every collective here). A step is zero_grad, forward, loss, backward (with the all-reduce) and an
Adam step, on the example's model and data. Reported per model: the median step of each candidate
and the speedup; the time backward waited at its end for the all-reduce (the communication the
rest of backward did not hide, and the other rank's lag behind this one) as a share of the 2-rank
step; the gradients' bytes and a blocking ``Allreduce`` of them alone; Adam's state, and the largest
share of it a rank keeps under ShardedOptimizer.

On paper: N machines on a network of B Gbit/s, the global batch fixed. A ring all-reduce of the
gradients' V bytes takes 2(N − 1)/N · V/B plus 2(N − 1) latencies (10 µs each, assumed), and a step
T(32/N) + that, T(b) being the step measured here at batch b (a small net's step does not shrink in
proportion to its batch: the per-layer work of Python and NumPy stays), no overlap of communication
with backward assumed: the speedup is T(32) / (T(32/N) + all-reduce).
"""
import argparse
import copy
import json
import sys
import time

import numpy as np

from ..distributed.sharded import state_bytes
from ..examples.arguments import integer, names, require

GLOBAL_BATCH = 32
LATENCY = 10e-6  # seconds per message of the ring, assumed (a fast local network)
BANDWIDTHS_GBIT = (10, 25, 100)
MACHINES = (2, 4, 8, 16, 32)


def digits_cnn():
    """(model, batch(rng, size) -> (input, target)) of ``minigrad train digits-cnn``."""
    import minigrad as mg
    from ..examples.digits_cnn import cnn
    x, y = mg.data.digits("train")

    def batch(rng, size):
        rows = rng.integers(0, len(y), size)
        return mg.tensor(x[rows]), mg.tensor(y[rows])
    return cnn(), batch


def char_lstm():
    """(model, batch) of ``minigrad train char-lstm``: chunks of 64 characters of its corpus."""
    import minigrad as mg
    from ..examples.char_lstm import CharModel, text_split
    corpus, ids, _ = text_split(200_000, "test")
    vocab = len(corpus.vocab)

    def batch(rng, size):  # (inputs, the next characters flattened, as the logits are)
        starts = rng.integers(0, len(ids) - 65, size)
        chunk = np.stack([ids[s:s + 65] for s in starts])
        return mg.tensor(chunk[:, :-1]), mg.tensor(chunk[:, 1:].reshape(-1))

    class Logits(mg.nn.Module):  # the logits flattened for cross_entropy, the state dropped
        def __init__(self):
            super().__init__()
            self.model = CharModel(vocab, 128)

        def forward(self, x):
            return self.model(x)[0].reshape(-1, vocab)
    return Logits(), batch


MODELS = {"digits-cnn": digits_cnn, "char-lstm": char_lstm}


def train_steps(model, opt, batch, rng, size, steps, ddp=None):
    """(seconds per step, seconds of each step backward waited for the all-reduce) over ``steps`` steps."""
    import minigrad.functional as F
    durations, waits = [], []
    for _ in range(steps):
        x, y = batch(rng, size)
        waited = ddp.wait_seconds if ddp is not None else 0.0
        start = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        durations.append(time.perf_counter() - start)
        waits.append((ddp.wait_seconds if ddp is not None else 0.0) - waited)
    return durations[1:], waits[1:]  # the first step of a turn warms the caches up


def allreduce_alone(volume_bytes, repeats=50):
    """Median seconds of a blocking Allreduce of ``volume_bytes`` of float32 over the world."""
    import minigrad.distributed as dist
    from mpi4py import MPI
    buffer, comm, times = np.ones(volume_bytes // 4, np.float32), dist.communicator(), []
    for _ in range(repeats):
        comm.Barrier()
        start = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def race(name, rounds, steps):
    """The candidates on model ``name``, round by round, then rank 0's step at each machine count's
    share of the batch; their medians (on rank 0; None elsewhere)."""
    import minigrad as mg
    import minigrad.distributed as dist
    rank, world = dist.get_rank(), dist.get_world_size()
    mg.manual_seed(0)
    net, batch = MODELS[name]()
    alone = copy.deepcopy(net)
    ddp = dist.DistributedDataParallel(net)
    opt, alone_opt = mg.optim.Adam(ddp.parameters(), lr=1e-3), mg.optim.Adam(alone.parameters(), lr=1e-3)
    volume = sum(p._data.nbytes for p in net.parameters())
    rng = np.random.default_rng(rank)
    together, waits = [], []
    shares = sorted({GLOBAL_BATCH // n for n in (1, world) + MACHINES}, reverse=True)  # batch sizes rank 0 runs alone
    alone_steps = {size: [] for size in shares}
    for r in range(rounds):
        order = ["ranks"] + shares if r % 2 == 0 else shares[::-1] + ["ranks"]
        for candidate in order:
            dist.barrier()
            if candidate == "ranks":
                durations, waited = train_steps(ddp, opt, batch, rng, GLOBAL_BATCH // world, steps, ddp)
                together += durations
                waits += waited
            elif rank == 0:
                alone_steps[candidate] += train_steps(alone, alone_opt, batch, rng, candidate, steps)[0]
    alone_allreduce = allreduce_alone(volume)
    plain_state, sharded_state = state_bytes(alone_opt), sharded_adam_state_bytes(net, batch, rng)
    if rank != 0:
        return None
    step_ranks, step_at = float(np.median(together)), {size: float(np.median(t)) for size, t in alone_steps.items()}
    return {"model": name, "parameters": sum(p.numel() for p in net.parameters()), "gradient_bytes": volume,
            "ranks": world, "step_ranks_seconds": step_ranks, "step_one_rank_seconds": step_at[GLOBAL_BATCH],
            "step_alone_at_batch_seconds": step_at, "speedup": step_at[GLOBAL_BATCH] / step_ranks,
            "wait_seconds": float(np.median(waits)), "wait_share": float(np.median(waits)) / step_ranks,
            "allreduce_alone_seconds": alone_allreduce, "adam_state_bytes": plain_state,
            "sharded_adam_state_bytes_per_rank": sharded_state}


def sharded_adam_state_bytes(net, batch, rng):
    """The largest share of Adam's state any rank keeps under ShardedOptimizer, after a step of ``net``."""
    import minigrad.distributed as dist
    import minigrad.functional as F
    from ..optim import Adam
    dist.broadcast_parameters(net)
    opt = dist.ShardedOptimizer(Adam, net.parameters(), lr=1e-3)
    x, y = batch(rng, GLOBAL_BATCH)
    F.cross_entropy(net(x), y).backward()  # (not through the DDP: its hooks stay idle)
    opt.step()
    largest = np.array([opt.state_bytes()], np.int64)
    dist.all_reduce(largest, "max")
    return int(largest[0])


def on_paper(record):
    """{bandwidth Gbit/s: {machines N: (all-reduce seconds, speedup)}} for ``record``'s model: the
    step on N machines is the step measured here at 1/N of the batch plus a ring all-reduce."""
    table = {}
    for gbit in BANDWIDTHS_GBIT:
        table[gbit] = {}
        for n in MACHINES:
            ring = 2 * (n - 1) / n * record["gradient_bytes"] / (gbit * 1e9 / 8) + 2 * (n - 1) * LATENCY
            share = record["step_alone_at_batch_seconds"][GLOBAL_BATCH // n]
            table[gbit][n] = (ring, record["step_one_rank_seconds"] / (share + ring))
    return table


def report(records):
    world = records[0]["ranks"]
    print(f"\n{'model':<11} {'params':>8} {'grad KiB':>9} {'1 rank':>9} {f'{world} ranks':>9} {'speedup':>8} "
          f"{'waited':>8} {'share':>6} {'all-reduce alone':>17}")
    for r in records:
        print(f"{r['model']:<11} {r['parameters']:>8,} {r['gradient_bytes'] / 1024:>9,.0f} "
              f"{1e3 * r['step_one_rank_seconds']:>7.2f}ms {1e3 * r['step_ranks_seconds']:>7.2f}ms "
              f"{r['speedup']:>7.2f}× {1e6 * r['wait_seconds']:>6.0f}µs {100 * r['wait_share']:>5.1f}% "
              f"{1e6 * r['allreduce_alone_seconds']:>15.0f}µs")
    for r in records:
        print(f"{r['model']}: Adam's state {r['adam_state_bytes']:,} bytes; with ShardedOptimizer over {world} ranks "
              f"at most {r['sharded_adam_state_bytes_per_rank']:,} bytes a rank")
    print("\none rank's step alone at each share of the batch of 32 (what N machines each compute)")
    for r in records:
        print(f"{r['model']:<11} " + "  ".join(f"batch {size}: {1e3 * t:.2f}ms"
                                             for size, t in r["step_alone_at_batch_seconds"].items()))
    print(f"\non paper: all-reduce and speedup on N machines (ring, {1e6 * LATENCY:.0f} µs a message; each computes "
          f"its share of the batch of {GLOBAL_BATCH} in the time measured above, no overlap)")
    print(f"{'model':<11} {'Gbit/s':>6} " + " ".join(f"{'N=' + str(n):>14}" for n in MACHINES))
    for r in records:
        for gbit, row in r["on_paper"].items():
            print(f"{r['model']:<11} {gbit:>6} " + " ".join(f"{1e6 * ring:>6.0f}µs {speedup:>5.2f}×"
                                                              for ring, speedup in row.values()))


def main(argv=None):
    p = argparse.ArgumentParser(prog="minigrad bench ddp", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated (default: all)")
    p.add_argument("--rounds", type=integer(1), default=7, help="turns of each candidate (default: 7)")
    p.add_argument("--steps", type=integer(2), default=20, help="training steps per turn (default: 20)")
    p.add_argument("--json", metavar="PATH", help="write every figure as JSON (rank 0)")
    args = p.parse_args(argv)
    models = names(p, "--models", args.models, MODELS)
    require("minigrad bench ddp", ["mpi4py", "sklearn"])
    import minigrad.distributed as dist
    if not dist.launched_by_mpiexec():
        p.exit(2, "minigrad bench ddp: start it with mpiexec, e.g. mpiexec -n 2 minigrad bench ddp\n")
    import minigrad as mg
    mg.set_num_threads(1)
    dist.init()
    world = dist.get_world_size()
    if world < 2 or GLOBAL_BATCH % world:
        if dist.is_main_process():
            print(f"minigrad bench ddp: needs 2 or more processes that share the batch of {GLOBAL_BATCH} evenly "
                  f"(2, 4, 8, ...), got {world}", file=sys.stderr)
        return 2
    records = [race(name, args.rounds, args.steps) for name in models]
    if not dist.is_main_process():
        return 0
    for record in records:
        record["on_paper"] = on_paper(record)
    report(records)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"records": records, "latency_seconds": LATENCY}, f, indent=1)
    return 0
