"""A character-level language model: an LSTM (or GRU) reads Python's own standard-library source
and learns to predict the next character.

Truncated backpropagation through time: the training text is cut into --batch-size parallel
streams, read in chunks of --seq-len characters; the hidden state is carried from one chunk to the
next (detached, so gradients stop at the chunk's start) and gradients are clipped. Each epoch
reports the validation bits per character against the unigram baseline (the entropy of the
training characters' distribution); at the end the model writes some text.

    python examples/char_lstm.py [--optimizer adam] [--hidden 128] [--temperature 0.8]
    minigrad train char-lstm [options]
"""
import math

import numpy as np

import minigrad as mg
import minigrad.functional as F
import minigrad.nn as nn
from minigrad.examples import common
from minigrad.examples.arguments import integer, positive

LR = {"sgd": 10.0, "momentum": 1.0, "nesterov": 1.0,
      "adagrad": 0.1, "adadelta": 10.0, "rmsprop": 3e-3, "adam": 1e-2, "adamw": 1e-2}
EPOCHS = 8
NEEDS = ()  # the optional modules it needs
SPARSE_EMBEDDINGS = True  # its embeddings give sparse gradients for an optimizer that wants them


class CharModel(nn.Module):
    """Embedding → LSTM/GRU → linear layer to next-character logits."""

    def __init__(self, vocab_size, hidden, cell="lstm", embed=32, sparse=False):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, sparse=sparse)
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids, state=None):
        out, state = self.rnn(self.embed(ids), state)
        return self.head(out), state


def detach(state):
    """The state with its history cut off: (h, c) for an LSTM, h for a GRU."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def streams(ids, batch_size):
    """The text as ``batch_size`` consecutive pieces, one per row: row b continues itself chunk after chunk."""
    n = len(ids) // batch_size
    return ids[:n * batch_size].reshape(batch_size, n)


def chunks(rows, seq_len):
    """[(inputs, next-character targets)], ``seq_len`` columns each, left to right."""
    starts = range(0, rows.shape[1] - 1, seq_len)
    return [(mg.tensor(rows[:, i:min(i + seq_len, rows.shape[1] - 1)]), mg.tensor(rows[:, i + 1:i + 1 + seq_len]))
            for i in starts]


def unigram_bits(ids, vocab_size):
    """Entropy of the characters' distribution, in bits: the bpc of a model that ignores context."""
    p = np.bincount(ids, minlength=vocab_size) / len(ids)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


@mg.no_grad()
def bits_per_char(model, rows, seq_len):
    """Mean cross-entropy of the next character, in bits, reading ``rows`` with carried state."""
    model.eval()
    state, nats, count = None, 0.0, 0
    for x, y in chunks(rows, seq_len):
        logits, state = model(x, state)
        nats += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    model.train()
    return nats / count / math.log(2)


@mg.no_grad()
def sample(model, corpus, prime, length, temperature):
    """``prime`` and ``length`` characters drawn one by one from the model's softmax at ``temperature``."""
    model.eval()
    ids, state, text = mg.tensor(corpus.encode(prime)[None]), None, prime
    for _ in range(length):
        logits, state = model(ids, state)
        z = logits.numpy()[0, -1].astype(np.float64) / temperature
        p = np.exp(z - z.max())
        next_id = int(mg.default_generator().choice(len(p), p=p / p.sum()))
        text += corpus.itos[next_id]
        ids = mg.tensor([[next_id]])
    model.train()
    return text


