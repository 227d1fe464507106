"""TensorBoard logs with torch's ``SummaryWriter`` API, written by TensorBoard's own event-file writer
(the optional extra ``minigrad[tensorboard]``): ``tensorboard --logdir runs`` shows them.

    from minigrad.utils.tensorboard import SummaryWriter
    with SummaryWriter() as writer:              # runs/Dec04_15-30-00_HOST
        writer.add_scalar("loss", loss, step)     # a Tensor, an array of one element or a number

Values may be minigrad Tensors, NumPy arrays or Python numbers. Each ``add_*`` checks its
arguments (a TypeError or ValueError naming the one at fault) before anything is written."""
from __future__ import annotations

import io
import numbers
import os
import socket
import time
from datetime import datetime
from typing import Any, Mapping

import numpy as np

try:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2
    from tensorboard.plugins.hparams import metadata as hparams_metadata
    from tensorboard.plugins.hparams import summary_v2 as hparams_summary
    from tensorboard.plugins.text import metadata as text_metadata
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
except ImportError as error:  # the optional extra is missing
    raise ImportError('minigrad.utils.tensorboard needs the tensorboard package: '
                      'pip install "minigrad[tensorboard]"') from error

__all__ = ["SummaryWriter"]


def _tensorflow_bins() -> Any:
    """TensorBoard's default histogram edges: ±1e-12 growing by 1.1× to ±1e20, and 0."""
    positive = 1e-12 * 1.1 ** np.arange(int(np.ceil(np.log(1e32) / np.log(1.1))))
    return np.concatenate([-positive[::-1], [0.0], positive])


TENSORFLOW_BINS = _tensorflow_bins()
IMAGE_FORMATS = {"CHW": (0, 1, 2), "HWC": (2, 0, 1), "HW": None}  # dataformats -> axes giving CHW


def _array(value: Any, name: str) -> Any:
    """``value`` (a Tensor, an array or numbers) as a NumPy array of numbers."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a Tensor, an array or a number, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a Tensor, an array or a number, got {type(value).__name__}") from error
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array


def _scalar(value: Any, name: str) -> float:
    array = _array(value, name)
    if array.size != 1:
        raise ValueError(f"{name} must hold one number, got shape {array.shape}")
    return float(array.reshape(()))


def _tag(tag: Any, name: str = "tag") -> str:
    if not isinstance(tag, str):
        raise TypeError(f"{name} must be a str, got {type(tag).__name__}")
    return tag


def _step(global_step: Any, name: str = "global_step") -> int | None:
    if global_step is None:
        return None
    if isinstance(global_step, bool) or not isinstance(global_step, numbers.Integral):
        raise TypeError(f"{name} must be an int or None, got {type(global_step).__name__}")
    return int(global_step)


def _walltime(walltime: Any) -> float:
    if walltime is None:
        return time.time()
    if isinstance(walltime, bool) or not isinstance(walltime, numbers.Real):
        raise TypeError(f"walltime must be a number of seconds or None, got {type(walltime).__name__}")
    return float(walltime)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _histogram(values: Any, bins: Any, max_bins: int | None) -> Any:
    """A HistogramProto of ``values`` over ``bins`` (NumPy's ``bins``, or "tensorflow" for
    TENSORFLOW_BINS), at most ``max_bins`` buckets (neighbours merged), as torch's: the buckets from
    the first non-empty one to the last, after an empty one that gives the first its left edge. A
    NaN or infinity counts in ``num`` and shows in min/max/sum (as a diverged run's weights should),
    in no bucket."""
    values = _array(values, "values").astype(np.float64).ravel()
    if values.size == 0:
        raise ValueError("values must not be empty")
    if max_bins is not None:
        max_bins = _positive_int(max_bins, "max_bins")
    edges = TENSORFLOW_BINS if isinstance(bins, str) and bins == "tensorflow" else bins
    finite = values[np.isfinite(values)]
    try:
        counts, edges = np.histogram(finite, bins=edges, range=None if finite.size else (0, 1))
    except (TypeError, ValueError) as error:
        raise ValueError(f"bins must be 'tensorflow' or what numpy.histogram takes, got {bins!r} ({error})") from None
    if max_bins is not None and len(counts) > max_bins:
        group = -(-len(counts) // max_bins)
        pad = -len(counts) % group
        counts = np.pad(counts, (0, pad)).reshape(-1, group).sum(axis=1)
        edges = np.append(edges[::group], edges[-1]) if pad else edges[::group]
    used = np.flatnonzero(counts)
    first, last = (used[0], used[-1]) if used.size else (0, -1)  # none used: no bucket
    with np.errstate(invalid="ignore", over="ignore"):
        return summary_pb2.HistogramProto(
            min=float(values.min()), max=float(values.max()), num=values.size, sum=float(values.sum()),
            sum_squares=float(values @ values), bucket_limit=edges[first:last + 2].tolist() if used.size else [],
            bucket=[0.0] + counts[first:last + 1].astype(np.float64).tolist() if used.size else [])


def _png(hwc: Any) -> Any:
    """A Summary.Image of ``hwc``, uint8 pixels (height, width, 3 or 4 channels), PNG-encoded."""
    from PIL import Image  # tensorboard depends on Pillow
    height, width, channels = hwc.shape
    buffer = io.BytesIO()
    Image.fromarray(hwc).save(buffer, format="PNG")
    return summary_pb2.Summary.Image(height=height, width=width, colorspace=channels,
                                     encoded_image_string=buffer.getvalue())


def _image_hwc(img: Any, dataformats: str) -> Any:
    """``img`` as uint8 (height, width, 3 or 4 channels), as torch's: uint8 as it is, any other dtype
    (floats, integers, bools) read as [0, 1], times 255, clipped and truncated; one channel as RGB."""
    if not isinstance(dataformats, str) or dataformats.upper() not in IMAGE_FORMATS:
        raise ValueError(f"dataformats must be one of {', '.join(IMAGE_FORMATS)}, got {dataformats!r}")
    array = _array(img, "img_tensor")
    dataformats = dataformats.upper()
    if array.ndim != len(dataformats):
        raise ValueError(f"img_tensor must have {len(dataformats)} dimensions for dataformats "
                         f"{dataformats!r}, got shape {array.shape}")
    chw = array[None] if dataformats == "HW" else array.transpose(IMAGE_FORMATS[dataformats])
    if chw.shape[0] not in (1, 3, 4) or chw.shape[1] == 0 or chw.shape[2] == 0:
        raise ValueError(f"img_tensor must have 1, 3 or 4 channels and a non-empty height and width, "
                         f"got shape {array.shape} ({dataformats})")
    if array.dtype != np.uint8:
        if not np.isfinite(chw).all():
            raise ValueError("img_tensor must be finite (NaN or infinity found)")
        chw = np.clip(chw.astype(np.float64) * 255, 0, 255)
    if chw.shape[0] == 1:  # gray stored as RGB, as torch does
        chw = np.repeat(chw, 3, axis=0)
    return np.ascontiguousarray(chw.astype(np.uint8).transpose(1, 2, 0))


def _hparam_value(value: Any, name: str) -> bool | float | str:
    """A hyperparameter or metric value as TensorBoard stores it."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, dict, list, tuple, set)):
        raise TypeError(f"{name} must be a number, a bool or a str, got {type(value).__name__}")
    return _scalar(value, name)


class SummaryWriter:
    """Writes scalars, histograms, images, figures, text and hyperparameters to an event file in
    ``log_dir`` (default ``runs/MONTHDAY_HH-MM-SS_HOSTNAME`` followed by ``comment``), as torch's
    SummaryWriter. Events are queued and written by a background thread: at ``max_queue`` pending
    events, every ``flush_secs`` seconds, on ``flush()`` and ``close()``. ``purge_step`` marks a run
    resumed at that step, so that TensorBoard hides the events of the crashed run from it on. A
    closed writer opens a new event file when written to again."""

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, comment: str = "",
                 purge_step: int | None = None, max_queue: int = 10, flush_secs: float = 120,
                 filename_suffix: str = "") -> None:
        if not isinstance(comment, str):
            raise TypeError(f"comment must be a str, got {type(comment).__name__}")
        if not isinstance(filename_suffix, str):
            raise TypeError(f"filename_suffix must be a str, got {type(filename_suffix).__name__}")
        max_queue = _positive_int(max_queue, "max_queue")
        if isinstance(flush_secs, bool) or not isinstance(flush_secs, numbers.Real) or not flush_secs > 0:
            raise ValueError(f"flush_secs must be a number > 0, got {flush_secs!r}")
        if log_dir is not None and not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"log_dir must be a path or None, got {type(log_dir).__name__}")
        if not log_dir:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir: str = os.fspath(log_dir)
        self.purge_step: int | None = _step(purge_step, "purge_step")
        self.max_queue: int = max_queue
        self.flush_secs: float = float(flush_secs)
        self.filename_suffix: str = filename_suffix
        self._writers: dict[str, Any] = {}  # log directory -> its EventFileWriter; empty when closed
        self._writer()

    def get_logdir(self) -> str:
        """The directory the event files go to."""
        return self.log_dir

    def _writer(self, log_dir: str | None = None) -> Any:
        """The EventFileWriter of ``log_dir`` (default: this writer's), opened on first use."""
        log_dir = self.log_dir if log_dir is None else log_dir
        if log_dir not in self._writers:
            writer = EventFileWriter(log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            if log_dir == self.log_dir and self.purge_step is not None:
                writer.add_event(event_pb2.Event(step=self.purge_step, wall_time=time.time(),
                                                 session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)))
                self.purge_step = None
            self._writers[log_dir] = writer
        return self._writers[log_dir]

    def _add(self, values: list[Any], step: int | None, walltime: float, log_dir: str | None = None) -> None:
        event = event_pb2.Event(wall_time=walltime, summary=summary_pb2.Summary(value=values))
        if step is not None:
            event.step = step
        self._writer(log_dir).add_event(event)

    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None,
                   walltime: float | None = None, new_style: bool = False, double_precision: bool = False) -> None:
        """One number under ``tag`` at ``global_step``. ``new_style`` stores it as a tensor (float32,
        or float64 with ``double_precision``) for TensorBoard's scalars plugin instead of the classic
        ``simple_value`` (float32)."""
        value = self._scalar_value(_tag(tag), _scalar(scalar_value, "scalar_value"), new_style, double_precision)
        self._add([value], _step(global_step), _walltime(walltime))

    @staticmethod
    def _scalar_value(tag: str, value: float, new_style: bool = False, double_precision: bool = False) -> Any:
        if not new_style:
            return summary_pb2.Summary.Value(tag=tag, simple_value=value)
        tensor = (TensorProto(dtype="DT_DOUBLE", double_val=[value]) if double_precision
                  else TensorProto(dtype="DT_FLOAT", float_val=[value]))
        plugin = summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
        metadata = summary_pb2.SummaryMetadata(plugin_data=plugin)
        return summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)

    def add_scalars(self, main_tag: str, tag_scalar_dict: Mapping[str, Any], global_step: int | None = None,
                    walltime: float | None = None) -> None:
        """Several numbers on one chart: each ``tag_scalar_dict`` entry goes, under ``main_tag``, to its
        own run ``LOG_DIR/MAINTAG_TAG`` (slashes of ``main_tag`` replaced by underscores), as torch's."""
        main_tag, step, wall = _tag(main_tag, "main_tag"), _step(global_step), _walltime(walltime)
        if not isinstance(tag_scalar_dict, Mapping):
            raise TypeError(f"tag_scalar_dict must be a dict of tag -> number, got {type(tag_scalar_dict).__name__}")
        values = {_tag(tag, "tag_scalar_dict's keys"): _scalar(value, f"tag_scalar_dict[{tag!r}]")
                  for tag, value in tag_scalar_dict.items()}
        for tag, value in values.items():
            run = os.path.join(self.log_dir, f"{main_tag.replace('/', '_')}_{tag}")
            self._add([self._scalar_value(main_tag, value)], step, wall, run)

    def add_histogram(self, tag: str, values: Any, global_step: int | None = None, bins: Any = "tensorflow",
                      walltime: float | None = None, max_bins: int | None = None) -> None:
        """The distribution of ``values`` (any shape) over ``bins``: "tensorflow" (TensorBoard's
        exponential buckets) or anything ``numpy.histogram`` takes ("auto", a count, edges)."""
        tag, step, wall = _tag(tag), _step(global_step), _walltime(walltime)
        self._add([summary_pb2.Summary.Value(tag=tag, histo=_histogram(values, bins, max_bins))], step, wall)

    def add_image(self, tag: str, img_tensor: Any, global_step: int | None = None, walltime: float | None = None,
                  dataformats: str = "CHW") -> None:
        """One image: uint8 in [0, 255], any other dtype in [0, 1] (scaled by 255, as torch does),
        shaped as ``dataformats`` says (CHW, HWC or HW; 1, 3 or 4 channels)."""
        tag, step, wall = _tag(tag), _step(global_step), _walltime(walltime)
        self._add([summary_pb2.Summary.Value(tag=tag, image=_png(_image_hwc(img_tensor, dataformats)))], step, wall)

    def add_figure(self, tag: str, figure: Any, global_step: int | None = None, close: bool = True,
                   walltime: float | None = None) -> None:
        """A matplotlib figure, rendered to PNG at its own size and dpi; ``close`` closes it afterwards."""
        tag, step, wall = _tag(tag), _step(global_step), _walltime(walltime)
        if not callable(getattr(figure, "savefig", None)):
            raise TypeError(f"figure must be a matplotlib Figure, got {type(figure).__name__}")
        from PIL import Image
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        with Image.open(io.BytesIO(buffer.getvalue())) as png:
            width, height = png.size
            channels = len(png.getbands())
        image = summary_pb2.Summary.Image(height=height, width=width, colorspace=channels,
                                          encoded_image_string=buffer.getvalue())
        if close:
            import matplotlib.pyplot as plt
            plt.close(figure)
        self._add([summary_pb2.Summary.Value(tag=tag, image=image)], step, wall)

    def add_text(self, tag: str, text_string: str, global_step: int | None = None,
                 walltime: float | None = None) -> None:
        """Text (Markdown) under ``tag``, shown by TensorBoard's text plugin (stored as ``TAG/text_summary``)."""
        tag, step, wall = _tag(tag), _step(global_step), _walltime(walltime)
        if not isinstance(text_string, str):
            raise TypeError(f"text_string must be a str, got {type(text_string).__name__}")
        tensor = TensorProto(dtype="DT_STRING", string_val=[text_string.encode("utf-8")],
                             tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
        metadata = text_metadata.create_summary_metadata(display_name="", description="")
        self._add([summary_pb2.Summary.Value(tag=f"{tag}/text_summary", tensor=tensor, metadata=metadata)], step, wall)

    def add_hparams(self, hparam_dict: dict[str, Any], metric_dict: dict[str, Any],
                    hparam_domain_discrete: dict[str, list[Any]] | None = None, run_name: str | None = None,
                    global_step: int | None = None) -> None:
        """One trial for TensorBoard's HParams dashboard, in the run ``LOG_DIR/RUN_NAME`` (default: the
        current time): its hyperparameters (numbers, bools, strings), and its metrics, each also a
        scalar there. ``hparam_domain_discrete`` lists the values a hyperparameter may take."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        hparams = {_tag(name, "hparam_dict's keys"): _hparam_value(value, f"hparam_dict[{name!r}]")
                   for name, value in hparam_dict.items() if value is not None}  # None: left out, as torch does
        metrics = {_tag(name, "metric_dict's keys"): _scalar(value, f"metric_dict[{name!r}]")
                   for name, value in metric_dict.items()}
        domains = self._domains(hparam_domain_discrete or {}, hparams)
        step = _step(global_step)
        if not run_name:
            run_name = str(time.time())
        log_dir = os.path.join(self.log_dir, _tag(run_name, "run_name"))
        infos = [api_pb2.HParamInfo(name=name, type=self._hparam_type(value), domain_discrete=domains.get(name))
                 for name, value in hparams.items()]
        experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=[
            api_pb2.MetricInfo(name=api_pb2.MetricName(tag=name)) for name in metrics])
        now = time.time()
        end = plugin_data_pb2.HParamsPluginData(session_end_info=plugin_data_pb2.SessionEndInfo(
            status=api_pb2.STATUS_SUCCESS, end_time_secs=now))
        for summary in (self._hparams_summary(hparams_metadata.EXPERIMENT_TAG,
                                              plugin_data_pb2.HParamsPluginData(experiment=experiment)),
                        hparams_summary.hparams_pb(hparams, trial_id=run_name, start_time_secs=now),
                        self._hparams_summary(hparams_metadata.SESSION_END_INFO_TAG, end)):
            self._add(list(summary.value), step, now, log_dir)
        self._add([self._scalar_value(name, value) for name, value in metrics.items()], step, now, log_dir)
        self._writers.pop(log_dir).close()

    @staticmethod
    def _hparams_summary(tag: str, data: Any) -> Any:
        return summary_pb2.Summary(value=[summary_pb2.Summary.Value(
            tag=tag, metadata=hparams_metadata.create_summary_metadata(data), tensor=hparams_metadata.NULL_TENSOR)])

    @staticmethod
    def _hparam_type(value: bool | float | str) -> Any:
        return (api_pb2.DATA_TYPE_BOOL if isinstance(value, bool) else api_pb2.DATA_TYPE_STRING
                if isinstance(value, str) else api_pb2.DATA_TYPE_FLOAT64)

    @staticmethod
    def _domains(discrete: dict[str, list[Any]], hparams: dict[str, bool | float | str]) -> dict[str, Any]:
        """``hparam_domain_discrete`` as ListValue protos: lists of values of their hparam's type."""
        if not isinstance(discrete, dict):
            raise TypeError(f"hparam_domain_discrete must be a dict of name -> list, got {type(discrete).__name__}")
        domains = {}
        for name, values in discrete.items():
            if name not in hparams:
                raise ValueError(f"hparam_domain_discrete names {name!r}, which hparam_dict lacks")
            kind = type(hparams[name])
            if not isinstance(values, (list, tuple)) or not values or not all(
                    type(_hparam_value(v, f"hparam_domain_discrete[{name!r}]")) is kind for v in values):
                raise TypeError(f"hparam_domain_discrete[{name!r}] must be a non-empty list of values of the "
                                f"same type as hparam_dict[{name!r}] ({kind.__name__})")
            domain = hparams_summary.Discrete([_hparam_value(v, name) for v in values])
            info = api_pb2.HParamInfo()
            domain.update_hparam_info(info)
            domains[name] = info.domain_discrete
        return domains

    def flush(self) -> None:
        """Write every pending event to disk."""
        for writer in self._writers.values():
            writer.flush()

    def close(self) -> None:
        """Flush and close the event files (a later ``add_*`` opens new ones)."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
