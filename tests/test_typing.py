"""The type information: ``minigrad/py.typed``, the stub ``minigrad/_C.pyi`` against the compiled module
(its names, each function's parameters, the kernels' keyword-only hyperparameters; then mypy's stubtest),
and mypy on ``minigrad/`` under the project's ``[tool.mypy]`` configuration. The stub checks need no mypy."""
import ast
import inspect
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import minigrad
from minigrad import _C

ROOT = Path(__file__).resolve().parents[1]
STUB = ROOT / "minigrad" / "_C.pyi"
POSITIONAL_OR_KEYWORD, KEYWORD_ONLY = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY


def stub_definitions():
    """{name: ast node} of every top-level function, class and assignment of the stub."""
    found = {}
    for node in ast.parse(STUB.read_text(), str(STUB)).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found[node.name] = node
        elif isinstance(node, ast.Assign):
            found.update((target.id, node) for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node
    return found


STUB_FUNCTIONS = sorted(name for name, node in stub_definitions().items() if isinstance(node, ast.FunctionDef))


def stub_parameters(function):
    """[(name, kind)] of a stub function's parameters."""
    args = function.args
    assert not (args.posonlyargs or args.vararg or args.kwarg), f"{function.name}: the module has no such parameters"
    return [(a.arg, POSITIONAL_OR_KEYWORD) for a in args.args] + [(a.arg, KEYWORD_ONLY) for a in args.kwonlyargs]


def runtime_parameters(function):
    """[(name, kind)] of a compiled function's parameters: from its ``__text_signature__`` (the kernels,
    vectorcall functions) or else from the signature line pybind11 writes first in the docstring."""
    if function.__text_signature__ is not None:
        return [(p.name, p.kind) for p in inspect.signature(function).parameters.values()]
    line = function.__doc__.partition("\n")[0]  # name(a: T, b: T = default) -> R
    assert line.startswith(f"{function.__name__}(") and ") -> " in line, line
    return [(name, POSITIONAL_OR_KEYWORD) for name in re.findall(r"[(,] ?(\w+): ", line)]


def test_the_installed_package_ships_its_type_information():
    installed = Path(minigrad.__file__).parent  # this tree under an editable install, else the wheel's copy
    assert (installed / "py.typed").is_file() and (installed / "_C.pyi").is_file()


def test_the_stub_declares_exactly_the_public_names_of_the_module():
    public_in_stub = {name for name in stub_definitions() if not name.startswith("_")}
    public_at_runtime = {name for name in dir(_C) if not name.startswith("_")}
    assert sorted(public_in_stub - public_at_runtime) == [], "in the stub only"
    assert sorted(public_at_runtime - public_in_stub) == [], "in minigrad._C only"


@pytest.mark.parametrize("name", STUB_FUNCTIONS)
def test_stub_parameters_match_the_module(name):
    function = getattr(_C, name)
    stub = stub_parameters(stub_definitions()[name])
    assert stub == runtime_parameters(function)
    keyword_only = [p for p, kind in stub if kind is KEYWORD_ONLY]
    if keyword_only:  # a kernel: its hyperparameters as the compiled module declares them
        text = function.__text_signature__
        assert text is not None, f"{name} has keyword-only parameters in the stub but no __text_signature__"
        assert re.findall(r"\w+", text.partition("*")[2]) == keyword_only


def test_stubtest_finds_the_stub_consistent_with_the_module(tmp_path):
    pytest.importorskip("mypy", reason="mypy is not installed (pip install mypy)")
    env = {**os.environ, "MYPYPATH": str(ROOT), "MYPY_CACHE_DIR": str(tmp_path / "cache")}  # this tree's stub
    run = subprocess.run([sys.executable, "-m", "mypy.stubtest", "minigrad._C",  # under the project's settings:
                          "--mypy-config-file", str(ROOT / "pyproject.toml")],  # it type-checks the package too
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_finds_no_error_in_the_library():
    version = pytest.importorskip("mypy.version", reason="mypy is not installed (pip install mypy)").__version__
    if int(version.split(".")[0]) < 2:  # allow_redefinition's flexible form; mypy 2 needs Python >= 3.10
        pytest.skip(f"the [tool.mypy] configuration is for mypy >= 2.0, this is mypy {version}")
    pyproject = ROOT / "pyproject.toml"
    if not re.search(r"^\[tool\.mypy\]", pyproject.read_text(), re.MULTILINE):
        pytest.skip("pyproject.toml has no [tool.mypy] section")
    cache = Path(tempfile.gettempdir()) / "minigrad-mypy-cache"  # kept between runs: a warm run takes a second
    run = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(pyproject), "--cache-dir", str(cache),
                          "minigrad"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert run.returncode == 0 and run.stdout.startswith("Success: no issues found"), run.stdout + run.stderr
