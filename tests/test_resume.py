"""Checkpoint and resume: N steps, save model + optimizer + scheduler to disk, load into fresh
objects, M more steps — bitwise identical to N + M uninterrupted steps."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.optim import lr_scheduler

OPTIMIZERS = [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)), ("Adagrad", dict(lr=0.05, lr_decay=0.01)),
              ("Adadelta", dict(weight_decay=0.01)), ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
              ("Adam", dict(lr=0.01, amsgrad=True)), ("AdamW", dict(lr=0.01)),
              ("Adamax", dict(lr=0.01)), ("NAdam", dict(lr=0.01, momentum_decay=0.1)),
              ("RAdam", dict(lr=0.01, betas=(0.9, 0.8)))]  # rectified from step 7, after the resume


def make(name, options, backend):
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 3))
    opt = getattr(mg.optim, name)(model.parameters(), **options, backend=backend)
    return model, opt, lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)


def train(model, opt, scheduler, batches):
    for x, y in batches:
        opt.zero_grad()
        mg.functional.cross_entropy(model(mg.tensor(x)), mg.tensor(y)).backward()
        opt.step()
        scheduler.step()


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("name, options", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_resume_from_disk_is_bitwise_identical(name, options, backend, tmp_path):
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((8, 6)).astype(np.float32), rng.integers(0, 3, 8)) for _ in range(10)]
    straight = make(name, options, backend)
    train(*straight, batches)

    first = make(name, options, backend)
    train(*first, batches[:6])
    model, opt, scheduler = first
    mg.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": scheduler.state_dict(),
             "epoch": 6, "note": "mid-training"}, tmp_path / "checkpoint.safetensors")
    del first, model, opt, scheduler

    checkpoint = mg.load(tmp_path / "checkpoint.safetensors")
    model, opt, scheduler = make(name, options, backend)
    model.load_state_dict(checkpoint["model"])
    opt.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    assert checkpoint["epoch"] == 6 and checkpoint["note"] == "mid-training"
    train(model, opt, scheduler, batches[6:])

    for (key, a), b in zip(straight[0].state_dict().items(), model.state_dict().values()):
        assert a.numpy().tobytes() == b.numpy().tobytes(), key
    assert straight[1].param_groups[0]["lr"] == opt.param_groups[0]["lr"]
