"""minigrad's example applications, installed as ``minigrad.examples`` (run with ``minigrad train TASK``).

The examples import minigrad and nothing of its command line; the commands (``minigrad train``,
``compare``, ``bench loop``) find them here, by task name, and the optional modules each needs in
its ``NEEDS``. ``arguments`` holds what the examples' command lines share with the commands'.
"""
import importlib

# task name: the example module that trains it
TASKS = {"digits-mlp": "digits_mlp", "digits-cnn": "digits_cnn", "char-lstm": "char_lstm",
         "char-transformer": "char_transformer", "text-classify": "text_classify", "cartpole": "cartpole_pg",
         "arm": "robot_arm", "translate": "translate", "segment": "segment", "detect": "detect",
         "hopper": "hopper", "reacher": "reacher", "doorkey": "doorkey"}


def load(task):
    """The example module of ``task`` (a key of TASKS), imported."""
    return importlib.import_module(f"{__name__}.{TASKS[task]}")
