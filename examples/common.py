"""What every example shares: the command line, optimizers by name, the run log (progress bar,
history, time spent in ``opt.step()``, TensorBoard logs), checkpoints, the C++-vs-NumPy optimizer
timing and the closing summary. The training loops themselves stay in the examples."""
import argparse
import contextlib
import copy
import inspect
import os
import sys
import time
from collections import namedtuple
from datetime import datetime

import numpy as np

import minigrad as mg
from minigrad.examples.arguments import integer, positive, require
from minigrad.utils.benchmark import measure

try:
    from tqdm.auto import tqdm
except ImportError:  # tqdm is an optional extra: no progress bar without it
    tqdm = None

try:  # one BLAS thread: these models' matmuls are small, and BLAS threads that spin after each
    # matmul stall the optimizer kernels' OpenMP threads on a small machine (README, "Threads")
    from threadpoolctl import threadpool_limits
    threadpool_limits(1, user_api="blas")
except ImportError:
    pass


class OptimizerChoice(namedtuple("OptimizerChoice", "cls options closure takes rest", defaults=(False, None, None))):
    """An optimizer by name: its minigrad.optim class name, its options besides lr (the class's
    defaults otherwise), and whether its ``step`` needs a closure (LBFGS: driven with one on
    ``minigrad compare``'s 2-D functions; the examples' minibatch loops cannot, so they leave it out).

    An optimizer meant for some of a model's parameters names them in ``takes`` (a key of PARTS)
    and, in ``rest``, the OPTIMIZERS entry that takes the others at the same lr: the two step as one
    (``JointOptimizer``), as practitioners pair them."""


# every optimizer the examples and ``minigrad compare`` construct, by name: adding an optimizer is one entry
OPTIMIZERS = {"sgd": OptimizerChoice("SGD", {}), "momentum": OptimizerChoice("SGD", {"momentum": 0.9}),
              "nesterov": OptimizerChoice("SGD", {"momentum": 0.9, "nesterov": True}),
              "adagrad": OptimizerChoice("Adagrad", {}), "adadelta": OptimizerChoice("Adadelta", {}),
              "rmsprop": OptimizerChoice("RMSprop", {}), "adam": OptimizerChoice("Adam", {}),
              "adamw": OptimizerChoice("AdamW", {}), "adamax": OptimizerChoice("Adamax", {}),
              "nadam": OptimizerChoice("NAdam", {}), "radam": OptimizerChoice("RAdam", {}),
              "asgd": OptimizerChoice("ASGD", {}), "rprop": OptimizerChoice("Rprop", {}),
              "adafactor": OptimizerChoice("Adafactor", {}), "lion": OptimizerChoice("Lion", {}),
              # Schedule-Free: the parameters hold y while training; evaluation and checkpoints see the
              # average x (``evaluation_weights``)
              "schedulefree-adamw": OptimizerChoice("ScheduleFreeAdamW", {}),
              "schedulefree-sgd": OptimizerChoice("ScheduleFreeSGD", {}),
              # Muon on the matrices, AdamW on the rest at the same lr: "match_rms_adamw" scales Muon's
              # update to AdamW's RMS (Liu et al. 2025, "Muon is Scalable for LLM Training") so one lr fits both
              "muon": OptimizerChoice("Muon", {"adjust_lr_fn": "match_rms_adamw"}, takes="matrices", rest="adamw"),
              # SparseAdam on the embeddings (built sparse=True: only the rows a batch uses are updated), Adam on the rest
              "sparseadam": OptimizerChoice("SparseAdam", {}, takes="sparse", rest="adam"),
              # one L-BFGS iteration per step (lr 1, no line search: with max_iter=1, max_eval rounds down to 1
              # and a strong-Wolfe search never moves, in torch as here), so that a step is one dot on the 2-D plots
              "lbfgs": OptimizerChoice("LBFGS", {"max_iter": 1}, closure=True)}
# the --optimizer choices of the examples: those stepped without a closure
MINIBATCH_OPTIMIZERS = [name for name, choice in OPTIMIZERS.items() if not choice.closure]

