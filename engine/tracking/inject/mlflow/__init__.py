"""A stand-in for the ``mlflow`` package: MLflow-instrumented training scripts log into their
Trainyard run with nothing installed in the run's environment.

Where it applies: the engine puts the folder holding this package first on the run's
``PYTHONPATH`` (beside ``trainyard_run`` and the ``azureml`` stand-in), locally and in Docker.
Inside a run it therefore deliberately shadows a real MLflow installed in the run's environment:
the run's metrics belong in Trainyard's store, not in an ``mlruns`` folder or a server the run may
not reach. Nothing puts this folder on the path outside Trainyard runs, so there a real MLflow
is imported as usual and this package never gets in its way.

Every call forwards to ``trainyard_run``'s current run (standard library only, Python 3.8+):

- ``log_metric(key, value, step=None, timestamp=None)``, ``log_metrics``: scalar metrics. Values
  must be numbers. Without ``step`` a key's points count 0, 1, 2, ... (real MLflow puts them all
  at step 0; Trainyard charts them in the order they were logged).
- ``log_param(s)``, ``set_tag(s)``: the run's params and tags.
- ``log_artifact(s)``, ``log_text``, ``log_dict``, ``log_figure``, ``log_image``: files under the
  run's ``outputs/`` (``outputs/<artifact_path>/<name>``), like ``run.upload_file``.
- ``start_run``, ``end_run``, ``active_run``: there is one run, the Trainyard run
  (``info.run_id`` is ``TRAINYARD_RUN_ID``). Nested runs and runs started again after
  ``end_run`` log into it too. As in MLflow, a logging call starts the run when none is
  active, and ``start_run()`` while one is active needs ``nested=True``.
- ``set_experiment``, ``set_tracking_uri``: the run keeps its experiment and its tracking URI
  (``MLFLOW_TRACKING_URI``, ``trainyard://runs/NAME?workspace=PATH``). Another value prints a
  one-line note.
- ``autolog()``, ``mlflow.sklearn.autolog()``: scikit-learn estimators log their params and
  training metrics when they fit. ``mlflow.pytorch.autolog()`` is accepted and logs nothing.

Outside a run (no ``TRAINYARD_TRACKING_DIR``) the calls print what they would have logged, like
``trainyard_run``'s offline run. Bad input raises ``mlflow.exceptions.InvalidInput`` naming the
call. It is an ``MlflowException`` and also a TypeError and a ValueError. The rest of MLflow's
API (``MlflowClient``, ``log_model``, search) is not provided: using it raises an error that
says so.
"""

from __future__ import annotations

import io
import json
import math
import operator
import os
import sys
import threading
import time
from urllib.parse import quote

from trainyard_run import ENV_TRACKING_DIR, MetricValueError, Run, _number, _short

from mlflow.exceptions import InvalidInput, MlflowException

__all__ = [
    "ActiveRun",
    "MlflowException",
    "active_run",
    "autolog",
    "end_run",
    "get_tracking_uri",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]

ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
# Artifacts go where the studio shows a run's files and `trainyard job download` fetches them.
ARTIFACTS_DIR = "outputs"
_SUBMODULES = frozenset({"exceptions", "pytorch", "sklearn"})


def _note(text: str) -> None:
    try:
        sys.stderr.write(f"trainyard: {text}\n")
    except Exception:  # noqa: BLE001, S110 - stderr closed: nothing to tell
        pass


def _in_run() -> bool:
    return bool(os.environ.get(ENV_TRACKING_DIR))


# ---- runs ----------------------------------------------------------------------------------


class RunInfo:
    """MLflow's ``run.info`` for the Trainyard run."""

    def __init__(self, run: Run) -> None:
        self.run_id = run.id
        self.run_uuid = run.id  # MLflow's older name for run_id
        self.run_name = run.display_name
        self.experiment_id = str(run.experiment)  # Trainyard's experiments are known by name
        self.status = "RUNNING"
        self.start_time = int(time.time() * 1000)
        self.end_time: int | None = None
        self.lifecycle_stage = "active"

    def __repr__(self) -> str:
        return f"<RunInfo: run_id={self.run_id!r}, experiment_id={self.experiment_id!r}, status={self.status!r}>"


class ActiveRun:
    """What ``start_run`` returns; ``with`` ends it, FAILED when the block raised."""

    def __init__(self, run: Run) -> None:
        self.info = RunInfo(run)

    def __enter__(self) -> ActiveRun:  # noqa: PYI034 - typing.Self is not in Python 3.8
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        if self in _active:  # not when the block already called end_run()
            end_run("FINISHED" if exc_type is None else "FAILED")
        return False

    def __repr__(self) -> str:
        return f"<ActiveRun: {self.info!r}>"


class Experiment:
    """What ``set_experiment`` returns."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.experiment_id = name
        self.lifecycle_stage = "active"

    def __repr__(self) -> str:
        return f"<Experiment: name={self.name!r}>"


_active: list = []  # started runs, innermost last: all are the one Trainyard run
_last_ended: list = []
_lock = threading.Lock()


def _run() -> Run:
    """The Trainyard run, started as MLflow's active run when none is (as MLflow's calls do)."""
    run = Run.get_context()
    if not _active:
        with _lock:
            if not _active:
                _active.append(ActiveRun(run))
    return run


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: dict | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start the run (it is the Trainyard run); use as ``with mlflow.start_run() as run:``."""
    run = Run.get_context()
    if tags is not None and not isinstance(tags, dict):
        raise InvalidInput(f"mlflow.start_run(tags=...): expected a dict of tags, got {type(tags).__name__}")
    if _in_run():
        if run_id is not None and str(run_id) != run.id:
            _note(f"mlflow.start_run(run_id={run_id!r}): inside a Trainyard run everything logs to run {run.id!r}")
        if experiment_id is not None and str(experiment_id) != str(run.experiment):
            _note(f"mlflow.start_run(experiment_id={experiment_id!r}): run {run.id!r} belongs to "
                  f"experiment {str(run.experiment)!r} and logs there")
    with _lock:
        if _active and not nested:
            raise MlflowException(
                f"Run with UUID {_active[-1].info.run_id} is already active. To start a new run, first end "
                "the current run with mlflow.end_run(). To start a nested run, call start_run with nested=True",
                error_code="INVALID_PARAMETER_VALUE",
            )
        outermost = not _active
        started = ActiveRun(run)
        _active.append(started)
    extra = {}
    if outermost and run_name is not None:
        extra["mlflow.runName"] = run_name  # MLflow keeps the name as this tag too
    if outermost and description is not None:
        extra["mlflow.note.content"] = description  # MLflow's tag for a run's description
    if tags or extra:
        set_tags({**(tags or {}), **extra})
    return started


def end_run(status: str = "FINISHED") -> None:
    """End the innermost started run and write out everything logged so far."""
    with _lock:
        if not _active:
            return
        ended = _active.pop()
    ended.info.status = str(status)
    ended.info.end_time = int(time.time() * 1000)
    _last_ended[:] = [ended]
    Run.get_context().flush()


def active_run() -> ActiveRun | None:
    """The innermost started run, or None (a logging call starts one)."""
    return _active[-1] if _active else None


def last_active_run() -> ActiveRun | None:
    """The active run, else the one ended last."""
    return active_run() or (_last_ended[0] if _last_ended else None)


def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Accepted: a run stays in the experiment it was submitted to (another name prints a note)."""
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidInput("mlflow.set_experiment(...): give exactly one of experiment_name or experiment_id")
    wanted = str(experiment_name if experiment_name is not None else experiment_id)
    if not _in_run():
        return Experiment(wanted)
    run = Run.get_context()
    current = str(run.experiment)
    if wanted != current:
        _note(f"mlflow.set_experiment({wanted!r}): run {run.id!r} belongs to experiment {current!r} "
              "and logs there")
    return Experiment(current)


# ---- tracking URI --------------------------------------------------------------------------

_offline_uri: list = []  # set_tracking_uri outside a run


def _run_uri() -> str:
    uri = os.environ.get(ENV_TRACKING_URI, "")
    # The engine sets it; a script that overwrote os.environ does not move where things log.
    return uri if uri.startswith("trainyard://") else "trainyard://runs/" + quote(Run.get_context().id, safe="")


def get_tracking_uri() -> str:
    """Inside a run: the run's ``trainyard://runs/NAME`` link, which is where MLflow calls log."""
    if _in_run():
        return _run_uri()
    if _offline_uri:
        return _offline_uri[0]
    return os.environ.get(ENV_TRACKING_URI) or "file://" + os.path.join(os.getcwd(), "mlruns")


