"""The ``minigrad`` command: ``minigrad info``, ``minigrad bench [kernels options]``,
``minigrad bench train|loop|lm|ppo|ddp [options]``, ``minigrad train TASK [options]``, ``minigrad compare``,
``minigrad --version``.

Only the dispatch: each command lives in ``minigrad.commands`` (``train`` runs an example of
``minigrad.examples``) and is imported when it runs, so that ``minigrad info`` stays fast."""
import argparse
import json
import sys

from . import __version__
from .examples import TASKS, load

EXIT_STATUS = """exit status:
  0  success, or help (a bare 'minigrad' prints this help)
  1  the command needs an optional extra that is not installed: it names the extra, before doing any work
  2  a usage error: an unknown command, task or option, or an invalid value
"""


def info(argv):
    argparse.ArgumentParser(prog="minigrad info", description="Print how minigrad was built.").parse_args(argv)
    from . import build_info
    print(json.dumps(build_info(), indent=2))


def bench(argv):
    if argv[:1] == ["train"]:
        from .commands.bench_train import main as train_main
        return train_main(argv[1:])
    if argv[:1] == ["loop"]:
        from .commands.bench_loop import main as loop_main
        return loop_main(argv[1:])
    if argv[:1] == ["lm"]:
        from .commands.bench_lm import main as lm_main
        return lm_main(argv[1:])
    if argv[:1] == ["ppo"]:
        from .commands.bench_ppo import main as ppo_main
        return ppo_main(argv[1:])
    if argv[:1] == ["ddp"]:
        from .commands.bench_ddp import main as ddp_main
        return ddp_main(argv[1:])
    from .commands.bench import main as kernels_main
    return kernels_main(argv)


def train(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: minigrad train TASK [options]   ('minigrad train TASK --help' for its options)\n\n"
              f"tasks: {', '.join(TASKS)}")
        return 0
    if argv[0] not in TASKS:
        usage_error(f"minigrad train: unknown task {argv[0]!r}; valid tasks: {', '.join(TASKS)}")
    return load(argv[0]).main(argv[1:])


def compare(argv):
    from .commands.compare import main as compare_main
    return compare_main(argv)


COMMANDS = {
    "info": (info, "build facts: version, compiler, OpenMP, threads, SIMD levels"),
    "bench": (bench, "optimizer kernel speed, C++ vs NumPy vs torch ('bench train': training-step speed, "
                     "'bench loop': the optimizer step inside training loops, 'bench lm': "
                     "the two language models in one time budget, 'bench ppo': PPO against torch's, 'bench ddp': "
                     "data-parallel training on MPI ranks)"),
    "train": (train, "train an example network: " + ", ".join(TASKS)),
    "compare": (compare, "compare the optimizers on 2-D test functions and real tasks"),
}
USAGE = ("usage: minigrad COMMAND [options]\n       minigrad -V | --version\n\ncommands:\n"
         + "".join(f"  {name:<8} {help}\n" for name, (_, help) in COMMANDS.items())
         + f"\n'minigrad COMMAND --help' describes a command's options.\n\n{EXIT_STATUS}")


def usage_error(message):
    """Exit with status 2, as argparse does, ``message`` on stderr."""
    print(message, file=sys.stderr)
    sys.exit(2)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["-V"], ["--version"]):
        print(f"minigrad {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    if argv[0] not in COMMANDS:
        usage_error(f"minigrad: unknown command {argv[0]!r}; valid commands: {', '.join(COMMANDS)} "
                    "('minigrad --help' describes them)")
    command, _ = COMMANDS[argv[0]]
    try:
        return command(argv[1:])
    except BaseException as error:  # under mpiexec: one rank's exit must not leave the others waiting
        from .distributed import abort_on_exit
        abort_on_exit(error)
        raise
