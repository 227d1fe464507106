"""The ``minigrad`` command: ``minigrad info``, ``minigrad bench [kernels options]``,
``minigrad bench train [options]``."""
import argparse
import json
import sys


def info(argv):
    argparse.ArgumentParser(prog="minigrad info", description="Print how minigrad was built.").parse_args(argv)
    from . import build_info
    print(json.dumps(build_info(), indent=2))


def bench(argv):
    if argv[:1] == ["train"]:
        from .bench_train import main as train_main
        return train_main(argv[1:])
    from .bench import main as kernels_main
    return kernels_main(argv)


COMMANDS = {
    "info": (info, "build facts: version, compiler, OpenMP, threads, SIMD levels"),
    "bench": (bench, "optimizer kernel speed, C++ vs NumPy vs torch ('bench train': training-step speed)"),
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
