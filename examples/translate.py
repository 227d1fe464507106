"""Sequence-to-sequence translation of dates written as people write them ("3rd of March 1998",
"Tue 03/03/98", "March 3, 1998", "3 mar 98", "1998.3.3") to ISO 8601 ("1998-03-03"), with an
encoder-decoder transformer (nn.Transformer, pre-norm) over characters.

The corpus is generated: dates uniform over 1900-2099, each written in one of FORMATS (weekday
names that match the date, ordinal suffixes, abbreviated months, upper/lower/as-is case). Every
format has one reading: slashes are month/day/year (US) unless the 4-digit year comes first
(year/month/day), dots and dashes between numbers are day.month.year unless the year comes first,
and two-digit years follow POSIX strptime's %y (69-99 → 19xx, 00-68 → 20xx), so they are drawn only
for dates in 1969-2068. Training pairs come from one seed, held-out pairs from another (those that
also occur in training are dropped). The model reads the source characters (plus EOS) with
learned positions and key-padding masks, and is trained with teacher forcing: cross-entropy of
each next target character, padding ignored, under the causal mask. It decodes greedily and with
beam search (length-normalised log-probability; the encoder runs once per input), and the metric
is the beam's exact-match accuracy on the held-out inputs. ``--plot`` draws the last decoder
layer's cross-attention (averaged over heads) for a few of them.

    python examples/translate.py [--optimizer adamw] [--beam 4] [--plot attention.png]
    minigrad train translate [options]
"""
import datetime

import numpy as np

import minigrad as mg
import minigrad.functional as F
import minigrad.nn as nn
from minigrad.examples import common
from minigrad.examples.arguments import fraction, integer, positive
from minigrad.examples.char_transformer import warmup_cosine

LR = {"sgd": 0.3, "momentum": 0.03, "nesterov": 0.03, "adagrad": 0.03, "adadelta": 1.0, "rmsprop": 1e-3,
      "adam": 3e-3, "adamw": 3e-3}
EPOCHS = 2
NEEDS = ()  # the optional modules it needs (--plot: matplotlib, checked by common.main)

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# name: template. {d}/{m} day and month, {dd}/{mm} zero-padded, {do} the day with its ordinal suffix,
# {B}/{b} the month's name / first three letters, {A}/{a} the weekday's, {Y} the year, {y} its last two digits
FORMATS = {"ordinal_of": "{do} of {B} {Y}", "the_ordinal_of": "the {do} of {B}, {Y}", "us_long": "{B} {d}, {Y}",
           "us_ordinal": "{B} {do}, {Y}", "day_month": "{d} {B} {Y}", "day_mon_yy": "{d} {b} {y}",
           "day_mon_dot": "{dd} {b}. {Y}", "mon_day": "{b} {d} {Y}", "weekday_us_yy": "{a} {mm}/{dd}/{y}",
           "us_slash": "{m}/{d}/{Y}", "us_slash_padded": "{mm}/{dd}/{Y}", "year_dots": "{Y}.{m}.{d}",
           "day_dots": "{dd}.{mm}.{Y}", "day_dots_yy": "{d}.{m}.{y}", "iso": "{Y}-{mm}-{dd}", "compact": "{Y}{mm}{dd}",
           "year_slash": "{Y}/{mm}/{dd}", "day_mon_dash": "{dd}-{b}-{Y}", "weekday_long": "{A}, {B} {d}, {Y}",
           "weekday_ordinal": "{A} {do} {B} {Y}", "rfc2822": "{a}, {d} {b} {Y}",
           "weekday_day_dash": "{a} {dd}-{mm}-{Y}"}
FIRST_DAY, LAST_DAY = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)
SHORT_YEARS = (1969, 2068)  # the years a two-digit year stands for (strptime's %y)
SPECIALS = ("<pad>", "<bos>", "<eos>")
PAD, BOS, EOS = range(3)
SOURCE_CHARS = " ,./-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
TARGET_CHARS = "-0123456789"
MAX_SOURCE, MAX_TARGET = 40, 12  # positions of each side's tokens (the source's EOS, the target's BOS included)


