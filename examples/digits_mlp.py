"""A multilayer perceptron on the bundled 8×8 handwritten digits (scikit-learn's): 64-256-128-10
with ReLUs and dropout. ``train`` is shared with digits_cnn.py.

    python examples/digits_mlp.py [--optimizer adam] [--epochs 30] [--save mlp.safetensors]
    minigrad train digits-mlp [options]
"""
import functools

import numpy as np

import minigrad as mg
import minigrad.functional as F
import minigrad.nn as nn
from minigrad.examples import common

LR = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01,
      "adagrad": 0.03, "adadelta": 1.0, "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3}
EPOCHS = 30
NEEDS = ("sklearn",)  # the optional modules it needs: the digits ship with scikit-learn


@functools.cache
def digits(split):
    """mg.data.digits(split), read once per process (``minigrad compare`` trains dozens of models on them)."""
    return mg.data.digits(split)


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))


@mg.no_grad()
def accuracy(model, x, y):
    model.eval()
    predicted = model(mg.tensor(x)).numpy().argmax(1)
    model.train()
    return float(np.mean(predicted == y))


def train(make_model, lrs, default_epochs, optimizer="adam", lr=None, backend="cpp", epochs=None, seed=0, quiet=True,
          max_steps=None, save=None, resume=None, timing=False, logdir=None, batch_size=32, split="test",
          distributed=False):
    """Train ``make_model()`` on the training digits (``lr`` defaults to ``lrs[optimizer]``) and test
    it; returns common.result's dict (metric: test accuracy). With ``split="validation"`` it trains on
    the training digits less a held-out part (``common.hold_out``, by seed) and scores on that part.
    ``distributed``: each rank of the MPI world trains on its share of every batch of ``batch_size``
    (a DistributedSampler's, reshuffled each epoch), through ``common.data_parallel``."""
    lr, epochs = common.tuned_lr(lrs, optimizer) if lr is None else lr, default_epochs if epochs is None else epochs
    common.check_split(split)
    mg.manual_seed(seed)
    x_train, y_train = digits("train")
    if split == "test":
        x_test, y_test = digits("test")
    else:
        kept, held = common.hold_out(len(y_train), seed)
        x_train, y_train, x_test, y_test = x_train[kept], y_train[kept], x_train[held], y_train[held]
    dataset = mg.data.TensorDataset(x_train, y_train)
    _, _, local_batch = common.rank_share(batch_size, distributed)
    sampler = mg.data.DistributedSampler(dataset, seed=seed) if distributed else None
    loader = mg.data.DataLoader(dataset, local_batch, shuffle=sampler is None, sampler=sampler)
    model = make_model()
    opt = common.make_optimizer(optimizer, model, lr, backend)
    log = common.RunLog(quiet, max_steps, timing, logdir, distributed)
    first_epoch = common.load_checkpoint(resume, model, opt, optimizer, log) if resume else 0
    trained = common.data_parallel(model, distributed)  # after a resume: it gives each rank its own random stream

    for epoch in range(first_epoch, epochs):
        for x, y in log.epoch(loader, epoch, epochs):
            opt.zero_grad()
            loss = F.cross_entropy(trained(x), y)
            loss.backward()
            log.step(opt, loss.item())
            if log.done:
                break
        metrics = {}
        if log.watched:  # the accuracies cost a pass over the data each, left out of the run's clock
            with log.paused(), common.evaluation_weights(opt):
                metrics.update({"train/accuracy": accuracy(model, x_train, y_train),
                                f"{split}/accuracy": accuracy(model, x_test, y_test)})
            log.print(f"epoch {epoch + 1:3d}  loss {log.epoch_loss():.4f}  train acc "
                      f"{metrics['train/accuracy']:.4f}  {split} acc {metrics[f'{split}/accuracy']:.4f}")
        if common.end_epoch(log, save, model, opt, optimizer, epoch, metrics):
            break
    with common.evaluation_weights(opt):
        metric = accuracy(model, x_test, y_test)
    return common.result(log, f"{split}_accuracy", metric, model, optimizer, lr, backend, timing)


# run(optimizer="adam", lr=None, backend="cpp", epochs=None, seed=0, quiet=True, max_steps=None, ...): the MLP
run = functools.partial(train, mlp, LR, EPOCHS)


def main(argv=None):
    return common.main(run, common.parser("digits-mlp", __doc__, LR, EPOCHS, distributed=True), argv, NEEDS)


if __name__ == "__main__":
    main()
