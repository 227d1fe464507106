"""Running a program of ``tests/distributed/programs`` under ``mpiexec -n N`` from a test, in bounded
time: the job runs in its own process group, killed whole when it outlives ``timeout``. MPI is
never initialised in the pytest process itself."""
import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import sysconfig

import pytest

import minigrad.distributed as dist

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")
# mpiexec as the mpich wheel installs it, beside this Python's scripts; else one on PATH
MPIEXEC = shutil.which("mpiexec", path=sysconfig.get_path("scripts")) or shutil.which("mpiexec")

requires_mpi = pytest.mark.skipif(not dist.is_available() or MPIEXEC is None,
                                  reason='needs mpi4py and mpiexec: pip install "minigrad[mpi]"')

ENVIRONMENT = {
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",  # one thread a rank: the ranks share 2 cores
    "MPIR_CVAR_ENABLE_HEAVY_YIELD": "1",  # MPICH: a rank waiting in a collective yields its core instead of spinning
    "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",  # Open MPI in a container
}


def mpiexec(program, *args, n=2, timeout=120, env=None):
    """``mpiexec -n n python programs/<program> args...``: the finished process (stdout and stderr as
    text, ``returncode``). A job still running after ``timeout`` seconds is killed and the test fails."""
    shared_memory = set(glob.glob("/dev/shm/mpich_shm_*"))
    command = [MPIEXEC, "-n", str(n), sys.executable, os.path.join(PROGRAMS, program), *map(str, args)]
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, **ENVIRONMENT, **(env or {})}, start_new_session=True)
    try:
        stdout, stderr = job.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(job)
        stdout, stderr = job.communicate()
        pytest.fail(f"mpiexec -n {n} {program} did not finish in {timeout} s (it hung)\n"
                    f"stdout:\n{stdout}\nstderr:\n{stderr}")
    finally:  # what an aborted MPICH job leaves behind
        for path in set(glob.glob("/dev/shm/mpich_shm_*")) - shared_memory:
            with contextlib.suppress(OSError):
                os.remove(path)
    return subprocess.CompletedProcess(command, job.returncode, stdout, stderr)


def check(finished):
    """Fail the test, showing the job's output, unless it exited with status 0."""
    if finished.returncode != 0:
        pytest.fail(f"{' '.join(finished.args[3:])} under mpiexec exited with status {finished.returncode}\n"
                    f"stdout:\n{finished.stdout}\nstderr:\n{finished.stderr}")
    return finished


def _kill(job):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.pid, sig)
        try:
            job.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue

