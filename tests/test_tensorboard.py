"""minigrad.utils.tensorboard.SummaryWriter: every kind of entry written, then read back through
TensorBoard's own EventAccumulator (and compared with torch's SummaryWriter where torch is here)."""
import io
import os
import socket
import time

import numpy as np
import pytest

import minigrad as mg

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
from PIL import Image  # noqa: E402  (tensorboard depends on Pillow)
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402

from minigrad.utils.tensorboard import SummaryWriter  # noqa: E402

ALL = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0, "compressedHistograms": 0}


def read(log_dir):
    events = EventAccumulator(str(log_dir), size_guidance=ALL)
    events.Reload()
    return events


def event_files(log_dir):
    return sorted(name for name in os.listdir(log_dir) if name.startswith("events.out.tfevents."))


def pixels(image_event):
    return np.asarray(Image.open(io.BytesIO(image_event.encoded_image_string)))


def test_scalars_of_every_accepted_type_read_back_with_their_steps(tmp_path):
    values = [1.5, 2, np.float32(0.25), np.array(3.0), np.array([4.0]), mg.tensor(5.5), mg.tensor([[6.0]]),
              mg.tensor(7.0, requires_grad=True), True]
    with SummaryWriter(tmp_path) as writer:
        for step, value in enumerate(values):
            writer.add_scalar("train/loss", value, step)
        writer.add_scalar("precise", 0.1, 0, new_style=True, double_precision=True)
        writer.add_scalar("no step", 1.0)
    events = read(tmp_path)
    scalars = events.Scalars("train/loss")
    assert [s.step for s in scalars] == list(range(len(values)))
    np.testing.assert_allclose([s.value for s in scalars], [1.5, 2, 0.25, 3, 4, 5.5, 6, 7, 1], rtol=1e-7)
    assert events.Tensors("precise")[0].tensor_proto.double_val == [0.1]  # float64 kept
    assert events.Scalars("no step")[0].step == 0


