"""``Run``: what a training script gets from ``Run.get_context()``, live or offline."""

import os
import threading

from .envvars import ENV_TRACKING_DIR
from .values import check_name, json_scalar

# `typing` is not imported at run time (the client loads as little as it can); mypy reads the
# annotations, written as strings where Python 3.6 could not evaluate them.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ExperimentName", "Run", "get_run"]


class ExperimentName(str):
    """The experiment's name; ``.name`` too, for scripts written against Azure's Experiment object."""

    @property
    def name(self) -> str:
        return str(self)


class Run:
    """The run a training script is part of; get it with ``Run.get_context()``.

    The same object is returned for the whole process. Use ``log`` for scalar metrics (cheap
    enough to call every step), the ``log_*`` methods for lists, rows, tables and images, ``tag``
    and ``log_param`` for metadata and ``upload_file`` to add a file to the run's outputs.
    """

    _live: "Run | None" = None  # the process-wide live run, once created
    _offline: "Run | None" = None  # the process-wide offline run, once asked for outside a run
    _create_lock = threading.Lock()
    # The live and offline runs subclass Run, so their modules import this one; they register
    # their classes here when imported (the package's __init__ imports both) instead of this
    # module importing them back.
    _live_class: "Any" = None
    _offline_class: "Any" = None

    # Set by the live and offline runs' _create (they are built without __init__).
    _id: str
    _experiment: "ExperimentName"
    _display_name: str

    def __new__(cls, *args: "Any", **kwargs: "Any") -> "Any":
        # Azure control scripts may build Run(experiment, run_id): that is the SDK's run object,
        # which exists only where Trainyard is installed (`trainyard python control.py`).
        try:
            from engine.sdk import Run as SdkRun
        except ImportError:
            raise TypeError(
                "Run(...) looks up an existing run, which needs Trainyard's SDK: run control scripts "
                "with `trainyard python script.py`; inside a training script use Run.get_context()"
            ) from None
        return SdkRun(*args, **kwargs)

    # ---- getting the run -------------------------------------------------------------------

    @classmethod
    def get_context(cls, allow_offline: bool = True, **kwargs: object) -> "Run":
        """The run this process belongs to, or an offline run that prints when outside a run."""
        tracking_dir = os.environ.get(ENV_TRACKING_DIR)
        if not tracking_dir:
            if not allow_offline:
                raise RuntimeError(
                    "Run.get_context(allow_offline=False): this script is not running inside a "
                    f"Trainyard run ({ENV_TRACKING_DIR} is not set)"
                )
            offline = Run._offline
            if offline is None:
                offline = Run._offline = Run._offline_class._create()
            return offline
        live = Run._live
        if live is None:
            with Run._create_lock:
                live = Run._live
                if live is None:
                    live = Run._live = Run._live_class._create(tracking_dir)
        return live

    # ---- identity --------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The run's id."""
        return self._id

    @property
    def experiment(self) -> "ExperimentName":
        """The experiment's name (a str; ``run.experiment.name`` works too)."""
        return self._experiment

    @property
    def display_name(self) -> str:
        """The run's display name (its id: Trainyard's run ids are readable names)."""
        return self._display_name

    @property
    def name(self) -> str:
        return self._display_name

    def get_status(self) -> str:
        """Best effort: a script asking about its own run is running."""
        return "Running"

    def __repr__(self) -> str:
        return f"Run(experiment={str(self.experiment)!r}, id={self.id!r})"

    def __enter__(self) -> "Run":  # noqa: PYI034 - typing.Self is not in Python 3.6
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()

    # The methods below are implemented by the live and offline runs.

    def log(self, name: str, value: object, description: str = "", step: "int | None" = None) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def _log_at(self, name: str, value: object, step: "int | None", timestamp: float) -> None:
        """``log`` of a checked number, measured at ``timestamp`` (seconds since the epoch): for
        MLflow's ``log_metric(..., timestamp=ms)``. The live run keeps the time; others just log."""
        self.log(name, value, step=step)

    def complete(self) -> None:
        """Flush everything logged; the engine decides the final status from the exit code."""
        self.flush()

    def fail(self, *args: object, **kwargs: object) -> None:
        """Flush; the engine marks the run failed when the script exits non-zero."""
        self.flush()

    def set_tags(self, tags: object) -> None:
        """Set several tags at once: a dict, or a list of keys (tags with empty values)."""
        if isinstance(tags, dict):
            items = {check_name(k, "set_tags"): ("" if v is None else str(v)) for k, v in tags.items()}
        elif isinstance(tags, (list, tuple, set, frozenset)):
            items = {check_name(k, "set_tags"): "" for k in tags}
        else:
            raise TypeError(f"run.set_tags(...): expected a dict of tags, got {type(tags).__name__}")
        if items:
            self._tags(items)

    def tag(self, key: str, value: object = None) -> None:
        """Set one tag (a string; None stores an empty string)."""
        self._tags({check_name(key, "tag"): "" if value is None else str(value)})

    def log_param(self, key: str, value: object) -> None:
        """Record one parameter of the run."""
        self._params({check_name(key, "log_param"): json_scalar(value)})

    def log_params(self, params: dict) -> None:
        """Record several parameters of the run."""
        if not isinstance(params, dict):
            raise TypeError(f"run.log_params(...): expected a dict, got {type(params).__name__}")
        items = {check_name(k, "log_params"): json_scalar(v) for k, v in params.items()}
        if items:
            self._params(items)

    def upload_files(self, names: list, paths: list) -> None:
        """Upload several files: ``names[i]`` is where ``paths[i]`` appears in the run."""
        if len(names) != len(paths):
            raise ValueError("run.upload_files(names, paths): names and paths must have the same length")
        for name, path in zip(names, paths):
            self.upload_file(name, path)

    def upload_folder(self, name: str, path: str) -> None:
        """Upload every file under the folder ``path`` to ``name/<relative path>`` in the run."""
        root = os.fspath(path)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"run.upload_folder({name!r}, {path!r}): not a folder")
        for folder, _dirs, files in os.walk(root):
            for file in sorted(files):
                full = os.path.join(folder, file)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                self.upload_file(name.rstrip("/") + "/" + rel, full)

    def _tags(self, items: dict) -> None:
        raise NotImplementedError

    def _params(self, items: dict) -> None:
        raise NotImplementedError

    def upload_file(self, name: str, path_or_stream: object) -> None:
        raise NotImplementedError


def get_run() -> "Run":
    """The current run (same as ``Run.get_context()``)."""
    return Run.get_context()
