"""Built-in data that needs no download: scikit-learn's digits and the standard library's own source."""
import os
import sysconfig

import numpy as np

from .dataset import _array

# Modules of the Python standard library, read from this interpreter's installation (so the text
# depends on the Python version). ASCII prose-rich code: docstrings, comments, and Python.
CORPUS_MODULES = ("argparse.py", "calendar.py", "contextlib.py", "csv.py", "dataclasses.py", "difflib.py",
                  "pprint.py", "random.py", "textwrap.py")
# Similar-sized modules about different topics, for classifying which module a snippet comes from.
SNIPPET_MODULES = ("calendar.py", "contextlib.py", "heapq.py", "pprint.py", "random.py")


def _check_split(split):
    if split not in ("train", "test", None):
        raise ValueError(f"split must be 'train', 'test' or None, got {split!r}")


def _in_split(position, split):
    """The fixed 80/20 split: the items at positions 0, 5, 10, ... are test items (arrays work too)."""
    return split is None or (position % 5 == 0) == (split == "test")


def digits(split="train", dtype=np.float32):
    """scikit-learn's 8×8 handwritten digits (1797 images; they ship inside scikit-learn).

    Returns ``(images, labels)``: images ``N×1×8×8`` of ``dtype`` scaled to ``[0, 1]`` (pixel / 16),
    labels int64 in ``0..9``. The split is fixed and stratified: within each digit, every fifth
    sample in the file's order (its 1st, 6th, 11th, ...) is a test sample. That gives 364 test and
    1433 train images; ``split=None`` gives all 1797 in the file's order.
    """
    _check_split(split)
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError('minigrad.data.digits needs scikit-learn: pip install "minigrad[examples]" '
                          "(or pip install scikit-learn)") from err
    bunch = load_digits()
    images = (bunch.images / 16.0).astype(dtype)[:, None]
    labels = bunch.target.astype(np.int64)
    if split is None:
        return images, labels
    rank = np.empty(len(labels), dtype=np.int64)  # position of each sample within its class
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        rank[members] = np.arange(len(members))
    keep = _in_split(rank, split)
    return images[keep], labels[keep]


def _read_module(name):
    path = os.path.join(sysconfig.get_paths()["stdlib"], name)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: minigrad's text data is the standard library's source, which this "
                                "Python installation does not ship") from None


class CharCorpus:
    """A character-level corpus.

    ``text``; ``vocab``, its sorted distinct characters; ``stoi`` (char → id) and ``itos``
    (id → char); ``encode(str)`` → int64 ids and ``decode(ids)`` → str; ``train`` and ``val``, the
    encoded text split into the first ``1 − val_fraction`` and the rest.
    """

    def __init__(self, text, val_fraction=0.1):
        self.text = text
        self.vocab = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.vocab)}
        self.itos = dict(enumerate(self.vocab))
        data = self.encode(text)
        n_train = int(len(data) * (1 - val_fraction))
        self.train, self.val = data[:n_train], data[n_train:]

    def encode(self, text):
        try:
            return np.fromiter((self.stoi[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            raise ValueError(f"character {err.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids):
        return "".join(self.itos[i] for i in _array(ids).reshape(-1).tolist())


def text_corpus(num_chars=None, modules=CORPUS_MODULES, val_fraction=0.1):
    """The first ``num_chars`` characters (all if None) of the ``modules``' source, as a ``CharCorpus``.

    ``modules`` are paths relative to the standard library (default ``CORPUS_MODULES``, about
    390,000 characters on Python 3.11), concatenated in the given order. Deterministic for a given
    Python version.
    """
    text = "".join(_read_module(name) for name in modules)
    if num_chars is not None:
        if num_chars > len(text):
            raise ValueError(f"num_chars={num_chars} but the modules hold {len(text)} characters")
        text = text[:num_chars]
    return CharCorpus(text, val_fraction)


def text_corpus_snippets(modules=SNIPPET_MODULES, length=128, split="train"):
    """``(snippets, labels)`` for telling which module a piece of source comes from.

    Each module's source is cut into consecutive, non-overlapping snippets of ``length``
    characters (a shorter tail is dropped); ``labels[i]`` (int64) is the index in ``modules`` of
    snippet ``i``'s module. Every fifth snippet of each module (its 1st, 6th, ...) is a test
    snippet, except that the test split never repeats a snippet: one whose text is also a train
    snippet (boilerplate recurs, and more so in newer Pythons' sources) or an earlier test snippet
    is left out, so no test text is ever trained on. ``split=None`` gives every snippet.
    """
    _check_split(split)
    cut = [(text[k * length:(k + 1) * length], k, label)
           for label, text in enumerate(map(_read_module, modules)) for k in range(len(text) // length)]
    if split is None:
        return [s for s, _, _ in cut], np.array([label for _, _, label in cut], dtype=np.int64)
    seen = {s for s, k, _ in cut if not _in_split(k, "test")}  # every train text, then each test text kept
    snippets, labels = [], []
    for s, k, label in cut:
        if _in_split(k, split) and (split == "train" or s not in seen):
            seen.add(s)
            snippets.append(s)
            labels.append(label)
    return snippets, np.array(labels, dtype=np.int64)