# the parts of a model an OptimizerChoice's ``takes`` names: (which (module, parameter) pairs, what they are)
PARTS = {"matrices": (lambda module, param: param.ndim == 2 and not isinstance(module, mg.nn.Embedding),
                      "2-D parameters (other than embeddings')"),
         "sparse": (lambda module, param: isinstance(module, mg.nn.Embedding) and module.sparse,
                    "embeddings with sparse gradients (nn.Embedding(sparse=True))")}

SPLITS = ("test", "validation")
VALIDATION_FRACTION = 0.2  # of the training data, held out by ``hold_out`` when a run is scored on "validation"


def task_optimizers(sparse_embeddings=False):
    """The --optimizer choices of an example: the minibatch ones, those that take sparse embedding
    gradients only when its model has embeddings that can give them (its SPARSE_EMBEDDINGS)."""
    return [name for name in MINIBATCH_OPTIMIZERS if sparse_embeddings or OPTIMIZERS[name].takes != "sparse"]


def sparse_gradients(name):
    """Whether optimizer ``name`` wants the model's embeddings built with ``sparse=True``."""
    return OPTIMIZERS[name].takes == "sparse"


def make_optimizer(name, model, lr, backend="cpp", **options):
    """The optimizer called ``name`` (a key of OPTIMIZERS) over ``model``'s parameters (an nn.Module,
    or a list of parameters for an entry that takes them all), ready to train: one with a train
    mode is in it (Schedule-Free's start in eval mode). ``options`` override its entry's. An entry
    that ``takes`` a part of the model gives a JointOptimizer of it (with ``options``) and its ``rest``."""
    choice = OPTIMIZERS[name]
    if choice.takes is None:
        return _construct(choice, model.parameters() if isinstance(model, mg.nn.Module) else model, lr, backend,
                          options)
    if not isinstance(model, mg.nn.Module):
        raise TypeError(f"optimizer {name!r} takes part of a model: model must be an nn.Module, "
                        f"got {type(model).__name__}")
    takes, what = PARTS[choice.takes]
    seen, part, rest = set(), [], []
    for module in model.modules():
        for param in module.parameters(recurse=False):
            if id(param) not in seen:
                seen.add(id(param))
                (part if takes(module, param) else rest).append(param)
    if not part:
        raise ValueError(f"optimizer {name!r} needs {what}, and this model has none")
    optimizers = [_construct(choice, part, lr, backend, options)]
    if rest:
        optimizers.append(_construct(OPTIMIZERS[choice.rest], rest, lr, backend))
    return JointOptimizer(optimizers)


def _construct(choice, params, lr, backend, options=None):
    cls, options = getattr(mg.optim, choice.cls), {**choice.options, **(options or {})}
    if choice.closure:  # LBFGS: no kernel, hence no backend to choose
        return cls(list(params), lr=lr, **options)
    opt = cls(list(params), lr=lr, **options, backend=backend)
    if hasattr(opt, "train"):
        opt.train()
    return opt