def set_tracking_uri(uri: object) -> None:
    """Inside a run the run keeps logging to Trainyard; another URI prints a note and is ignored."""
    text = os.fspath(uri) if isinstance(uri, os.PathLike) else uri
    if not isinstance(text, str):
        raise InvalidInput(f"mlflow.set_tracking_uri({_short(uri)}): expected a string, got {type(uri).__name__}")
    if not _in_run():
        _offline_uri[:] = [text]
    elif text != _run_uri():
        _note(f"mlflow.set_tracking_uri({text!r}): ignored inside a Trainyard run; MLflow calls log to "
              f"the run ({_run_uri()})")


# ---- metrics, params, tags -----------------------------------------------------------------


def _key(key: object, call: str) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"mlflow.{call}({_short(key)}, ...): the key must be a non-empty string, got "
                           f"{type(key).__name__} {_short(key)}")
    return str(key)


def _metric_value(value: object, where: str) -> object:
    t = type(value)
    if t is float or t is int:
        return value
    try:
        return _number(value, "log", "")  # bools, numpy/torch scalars, Decimal...
    except MetricValueError:
        raise InvalidInput(f"{where}: metric values must be numbers (int or float), got "
                           f"{type(value).__name__} {_short(value)}") from None


def _step(step: object, where: str) -> int | None:
    if step is None or type(step) is int:
        return step  # type: ignore[return-value]
    if type(step) is not bool and hasattr(type(step), "__index__"):  # numpy/torch integers
        try:
            return operator.index(step)
        except TypeError:
            pass
    raise InvalidInput(f"{where}: step must be an int, got {type(step).__name__} {_short(step)}")


def _seconds(timestamp: object, where: str) -> float | None:
    """MLflow's timestamp (milliseconds since the epoch) in seconds, as the run records time."""
    if timestamp is None:
        return None
    if type(timestamp) is not bool:
        try:
            return operator.index(timestamp) / 1000.0
        except TypeError:
            if isinstance(timestamp, float) and math.isfinite(timestamp):
                return timestamp / 1000.0
    raise InvalidInput(f"{where}: timestamp must be milliseconds since the epoch (an int), got "
                       f"{type(timestamp).__name__} {_short(timestamp)}")


def _log_checked(run: Run, key: str, value: object, step: int | None, seconds: float | None) -> None:
    if seconds is None:
        run.log(key, value, step=step)
    else:
        run._log_at(key, value, step, seconds)


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
    dataset: object = None,
) -> None:
    """Log one value of the scalar metric ``key`` (at ``step``; without it, the key's next step)."""
    key = _key(key, "log_metric")
    where = None
    if type(value) is not float and type(value) is not int:
        where = f"mlflow.log_metric({key!r}, {_short(value)})"
        value = _metric_value(value, where)
    if (step is not None and type(step) is not int) or timestamp is not None:
        where = where or f"mlflow.log_metric({key!r}, {_short(value)})"
        step = _step(step, where[:-1] + f", step={_short(step)})")
        seconds = _seconds(timestamp, where[:-1] + f", timestamp={_short(timestamp)})")
    else:
        seconds = None
    _log_checked(_run(), key, value, step, seconds)


def log_metrics(
    metrics: dict,
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    model_id: str | None = None,
    dataset: object = None,
) -> None:
    """Log several metrics at once; nothing is logged when any value is not a number."""
    if not isinstance(metrics, dict):
        raise InvalidInput(f"mlflow.log_metrics(...): expected a dict of metric name -> number, got "
                           f"{type(metrics).__name__}")
    step = _step(step, f"mlflow.log_metrics(..., step={_short(step)})")
    seconds = _seconds(timestamp, f"mlflow.log_metrics(..., timestamp={_short(timestamp)})")
    checked = []
    for key, value in metrics.items():
        name = _key(key, "log_metrics")
        checked.append((name, _metric_value(value, f"mlflow.log_metrics({{{name!r}: {_short(value)}}})")))
    run = _run()
    for name, value in checked:
        _log_checked(run, name, value, step, seconds)


def log_param(key: str, value: object, synchronous: bool | None = None) -> object:
    """Record one parameter of the run; returns ``value`` as MLflow does."""
    key = _key(key, "log_param")  # before _run(): a rejected call starts no run
    _run().log_param(key, value)
    return value