def run(optimizer="adam", lr=None, backend="cpp", epochs=None, seed=0, quiet=True, max_steps=None, save=None,
        resume=None, timing=False, logdir=None, num_chars=200_000, cell="lstm", hidden=128, seq_len=64, batch_size=32,
        clip=1.0, temperature=0.8, sample_chars=300, split="test", distributed=False):
    """Train and validate; returns common.result's dict (metric: validation bits per character, on the
    corpus' held-out end). With ``split="validation"`` the last ``common.VALIDATION_FRACTION`` of the
    training text is held out instead (text: one contiguous piece, the same for every seed) and the
    metric is measured there, so the corpus' held-out end stays unseen. ``distributed``: rank r of
    the MPI world trains on the streams r, r + N, ... (its share of the ``batch_size`` streams),
    through ``common.data_parallel``."""
    lr, epochs = common.tuned_lr(LR, optimizer) if lr is None else lr, EPOCHS if epochs is None else epochs
    common.check_split(split)
    mg.manual_seed(seed)
    corpus, train_ids, held_ids = text_split(num_chars, split)
    vocab_size = len(corpus.vocab)
    train_rows, val_rows = streams(train_ids, batch_size), streams(held_ids, batch_size)
    rank, ranks, _ = common.rank_share(batch_size, distributed)
    local_rows = train_rows[rank::ranks]
    baseline = unigram_bits(train_ids, vocab_size)
    model = CharModel(vocab_size, hidden, cell, sparse=common.sparse_gradients(optimizer))
    opt = common.make_optimizer(optimizer, model, lr, backend)
    log = common.RunLog(quiet, max_steps, timing, logdir, distributed)
    first_epoch = common.load_checkpoint(resume, model, opt, optimizer, log) if resume else 0
    trained = common.data_parallel(model, distributed)  # after a resume: it gives each rank its own random stream
    log.print(f"{len(train_ids):,} training characters, vocabulary {vocab_size}, unigram baseline "
              f"{baseline:.3f} bits/char")

    for epoch in range(first_epoch, epochs):
        state = None
        for x, y in log.epoch(chunks(local_rows, seq_len), epoch, epochs):
            opt.zero_grad()
            logits, state = trained(x, state)
            loss = F.cross_entropy(logits.reshape(-1, vocab_size), y.reshape(-1))
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), clip)
            log.step(opt, loss.item(), grad_norm)
            state = detach(state)
            if log.done:
                break
        with common.evaluation_weights(opt):
            val_bpc = bits_per_char(model, val_rows, seq_len)
        log.print(f"epoch {epoch + 1:3d}  train {log.epoch_loss() / math.log(2):.3f} bits/char  validation "
                  f"{val_bpc:.3f} bits/char  (unigram {baseline:.3f})")
        metrics = {"train/bits_per_char": log.epoch_loss() / math.log(2), f"{split}/bits_per_char": val_bpc}
        if common.end_epoch(log, save, model, opt, optimizer, epoch, metrics,
                            lambda: f"```\n{sample(model, corpus, 'def ', 300, temperature)}\n```"):
            break
    with common.evaluation_weights(opt):
        val_bpc = bits_per_char(model, val_rows, seq_len)
        text = sample(model, corpus, "def ", sample_chars, temperature) if sample_chars else None
    return language_model_result(log, split, val_bpc, baseline, text, temperature, model, optimizer, lr, backend,
                                 timing)


def text_split(num_chars, split):
    """The corpus of ``num_chars`` characters, its training ids and the held-out ids a run is scored
    on: the corpus' held-out end for ``split="test"``; for "validation" the last
    ``common.VALIDATION_FRACTION`` of the training text (one contiguous piece, the same for every seed)."""
    corpus = mg.data.text_corpus(num_chars)
    train_ids, held_ids = corpus.train, corpus.val
    if split == "validation":
        n_train = len(train_ids) - round(len(train_ids) * common.VALIDATION_FRACTION)
        train_ids, held_ids = train_ids[:n_train], train_ids[n_train:]
    return corpus, train_ids, held_ids


def language_model_result(log, split, val_bpc, baseline, text, temperature, model, optimizer, lr, backend, timing):
    """common.result's dict of a character model: the bits per character against the unigram
    baseline, then the sampled ``text`` (None: none) in the report."""
    gap = baseline - val_bpc
    report = (f"validation {val_bpc:.3f} bits/char: {abs(gap):.3f} {'below' if gap > 0 else 'above'} the unigram "
              f"baseline {baseline:.3f}")
    if text is not None:
        report += f"\n\nsample (temperature {temperature}):\n{text}"
    metric_name = "val_bpc" if split == "test" else "validation_bpc"
    return common.result(log, metric_name, val_bpc, model, optimizer, lr, backend, timing, report)


def main(argv=None):
    p = common.parser("char-lstm", __doc__, LR, EPOCHS, SPARSE_EMBEDDINGS, distributed=True)
    p.add_argument("--cell", choices=("lstm", "gru"), default="lstm", help="recurrent layer (default: lstm)")
    p.add_argument("--hidden", type=integer(1), default=128, help="hidden units (default: 128)")
    p.add_argument("--num-chars", type=integer(1), default=200_000, help="corpus characters used (default: 200,000)")
    p.add_argument("--seq-len", type=integer(1), default=64,
                   help="characters per chunk of backpropagation (default: 64)")
    p.add_argument("--batch-size", type=integer(1), default=32, help="parallel streams (default: 32)")
    p.add_argument("--clip", type=positive, default=1.0, help="gradient-norm clipping threshold (default: 1)")
    p.add_argument("--temperature", type=positive, default=0.8, help="sampling temperature (default: 0.8)")
    return common.main(run, p, argv, NEEDS)


if __name__ == "__main__":
    main()
