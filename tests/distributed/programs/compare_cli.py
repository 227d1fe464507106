"""``minigrad compare OPTIONS`` under mpiexec. ``compare_cli.py fail RANK OPTIONS``: every 2-D run that rank
RANK takes raises, and the other ranks' runs take 10 ms more each (so that RANK surely takes one).
``compare_cli.py without-mpi4py OPTIONS``: as if mpi4py were not installed."""
import sys
import time

import minigrad.distributed as dist
from minigrad import cli
from minigrad.commands import compare

argv = sys.argv[1:]
if argv[0] == "fail":
    failing, argv, trajectory = int(argv[1]), argv[2:], compare.trajectory

    def failing_trajectory(*args, **kwargs):
        if dist.get_rank() == failing:
            raise RuntimeError(f"a run failed on rank {failing}")
        time.sleep(0.01)
        return trajectory(*args, **kwargs)
    compare.trajectory = failing_trajectory
elif argv[0] == "without-mpi4py":
    argv = argv[1:]
    sys.modules["mpi4py"] = None  # its import raises ImportError
sys.exit(cli.main(["compare", *argv]))
