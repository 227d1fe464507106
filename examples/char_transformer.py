"""A character-level transformer language model (decoder-only, as GPT) on the same standard-library
source text as char_lstm.py: learned token and position embeddings, pre-norm blocks of causal
self-attention and a GELU (tanh) feed-forward layer (nn.TransformerEncoderLayer with norm_first), a final
LayerNorm and a linear layer to next-character logits.

Each step reads --batch-size windows of --context characters at random places of the training text
and predicts every next character at once; the lr warms up linearly over the first --warmup steps,
then follows a cosine to 0 (AdamW by default), and gradients are clipped. The validation text is
read in overlapping windows, each character predicted from at least half a window; the metric is
its bits per character, as char_lstm.py's; at the end the model writes some text. Short windows in
small batches learn the most per second on a small machine: over the same 676 steps of 2,048
characters of the whole corpus, windows of 64 reached 2.70 bits/char and windows of 32 2.61; per
second, 16 windows of 32 at lr 3e-3 did better still (``minigrad bench lm`` races it against
char_lstm.py in one time budget).

    python examples/char_transformer.py [--optimizer adamw] [--d-model 64] [--layers 2]
    minigrad train char-transformer [options]
"""
import math

import numpy as np

import minigrad as mg
import minigrad.functional as F
import minigrad.nn as nn
from minigrad.examples import common
from minigrad.examples.arguments import fraction, integer, positive
from minigrad.examples.char_lstm import language_model_result, text_split, unigram_bits

LR = {"sgd": 0.3, "momentum": 0.03, "nesterov": 0.03, "adagrad": 0.03, "adadelta": 1.0, "rmsprop": 1e-3,
      "adam": 3e-3, "adamw": 3e-3}
EPOCHS = 4
NEEDS = ()  # the optional modules it needs
SPARSE_EMBEDDINGS = True  # its token embedding gives sparse gradients for an optimizer that wants them


def gelu_tanh(x):
    """GELU's tanh approximation, as GPT-2's (cheaper than the exact one's erf, which NumPy lacks)."""
    return F.gelu(x, approximate="tanh")