class JointOptimizer:
    """Optimizers over disjoint parameters, used as one: ``step``/``zero_grad`` call each in turn,
    ``param_groups`` are theirs in order (so a scheduler or a twin sets each one's lr), the
    ``backend`` is all of theirs, and the state_dict nests theirs."""

    def __init__(self, optimizers):
        self.optimizers = optimizers

    @property
    def param_groups(self):
        return [group for opt in self.optimizers for group in opt.param_groups]

    @property
    def backend(self):
        return self.optimizers[0].backend

    @backend.setter
    def backend(self, name):
        for opt in self.optimizers:
            opt.backend = name

    def step(self):
        for opt in self.optimizers:
            opt.step()

    def zero_grad(self, set_to_none=True):
        for opt in self.optimizers:
            opt.zero_grad(set_to_none)

    def state_dict(self):
        return {"optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state_dict):
        """Each optimizer's saved state; all or none: every one is first loaded into a copy, so that a
        state refused by the second leaves the first as it was."""
        saved = state_dict.get("optimizers") if isinstance(state_dict, dict) else None
        if not isinstance(saved, list) or len(saved) != len(self.optimizers):
            raise ValueError(f"state_dict must hold the state of {len(self.optimizers)} optimizers under 'optimizers'")
        for opt, state in zip(copy.deepcopy(self.optimizers), saved):
            opt.load_state_dict(state)
        for opt, state in zip(self.optimizers, saved):
            opt.load_state_dict(state)


@contextlib.contextmanager
def evaluation_weights(opt):
    """Within the block the parameters hold the weights to evaluate and save: for an optimizer with
    an eval mode (Schedule-Free's, whose parameters hold y while training), ``opt.eval()`` moves them
    to its average x, and afterwards ``opt.train()`` and y exactly as it was (y → x → y in floating
    point is not the identity, and a run must not depend on how often it evaluates); for the other
    optimizers nothing changes."""
    if not hasattr(opt, "eval"):
        yield
        return
    params = [p for group in opt.param_groups for p in group["params"]]
    training_point = [p._data.copy() for p in params]
    opt.eval()
    try:
        yield
    finally:
        opt.train()
        for p, y in zip(params, training_point):
            np.copyto(p._data, y)


def default_lr(name):
    """The default lr of optimizer ``name``'s class (torch's)."""
    return inspect.signature(getattr(mg.optim, OPTIMIZERS[name].cls)).parameters["lr"].default


def tuned_lr(lrs, name):
    """An example's lr for optimizer ``name``: its tuned one in ``lrs``; for an optimizer of part of a
    model without one, its partner's (``rest``: the two share one lr); else the class's default."""
    rest = OPTIMIZERS[name].rest
    return lrs[name] if name in lrs else lrs[rest] if rest in lrs else default_lr(name)


def check_split(split):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def hold_out(n, seed, fraction=VALIDATION_FRACTION):
    """The validation split of ``n`` training items: (indices kept for training, held-out indices),
    each sorted; a random ``fraction`` of them, the same for the same ``seed``."""
    order = np.random.default_rng([seed, 2]).permutation(n)
    held = int(round(n * fraction))
    return np.sort(order[held:]), np.sort(order[:held])


def parser(task, doc, lrs, epochs, sparse_embeddings=False, optimizer="adam", distributed=False):
    """The options every example has, for ``minigrad train TASK``; ``lrs`` are its tuned learning
    rates by optimizer name, ``sparse_embeddings`` its SPARSE_EMBEDDINGS, ``optimizer`` its default;
    ``distributed``: it takes ``--distributed`` (its ``run`` trains through ``data_parallel``).
    Every option is a keyword argument of the example's ``run``."""
    p = argparse.ArgumentParser(prog=f"minigrad train {task}", description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--optimizer", choices=task_optimizers(sparse_embeddings), default=optimizer,
                   help=f"default: {optimizer} ('momentum' is SGD with momentum 0.9, 'nesterov' adds Nesterov's; 'muon' is "
                   "Muon on the 2-D weights with AdamW on the rest"
                   + (", 'sparseadam' SparseAdam on the embeddings with Adam on the rest" if sparse_embeddings else "")
                   + ")")
    p.add_argument("--lr", type=positive, help="learning rate (default: tuned for each optimizer: "
                   + ", ".join(f"{name} {lr:g}" for name, lr in lrs.items()) + "; the class's default for the others)")
    p.add_argument("--backend", choices=("cpp", "numpy"), default="cpp", help="optimizer kernels (default: cpp)")
    p.add_argument("--epochs", type=integer(1), default=epochs, help=f"total epochs (default: {epochs})")
    p.add_argument("--seed", type=integer(0), default=0, help="random seed (default: 0)")
    p.add_argument("--max-steps", type=integer(1),
                   help="stop after this many optimizer steps (a quick run; that epoch counts as done)")
    p.add_argument("--save", metavar="PATH", help="write a checkpoint here after every epoch")
    p.add_argument("--resume", metavar="PATH", help="continue from this checkpoint (same optimizer)")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    p.add_argument("--logdir", metavar="DIR", help="write TensorBoard logs to a new run under DIR (per step: loss, "
                   "lr, gradient norm, opt.step() time of both backends; per epoch: metrics, parameter and gradient "
                   "histograms, the task's picture); then: tensorboard --logdir DIR")
    if distributed:
        p.add_argument("--distributed", action="store_true",
                       help="data-parallel training over the processes of 'mpiexec -n N minigrad train ...': each "
                       "trains on 1/N of every batch (the batch size stays the global one), gradients averaged over "
                       "them; rank 0 prints and writes the checkpoints and logs")
    return p


def start_distributed(args, prog):
    """``--distributed``: join the MPI world (exit with a message when mpi4py is missing or this
    process was not started by mpiexec), and leave the printing and writing to rank 0."""
    import minigrad.distributed as dist
    require(f"{prog} --distributed", ["mpi4py"])
    if not dist.launched_by_mpiexec():
        sys.exit(f"{prog} --distributed: start it with mpiexec, e.g. mpiexec -n 2 {prog} --distributed")
    if sparse_gradients(args.optimizer):
        sys.exit(f"{prog} --distributed: --optimizer {args.optimizer} needs sparse gradients, which the ranks' "
                 "gradient averaging does not support; choose another optimizer")
    dist.init()
    if dist.get_rank() != 0:
        args.quiet, args.save, args.logdir = True, None, None
        if hasattr(args, "plot"):
            args.plot = None


def data_parallel(model, distributed):
    """The model as the training loop runs it: under ``--distributed`` a DistributedDataParallel
    (rank 0's initial weights everywhere, gradients averaged in backward), and each rank's random
    generator moved on to its own stream (dropout masks differ between ranks as between the samples
    of one batch); else ``model`` itself."""
    if not distributed:
        return model
    import minigrad.distributed as dist
    mg.manual_seed(int(mg.default_generator().integers(2 ** 62)) + dist.get_rank())
    return dist.DistributedDataParallel(model)


def rank_share(batch_size, distributed):
    """(rank, ranks, this rank's part of a global batch of ``batch_size``): (0, 1, batch_size) when not distributed."""
    if not distributed:
        return 0, 1, batch_size
    import minigrad.distributed as dist
    ranks = dist.get_world_size()
    if batch_size % ranks:
        sys.exit(f"--distributed: the batch size {batch_size} must be a multiple of the number of processes, {ranks}")
    return dist.get_rank(), ranks, batch_size // ranks


def _mean_over_ranks(number):
    value = np.array([number], np.float64)
    mg.distributed.all_reduce(value, "mean")
    return float(value[0])


def run_name(task, optimizer, seed, backend):
    """A TensorBoard run's directory name under --logdir: what it trained, and when (as torch's runs/DATE_HOST)."""
    return f"{task}_{optimizer}_{backend}_seed{seed}_{datetime.now().strftime('%b%d_%H-%M-%S')}"


class RunLog:
    """A run's clock and records: the steps taken, ``history`` [(step, seconds since start, loss)],
    the time spent inside each ``opt.step()``, a progress bar per epoch and the per-epoch lines.

    With ``timing``, each step also times the optimizer's twin on the other backend in the same
    loop: a deep copy over copies of the parameters, given the same gradients, stepping just before
    or just after the real one in turn. So both backends' in-loop times are measured in the same
    cache conditions; the twin's time is left out of the run's clock and never touches the model.

    With ``logdir``, each step's figures and each epoch's (``end_epoch``) go to a TensorBoard run
    there (opened at the first step; ``close`` ends it), their time left out of the run's clock too:
    a logged run's times to target are an unlogged one's."""

    def __init__(self, quiet=True, max_steps=None, timing=False, logdir=None, distributed=False):
        self.quiet, self.max_steps, self.timing, self.logdir = quiet, max_steps, timing, logdir
        self.distributed = distributed  # data-parallel training: the loss recorded is the mean of the ranks'
        self._writer = None
        self.start = time.perf_counter()
        self.step_count = 0  # steps of the whole training, resumed ones included
        self.run_steps = 0   # steps of this run
        self.step_durations = []  # seconds inside each of this run's opt.step() calls
        self.twin = None  # with timing: the optimizer on the other backend, over copies of the parameters
        self.twin_step_durations = []
        self.history = []
        self.epoch_starts = []  # the clock as each epoch of this run starts (after the last one's validation)
        self.losses = []  # this epoch's
        self.bar = None

    def epoch(self, iterable, epoch, epochs):
        """Start epoch ``epoch`` (from 0) of ``epochs``: its losses start empty, and ``iterable`` (its
        batches) comes behind a progress bar (none when quiet, not on a terminal, or without tqdm)."""
        self.epoch_starts.append(self.seconds())
        self.losses = []
        sampler = getattr(iterable, "sampler", None)
        if hasattr(sampler, "set_epoch"):  # a DistributedSampler: this epoch's shuffle, the same on every rank
            sampler.set_epoch(epoch)
        if self.quiet or tqdm is None:
            return iterable
        self.bar = tqdm(iterable, desc=f"epoch {epoch + 1}/{epochs}", leave=False, dynamic_ncols=True, disable=None)
        return self.bar

    def step(self, opt, loss, grad_norm=None):
        """``opt.step()``, timed; then ``loss`` (a float) goes into the history (and the TensorBoard
        run, with the lr, the step's time on each backend and the gradients' norm: ``grad_norm``, what
        ``clip_grad_norm_`` returned before clipping them, else computed from them). With ``distributed``
        the loss recorded is the mean of the ranks' (the global batch's)."""
        if self.distributed:
            loss = _mean_over_ranks(loss)
        twin_first = self.run_steps % 2 == 1
        if self.logdir is not None and grad_norm is None:
            with self.paused():
                grad_norm = mg.nn.utils.get_total_norm([p.grad for g in opt.param_groups for p in g["params"]])
        if self.timing and twin_first:
            self._step_twin(opt)
        start = time.perf_counter()
        opt.step()
        self.step_durations.append(time.perf_counter() - start)
        if self.timing and not twin_first:
            self._step_twin(opt)
        if self.logdir is not None:
            with self.paused():
                self._write_step(opt, loss, grad_norm)
        self.step_count += 1
        self.run_steps += 1
        self.history.append((self.step_count, time.perf_counter() - self.start, loss))
        self.losses.append(loss)
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    @property
    def writer(self):
        """The TensorBoard run's SummaryWriter (None without ``logdir``), opened on first use."""
        if self._writer is None and self.logdir is not None:
            from minigrad.utils.tensorboard import SummaryWriter
            self._writer = SummaryWriter(self.logdir)
        return self._writer

    def close(self):
        """End the TensorBoard run, if one was opened: its last events are written."""
        if self._writer is not None:
            self._writer.close()

    @contextlib.contextmanager
    def paused(self):
        """Within the block the run's clock stands still (its time is added to ``start``)."""
        begin = time.perf_counter()
        try:
            yield
        finally:
            self.start += time.perf_counter() - begin

    def _write_step(self, opt, loss, grad_norm):
        step, add = self.step_count + 1, self.writer.add_scalar
        add("train/loss", loss, step)
        add("train/lr", opt.param_groups[0]["lr"], step)
        add("train/grad_norm", grad_norm, step)
        add(f"opt_step_us/{opt.backend}", 1e6 * self.step_durations[-1], step)
        if self.timing and self.twin_step_durations:
            add(f"opt_step_us/{self.twin.backend}", 1e6 * self.twin_step_durations[-1], step)

    @property
    def watched(self):
        """Whether anyone sees the per-epoch metrics (printed, or logged): those that cost a pass
        over data are computed only then."""
        return not self.quiet or self.logdir is not None

    def _step_twin(self, opt):
        """One timed step of the twin on this step's gradients (its hyperparameters follow opt's,
        which a scheduler may change); the run's clock is moved on by all the time this took."""
        begin = time.perf_counter()
        if self.twin is None:
            self.twin = copy.deepcopy(opt)
            self.twin.backend = "numpy" if opt.backend == "cpp" else "cpp"
        for group, twin_group in zip(opt.param_groups, self.twin.param_groups):
            twin_group.update({k: v for k, v in group.items() if k != "params"})
            for p, q in zip(group["params"], twin_group["params"]):
                q.grad = p.grad
        start = time.perf_counter()
        self.twin.step()
        end = time.perf_counter()
        self.twin_step_durations.append(end - start)
        self.start += end - begin

    def epoch_loss(self):
        """The mean loss of this epoch's steps."""
        return float(np.mean(self.losses))

    @property
    def done(self):
        """True once ``max_steps`` steps were taken in this run."""
        return self.max_steps is not None and self.run_steps >= self.max_steps

    def print(self, *args):
        if not self.quiet:
            print(*args)

    def seconds(self):
        return time.perf_counter() - self.start


def save_checkpoint(path, model, opt, optimizer, epoch, log):
    """Model (its evaluation weights: ``evaluation_weights``), optimizer (its name too), epochs done,
    steps taken and minigrad's random generator."""
    with evaluation_weights(opt):
        mg.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "optimizer_name": optimizer,
                 "epoch": epoch, "step": log.step_count, "rng": mg.default_generator().bit_generator.state}, path)


