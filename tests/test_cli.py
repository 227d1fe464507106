"""The ``minigrad`` command line: --version, the bare command, every command's --help, invalid
numbers refused by argparse, and, on a simulated core-only install (no optional extra), one line
naming the extra to install before any work."""
import importlib.metadata
import re
import resource
import subprocess
import sys

import pytest

import minigrad
from minigrad import cli, examples
from minigrad.examples import arguments

# Runs minigrad.cli.main(sys.argv[1:]) with every optional dependency unimportable, as on an install
# of minigrad's core alone (numpy, safetensors): a meta-path finder refuses them.
CORE_ONLY = """
import sys

class CoreOnly:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"sklearn", "matplotlib", "tqdm", "gymnasium", "threadpoolctl", "torch"}:
            raise ModuleNotFoundError(f"No module named {name!r} (core-only install)", name=name)
        return None

sys.meta_path.insert(0, CoreOnly())
from minigrad.cli import main
sys.exit(main(sys.argv[1:]))
"""
HELPS = [["info"], ["bench"], ["bench", "train"], ["bench", "loop"], ["bench", "lm"], ["compare"], ["train"]] + [
    ["train", task] for task in examples.TASKS]
EXAMPLES = 'pip install "minigrad[examples]"'
BENCH_OR_EXAMPLES = 'pip install "minigrad[bench]" or pip install "minigrad[examples]"'
# a command on the core alone, and the one line it prints
MISSING_EXTRA = [
    (["train", "digits-mlp"], f"minigrad train digits-mlp: needs scikit-learn; install it with: {EXAMPLES}"),
    (["train", "digits-cnn", "--epochs", "1"],
     f"minigrad train digits-cnn: needs scikit-learn; install it with: {EXAMPLES}"),
    (["train", "cartpole"], f"minigrad train cartpole: needs gymnasium; install it with: {EXAMPLES}"),
    (["train", "arm", "--plot", "arm.png"], f"minigrad train arm --plot: needs matplotlib; install it with: "
                                            f"{BENCH_OR_EXAMPLES}"),
    (["bench", "--quick", "--plot", "bench.png"],
     f"minigrad bench --plot: needs matplotlib; install it with: {BENCH_OR_EXAMPLES}"),
    (["bench", "loop", "--quick"], f"minigrad bench loop: needs scikit-learn; install it with: {EXAMPLES}"),
    (["compare", "--tasks", "2d"], f"minigrad compare: needs matplotlib; install it with: {BENCH_OR_EXAMPLES}"),
    (["compare", "--quick"], f"minigrad compare: needs matplotlib and scikit-learn; install them with: {EXAMPLES}"),
    (["compare"], f"minigrad compare: needs matplotlib, scikit-learn and gymnasium; install them with: {EXAMPLES}"),
]


def minigrad_command(argv, cwd, core_only=False):
    """``python -m minigrad ARGV`` (or, core_only, through CORE_ONLY) in ``cwd``: the finished process."""
    command = [sys.executable, "-c", CORE_ONLY] if core_only else [sys.executable, "-m", "minigrad"]
    return subprocess.run(command + argv, cwd=cwd, capture_output=True, text=True, timeout=120)


