"""Datasets and callbacks for test_dataloader.py: at module level in an importable module, so that
DataLoader worker processes (forkserver/spawn) can unpickle them."""
import os
import signal
import time

import numpy as np

import minigrad
from minigrad import data


class Squares(data.Dataset):
    """Per-sample access only: sample i is (float32 [i*i]*3, i)."""

    def __init__(self, n=20):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(3, i * i, dtype=np.float32), i


class WorkerReport(data.Dataset):
    """Sample i says which worker fetched it, its seed, and draws from the global generators."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = data.get_worker_info()
        return {"i": i, "id": info.id, "num_workers": info.num_workers, "seed": str(info.seed),
                "own_dataset": isinstance(info.dataset, WorkerReport), "numpy": int(np.random.randint(2**31)),
                "minigrad": int(minigrad.default_generator().integers(2**31)), "pid": os.getpid(),
                "init": os.environ.get("MINIGRAD_TEST_INIT", "")}


class Failing(data.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            raise ValueError(f"bad sample {i}")
        return i


class Dying(data.Dataset):
    """Sample 2 ends its worker process: with exit code 3, or by SIGKILL."""

    def __init__(self, kill=False):
        self.kill = kill

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 2 and data.get_worker_info() is not None:
            if self.kill:
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(3)
        return i


class Slow(data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(3 if i == 1 else 0)
        return i


def record_init(worker_id):
    os.environ["MINIGRAD_TEST_INIT"] = f"init{worker_id}"


def failing_init(worker_id):
    raise KeyError(f"no init for {worker_id}")


def count_collate(samples):
    return [len(samples), sum(label for _, label in samples)]