def end_epoch(log, save, model, opt, optimizer, epoch, metrics=None, picture=None):
    """After epoch ``epoch`` (from 0): a checkpoint at ``save`` (if given); to the TensorBoard run (if
    any) the epoch's ``metrics`` (tag -> number), the parameters' and gradients' histograms and its
    ``picture`` (a function of no arguments giving a matplotlib Figure or text, called on the
    evaluation weights); True when the run is done (``max_steps`` taken)."""
    if log.logdir is not None:
        with log.paused():
            write_epoch(log, model, opt, epoch, metrics or {}, picture)
    if save:
        save_checkpoint(save, model, opt, optimizer, epoch + 1, log)
    return log.done


def write_epoch(log, model, opt, epoch, metrics, picture):
    """``end_epoch``'s TensorBoard entries, at the run's step count: the parameters as evaluated
    (``evaluation_weights``), the gradients of the last step. The picture is drawn with minigrad's
    generator put back afterwards, so a run logged gives the same model as one not."""
    writer, step = log.writer, log.step_count
    writer.add_scalar("epoch", epoch + 1, step)
    for tag, value in metrics.items():
        writer.add_scalar(tag, value, step)
    for name, param in model.named_parameters():
        if param.grad is not None:  # a sparse gradient by the values of the rows it has
            writer.add_histogram(f"gradients/{name}", param.grad.coalesce().values() if param.grad.is_sparse
                                 else param.grad, step)
    generator = mg.default_generator().bit_generator
    state = generator.state
    try:
        with evaluation_weights(opt):
            for name, param in model.named_parameters():
                writer.add_histogram(f"parameters/{name}", param, step)
            drawn = picture() if picture is not None else None
    finally:
        generator.state = state
    if drawn is not None:
        if isinstance(drawn, str):
            writer.add_text("picture", drawn, step)
        else:
            writer.add_figure("picture", drawn, step)
    writer.flush()


