"""The layout's rules, checked on the source tree: imports run one way (library ← examples ←
commands ← command line), every module imports, no file grows past the size budget, and an
alias module holds only its target's names."""
import ast
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [(ROOT / "minigrad", "minigrad"), (ROOT / "examples", "minigrad.examples")]  # (directory, package)
# Each layer may import its own and the layers before it, never one after it.
LAYERS = ["library", "minigrad.examples", "minigrad.commands", "minigrad.cli"]
MAX_LINES = 800
SOURCE_SUFFIXES = {".py", ".h", ".hpp", ".cpp", ".cc", ".c"}
# alias module: the modules whose public names it re-exports, all of them and nothing else
ALIASES = {"minigrad.nn.utils": ["minigrad.nn.utils.clip_grad", "minigrad.nn.utils.convert_parameters"],
           "minigrad.optim.lr_scheduler": [f"minigrad.optim.lr_scheduler.{name}" for name in (
               "base", "factor", "cyclic", "plateau", "combined")]}


def layer(module):
    """The index in LAYERS of a minigrad module (``minigrad.__main__`` is the command line)."""
    if module == "minigrad.__main__":
        return LAYERS.index("minigrad.cli")
    for i in range(len(LAYERS) - 1, 0, -1):
        if module == LAYERS[i] or module.startswith(LAYERS[i] + "."):
            return i
    return 0


def source_modules():
    """[(module name, source path or None for a compiled extension, is package)] of every module in
    SOURCES, found by pkgutil without importing anything."""
    found = {}

    def walk(directory, package):
        for info in pkgutil.iter_modules([str(directory)], package + "."):
            path = directory / info.name.rpartition(".")[2]
            if info.ispkg:
                found.setdefault(info.name, (path / "__init__.py", True))
                walk(path, info.name)
            else:
                path = path.with_suffix(".py")
                found.setdefault(info.name, (path if path.exists() else None, False))
    for directory, package in SOURCES:
        found.setdefault(package, (directory / "__init__.py", True))
        walk(directory, package)
    return [(name, path, is_package) for name, (path, is_package) in found.items()]


def imported_modules(module, path, is_package):
    """The modules ``path`` imports: ``import a.b``, ``from a import b`` (both ``a`` and ``a.b``, since
    ``b`` may be a module), relative imports resolved, and the constant prefix of an
    ``importlib.import_module`` / ``__import__`` argument."""
    if path is None:
        return []
    package = module if is_package else module.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names += [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
        elif isinstance(node, ast.Call) and node.args and (
                getattr(node.func, "attr", None) == "import_module" or getattr(node.func, "id", None) in (
                    "import_module", "__import__")):
            argument = node.args[0]
            if isinstance(argument, ast.JoinedStr) and argument.values:
                argument = argument.values[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                names.append(argument.value.rstrip("."))
    return names


def test_imports_run_one_way():
    wrong = list(dict.fromkeys(f"{module} ({LAYERS[layer(module)]}) imports {name} ({LAYERS[layer(name)]})"
                               for module, path, is_package in source_modules()
                               for name in imported_modules(module, path, is_package)
                               if name.partition(".")[0] == "minigrad" and layer(name) > layer(module)))
    assert not wrong, "\n".join(wrong)


IMPORT_ALL = """
import importlib, json, sys
names, result = json.loads(sys.argv[1]), {"failed": {}, "missing": {}}

def load(name):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        if (err.name or "").partition(".")[0] != "minigrad":  # an optional dependency (gymnasium, ...)
            result["missing"][name] = repr(err)
        else:
            result["failed"][name] = repr(err)
    except Exception as err:
        result["failed"][name] = repr(err)

for name in names[0]:
    load(name)
result["after_library"] = sorted(sys.modules)
for name in names[1]:
    load(name)
print(json.dumps(result))
"""


def test_every_module_imports_and_the_library_alone_loads_no_example_or_command(tmp_path):
    """In a fresh interpreter: the library's modules first (then no example or command may be loaded),
    then the examples, commands and command line."""
    modules = [name for name, _, _ in source_modules() if name != "minigrad.__main__"]  # __main__ runs the CLI
    library = [name for name in modules if layer(name) == 0]
    rest = [name for name in modules if layer(name) > 0]
    run = subprocess.run([sys.executable, "-c", IMPORT_ALL, json.dumps([library, rest])], capture_output=True,
                         text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert not result["failed"], result["failed"]
    assert not [name for name in library if name in result["missing"]], result["missing"]  # no optional deps
    leaked = [name for name in result["after_library"] if name.startswith("minigrad.") and layer(name) > 0]
    assert not leaked, f"importing the library loaded {leaked}"


def test_no_source_file_is_over_the_line_budget():
    files = [path for directory in (ROOT / "minigrad", ROOT / "csrc") for path in sorted(directory.rglob("*"))
             if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts]
    assert files
    long = {str(path.relative_to(ROOT)): n for path in files if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines: {long}"


def public_names(module):
    """A module's ``__all__``, or else the functions and classes it defines without a leading underscore."""
    if hasattr(module, "__all__"):
        return set(module.__all__)
    return {name for name, value in vars(module).items() if not name.startswith("_")
            and (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__ == module.__name__}


@pytest.mark.parametrize("alias", ALIASES)
def test_alias_module_exposes_exactly_its_targets_names(alias):
    module = importlib.import_module(alias)
    targets = [importlib.import_module(name) for name in ALIASES[alias]]
    expected = set().union(*(public_names(target) for target in targets))
    assert sorted(module.__all__) == sorted(expected)
    for target in targets:
        for name in public_names(target):
            assert getattr(module, name) is getattr(target, name), name
    body = ast.parse(Path(module.__file__).read_text()).body  # only a docstring, imports and __all__
    assert all(isinstance(node, (ast.Import, ast.ImportFrom)) or (isinstance(node, ast.Expr) and i == 0) or (
        isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"])
        for i, node in enumerate(body)), f"{alias} holds more than imports and __all__"
