"""Which standard-library module is this snippet from? A GRU reads 128 characters of source
(calendar, contextlib, heapq, pprint or random) and names the module; chance is 20%.

Characters are embedded, a GRU runs over them, and the largest value of each hidden unit over
the snippet (max-pooling over time) feeds a linear classifier. Reports the test accuracy and the
confusion matrix.

    python examples/text_classify.py [--optimizer adam] [--hidden 64]
    minigrad train text-classify [options]
"""
import numpy as np

import minigrad as mg
import minigrad.functional as F
import minigrad.nn as nn
from minigrad.data import SNIPPET_MODULES
from minigrad.examples import common
from minigrad.examples.arguments import integer

LR = {"sgd": 0.3, "momentum": 0.1, "nesterov": 0.1,
      "adagrad": 0.03, "adadelta": 1.0, "rmsprop": 3e-3, "adam": 1e-2, "adamw": 1e-2}
EPOCHS = 20
NEEDS = ()  # the optional modules it needs
SPARSE_EMBEDDINGS = True  # its embeddings give sparse gradients for an optimizer that wants them


class SnippetClassifier(nn.Module):
    """Embedding → GRU → max over time → linear layer to one logit per module."""

    def __init__(self, vocab_size, hidden, classes, embed=32, sparse=False):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, sparse=sparse)
        self.rnn = nn.GRU(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, ids):
        out, _ = self.rnn(self.embed(ids))
        return self.head(out.amax(1))


def encode(snippets, vocab):
    """Snippets as an int64 array of character ids; id 0 stands for characters outside ``vocab``."""
    ids = {c: i + 1 for i, c in enumerate(vocab)}
    return np.array([[ids.get(c, 0) for c in s] for s in snippets], dtype=np.int64)


@mg.no_grad()
def predict(model, x, batch_size=256):
    model.eval()
    predicted = np.concatenate([model(mg.tensor(x[i:i + batch_size])).numpy().argmax(1)
                                for i in range(0, len(x), batch_size)])
    model.train()
    return predicted


def confusion_matrix(labels, predicted, names):
    """Rows: the true module; columns: the predicted one."""
    counts = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(counts, (labels, predicted), 1)
    short = [name.removesuffix(".py") for name in names]
    width = max(map(len, short)) + 2
    lines = ["true \\ predicted".ljust(width + 2) + "".join(s[:10].rjust(12) for s in short)]
    lines += [f"  {s:<{width}}" + "".join(f"{n:12d}" for n in row) for s, row in zip(short, counts)]
    return "\n".join(lines)


def run(optimizer="adam", lr=None, backend="cpp", epochs=None, seed=0, quiet=True, max_steps=None, save=None,
        resume=None, timing=False, logdir=None, hidden=64, batch_size=32, clip=1.0, split="test"):
    """Train and test; returns common.result's dict (metric: test accuracy). With ``split="validation"``
    it trains on the training snippets less a held-out part (``common.hold_out``, by seed; a held-out
    snippet whose text is also a kept one is dropped, as the test split does) and scores on that part."""
    lr, epochs = common.tuned_lr(LR, optimizer) if lr is None else lr, EPOCHS if epochs is None else epochs
    common.check_split(split)
    mg.manual_seed(seed)
    train_snippets, y_train = mg.data.text_corpus_snippets(split="train")
    if split == "test":
        test_snippets, y_test = mg.data.text_corpus_snippets(split="test")
    else:
        kept, held = common.hold_out(len(y_train), seed)
        trained = {train_snippets[i] for i in kept}
        held = [i for i in held if train_snippets[i] not in trained]
        test_snippets, y_test = [train_snippets[i] for i in held], y_train[held]
        train_snippets, y_train = [train_snippets[i] for i in kept], y_train[kept]
    vocab = sorted(set("".join(train_snippets)))
    x_train, x_test = encode(train_snippets, vocab), encode(test_snippets, vocab)
    loader = mg.data.DataLoader(mg.data.TensorDataset(x_train, y_train), batch_size, shuffle=True)
    model = SnippetClassifier(len(vocab) + 1, hidden, len(SNIPPET_MODULES), sparse=common.sparse_gradients(optimizer))
    opt = common.make_optimizer(optimizer, model, lr, backend)
    log = common.RunLog(quiet, max_steps, timing, logdir)
    first_epoch = common.load_checkpoint(resume, model, opt, optimizer, log) if resume else 0

    for epoch in range(first_epoch, epochs):
        for x, y in log.epoch(loader, epoch, epochs):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), clip)
            log.step(opt, loss.item(), grad_norm)
            if log.done:
                break
        with common.evaluation_weights(opt):
            metrics = {f"{split}/accuracy": np.mean(predict(model, x_test) == y_test)}
        log.print(f"epoch {epoch + 1:3d}  loss {log.epoch_loss():.4f}  {split} acc {metrics[f'{split}/accuracy']:.4f}")
        if common.end_epoch(log, save, model, opt, optimizer, epoch, metrics):
            break
    with common.evaluation_weights(opt):
        predicted = predict(model, x_test)
    report = confusion_matrix(y_test, predicted, SNIPPET_MODULES)
    return common.result(log, f"{split}_accuracy", float(np.mean(predicted == y_test)), model, optimizer, lr, backend,
                         timing, report)


def main(argv=None):
    p = common.parser("text-classify", __doc__, LR, EPOCHS, SPARSE_EMBEDDINGS)
    p.add_argument("--hidden", type=integer(1), default=64, help="GRU hidden units (default: 64)")
    return common.main(run, p, argv, NEEDS)


if __name__ == "__main__":
    main()