def load_checkpoint(path, model, opt, optimizer, log):
    """Restore what ``save_checkpoint`` wrote, ready to train on; returns the number of epochs already done."""
    checkpoint = mg.load(path)
    if checkpoint["optimizer_name"] != optimizer:
        raise SystemExit(f"{path} was trained with --optimizer {checkpoint['optimizer_name']}, not {optimizer}")
    model.load_state_dict(checkpoint["model"])
    opt.load_state_dict(checkpoint["optimizer"])
    if hasattr(opt, "train"):  # saved in eval mode
        opt.train()
    mg.default_generator().bit_generator.state = checkpoint["rng"]
    log.step_count = checkpoint["step"]
    return checkpoint["epoch"]


def time_backends(model, optimizer, lr, rounds=9):
    """Median seconds per ``opt.step()`` on the cpp and the numpy backend
    (``minigrad.utils.benchmark.measure``: alternating rounds of at least 10 ms each): each steps a
    copy of ``model`` with the gradients it holds (its last step's), random ones where it holds none."""
    rng = np.random.default_rng(0)
    drawn = [None if p.grad is not None else rng.standard_normal(p.shape).astype(p.dtype) for p in model.parameters()]
    steps = {}
    for backend in ("cpp", "numpy"):
        twin = copy.deepcopy(model)
        for param, grad in zip(twin.parameters(), drawn):
            if grad is not None:
                param.grad = grad.copy()
        steps[backend] = make_optimizer(optimizer, twin, lr, backend).step
    return measure(steps, rounds)