def test_add_scalars_gives_one_run_per_tag_under_the_main_tag(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for step in range(3):
            writer.add_scalars("loss/both", {"train": step, "validation": mg.tensor(2.0 * step)}, step)
    for tag, scale in (("train", 1), ("validation", 2)):
        scalars = read(tmp_path / f"loss_both_{tag}").Scalars("loss/both")
        assert [(s.step, s.value) for s in scalars] == [(step, scale * step) for step in range(3)]


def test_histograms_count_every_value_and_keep_its_moments(tmp_path):
    values = np.random.default_rng(0).standard_normal((40, 25)).astype(np.float32)
    with SummaryWriter(tmp_path) as writer:
        writer.add_histogram("weights", mg.tensor(values), 3)
        writer.add_histogram("weights", values, 4, bins=10)
        writer.add_histogram("coarse", values, 0, max_bins=30)
        writer.add_histogram("constant", np.full(5, 2.0), 0)
        writer.add_histogram("diverged", mg.tensor([1.0, np.nan, np.inf, 2.0]), 0)  # a training run's, logged
        writer.add_histogram("all nan", np.full(3, np.nan), 0)
    events = read(tmp_path)
    tensorflow, ten = events.Histograms("weights")
    assert (tensorflow.step, ten.step) == (3, 4)
    flat = values.astype(np.float64).ravel()
    for histogram in (tensorflow.histogram_value, ten.histogram_value):
        assert histogram.num == flat.size and sum(histogram.bucket) == flat.size
        assert histogram.min == flat.min() and histogram.max == flat.max()
        assert histogram.sum == pytest.approx(flat.sum()) and histogram.sum_squares == pytest.approx(flat @ flat)
    counts, edges = np.histogram(flat, bins=10)
    assert list(ten.histogram_value.bucket) == [0] + counts.tolist()  # an empty bucket gives the first its left edge
    np.testing.assert_allclose(ten.histogram_value.bucket_limit, edges)
    assert len(events.Histograms("coarse")[0].histogram_value.bucket) <= 30
    constant = events.Histograms("constant")[0].histogram_value
    assert sum(constant.bucket) == 5 and constant.min == constant.max == 2.0
    diverged = events.Histograms("diverged")[0].histogram_value
    assert diverged.num == 4 and sum(diverged.bucket) == 2 and np.isnan(diverged.min) and np.isnan(diverged.sum)
    nothing = events.Histograms("all nan")[0].histogram_value
    assert nothing.num == 3 and list(nothing.bucket) == []


def test_images_in_each_layout_come_back_pixel_for_pixel(tmp_path):
    rng = np.random.default_rng(1)
    chw = rng.random((3, 6, 4))
    hwc = rng.integers(0, 256, (5, 7, 3)).astype(np.uint8)
    gray = rng.random((4, 4)).astype(np.float32)
    with SummaryWriter(tmp_path) as writer:
        writer.add_image("chw", mg.tensor(chw), 0)
        writer.add_image("hwc", hwc, 1, dataformats="HWC")
        writer.add_image("gray", gray, 2, dataformats="HW")
    events = read(tmp_path)
    (chw_event,), (hwc_event,), (gray_event,) = (events.Images(tag) for tag in ("chw", "hwc", "gray"))
    assert (chw_event.height, chw_event.width, hwc_event.step) == (6, 4, 1)
    np.testing.assert_array_equal(pixels(chw_event), (chw * 255).astype(np.uint8).transpose(1, 2, 0))
    np.testing.assert_array_equal(pixels(hwc_event), hwc)
    np.testing.assert_array_equal(pixels(gray_event), np.repeat((gray * 255).astype(np.uint8)[..., None], 3, -1))


def test_a_matplotlib_figure_becomes_an_image_of_its_size_and_is_closed(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    figure = plt.figure(figsize=(2, 1.5), dpi=50)
    figure.gca().plot([0, 1], [1, 0])
    with SummaryWriter(tmp_path) as writer:
        writer.add_figure("curve", figure, 7)
    (image,) = read(tmp_path).Images("curve")
    assert (image.step, image.width, image.height) == (7, 100, 75)
    assert pixels(image).shape[:2] == (75, 100)
    assert not plt.fignum_exists(figure.number)


def test_text_is_stored_for_the_text_plugin(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_text("samples", "the **quick** fox — ünïcode", 2)
    events = read(tmp_path)
    (entry,) = events.Tensors("samples/text_summary")
    assert entry.step == 2 and entry.tensor_proto.string_val == ["the **quick** fox — ünïcode".encode()]
    assert events.SummaryMetadata("samples/text_summary").plugin_data.plugin_name == "text"


def test_hparams_write_a_session_with_its_values_and_metrics(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_hparams({"optimizer": "adam", "lr": 1e-3, "seed": np.int64(2), "nesterov": False},
                           {"hparam/accuracy": mg.tensor(0.97), "hparam/seconds": 12.5},
                           hparam_domain_discrete={"optimizer": ["adam", "sgd"]}, run_name="adam-2")
    events = read(tmp_path / "adam-2")
    data = {}
    for tag in ("_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"):
        content = events.SummaryMetadata(tag).plugin_data.content
        data[tag] = plugin_data_pb2.HParamsPluginData.FromString(content)
    start = data["_hparams_/session_start_info"].session_start_info
    assert start.hparams["optimizer"].string_value == "adam" and start.hparams["lr"].number_value == 1e-3
    assert start.hparams["seed"].number_value == 2 and start.hparams["nesterov"].bool_value is False
    experiment = data["_hparams_/experiment"].experiment
    assert {info.name.tag for info in experiment.metric_infos} == {"hparam/accuracy", "hparam/seconds"}
    (optimizer,) = [info for info in experiment.hparam_infos if info.name == "optimizer"]
    assert [v.string_value for v in optimizer.domain_discrete.values] == ["adam", "sgd"]
    assert data["_hparams_/session_end_info"].session_end_info.status == 1  # STATUS_SUCCESS
    assert events.Scalars("hparam/accuracy")[0].value == pytest.approx(0.97)
    assert events.Scalars("hparam/seconds")[0].value == 12.5


def test_default_log_dir_is_runs_date_host_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    writer = SummaryWriter(comment="_lr0.1")
    writer.close()
    (run,) = os.listdir(tmp_path / "runs")
    assert run.endswith(f"_{socket.gethostname()}_lr0.1") and writer.get_logdir() == os.path.join("runs", run)
    assert len(event_files(tmp_path / "runs" / run)) == 1


def test_purge_step_marks_a_restart_and_a_closed_writer_reopens(tmp_path):
    """TensorBoard reads a run's event files in name order: the time in whole seconds, then a counter
    written as text (so "…10" before "…9"), hence the pauses that keep them in the order written."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    with SummaryWriter(tmp_path) as crashed:
        for step in range(8):
            crashed.add_scalar("loss", 10.0 + step, step)
    time.sleep(1.05)
    writer = SummaryWriter(tmp_path, purge_step=5, flush_secs=1)  # resumed at step 5
    writer.add_scalar("loss", 1.0, 5)
    writer.close()
    time.sleep(1.05)
    writer.add_scalar("loss", 2.0, 6)  # after close: a new event file, as torch's
    writer.close()
    assert len(event_files(tmp_path)) == 3
    (resumed,) = [event for name in event_files(tmp_path) for event in EventFileLoader(str(tmp_path / name)).Load()
                  if event.HasField("session_log")]
    assert (resumed.step, resumed.session_log.status) == (5, resumed.session_log.START)
    # TensorBoard drops the crashed run's steps from 5 on
    assert [(s.step, s.value) for s in read(tmp_path).Scalars("loss")] == [
        (0, 10.0), (1, 11.0), (2, 12.0), (3, 13.0), (4, 14.0), (5, 1.0), (6, 2.0)]


@pytest.mark.parametrize("call, error, message", [
    (lambda w: w.add_scalar(3, 1.0), TypeError, "tag must be a str"),
    (lambda w: w.add_scalar("x", [1.0, 2.0]), ValueError, "scalar_value must hold one number, got shape (2,)"),
    (lambda w: w.add_scalar("x", "1.0"), TypeError, "scalar_value must be a Tensor, an array or a number"),
    (lambda w: w.add_scalar("x", 1.0, 1.5), TypeError, "global_step must be an int"),
    (lambda w: w.add_scalar("x", 1.0, walltime="now"), TypeError, "walltime must be a number"),
    (lambda w: w.add_scalars("x", [1.0]), TypeError, "tag_scalar_dict must be a dict"),
    (lambda w: w.add_scalars("x", {"a": 1.0, "b": [1, 2]}), ValueError, "tag_scalar_dict['b'] must hold one"),
    (lambda w: w.add_histogram("x", []), ValueError, "values must not be empty"),
    (lambda w: w.add_histogram("x", [1.0], bins="nonsense"), ValueError, "bins must be 'tensorflow'"),
    (lambda w: w.add_histogram("x", [1.0], max_bins=0), ValueError, "max_bins must be a positive int"),
    (lambda w: w.add_image("x", np.zeros((3, 4, 4)), dataformats="NCHW"), ValueError, "dataformats must be one of"),
    (lambda w: w.add_image("x", np.zeros((4, 4))), ValueError, "img_tensor must have 3 dimensions"),
    (lambda w: w.add_image("x", np.zeros((2, 4, 4))), ValueError, "1, 3 or 4 channels"),
    (lambda w: w.add_image("x", np.full((1, 2, 2), np.inf)), ValueError, "img_tensor must be finite"),
    (lambda w: w.add_figure("x", np.zeros((2, 2))), TypeError, "figure must be a matplotlib Figure"),
    (lambda w: w.add_text("x", 3), TypeError, "text_string must be a str"),
    (lambda w: w.add_hparams([("lr", 1)], {}), TypeError, "hparam_dict and metric_dict should be dictionary."),
    (lambda w: w.add_hparams({"lr": [0.1]}, {}), TypeError, "hparam_dict['lr'] must be a number, a bool or a str"),
    (lambda w: w.add_hparams({"lr": 0.1}, {}, {"lr": []}), TypeError, "hparam_domain_discrete['lr'] must be a non"),
    (lambda w: w.add_histogram("x", [1.0], max_bins=np.int64(-1)), ValueError, "max_bins must be a positive int"),
    (lambda w: w.add_hparams({"lr": 0.1}, {"acc": "high"}), TypeError, "metric_dict['acc'] must be a Tensor"),
    (lambda w: w.add_hparams({"lr": 0.1}, {}, {"lr": ["a"]}), TypeError, "hparam_domain_discrete['lr'] must be"),
    (lambda w: w.add_hparams({"lr": 0.1}, {}, {"wd": [0.1]}), ValueError, "names 'wd', which hparam_dict lacks"),
])
def test_bad_arguments_are_refused_by_name_before_anything_is_written(tmp_path, call, error, message):
    writer = SummaryWriter(tmp_path)
    writer.flush()
    before = {name: os.path.getsize(tmp_path / name) for name in event_files(tmp_path)}
    with pytest.raises(error) as raised:
        call(writer)
    assert message in str(raised.value)
    writer.close()
    assert {name: os.path.getsize(tmp_path / name) for name in event_files(tmp_path)} == before
    assert sorted(os.listdir(tmp_path)) == sorted(before)  # no run directory made either


@pytest.mark.parametrize("option, value, message", [
    ("comment", 3, "comment must be a str"), ("max_queue", 0, "max_queue must be a positive int"),
    ("flush_secs", -1, "flush_secs must be a number > 0"), ("purge_step", 2.5, "purge_step must be an int"),
    ("filename_suffix", None, "filename_suffix must be a str"), ("log_dir", 3, "log_dir must be a path")])
def test_bad_constructor_options_are_refused_before_a_file_is_made(tmp_path, option, value, message):
    options = {"log_dir": tmp_path / "run", option: value}
    with pytest.raises((TypeError, ValueError), match=message):
        SummaryWriter(**options)
    assert not (tmp_path / "run").exists()


def test_entries_match_torchs_summary_writer(tmp_path):
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
    rng = np.random.default_rng(2)
    values, image = rng.standard_normal(500), rng.random((3, 5, 6)).astype(np.float32)
    images = {"float": image, "uint8": rng.integers(0, 256, (3, 4, 4)).astype(np.uint8),
              "int64": rng.integers(0, 2, (1, 4, 4)), "bool": rng.random((1, 4, 4)) < 0.5}
    for writer, directory, convert in ((SummaryWriter, "ours", mg.tensor), (TorchWriter, "torch", torch.from_numpy)):
        with writer(tmp_path / directory) as w:
            w.add_scalar("loss", convert(np.array(0.123456789)), 4)
            w.add_histogram("values", convert(values), 4)
            w.add_histogram("counted", convert(np.array([0.0, 1.0, 2.0, 3.0])), 4, bins=3)
            for kind, pixels_in in images.items():
                w.add_image(kind, convert(pixels_in), 4)
            w.add_text("note", "a *note*", 4)
    ours, theirs = read(tmp_path / "ours"), read(tmp_path / "torch")
    assert ours.Tags()["scalars"] == theirs.Tags()["scalars"] and ours.Tags()["tensors"] == theirs.Tags()["tensors"]
    assert ours.Scalars("loss")[0].value == theirs.Scalars("loss")[0].value
    mine, torchs = ours.Histograms("values")[0].histogram_value, theirs.Histograms("values")[0].histogram_value
    assert (mine.num, mine.min, mine.max, mine.sum) == (torchs.num, torchs.min, torchs.max, torchs.sum)
    assert list(mine.bucket) == list(torchs.bucket) and sum(mine.bucket) == 500
    np.testing.assert_allclose(mine.bucket_limit, torchs.bucket_limit, rtol=1e-12)
    mine, torchs = ours.Histograms("counted")[0].histogram_value, theirs.Histograms("counted")[0].histogram_value
    assert (list(mine.bucket), list(mine.bucket_limit)) == (list(torchs.bucket), list(torchs.bucket_limit))
    for kind in images:
        np.testing.assert_array_equal(pixels(ours.Images(kind)[0]), pixels(theirs.Images(kind)[0]), err_msg=kind)
    assert ours.Tensors("note/text_summary")[0].tensor_proto.string_val == \
        theirs.Tensors("note/text_summary")[0].tensor_proto.string_val
