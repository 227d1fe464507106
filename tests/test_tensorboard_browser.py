"""A real TensorBoard in a real browser: ``minigrad train digits-mlp --logdir`` writes a run,
``tensorboard --logdir`` serves it on 127.0.0.1, its HTTP data API must give back the run's own
history, and headless Chromium must draw the scalars page (its screenshot is README's picture:
set MINIGRAD_SCREENSHOT=PATH to keep it). Skipped without Chromium; CI installs Debian's."""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest

import minigrad.cli
from minigrad.examples import common

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
pytest.importorskip("sklearn", reason="digits-mlp needs scikit-learn's bundled digits")
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is absent (CI installs Debian's chromium)")
START_SECONDS = 60  # for the server to answer; it is stopped whatever happens


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@contextlib.contextmanager
def tensorboard(logdir, run, log_path):
    """``tensorboard --logdir logdir`` on a free port of 127.0.0.1, once it lists ``run``: yields its
    base URL; stopped at the end, whatever happens."""
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir),
                                    "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_SECONDS
            while not _lists(f"{base}/data/runs", run):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"tensorboard did not serve {run}: {open(log_path).read()}")
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _lists(url, run):
    try:
        return run in get(url)
    except OSError:  # not listening yet
        return False


def test_tensorboard_serves_the_runs_history_and_chromium_draws_it(tmp_path, monkeypatch):
    outs = []
    monkeypatch.setattr(common, "summary", outs.append)  # the run's own record, as the command returns it
    assert minigrad.cli.main(["train", "digits-mlp", "--logdir", str(tmp_path / "runs"), "--epochs", "4",
                              "--quiet"]) == 0
    (out,) = outs
    (run,) = os.listdir(tmp_path / "runs")
    with tensorboard(tmp_path / "runs", run, tmp_path / "tensorboard.log") as server:
        check_served(server, run, out)
        screenshot(server, tmp_path / "scalars.png")


def check_served(server, run, out):
    """The scalars TensorBoard's HTTP data API serves are the run's own."""
    assert get(f"{server}/data/runs") == [run]
    tags = get(f"{server}/data/plugin/scalars/tags")[run]
    assert {"train/loss", "train/lr", "train/grad_norm", "opt_step_us/cpp", "opt_step_us/numpy",
            "train/accuracy", "test/accuracy"} <= set(tags)
    query = urllib.parse.urlencode({"run": run, "tag": "train/loss"})
    served = get(f"{server}/data/plugin/scalars/scalars?{query}")  # [[wall time, step, value], ...]
    assert [step for _, step, _ in served] == [step for step, _, _ in out["history"]]
    assert [np.float32(value) for _, _, value in served] == [np.float32(loss) for _, _, loss in out["history"]]
    query = urllib.parse.urlencode({"run": run, "tag": "test/accuracy"})
    (*_, (_, last_step, last_accuracy)) = get(f"{server}/data/plugin/scalars/scalars?{query}")
    assert last_step == out["steps"] and last_accuracy == pytest.approx(out["metric"], rel=1e-6)


def screenshot(server, path):
    """Headless Chromium draws the scalars page (train/ and test/ tags, no smoothing) to ``path``: the
    orange bar and the run's curves must be on it."""
    page = f"{server}/?darkMode=false#scalars&tagFilter=train%2F%7Ctest%2F&_smoothingWeight=0"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1400,1000", "--virtual-time-budget=20000", f"--screenshot={path}", page],
                   check=True, timeout=120, capture_output=True,
                   env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})  # not the sanitizer stage's ASan
    from PIL import Image
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert pixels.shape == (1000, 1400, 3)
    header = np.abs(pixels[:60] - [245, 124, 0]).sum(axis=-1) < 30  # TensorBoard's orange bar
    curves = np.abs(pixels[150:, 350:] - [255, 112, 67]).sum(axis=-1) < 30  # the run's colour, in the charts
    assert header.mean() > 0.8 and curves.sum() > 2000
    if os.environ.get("MINIGRAD_SCREENSHOT"):
        shutil.copyfile(path, os.environ["MINIGRAD_SCREENSHOT"])
