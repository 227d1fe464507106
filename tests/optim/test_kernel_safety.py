"""Nothing a Python program does to the kernels' arguments may crash the interpreter: each case
runs in a fresh process, so that a regression fails its test instead of killing pytest."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minigrad
from minigrad import _C


def run_python(code, timeout=60):
    """Runs ``code`` in a fresh interpreter; returns (exit code, stdout + stderr)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, cwd="/")
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("call, error, message", [
    ('_C.check_arrays("op", [])', "ValueError", "op: needs the params list"),
    ('_C.check_arrays("op", [("params", [np.ones(3)])], skip_missing=True)', "ValueError",
     "op: needs the params list and the grads list"),
])
def test_check_arrays_refuses_missing_lists(call, error, message):
    code, out = run_python(f"""
        import numpy as np
        from minigrad import _C
        try:
            {call}
        except {error} as e:
            print("refused:", e)
        """)
    assert code == 0 and f"refused: {message}" in out, out


def test_a_list_subclass_is_refused_before_any_write():
    class Fresh(list):  # hands out a new array on every access
        def __getitem__(self, i):
            return np.ones(4)
    x = np.zeros(4)
    with pytest.raises(TypeError, match=r"axpy\(\): xs must be a list or tuple of numpy arrays, got Fresh"):
        _C.axpy(Fresh([x]), [np.ones(4)], alpha=1.0)
    assert (x == 0).all()


def test_emptying_the_lists_while_the_kernel_runs_is_safe():
    code, out = run_python("""
        import threading
        import numpy as np
        import minigrad
        from minigrad import _C
        minigrad.set_num_threads(2)
        for trial in range(20):
            xs = [np.ones(1 << 21) for _ in range(4)]
            ys = [np.ones(1 << 21) for _ in range(4)]
            start = threading.Barrier(2)
            def clear():
                start.wait()
                xs.clear()
                ys.clear()
            thread = threading.Thread(target=clear)
            thread.start()
            start.wait()
            _C.axpy(xs, ys, alpha=1.0)
            thread.join()
        print("survived")
        """)
    assert code == 0 and "survived" in out, out


def test_a_forked_child_runs_the_kernels_after_a_multithreaded_call():
    code, out = run_python("""
        import os, time
        import numpy as np
        import minigrad
        from minigrad import _C
        minigrad.set_num_threads(2)
        minigrad.set_thread_policy("fixed")  # the parent's call surely opens a parallel region
        xs, ys = [np.ones(1 << 20)], [np.ones(1 << 20)]
        _C.axpy(xs, ys, alpha=1.0)
        pid = os.fork()
        if pid == 0:
            _C.axpy(xs, ys, alpha=1.0)  # hangs in the child without the at-fork handler
            os._exit(0 if minigrad.get_num_threads() == 1 and xs[0][0] == 3 else 1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                print("child exit", os.waitstatus_to_exitcode(status))
                break
            time.sleep(0.01)
        else:
            os.kill(pid, 9)
            print("child hung")
        """)
    assert code == 0 and "child exit 0" in out, out


def test_set_num_threads_is_process_wide():
    import threading
    saved = minigrad.get_num_threads()
    try:
        minigrad.set_num_threads(1)
        seen = []
        thread = threading.Thread(target=lambda: seen.append(minigrad.get_num_threads()))
        thread.start()
        thread.join()
        assert seen == [1] and minigrad.build_info()["num_threads"] == 1
    finally:
        minigrad.set_num_threads(saved)


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("name, lists, scalars, message", [
    ("adam", 5, dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, step_size=1e-3,
                     bias_correction2_sqrt=0.5, amsgrad=False, maximize=False, decoupled_weight_decay=False),
     "max_exp_avg_sqs must be a list or tuple of numpy arrays, got NoneType"),
    ("sgd", 3, dict(lr=0.1, weight_decay=0.0, momentum=0.0, dampening=0.0, nesterov=False, maximize=False,
                    first_step=False), "momentum_buffers must be a list or tuple of numpy arrays, got NoneType"),
])
def test_both_backends_refuse_the_same_unused_optional_list(backend, name, lists, scalars, message):
    kernel = getattr(minigrad.optim.optimizer.BACKENDS[backend], name)
    arrays = [[np.full(3, 0.5)] for _ in range(lists - 1)]
    before = [a[0].copy() for a in arrays]
    with pytest.raises(TypeError, match=message):
        kernel(*arrays, None, **scalars)  # the optional state the options do not use, as None
    assert all((a[0] == b).all() for a, b in zip(arrays, before))
