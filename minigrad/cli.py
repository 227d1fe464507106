"""The ``minigrad`` command: ``minigrad info``, ``minigrad bench [kernels options]``,
``minigrad bench train|loop [options]``, ``minigrad train TASK [options]``, ``minigrad compare``.

Only the dispatch: each command lives in ``minigrad.commands`` (``train`` runs an example of
``minigrad.examples``) and is imported when it runs, so that ``minigrad info`` stays fast."""
import argparse
import json
import sys

from .examples import TASKS, load


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
    from .commands.bench import main as kernels_main
    return kernels_main(argv)


def train(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: minigrad train TASK [options]   (TASK --help for its options)\n\ntasks: " + ", ".join(TASKS))
        return 0
    if argv[0] not in TASKS:
        sys.exit(f"minigrad train: unknown task {argv[0]!r}; valid tasks: {', '.join(TASKS)}")
    return load(argv[0]).main(argv[1:])


def compare(argv):
    from .commands.compare import main as compare_main
    return compare_main(argv)


COMMANDS = {
    "info": (info, "build facts: version, compiler, OpenMP, threads, SIMD levels"),
    "bench": (bench, "optimizer kernel speed, C++ vs NumPy vs torch ('bench train': training-step speed, "
                     "'bench loop': the optimizer step inside training loops)"),
    "train": (train, "train an example network: " + ", ".join(TASKS)),
    "compare": (compare, "compare the optimizers on 2-D test functions and real tasks"),
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        usage = "usage: minigrad COMMAND [options]\n\ncommands:\n" + "".join(
            f"  {name:<8} {help}\n" for name, (_, help) in COMMANDS.items())
        if argv and argv[0] not in ("-h", "--help"):
            sys.exit(f"minigrad: unknown command {argv[0]!r}; valid commands: {', '.join(COMMANDS)}\n\n{usage}")
        print(usage, end="")
        return 0
    command, _ = COMMANDS[argv[0]]
    return command(argv[1:])
