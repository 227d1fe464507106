"""The packaging promises, checked without building or downloading anything: the Python versions
declared (requires-python, classifiers, the wheels cibuildwheel builds) agree, the license is
declared the PEP 639 way and ships, the sdist's file list names what a build needs, the wheel
matrix covers every platform, and the compiled kernels offered are the ones this machine's
architecture (and, on Linux, its kernel) can run."""
import platform
import re
import sys
from pathlib import Path

import pytest

import minigrad

if sys.version_info >= (3, 11):
    import tomllib
else:
    tomllib = pytest.importorskip("tomli")  # pytest itself depends on tomli before Python 3.11

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
CIBW = PYPROJECT["tool"]["cibuildwheel"]
WORKFLOW = ROOT / ".github" / "workflows" / "wheels.yml"  # not in the sdist


def declared_python_versions():
    """The 3.X versions named by the 'Programming Language :: Python :: 3.X' classifiers."""
    found = [re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c) for c in PROJECT["classifiers"]]
    return sorted(int(m.group(1)) for m in found if m)


def test_python_classifiers_match_requires_python():
    floor = re.fullmatch(r">=\s*3\.(\d+)", PROJECT["requires-python"])
    assert floor, f"requires-python {PROJECT['requires-python']!r} is not of the form '>=3.X'"
    minors = declared_python_versions()
    assert minors, "no 'Programming Language :: Python :: 3.X' classifiers"
    assert minors[0] == int(floor.group(1)), f"oldest classifier 3.{minors[0]} is not requires-python's floor"
    assert minors == list(range(minors[0], minors[-1] + 1)), f"classifier versions have a gap: {minors}"


def test_cibuildwheel_builds_exactly_the_declared_pythons():
    built = sorted(int(re.fullmatch(r"cp3(\d+)-\*", sel).group(1)) for sel in CIBW["build"])
    assert built == declared_python_versions()


def test_license_is_mit_declared_the_pep_639_way_and_shipped():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 the minigrad authors" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")], \
        "PEP 639: a license expression excludes License :: classifiers"
    assert "/LICENSE" in PYPROJECT["tool"]["scikit-build"]["sdist"]["include"]


def test_installed_distribution_carries_the_license():
    from importlib import metadata
    try:
        meta = metadata.metadata("minigrad")
    except metadata.PackageNotFoundError:
        pytest.skip("minigrad is imported from a tree, not installed")
    assert meta["License-Expression"] == "MIT", "installed from an older build? reinstall minigrad"
    assert float(meta["Metadata-Version"]) >= 2.4  # 2.4 is what License-Expression needs
    files = metadata.files("minigrad") or []
    assert any(f.name == "LICENSE" and "licenses" in f.parts for f in files), "LICENSE not in the dist-info"


def test_sdist_names_what_a_build_and_the_tests_need_and_nothing_of_ci():
    sdist = PYPROJECT["tool"]["scikit-build"]["sdist"]
    assert sdist["inclusion-mode"] == "explicit"
    include = sdist["include"]
    for needed in ["/pyproject.toml", "/CMakeLists.txt", "/README.md", "/LICENSE", "/csrc/**", "/minigrad/**",
                   "/examples/**", "/tests/**", "/conftest.py"]:
        assert needed in include, f"the sdist leaves out {needed}"
    for pattern in include:  # each names something that exists (a renamed file would drop out silently)
        assert list(ROOT.glob(pattern.lstrip("/"))), f"sdist.include {pattern!r} matches nothing"
    assert not [p for p in include if p.startswith(("/.ci", "/.github", "/build", "/dist", "/wheelhouse"))]
    assert not [p for p in include if p.endswith(".png")]


def test_cibuildwheel_covers_every_platform():
    assert CIBW["test-command"].startswith("pytest {project}/tests")
    assert {"pytest>=7", "hypothesis>=6"} <= set(CIBW["test-requires"])
    linux = CIBW["linux"]
    assert linux["archs"] == ["auto64"]  # x86_64 and, on an arm64 runner, aarch64
    assert linux["manylinux-x86_64-image"] == linux["manylinux-aarch64-image"] == "manylinux_2_28"
    assert linux["musllinux-x86_64-image"] == "musllinux_1_2"
    assert CIBW["skip"] == ["*-musllinux_aarch64"]
    macos = CIBW["macos"]
    assert macos["archs"] == ["native"] and "libomp" in macos["before-all"]
    targets = {o["select"]: o["environment"]["MACOSX_DEPLOYMENT_TARGET"] for o in CIBW["overrides"]
               if o["select"].startswith("*-macosx")}
    assert set(targets) == {"*-macosx_x86_64", "*-macosx_arm64"}
    assert CIBW["windows"]["archs"] == ["AMD64"]
    if not WORKFLOW.exists():
        pytest.skip("no .github/workflows/wheels.yml here (an sdist)")
    workflow = WORKFLOW.read_text(encoding="utf-8")
    runners = re.findall(r"^\s+- (\S+)\s+#", workflow, flags=re.MULTILINE)
    assert runners == ["ubuntu-latest", "ubuntu-24.04-arm", "macos-15-intel", "macos-14", "windows-latest"]
    assert re.search(r"tags:\s*\[\"v\*\"\]", workflow) and "workflow_dispatch:" in workflow
    assert "pypa/cibuildwheel@" in workflow and "--sdist" in workflow
    # Homebrew's libomp needs the runner's macOS: each arch's deployment target is its runner's.
    assert targets == {"*-macosx_x86_64": "15.0", "*-macosx_arm64": "14.0"}


X86_64 = {"x86_64", "amd64", "x64"}


def test_compiled_kernels_are_the_ones_this_architecture_can_have():
    info = minigrad.build_info()
    compiled, supported = info["simd_compiled"], info["simd_supported"]
    assert info["simd"] in supported and set(supported) <= set(compiled)
    if compiled == ["native"]:  # a MINIGRAD_NATIVE build: one ISA, this machine's
        return
    assert compiled[0] == "baseline" and "baseline" in supported
    if platform.machine().lower() in X86_64:
        assert set(compiled) <= {"baseline", "avx2", "avx512"}
    else:  # aarch64, arm64 (NEON is baseline there), ...: x86 builds would be wrong code
        assert compiled == ["baseline"], f"{platform.machine()} build lists {compiled}"


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists() or platform.machine().lower() not in X86_64,
                    reason="checked against the Linux kernel's view of an x86-64 CPU")
def test_supported_kernels_agree_with_the_linux_kernel():
    """The kernel lists a feature in /proc/cpuinfo only if the CPU has it and the kernel saves its
    registers (XCR0), the same two checks the dispatch makes (csrc/cpu_features.h)."""
    text = Path("/proc/cpuinfo").read_text()
    flags = set(re.search(r"^flags\s*:(.*)$", text, flags=re.MULTILINE).group(1).split())
    info = minigrad.build_info()
    expected = {"avx2": {"avx2", "fma"} <= flags,
                "avx512": {"avx512f", "avx512vl", "avx512bw", "avx512dq", "fma"} <= flags}
    for isa in set(info["simd_compiled"]) & set(expected):
        assert (isa in info["simd_supported"]) == expected[isa], f"{isa}: dispatch and /proc/cpuinfo disagree"