class CharTransformer(nn.Module):
    """Token + position embeddings → ``layers`` pre-norm transformer blocks with a causal mask →
    LayerNorm → linear layer to next-character logits."""

    def __init__(self, vocab_size, context=32, d_model=64, nhead=4, layers=2, dropout=0.0, sparse=False):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model, sparse=sparse)
        self.position = nn.Embedding(context, d_model)
        for table in (self.embed, self.position):  # GPT-2's N(0, 0.02), not Embedding's N(0, 1)
            nn.init.normal_(table.weight, std=0.02)
        block = nn.TransformerEncoderLayer(d_model, nhead, 4 * d_model, dropout, activation=gelu_tanh, batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(block, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab_size)
        self.register_buffer("causal", nn.Transformer.generate_square_subsequent_mask(context), persistent=False)

    def forward(self, ids):
        n = ids.shape[1]
        x = self.embed(ids) + self.position(mg.arange(n))
        return self.head(self.blocks(x, mask=self.causal[:n, :n], is_causal=True))


def windows(ids, context):
    """Windows of ``context`` characters every context/2 characters: (inputs, next-character targets,
    which targets to score) as (n, context) arrays. Each target is scored once, in the first window
    or in the second half of a later one, so that it is predicted from at least context/2 characters."""
    stride = max(1, context // 2)
    starts = np.arange(0, len(ids) - context, stride)
    x, y = ids[starts[:, None] + np.arange(context)], ids[starts[:, None] + np.arange(1, context + 1)]
    scored = np.ones(x.shape, bool)
    scored[1:, :context - stride] = False
    return x, y, scored


@mg.no_grad()
def bits_per_char(model, ids, context, batch_size=64):
    """Mean cross-entropy of the next characters of ``ids``, in bits, read in ``windows``."""
    model.eval()
    x, y, scored = windows(ids, context)
    nats = 0.0
    for i in range(0, len(x), batch_size):
        logits = model(mg.tensor(x[i:i + batch_size])).numpy().astype(np.float64)
        logits -= logits.max(-1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        picked = np.take_along_axis(log_p, y[i:i + batch_size, :, None], -1)[..., 0]
        nats -= picked[scored[i:i + batch_size]].sum()
    model.train()
    return nats / scored.sum() / math.log(2)


@mg.no_grad()
def sample(model, corpus, prime, length, temperature, context):
    """``prime`` and ``length`` characters drawn one by one, each from the last ``context`` characters."""
    model.eval()
    ids, text = list(corpus.encode(prime)), prime
    for _ in range(length):
        logits = model(mg.tensor(np.array([ids[-context:]])))
        z = logits.numpy()[0, -1].astype(np.float64) / temperature
        p = np.exp(z - z.max())
        ids.append(int(mg.default_generator().choice(len(p), p=p / p.sum())))
        text += corpus.itos[ids[-1]]
    model.train()
    return text


def warmup_cosine(warmup, total):
    """The lr factor at step t: linear from 1/warmup up to 1 over ``warmup`` steps, then a cosine to 0 at ``total``."""
    def factor(t):
        if t < warmup:
            return (t + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (t - warmup) / max(1, total - warmup))))
    return factor


def run(optimizer="adamw", lr=None, backend="cpp", epochs=None, seed=0, quiet=True, max_steps=None, save=None,
        resume=None, timing=False, logdir=None, num_chars=200_000, context=32, d_model=64, nhead=4, layers=2,
        dropout=0.0, batch_size=16, warmup=100, clip=1.0, temperature=0.8, sample_chars=300, split="test", steps=None,
        distributed=False):
    """Train and validate; returns common.result's dict (metric: validation bits per character on the
    corpus' held-out end, as char_lstm's). An epoch is as many steps as the training text holds
    windows of ``batch_size`` × ``context`` characters; ``steps`` (default: ``epochs`` of them) is the
    length of the run and of its lr schedule, the last epoch cut short where it ends (resume with the
    same ``steps`` or ``epochs``: the schedule is not in the checkpoint). With
    ``split="validation"`` the last ``common.VALIDATION_FRACTION`` of the training text is held out instead.
    ``distributed``: every rank draws step t's windows from a generator seeded (seed, t), the same on
    every rank (and after a resume), and trains on its share of them through ``common.data_parallel``."""
    lr, epochs = common.tuned_lr(LR, optimizer) if lr is None else lr, EPOCHS if epochs is None else epochs
    common.check_split(split)
    mg.manual_seed(seed)
    corpus, train_ids, held_ids = text_split(num_chars, split)
    vocab_size = len(corpus.vocab)
    baseline = unigram_bits(train_ids, vocab_size)
    model = CharTransformer(vocab_size, context, d_model, nhead, layers, dropout,
                            sparse=common.sparse_gradients(optimizer))
    opt = common.make_optimizer(optimizer, model, lr, backend)
    log = common.RunLog(quiet, max_steps, timing, logdir, distributed)
    first_epoch = common.load_checkpoint(resume, model, opt, optimizer, log) if resume else 0
    trained = common.data_parallel(model, distributed)  # after a resume: it gives each rank its own random stream
    rank, ranks, share = common.rank_share(batch_size, distributed)
    steps_per_epoch = max(1, len(train_ids) // (batch_size * context))
    steps = epochs * steps_per_epoch if steps is None else steps
    epochs = first_epoch + -(-max(0, steps - log.step_count) // steps_per_epoch)  # a resumed run ends at ``steps`` too
    schedule = mg.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(warmup, steps), last_epoch=log.step_count - 1)
    rng = mg.default_generator()
    offsets = np.arange(context + 1)
    log.print(f"{len(train_ids):,} training characters, vocabulary {vocab_size}, {steps_per_epoch} steps per epoch, "
              f"unigram baseline {baseline:.3f} bits/char")

    for epoch in range(first_epoch, epochs):
        for _ in log.epoch(range(min(steps_per_epoch, steps - log.step_count)), epoch, epochs):
            draw = np.random.default_rng([seed, log.step_count]) if distributed else rng
            starts = draw.integers(0, len(train_ids) - context, batch_size)[rank * share:(rank + 1) * share]
            rows = train_ids[starts[:, None] + offsets]
            opt.zero_grad()
            logits = trained(mg.tensor(rows[:, :-1]))
            loss = F.cross_entropy(logits.reshape(-1, vocab_size), mg.tensor(rows[:, 1:].reshape(-1)))
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), clip)
            log.step(opt, loss.item(), grad_norm)
            schedule.step()
            if log.done:
                break
        with common.evaluation_weights(opt):
            val_bpc = bits_per_char(model, held_ids, context)
        log.print(f"epoch {epoch + 1:3d}  train {log.epoch_loss() / math.log(2):.3f} bits/char  validation "
                  f"{val_bpc:.3f} bits/char  (unigram {baseline:.3f})")
        metrics = {"train/bits_per_char": log.epoch_loss() / math.log(2), f"{split}/bits_per_char": val_bpc}
        if common.end_epoch(log, save, model, opt, optimizer, epoch, metrics,
                            lambda: f"```\n{sample(model, corpus, 'def ', 300, temperature, context)}\n```"):
            break
    with common.evaluation_weights(opt):
        val_bpc = bits_per_char(model, held_ids, context)
        text = sample(model, corpus, "def ", sample_chars, temperature, context) if sample_chars else None
    return language_model_result(log, split, val_bpc, baseline, text, temperature, model, optimizer, lr, backend,
                                 timing)


def main(argv=None):
    p = common.parser("char-transformer", __doc__, LR, EPOCHS, SPARSE_EMBEDDINGS, optimizer="adamw", distributed=True)
    p.add_argument("--num-chars", type=integer(1), default=200_000, help="corpus characters used (default: 200,000)")
    p.add_argument("--context", type=integer(2), default=32, help="characters per window (default: 32)")
    p.add_argument("--d-model", type=integer(1), default=64, help="embedding width (default: 64)")
    p.add_argument("--nhead", type=integer(1), default=4, help="attention heads (default: 4)")
    p.add_argument("--layers", type=integer(1), default=2, help="transformer blocks (default: 2)")
    p.add_argument("--dropout", type=fraction("a probability"), default=0.0, help="dropout in the blocks (default: 0)")
    p.add_argument("--batch-size", type=integer(1), default=16, help="windows per step (default: 16)")
    p.add_argument("--steps", type=integer(0), help="training steps, which the lr schedule spans (default: --epochs "
                   "× the steps per epoch)")
    p.add_argument("--warmup", type=integer(1), default=100, help="lr warm-up steps (default: 100)")
    p.add_argument("--clip", type=positive, default=1.0, help="gradient-norm clipping threshold (default: 1)")
    p.add_argument("--temperature", type=positive, default=0.8, help="sampling temperature (default: 0.8)")
    return common.main(run, p, argv, NEEDS)


if __name__ == "__main__":
    main()