def result(log, metric_name, metric, model, optimizer, lr, backend, timing, report=""):
    """What ``run`` returns; with ``timing`` also the median ``opt.step()`` of both backends in the loop
    (``loop_step_seconds``, the twin's from ``RunLog``) and re-measured in isolation (``backend_step_seconds``)."""
    durations = log.step_durations
    log.close()
    out = {"history": log.history, "epoch_starts": log.epoch_starts, "metric_name": metric_name, "metric": metric,
           "optimizer_step_seconds": float(np.mean(durations)) if durations else 0.0,
           "optimizer_step_median_seconds": float(np.median(durations)) if durations else 0.0,
           "optimizer_step_durations": durations, "steps": log.run_steps, "seconds": log.seconds(),
           "optimizer": optimizer, "lr": lr, "backend": backend, "report": report,
           "parameter_shapes": [list(p.shape) for p in model.parameters()],
           "parameter_dtype": next(iter(model.parameters())).dtype.name}
    if timing and log.run_steps:
        out["backend_step_seconds"] = time_backends(model, optimizer, lr)
    if log.twin_step_durations:
        out["loop_step_seconds"] = {backend: float(np.median(durations)),
                                    log.twin.backend: float(np.median(log.twin_step_durations))}
    return out


def summary(out):
    """The closing lines of a run: the in-loop ``opt.step()`` time first (the figure this run got),
    then, with timing, both backends in the loop and re-measured in isolation on hot buffers."""
    if out["report"]:
        print(out["report"])
    steps = out["steps"]
    print(f"\n{out['metric_name']}: {out['metric']:.4f}   ({out['optimizer']}, lr {out['lr']:g})")
    print(f"{steps} steps in {out['seconds']:.1f} s; inside opt.step(): median "
          f"{1e6 * out['optimizer_step_median_seconds']:.0f} µs per step (backend {out['backend']}, measured in the "
          f"loop), mean {1e6 * out['optimizer_step_seconds']:.0f} µs, "
          f"{out['optimizer_step_seconds'] * steps:.2f} s in all")
    for key, where in (("loop_step_seconds", "in this loop (the other backend on a copy, same gradients)"),
                       ("backend_step_seconds", "in isolation on hot buffers (the same parameters, stepped repeatedly)")):
        if key in out:
            cpp, numpy = out[key]["cpp"], out[key]["numpy"]
            print(f"optimizer step, median {where}: cpp {1e6 * cpp:.1f} µs, numpy {1e6 * numpy:.1f} µs "
                  f"(cpp {numpy / cpp:.1f}× faster)")


def main(run, p, argv=None, needs=()):
    """Parse ``argv`` with ``p``, ``run`` the example and print its summary. First the command exits
    (status 1) unless the optional modules ``needs`` import, matplotlib for a ``--plot`` and the
    tensorboard extra for a ``--logdir`` (whose run goes in a new directory under it: ``run_name``)."""
    args = p.parse_args(argv)
    require(p.prog, needs)
    if getattr(args, "distributed", False):
        start_distributed(args, p.prog)
    if getattr(args, "plot", None):
        require(f"{p.prog} --plot", ["matplotlib"])
    if args.logdir is not None:
        require(f"{p.prog} --logdir", ["tensorboard", "matplotlib"])
        args.logdir = os.path.join(args.logdir, run_name(p.prog.split()[-1], args.optimizer, args.seed, args.backend))
    out = run(**vars(args), timing=True)
    if not mg.distributed.is_main_process():
        return 0
    summary(out)
    if args.logdir is not None:
        print(f"TensorBoard run: {args.logdir}   (tensorboard --logdir {os.path.dirname(args.logdir)})")
    return 0