def log_params(params: dict, synchronous: bool | None = None, run_id: str | None = None) -> None:
    """Record several parameters of the run."""
    if not isinstance(params, dict):
        raise InvalidInput(f"mlflow.log_params(...): expected a dict, got {type(params).__name__}")
    checked = {_key(k, "log_params"): v for k, v in params.items()}
    if checked:
        _run().log_params(checked)


def set_tag(key: str, value: object, synchronous: bool | None = None) -> None:
    """Set one tag of the run (stored as ``str(value)``, as MLflow does)."""
    key = _key(key, "set_tag")
    _run().tag(key, str(value))


def set_tags(tags: dict, synchronous: bool | None = None) -> None:
    """Set several tags of the run."""
    if not isinstance(tags, dict):
        raise InvalidInput(f"mlflow.set_tags(...): expected a dict, got {type(tags).__name__}")
    checked = {_key(k, "set_tags"): str(v) for k, v in tags.items()}
    if checked:
        _run().set_tags(checked)


# ---- artifacts -----------------------------------------------------------------------------


def _relative_parts(path: object, call: str, what: str) -> list:
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str):
        raise InvalidInput(f"mlflow.{call}(..., {_short(path)}): the {what} must be a string, "
                           f"got {type(path).__name__}")
    text = text.replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if text.startswith("/") or ".." in parts:
        raise InvalidInput(f"mlflow.{call}(..., {text!r}): the {what} must be a relative path inside the "
                           "run's artifacts, like 'plots' or 'plots/loss.png'")
    return parts


def _artifact_folder(artifact_path: object, call: str) -> str:
    if artifact_path is None:
        return ARTIFACTS_DIR
    return "/".join([ARTIFACTS_DIR, *_relative_parts(artifact_path, call, "artifact_path")])


def _artifact_file(artifact_file: object, call: str) -> str:
    parts = _relative_parts(artifact_file, call, "artifact_file")
    if not parts:
        raise InvalidInput(f"mlflow.{call}(..., {artifact_file!r}): artifact_file needs a file name, "
                           "like 'report.txt'")
    return "/".join([ARTIFACTS_DIR, *parts])