def ordinal(day):
    """``day`` with its English ordinal suffix: 1st, 2nd, 3rd, 4th, 11th-13th, 21st, 22nd, 23rd, 31st."""
    suffix = "th" if day % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def render(date, name):
    """``date`` (a datetime.date) written in format ``name`` (a key of FORMATS), in title case."""
    month, weekday = MONTHS[date.month - 1], WEEKDAYS[date.weekday()]
    return FORMATS[name].format(d=date.day, dd=f"{date.day:02d}", do=ordinal(date.day), m=date.month,
                                mm=f"{date.month:02d}", B=month, b=month[:3], A=weekday, a=weekday[:3],
                                Y=f"{date.year:04d}", y=f"{date.year % 100:02d}")


def formats_for(year):
    """The formats a date of ``year`` may be written in: those with a two-digit year only within SHORT_YEARS."""
    return [name for name, template in FORMATS.items() if "{y}" not in template or
            SHORT_YEARS[0] <= year <= SHORT_YEARS[1]]


def generate(n, rng):
    """``n`` (source, target) string pairs: dates uniform over FIRST_DAY..LAST_DAY, each in a format
    drawn uniformly from those its year allows, as is (half), lower case (30%) or upper case (20%)."""
    span = LAST_DAY.toordinal() - FIRST_DAY.toordinal() + 1
    pairs = []
    for day, pick, case in zip(rng.integers(0, span, n), rng.random(n), rng.random(n)):
        date = datetime.date.fromordinal(FIRST_DAY.toordinal() + int(day))
        names = formats_for(date.year)
        text = render(date, names[int(pick * len(names))])
        pairs.append((text if case < 0.5 else text.lower() if case < 0.8 else text.upper(), date.isoformat()))
    return pairs


class Vocabulary:
    """Characters ↔ ids, after SPECIALS (PAD, BOS, EOS = 0, 1, 2)."""

    def __init__(self, chars):
        self.itos = SPECIALS + tuple(chars)
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def encode(self, texts, bos=False, eos=False):
        """``texts`` as an (n, longest) int64 array of ids, PAD after each text's end."""
        rows = [[BOS] * bos + [self.stoi[c] for c in text] + [EOS] * eos for text in texts]
        ids = np.full((len(rows), max(map(len, rows))), PAD, np.int64)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = row
        return ids

    def decode(self, ids):
        """The characters of ``ids`` up to the first EOS (specials left out)."""
        out = []
        for i in ids:
            if i == EOS:
                break
            if i >= len(SPECIALS):
                out.append(self.itos[i])
        return "".join(out)


SOURCE, TARGET = Vocabulary(SOURCE_CHARS), Vocabulary(TARGET_CHARS)


class Translator(nn.Module):
    """Token + learned position embeddings on both sides → nn.Transformer (pre-norm, batch_first) →
    linear layer to next-target-character logits."""

    def __init__(self, d_model=64, nhead=4, layers=2, dim_feedforward=128, dropout=0.0):
        super().__init__()
        self.src_embed, self.tgt_embed = nn.Embedding(len(SOURCE), d_model), nn.Embedding(len(TARGET), d_model)
        self.src_position, self.tgt_position = nn.Embedding(MAX_SOURCE, d_model), nn.Embedding(MAX_TARGET, d_model)
        for table in (self.src_embed, self.tgt_embed, self.src_position, self.tgt_position):
            nn.init.normal_(table.weight, std=0.02)
        self.transformer = nn.Transformer(d_model, nhead, layers, layers, dim_feedforward, dropout, batch_first=True,
                                          norm_first=True)
        self.head = nn.Linear(d_model, len(TARGET))

    def encode(self, src):
        """The encoder's output (N, S, d_model) for source ids (N, S) and its key-padding mask (True at PAD)."""
        padding = mg.tensor(src == PAD)
        x = self.src_embed(mg.tensor(src)) + self.src_position(mg.arange(src.shape[1]))
        return self.transformer.encoder(x, src_key_padding_mask=padding), padding

    def decode(self, tgt, memory, memory_padding):
        """Next-character logits (N, T, vocabulary) after each prefix of the target ids ``tgt`` (N, T)."""
        n = tgt.shape[1]
        y = self.tgt_embed(mg.tensor(tgt)) + self.tgt_position(mg.arange(n))
        causal = nn.Transformer.generate_square_subsequent_mask(n)
        return self.head(self.transformer.decoder(y, memory, tgt_mask=causal, tgt_is_causal=True,
                                                  tgt_key_padding_mask=mg.tensor(tgt == PAD),
                                                  memory_key_padding_mask=memory_padding))

    def forward(self, src, tgt):
        return self.decode(tgt, *self.encode(src))


