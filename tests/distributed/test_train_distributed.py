"""``mpiexec -n 2 minigrad train TASK --distributed``: rank 0 prints and writes the checkpoint, which
resumes in one process and under mpiexec again."""
import pytest
from mpirun import check, mpiexec, requires_mpi

from minigrad.cli import main

pytestmark = requires_mpi
pytest.importorskip("sklearn")  # the digits


def test_digits_cnn_on_two_ranks_then_resumed_in_one_process_and_on_two(tmp_path, capsys):
    checkpoint = tmp_path / "cnn.safetensors"
    finished = check(mpiexec("cli.py", "train", "digits-cnn", "--distributed", "--epochs", "1", "--max-steps", "4",
                             "--save", checkpoint))
    assert finished.stdout.count("test_accuracy:") == 1  # the summary: rank 0's alone
    assert finished.stdout.count("epoch   1  loss") == 1
    assert "4 steps in" in finished.stdout
    assert checkpoint.exists()
    assert main(["train", "digits-cnn", "--resume", str(checkpoint), "--epochs", "2", "--max-steps", "2"]) == 0
    assert "2 steps in" in capsys.readouterr().out
    finished = check(mpiexec("cli.py", "train", "digits-cnn", "--distributed", "--resume", checkpoint,
                             "--epochs", "2", "--max-steps", "3", "--quiet"))
    assert finished.stdout.count("3 steps in") == 1


def test_char_lstm_on_two_ranks():
    finished = check(mpiexec("cli.py", "train", "char-lstm", "--distributed", "--num-chars", "6000", "--epochs", "1",
                             "--max-steps", "3", "--quiet"))
    assert finished.stdout.count("val_bpc:") == 1


@pytest.mark.parametrize("argv, message", [
    (["--optimizer", "sparseadam"], "--optimizer sparseadam needs sparse gradients"),
    (["--batch-size", "33"], "the batch size 33 must be a multiple of the number of processes, 2"),
])
def test_what_distributed_training_refuses(argv, message):
    finished = mpiexec("cli.py", "train", "char-lstm", "--distributed", "--num-chars", "6000", *argv)
    assert finished.returncode != 0 and message in finished.stderr


def test_char_transformer_on_two_ranks_trains_as_one_on_the_same_windows():
    """Without dropout, 2 ranks each on half of step t's windows (drawn from (seed, t) on every rank)
    train the model one rank trains on all of them: the same validation bits per character."""
    options = ["train", "char-transformer", "--distributed", "--num-chars", "20000", "--epochs", "1",
               "--max-steps", "20", "--quiet"]
    metrics = []
    for n in (1, 2):
        finished = check(mpiexec("cli.py", *options, n=n))
        (line,) = [line for line in finished.stdout.splitlines() if line.startswith("val_bpc:")]
        metrics.append(float(line.split()[1]))
    assert metrics[0] == pytest.approx(metrics[1], abs=1e-3)  # float32: the gradients' sums differ in order