def _extension(name: str, default: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else default


def log_artifact(local_path: object, artifact_path: str | None = None, run_id: str | None = None) -> None:
    """Add the file ``local_path`` to the run as ``outputs/<artifact_path>/<file name>``."""
    source = os.fspath(local_path)  # type: ignore[call-overload]
    folder = _artifact_folder(artifact_path, "log_artifact")
    if os.path.isdir(source):
        raise IsADirectoryError(f"mlflow.log_artifact({source!r}): this is a folder; log a folder with "
                                "mlflow.log_artifacts(...)")
    if not os.path.isfile(source):
        raise FileNotFoundError(f"mlflow.log_artifact({source!r}): no such file")
    _run().upload_file(folder + "/" + os.path.basename(source), source)


def log_artifacts(local_dir: object, artifact_path: str | None = None, run_id: str | None = None) -> None:
    """Add every file under the folder ``local_dir`` to the run, under ``outputs/<artifact_path>/``."""
    source = os.fspath(local_dir)  # type: ignore[call-overload]
    folder = _artifact_folder(artifact_path, "log_artifacts")
    if not os.path.isdir(source):
        raise FileNotFoundError(f"mlflow.log_artifacts({source!r}): no such folder")
    _run().upload_folder(folder, source)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    """Save ``text`` as the artifact ``artifact_file`` (UTF-8)."""
    name = _artifact_file(artifact_file, "log_text")
    if not isinstance(text, str):
        raise InvalidInput(f"mlflow.log_text({_short(text)}, {artifact_file!r}): expected a string, "
                           f"got {type(text).__name__}")
    _run().upload_file(name, io.BytesIO(text.encode("utf-8")))


def log_dict(dictionary: object, artifact_file: str, run_id: str | None = None) -> None:
    """Save ``dictionary`` as JSON (or YAML for ``.yaml``/``.yml``) as the artifact ``artifact_file``."""
    name = _artifact_file(artifact_file, "log_dict")
    try:
        if _extension(name, "json") in ("yaml", "yml"):
            try:
                import yaml

                text = yaml.safe_dump(dictionary, default_flow_style=False)
            except ImportError:
                text = json.dumps(dictionary, indent=2)  # JSON is valid YAML
        else:
            text = json.dumps(dictionary, indent=2)
    except Exception as exc:  # noqa: BLE001 - json's/yaml's own error, said with the call
        raise InvalidInput(f"mlflow.log_dict(..., {artifact_file!r}): cannot serialize it: {exc}") from None
    _run().upload_file(name, io.BytesIO(text.encode("utf-8")))


def log_figure(figure: object, artifact_file: str, *, save_kwargs: dict | None = None) -> None:
    """Save a matplotlib figure (or a plotly one) as the artifact ``artifact_file``."""
    name = _artifact_file(artifact_file, "log_figure")
    fmt = _extension(name, "png")
    options = dict(save_kwargs or {})
    data = io.BytesIO()
    if hasattr(figure, "savefig"):  # matplotlib
        figure.savefig(data, format=fmt, **options)
    elif fmt == "html" and hasattr(figure, "to_html"):  # plotly
        data.write(figure.to_html(**options).encode("utf-8"))
    elif hasattr(figure, "write_image"):  # plotly, static (needs kaleido)
        figure.write_image(data, format=fmt, **options)
    else:
        raise InvalidInput(f"mlflow.log_figure(..., {artifact_file!r}): expected a matplotlib or plotly figure, "
                           f"got {type(figure).__name__}")
    data.seek(0)
    _run().upload_file(name, data)


def _pil_image(image: object, where: str) -> object:
    """A PIL image from a PIL image or a numpy array (floats in [0, 1] or integers in [0, 255])."""
    if hasattr(image, "save") and hasattr(image, "mode"):
        return image
    if not (hasattr(image, "shape") and hasattr(image, "dtype")):
        raise InvalidInput(f"{where}: expected a PIL image or a numpy array, got {type(image).__name__}")
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"{where}: logging a numpy array as an image needs Pillow in the run's environment") from None
    array = image
    if array.ndim == 3 and array.shape[-1] == 1:  # type: ignore[attr-defined]
        array = array[..., 0]  # type: ignore[index]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):  # type: ignore[attr-defined]
        raise InvalidInput(f"{where}: expected an array of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
                           f"got {tuple(array.shape)}")  # type: ignore[attr-defined]
    kind = array.dtype.kind  # type: ignore[attr-defined]
    low, high = array.min(), array.max()  # type: ignore[attr-defined]
    if kind == "f":
        if low < 0 or high > 1:
            raise InvalidInput(f"{where}: float image values must be in [0, 1], got [{low}, {high}]")
        array = (array * 255).round()
    elif kind in "iub":
        if low < 0 or high > 255:
            raise InvalidInput(f"{where}: integer image values must be in [0, 255], got [{low}, {high}]")
    else:
        raise InvalidInput(f"{where}: unsupported image array type {array.dtype}")  # type: ignore[attr-defined]
    return Image.fromarray(array.astype("uint8"))  # type: ignore[attr-defined]


def log_image(
    image: object,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = None,
) -> None:
    """Save a PIL image or numpy array as the artifact ``artifact_file`` (e.g. ``'images/x.png'``)."""
    if artifact_file is None:
        raise InvalidInput("mlflow.log_image(image, key=...): image metrics by key are not supported under "
                           "Trainyard; give artifact_file='name.png'")
    name = _artifact_file(artifact_file, "log_image")
    picture = _pil_image(image, f"mlflow.log_image(..., {artifact_file!r})")
    from PIL import Image

    ext = "." + _extension(name, "png")
    fmt = Image.registered_extensions().get(ext, "PNG")
    data = io.BytesIO()
    picture.save(data, format=fmt)  # type: ignore[attr-defined]
    data.seek(0)
    _run().upload_file(name, data)


# ---- autologging ---------------------------------------------------------------------------


def autolog(disable: bool = False, silent: bool = False, **kwargs: object) -> None:
    """Automatic logging for what Trainyard supports: scikit-learn's ``fit``, when it is installed.

    MLflow's other options (``log_models``, ``log_input_examples``...) are accepted and ignored.
    """
    from mlflow import sklearn as mlflow_sklearn

    if mlflow_sklearn.sklearn_installed():
        mlflow_sklearn.autolog(disable=disable, silent=silent)


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:  # `import mlflow; mlflow.sklearn.autolog()` works in MLflow too
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"module 'mlflow' has no attribute {name!r}: inside a Trainyard run `mlflow` is Trainyard's "
        "stand-in, which provides the logging calls (log_metric(s), log_param(s), set_tag(s), "
        "log_artifact(s), log_text, log_dict, start_run, autolog, ...), not the rest of MLflow's API"
    )
