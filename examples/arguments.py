"""What the command lines share, the examples' (``minigrad train TASK``) and the commands': number
types that refuse invalid values (an argparse error naming the option, exit status 2), and
``require``, which stops a command whose optional modules are missing before it does any work."""
import argparse
import importlib
import math
import sys

# the extras a user installs (pyproject.toml's optional dependencies; "test" is for minigrad's own
# tests): the modules each brings
EXTRAS = {"bench": ("tqdm", "matplotlib"),
          "examples": ("tqdm", "matplotlib", "sklearn", "gymnasium", "threadpoolctl"),
          "tensorboard": ("tensorboard", "matplotlib"),
          "rl": ("gymnasium", "mujoco", "minigrid"),
          "mpi": ("mpi4py",)}
# offered only when one of these is needed
FOR = {"tensorboard": ("tensorboard",), "rl": ("mujoco", "minigrid"), "mpi": ("mpi4py",)}
PACKAGES = {"sklearn": "scikit-learn"}  # pip's name, where it is not the module's


def require(what, modules):
    """Return if every module in ``modules`` imports. Else exit with status 1 and one line on stderr:
    ``what`` (the command, e.g. "minigrad bench --plot") needs the missing ones, and the extras that
    bring all of ``modules``."""
    missing = [PACKAGES.get(module, module) for module in dict.fromkeys(modules) if not _imports(module)]
    if missing:
        names = f"{', '.join(missing[:-1])} and {missing[-1]}" if len(missing) > 1 else missing[0]
        extras = " or ".join(f'pip install "minigrad[{extra}]"' for extra, brought in EXTRAS.items()
                             if set(modules) <= set(brought) and (extra not in FOR or set(FOR[extra]) & set(modules)))
        sys.exit(f"{what}: needs {names}; install {'them' if len(missing) > 1 else 'it'} with: {extras}")


def _imports(module):
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def integer(minimum):
    """An argparse type: an integer >= ``minimum`` (written "1e6" too)."""
    def parse(text):
        value = _integer(text)
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value
    return parse


def _integer(text):
    """``text`` as an int, or None when it is not a whole number."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


def positive(text):
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def fraction(what):
    """An argparse type: a number in [0, 1] (``what`` names it in the error: "a decay", "a probability")."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0 <= value <= 1:
            raise argparse.ArgumentTypeError(f"expected {what} in [0, 1], got {text!r}")
        return value
    return parse


def listed(item):
    """An argparse type: comma-separated values, each parsed by the type ``item``; returns a list."""
    return lambda text: [item(part) for part in text.split(",")]


def names(parser, option, text, valid):
    """The comma-separated ``text`` of ``option`` as a list of names, each in ``valid`` and none twice
    (else ``parser.error``, exit status 2)."""
    listed_names = text.split(",")
    unknown = [n for n in listed_names if n not in valid]
    if unknown:
        parser.error(f"{option}: unknown {unknown}; valid: {', '.join(valid)}")
    if len(set(listed_names)) < len(listed_names):
        parser.error(f"{option}: {text} names one twice")
    return listed_names