def children_cpu_seconds():
    """CPU seconds of this process's finished children: unlike wall time, not stretched by a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag, tmp_path):
    run = minigrad_command([flag], tmp_path, core_only=True)
    assert (run.returncode, run.stdout, run.stderr) == (0, f"minigrad {minigrad.__version__}\n", "")
    assert minigrad.__version__ == importlib.metadata.version("minigrad")


def test_bare_command_prints_the_usage_and_exits_0(tmp_path):
    run = minigrad_command([], tmp_path)
    assert run.returncode == 0 and run.stderr == ""
    assert run.stdout.startswith("usage: minigrad COMMAND [options]\n")
    assert all(f"\n  {name} " in run.stdout for name in cli.COMMANDS)
    assert cli.EXIT_STATUS in run.stdout


@pytest.mark.parametrize("argv, message", [
    (["fly"], "minigrad: unknown command 'fly'"),
    (["train", "chess"], "minigrad train: unknown task 'chess'"),
])
def test_unknown_command_or_task_is_a_usage_error(argv, message, tmp_path):
    run = minigrad_command(argv, tmp_path)
    assert run.returncode == 2 and run.stdout == "" and run.stderr.startswith(message)


@pytest.mark.parametrize("argv", HELPS, ids=" ".join)
def test_help_names_the_command_without_any_extra(argv, tmp_path):
    run = minigrad_command(argv + ["--help"], tmp_path, core_only=True)
    assert run.returncode == 0 and run.stderr == ""
    assert run.stdout.startswith(f"usage: minigrad {' '.join(argv)} "), run.stdout[:200]


@pytest.mark.parametrize("argv", HELPS, ids=" ".join)
def test_help_names_the_command(argv, capsys):
    try:
        status = cli.main(argv + ["--help"])
    except SystemExit as exit_:  # argparse's --help
        status = exit_.code
    assert status == 0
    assert capsys.readouterr().out.startswith(f"usage: minigrad {' '.join(argv)} ")


@pytest.mark.parametrize("argv, line", MISSING_EXTRA, ids=[" ".join(argv) for argv, _ in MISSING_EXTRA])
def test_a_missing_extra_stops_the_command_before_any_work(argv, line, tmp_path):
    cpu_before = children_cpu_seconds()
    run = minigrad_command(argv, tmp_path, core_only=True)
    assert (run.returncode, run.stderr, run.stdout) == (1, line + "\n", "")
    assert not list(tmp_path.iterdir())  # no plot, no output directory
    assert children_cpu_seconds() - cpu_before < 3  # nothing was trained or timed (~0.4 s: Python and numpy)


@pytest.mark.parametrize("argv, output", [
    (["train", "char-lstm", "--epochs", "1", "--max-steps", "2", "--num-chars", "20000", "--hidden", "8", "--quiet"],
     "val_bpc: "),
    (["bench", "--optimizers", "sgd", "--sizes", "1000", "--dtypes", "float32", "--threads", "1", "--rounds", "1"],
     "targets:"),
], ids=["train char-lstm", "bench"])
def test_commands_without_extras_run_on_the_core_alone(argv, output, tmp_path):
    run = minigrad_command(argv, tmp_path, core_only=True)
    assert run.returncode == 0, run.stderr
    assert output in run.stdout


@pytest.mark.parametrize("argv, option", [
    *[(["train", task, "--epochs", "0"], "--epochs") for task in examples.TASKS],
    (["train", "digits-mlp", "--epochs", "-3"], "--epochs"),
    (["train", "digits-mlp", "--epochs", "two"], "--epochs"),
    (["train", "digits-mlp", "--lr", "0"], "--lr"),
    (["train", "digits-mlp", "--lr", "-0.1"], "--lr"),
    (["train", "digits-mlp", "--lr", "nan"], "--lr"),
    (["train", "digits-mlp", "--seed", "-1"], "--seed"),
    (["train", "digits-mlp", "--max-steps", "0"], "--max-steps"),
    (["train", "char-lstm", "--batch-size", "0"], "--batch-size"),
    (["train", "char-lstm", "--seq-len", "0"], "--seq-len"),
    (["train", "char-lstm", "--hidden", "0"], "--hidden"),
    (["train", "char-lstm", "--num-chars", "-5"], "--num-chars"),
    (["train", "char-lstm", "--clip", "0"], "--clip"),
    (["train", "char-lstm", "--temperature", "-1"], "--temperature"),
    (["train", "text-classify", "--hidden", "0"], "--hidden"),
    (["train", "cartpole", "--batch-episodes", "0"], "--batch-episodes"),
    (["train", "cartpole", "--eval-episodes", "0"], "--eval-episodes"),
    (["compare", "--epochs", "0"], "--epochs"),
    (["compare", "--seeds", "0"], "--seeds"),
    (["compare", "--steps", "0"], "--steps"),
    (["compare", "--budget", "0"], "--budget"),
    (["compare", "--grid-step", "0"], "--grid-step"),
    (["compare", "--grid-step", "-2"], "--grid-step"),
    (["bench", "--rounds", "0"], "--rounds"),
    (["bench", "--sizes", "1000,0"], "--sizes"),
    (["bench", "--threads", "0"], "--threads"),
    (["bench", "train", "--repeats", "0"], "--repeats"),
    (["bench", "train", "--threads", "0"], "--threads"),
    (["bench", "loop", "--steps", "0"], "--steps"),
    (["bench", "loop", "--warmup", "-1"], "--warmup"),
    (["bench", "loop", "--hot-rounds", "0"], "--hot-rounds"),
    (["bench", "lm", "--seconds", "0"], "--seconds"),
    (["bench", "lm", "--seeds", "0,-1"], "--seeds"),
    (["bench", "lm", "--num-chars", "10"], "--num-chars"),
], ids=" ".join)
def test_invalid_numbers_are_usage_errors_naming_the_option(argv, option, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and out == ""
    assert re.search(f"error: argument {option}: expected (an integer >= [0-9]+|a number > 0), got", err), err


@pytest.mark.parametrize("text, value", [("3", 3), ("1e6", 1_000_000), ("0", 0)])
def test_integer_accepts_whole_numbers(text, value):
    assert arguments.integer(0)(text) == value


def test_extras_are_the_package_metadata():
    """arguments.EXTRAS names what pyproject.toml's extras install, and every example's NEEDS is in one."""
    requirements = importlib.metadata.requires("minigrad")
    for extra, modules in arguments.EXTRAS.items():
        # a requirement's own extras count as what it brings: gymnasium[mujoco] brings mujoco
        packages = {name for r in requirements if f'extra == "{extra}"' in r
                    for name in re.match(r"([\w.-]+)(?:\[([\w,.-]+)\])?", r).group(1, 2) if name}
        packages = {part for name in packages for part in name.split(",")}
        packages -= {"mpich", "impi-rt"}  # the MPI libraries' wheels: mpiexec and a shared library, no module
        assert packages == {arguments.PACKAGES.get(module, module) for module in modules}
    for task in examples.TASKS:
        needs = set(examples.load(task).NEEDS)
        assert needs <= set(arguments.EXTRAS["examples"]) or needs <= set(arguments.EXTRAS["rl"]), task
