"""Grad mode is per thread (as in torch): ``no_grad``/``enable_grad`` (context manager and decorator)
and ``is_grad_enabled`` act on the calling thread only, and a new thread starts with grad enabled.
Threads are made to interleave with barriers, so the orderings that broke a process-wide flag happen
on every run. No timing assertions."""
import threading

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

TIMEOUT = 30  # seconds; only a hang (a thread stuck at a barrier) gets near it


def run_threads(*targets, barrier=None):
    """Run each target in its own thread; re-raise the first exception any of them raised. A failing
    thread aborts ``barrier`` so that the others do not wait for it forever."""
    errors = []

    def wrap(target):
        def run():
            try:
                target()
            except BaseException as e:  # noqa: BLE001 - reported in the main thread
                errors.append(e)
                if barrier is not None:
                    barrier.abort()
        return run

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


@pytest.fixture(autouse=True)
def grad_mode_on_in_main():
    assert mg.is_grad_enabled()
    yield
    assert mg.is_grad_enabled()


def test_concurrent_no_grad_leaves_grad_mode_on_everywhere():
    rounds = 200
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    x = mg.tensor(np.ones(3), requires_grad=True)

    def worker(first):
        for i in range(rounds):
            # Lock-step: the threads enter in turn and leave in the same order (first in, first out),
            # the ordering in which a shared, saved-and-restored flag ends up off.
            i_go_first = (i % 2 == 0) == first
            for turn in (0, 1):
                if (turn == 0) == i_go_first:
                    ctx = mg.no_grad()
                    ctx.__enter__()
                    assert not mg.is_grad_enabled() and not (x * 2).requires_grad
                barrier.wait()
            for turn in (0, 1):
                if (turn == 0) == i_go_first:
                    assert not mg.is_grad_enabled()
                    ctx.__exit__(None, None, None)
                    assert mg.is_grad_enabled() and (x * 2).requires_grad
                barrier.wait()
            assert mg.is_grad_enabled()
        # Free-running: both threads toggle as fast as they can.
        barrier.wait()
        for _ in range(2000):
            with mg.no_grad():
                assert not mg.is_grad_enabled()
                with mg.enable_grad():
                    assert mg.is_grad_enabled()
                assert not mg.is_grad_enabled()
            assert mg.is_grad_enabled()
        barrier.wait()
        assert mg.is_grad_enabled() and (x * 2).requires_grad

    run_threads(lambda: worker(True), lambda: worker(False), barrier=barrier)
    assert mg.is_grad_enabled() and (x * 2).requires_grad


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    params = list(model.parameters())
    xs = mg.tensor(np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32))
    lock_step, free_steps = 100, 400
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    training_done = threading.Event()
    eval_steps = [0]
    failures = []

    def step():
        for p in params:
            p.grad = None
        loss = (model(xs) ** 2).mean()
        try:
            loss.backward()
        except RuntimeError as e:
            failures.append(repr(e))
            return
        missing = [i for i, p in enumerate(params) if p.grad is None]
        if missing:
            failures.append(f"parameters {missing} got no gradient")

    def train():
        for _ in range(lock_step):
            barrier.wait()  # the evaluation thread is inside no_grad now
            step()
            barrier.wait()
        barrier.wait()
        for _ in range(free_steps):
            step()
        training_done.set()

    def evaluate():
        for _ in range(lock_step):
            with mg.no_grad():
                barrier.wait()
                barrier.wait()  # the training thread ran a whole step meanwhile
        barrier.wait()
        while not training_done.is_set():
            with mg.no_grad():
                out = model(xs)
                assert not out.requires_grad and not mg.is_grad_enabled()
            eval_steps[0] += 1

    run_threads(train, evaluate, barrier=barrier)
    assert failures == []
    assert eval_steps[0] > 0


def test_new_thread_starts_with_grad_enabled_even_from_no_grad():
    x = mg.tensor(np.ones(3), requires_grad=True)
    seen = {}

    def child():
        seen["enabled"] = mg.is_grad_enabled()
        seen["records"] = (x * 2).requires_grad
        with mg.no_grad():  # the child's no_grad is its own too
            seen["inner"] = mg.is_grad_enabled()

    with mg.no_grad():
        run_threads(child)
        assert not mg.is_grad_enabled() and not (x * 2).requires_grad
    assert seen == {"enabled": True, "records": True, "inner": False}


def test_decorators_act_per_thread():
    barrier = threading.Barrier(3, timeout=TIMEOUT)
    x = mg.tensor(np.ones(3), requires_grad=True)
    seen = {}

    @mg.no_grad
    def under_no_grad():
        barrier.wait()  # everyone is inside their region
        seen["no_grad"] = (mg.is_grad_enabled(), (x * 2).requires_grad)
        barrier.wait()
        barrier.wait()  # the enable_grad thread has left its function

    @mg.enable_grad()
    def under_enable_grad():
        barrier.wait()
        seen["enable_grad"] = (mg.is_grad_enabled(), (x * 2).requires_grad)
        barrier.wait()

    def thread_a():
        under_no_grad()
        seen["a_after"] = mg.is_grad_enabled()

    def thread_b():
        with mg.no_grad():
            under_enable_grad()
            seen["b_after_function"] = mg.is_grad_enabled()
            barrier.wait()
        seen["b_after"] = mg.is_grad_enabled()

    def plain():
        barrier.wait()
        seen["plain"] = (mg.is_grad_enabled(), (x * 2).requires_grad)
        barrier.wait()
        barrier.wait()

    run_threads(thread_a, thread_b, plain, barrier=barrier)
    assert seen == {"no_grad": (False, False), "enable_grad": (True, True), "plain": (True, True),
                    "a_after": True, "b_after_function": False, "b_after": True}