def next_log_probs(model, memory, padding):
    """The decoders' step function: (prefixes (R, t), rows (R,) of the batch) → log-probabilities of
    the next character (R, vocabulary), float64, the encoder's output of each row reused; PAD and BOS,
    never a next character, get probability 0."""
    def step(prefixes, rows):
        logits = model.decode(prefixes, memory[rows], padding[rows]).numpy()[:, -1].astype(np.float64)
        logits[:, [PAD, BOS]] = -np.inf
        logits -= logits.max(-1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return step


def greedy(step, n, max_len=MAX_TARGET - 1):
    """The most likely next character each time, for ``n`` inputs at once, until each has given EOS
    (or ``max_len`` characters): (n, ≤ max_len) ids, EOS included, PAD after it."""
    out = np.full((n, 1), BOS, np.int64)
    alive = np.arange(n)
    for _ in range(max_len):
        nxt = np.full(n, PAD, np.int64)
        nxt[alive] = step(out[alive], alive).argmax(-1)
        out = np.concatenate([out, nxt[:, None]], 1)
        alive = alive[nxt[alive] != EOS]
        if not len(alive):
            break
    return out[:, 1:]


def beam_search(step, n, k, max_len=MAX_TARGET - 1):
    """Beam search with ``k`` beams per input, ``n`` inputs at once. Each step extends every live
    hypothesis by every character and keeps, per input, the best (k − finished) by total log-probability;
    one ending in EOS is finished, scored by its log-probability / its length (EOS included), and its
    beam ends. An input is done when all k beams ended; after ``max_len`` steps the live hypotheses count
    as finished (over max_len). Returns the best-scored hypothesis of each input, (n, ≤ max_len) ids as
    ``greedy``'s, and its score."""
    prefixes = np.full((n, k, 1), BOS, np.int64)
    scores = np.full((n, k), -np.inf)
    scores[:, 0] = 0.0  # the k start hypotheses are one
    finished = [[] for _ in range(n)]  # (score, ids) per input
    live = np.arange(n)
    for t in range(1, max_len + 1):
        log_p = step(prefixes[live].reshape(len(live) * k, t), np.repeat(live, k)).reshape(len(live), k, -1)
        total = (scores[live][:, :, None] + log_p).reshape(len(live), -1)
        order = np.argsort(-total, axis=1, kind="stable")[:, :k]
        grown, grown_scores = np.full((len(live), k, t + 1), PAD, np.int64), np.full((len(live), k), -np.inf)
        for row, i in enumerate(live):
            filled = 0
            for flat in order[row, :k - len(finished[i])]:
                beam, token = divmod(int(flat), log_p.shape[-1])
                if not np.isfinite(total[row, flat]):
                    break
                if token == EOS:
                    finished[i].append((total[row, flat] / t, np.append(prefixes[i, beam, 1:], EOS)))
                else:
                    grown[row, filled] = np.append(prefixes[i, beam], token)
                    grown_scores[row, filled] = total[row, flat]
                    filled += 1
        prefixes = np.concatenate([prefixes, np.full((n, k, 1), PAD, np.int64)], 2)
        prefixes[live], scores[live] = grown, grown_scores
        live = live[[len(finished[i]) < k for i in live]]
        if not len(live):
            break
    for i in live:  # still going after max_len characters
        finished[i].extend((scores[i, b] / max_len, prefixes[i, b, 1:]) for b in range(k) if np.isfinite(scores[i, b]))
    best = [max(hypotheses, key=lambda h: h[0]) for hypotheses in finished]
    out = np.full((n, max(len(ids) for _, ids in best)), PAD, np.int64)
    for i, (_, ids) in enumerate(best):
        out[i, :len(ids)] = ids
    return out, np.array([score for score, _ in best])


@mg.no_grad()
def translate(model, sources, beam=0, batch_size=256):
    """ISO dates for ``sources`` (strings): greedy with ``beam`` 0, else beam search with ``beam`` hypotheses."""
    model.eval()
    out = []
    for i in range(0, len(sources), batch_size):
        memory, padding = model.encode(SOURCE.encode(sources[i:i + batch_size], eos=True))
        step = next_log_probs(model, memory, padding)
        n = memory.shape[0]
        ids = greedy(step, n) if beam == 0 else beam_search(step, n, beam)[0]
        out.extend(TARGET.decode(row) for row in ids)
    model.train()
    return out


def exact_match(predicted, targets):
    """The fraction of ``predicted`` strings equal to ``targets``'."""
    return float(np.mean([p == t for p, t in zip(predicted, targets)])) if len(targets) else 0.0


@mg.no_grad()
def cross_attention(model, source, target):
    """The last decoder layer's attention from each output character (and EOS) over the source
    characters (and EOS), averaged over heads, (len(target) + 1, len(source) + 1): its multihead_attn
    is run with need_weights=True by a forward pre-hook and its weights kept by a forward hook."""
    model.eval()
    attention = model.transformer.decoder.layers[-1].multihead_attn
    kept = []
    hooks = [attention.register_forward_pre_hook(lambda module, args, kwargs: (args, {**kwargs, "need_weights": True}),
                                                 with_kwargs=True),
             attention.register_forward_hook(lambda module, args, output: kept.append(output[1].numpy()))]
    try:
        model(SOURCE.encode([source], eos=True), TARGET.encode([target], bos=True))
    finally:
        for hook in hooks:
            hook.remove()
    model.train()
    return kept[0][0]


def draw(model, sources, targets, path=None):
    """A panel per input: ``cross_attention`` as an image, source characters across, output characters
    down. Saved to ``path`` if given; returns the matplotlib Figure."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(4.2 * len(sources), 4), dpi=80)
    for ax, source, target in zip(np.atleast_1d(fig.subplots(1, len(sources))), sources, targets):
        ax.imshow(cross_attention(model, source, target), cmap="viridis", vmin=0, aspect="auto")
        ax.set_xticks(range(len(source) + 1), list(source) + ["EOS"], fontsize=7, rotation=90)
        ax.set_yticks(range(len(target) + 1), list(target) + ["EOS"], fontsize=8)
        ax.set_title(f"{source!r} → {target}", fontsize=9)
    fig.tight_layout()
    if path:
        fig.savefig(path)
    return fig


def split_data(num_train, num_test, seed, split):
    """(training pairs, held-out pairs): the training ones drawn from minigrad's generator (``run`` seeds
    it with ``seed``); the held-out ones from numpy's generator [seed, 1], those also in training dropped,
    or with ``split="validation"`` a part of the training ones (``common.hold_out``)."""
    common.check_split(split)
    train = generate(num_train, mg.default_generator())
    if split == "validation":
        kept, held = common.hold_out(len(train), seed)
        return [train[i] for i in kept], [train[i] for i in held]
    seen = {source for source, _ in train}
    return train, [pair for pair in generate(num_test, np.random.default_rng([seed, 1])) if pair[0] not in seen]


def run(optimizer="adamw", lr=None, backend="cpp", epochs=None, seed=0, quiet=True, max_steps=None, save=None,
        resume=None, timing=False, logdir=None, num_train=32_000, num_test=2_000, d_model=64, nhead=4, layers=2,
        dim_feedforward=128, dropout=0.0, batch_size=64, warmup=100, clip=1.0, label_smoothing=0.0, beam=4, plot=None,
        examples=8, split="test"):
    """Train and test; returns common.result's dict (metric: exact-match accuracy of beam search with
    ``beam`` hypotheses on held-out inputs; ``greedy_exact_match`` beside it). An epoch is a pass over
    the ``num_train`` training pairs in shuffled batches."""
    lr, epochs = common.tuned_lr(LR, optimizer) if lr is None else lr, EPOCHS if epochs is None else epochs
    mg.manual_seed(seed)
    train, held = split_data(num_train, num_test, seed, split)
    held_sources, held_targets = [s for s, _ in held], [t for _, t in held]
    model = Translator(d_model, nhead, layers, dim_feedforward, dropout)
    opt = common.make_optimizer(optimizer, model, lr, backend)
    log = common.RunLog(quiet, max_steps, timing, logdir)
    first_epoch = common.load_checkpoint(resume, model, opt, optimizer, log) if resume else 0
    steps_per_epoch = max(1, len(train) // batch_size)
    schedule = mg.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(warmup, epochs * steps_per_epoch),
                                              last_epoch=log.step_count - 1)
    rng = mg.default_generator()
    log.print(f"{len(train):,} training pairs, {len(held):,} held-out, {len(FORMATS)} formats, {steps_per_epoch} "
              f"steps per epoch; e.g. {train[0][0]!r} → {train[0][1]}")

    for epoch in range(first_epoch, epochs):
        order = rng.permutation(len(train))
        for b in log.epoch(range(steps_per_epoch), epoch, epochs):
            batch = [train[i] for i in order[b * batch_size:(b + 1) * batch_size]]
            src = SOURCE.encode([s for s, _ in batch], eos=True)
            tgt = TARGET.encode([t for _, t in batch], bos=True, eos=True)
            opt.zero_grad()
            logits = model(src, tgt[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, len(TARGET)), mg.tensor(tgt[:, 1:].reshape(-1)),
                                   ignore_index=PAD, label_smoothing=label_smoothing)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), clip)
            log.step(opt, loss.item(), grad_norm)
            schedule.step()
            if log.done:
                break
        with common.evaluation_weights(opt):
            accuracy = exact_match(translate(model, held_sources[:500]), held_targets[:500])
        log.print(f"epoch {epoch + 1:3d}  train loss {log.epoch_loss():.4f}  held-out greedy exact match "
                  f"{accuracy:.2%} (first {min(500, len(held))})")
        metrics = {f"{split}/greedy_exact_match": accuracy}
        if common.end_epoch(log, save, model, opt, optimizer, epoch, metrics,
                            lambda: draw(model, held_sources[:3], translate(model, held_sources[:3]))):
            break

    with common.evaluation_weights(opt):
        greedy_out = translate(model, held_sources)
        beam_out = translate(model, held_sources, beam) if beam > 1 else greedy_out
        if plot:
            draw(model, held_sources[:3], beam_out[:3], plot)
    greedy_accuracy, beam_accuracy = exact_match(greedy_out, held_targets), exact_match(beam_out, held_targets)
    wrong = [i for i, (p, t) in enumerate(zip(beam_out, held_targets)) if p != t]
    shown = list(range(min(examples, len(held)))) + [i for i in wrong if i >= examples][:3]
    report = (f"exact match on {len(held)} held-out inputs: greedy {greedy_accuracy:.2%}, beam search (k={beam}) "
              f"{beam_accuracy:.2%} (untrained: 0%)\n"
              + "\n".join(f"  {held_sources[i]!r:>36} → {beam_out[i]}" + ("" if i not in wrong else
                          f"   ✗ (expected {held_targets[i]})") for i in shown))
    if plot:
        report += f"\nplot: {plot}"
    name = "test_exact_match" if split == "test" else "validation_exact_match"
    out = common.result(log, name, beam_accuracy, model, optimizer, lr, backend, timing, report)
    out["greedy_exact_match"] = greedy_accuracy
    return out


def main(argv=None):
    p = common.parser("translate", __doc__, LR, EPOCHS, optimizer="adamw")
    p.add_argument("--num-train", type=integer(1), default=32_000, help="training pairs (default: 32,000)")
    p.add_argument("--num-test", type=integer(1), default=2_000, help="held-out pairs generated (default: 2,000)")
    p.add_argument("--d-model", type=integer(1), default=64, help="embedding width (default: 64)")
    p.add_argument("--nhead", type=integer(1), default=4, help="attention heads (default: 4)")
    p.add_argument("--layers", type=integer(1), default=2, help="encoder and decoder layers, each (default: 2)")
    p.add_argument("--dim-feedforward", type=integer(1), default=128, help="feed-forward width (default: 128)")
    p.add_argument("--dropout", type=fraction("a probability"), default=0.0, help="dropout in the layers (default: 0)")
    p.add_argument("--label-smoothing", type=fraction("a probability"), default=0.0,
                   help="label smoothing of the cross-entropy (default: 0)")
    p.add_argument("--batch-size", type=integer(1), default=64, help="pairs per step (default: 64)")
    p.add_argument("--warmup", type=integer(1), default=100, help="lr warm-up steps (default: 100)")
    p.add_argument("--clip", type=positive, default=1.0, help="gradient-norm clipping threshold (default: 1)")
    p.add_argument("--beam", type=integer(1), default=4, help="beam search hypotheses (default: 4; 1 is greedy)")
    p.add_argument("--plot", metavar="PATH.png", help="draw the cross-attention of a few held-out inputs (matplotlib)")
    return common.main(run, p, argv, NEEDS)


if __name__ == "__main__":
    main()
