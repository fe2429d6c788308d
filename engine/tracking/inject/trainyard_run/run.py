"""``Run``: what a training script gets from ``Run.get_context()``, live or offline."""

import json
import os
import shutil
import threading

from .envvars import ENV_COMPUTE, ENV_INPUTS, ENV_PARENT_RUN_ID, ENV_TRACKING_DIR
from .values import check_name, json_scalar

# `typing` is not imported at run time (the client loads as little as it can); mypy reads the
# annotations, written as strings where Python 3.6 could not evaluate them.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .runinfo import RunFolder

__all__ = ["ExperimentName", "RegisteredModel", "Run", "RunReference", "get_run"]


class ExperimentName(str):
    """The experiment's name; ``.name`` too, for scripts written against Azure's Experiment object."""

    @property
    def name(self) -> str:
        return str(self)


class RegisteredModel:
    """What ``run.register_model`` returns inside a run: the model as registered. The engine
    gives it its version when it reads the record, a moment later: ``version`` is None here (the
    control script's ``Model(ws, name)`` and ``trainyard model list`` show it)."""

    def __init__(self, name: str, path: str, tags: dict, properties: dict, description: str,
                 model_framework: "str | None", model_framework_version: "str | None") -> None:
        self.name = name
        self.path = path
        self.version = None  # type: int | None
        self.tags = tags
        self.properties = properties
        self.description = description
        self.model_framework = model_framework
        self.model_framework_version = model_framework_version

    @property
    def id(self) -> str:
        return self.name if self.version is None else f"{self.name}:{self.version}"

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, path={self.path!r})"


class RunReference:
    """``run.parent`` of a run the engine started as a child (a sweep trial, ``submit_child``):
    the parent's id and experiment. Logging into the parent from here is not provided."""

    def __init__(self, run_id: str, experiment: "ExperimentName") -> None:
        self.id = self.name = self.display_name = run_id
        self.experiment = experiment

    def __getattr__(self, attr: str) -> object:
        if attr.startswith("_"):
            raise AttributeError(attr)
        raise AttributeError(
            f"run.parent.{attr}: inside a child run, Trainyard gives the parent's id and experiment only; "
            "log into this run (run.log) or read the parent from the control script")

    def __repr__(self) -> str:
        return f"Run(experiment={str(self.experiment)!r}, id={self.id!r})"


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

    def complete(self, _set_status: bool = True) -> None:
        """Mark the run Completed (as in Azure ML): it ends Completed when the script exits,
        unless the script fails after all (a non-zero exit still fails it). A child run from
        ``child_run`` is Completed at once."""
        self.flush()
        if _set_status:
            self._end("Completed", None)

    def fail(self, error_details: object = None, error_code: object = None, _set_status: bool = True) -> None:
        """Mark the run Failed (as in Azure ML), with ``error_details`` (a text or an exception) as
        its error: it ends Failed when the script exits, whatever its exit code. A child run from
        ``child_run`` is Failed at once."""
        self.flush()
        if not _set_status:
            return
        if isinstance(error_details, BaseException):
            text = f"{type(error_details).__name__}: {error_details}"
        elif error_details is None:
            text = "the script called run.fail()"
        else:
            text = str(error_details)
        if error_code is not None:
            text = f"[{error_code}] {text}"
        self._end("Failed", text)

    # ---- reading the run (Azure ML's Run API inside the script) --------------------------------

    def get_metrics(self, name: "str | None" = None, recursive: bool = False, run_type: object = None,
                    populate: bool = False) -> dict:
        """The run's metrics so far, every process's: ``{name: value}``, a list of values for a
        metric logged more than once, ``{column: [values]}`` for rows (as Azure ML gives them)."""
        self.flush()
        folder = self._folder()
        return {} if folder is None else folder.metrics(name)

    def get_file_names(self) -> list:
        """The names of the run's files so far (``outputs/...``, ``logs/...``, uploads, ...)."""
        self.flush()
        folder = self._folder()
        return [] if folder is None else sorted(folder.files())

    def download_file(self, name: str, output_file_path: "str | None" = None, _validate_checksum: bool = False) -> None:
        """Copy the run's file ``name`` to ``output_file_path`` (a file, or a folder: one that
        exists or a path ending with ``/``; default: its base name in the current folder)."""
        self.flush()
        folder = self._folder()
        files = {} if folder is None else folder.files()
        key = str(name).strip("/")
        source = files.get(key)
        if source is None:
            known = ", ".join(sorted(files)[:10]) or "none yet"
            raise FileNotFoundError(
                f"run.download_file({name!r}): the run has no such file (its files: {known})")
        dest = os.fspath(output_file_path) if output_file_path is not None else os.path.basename(key)
        if os.path.isdir(dest) or dest.endswith(("/", os.sep)):  # a folder, made if need be
            dest = os.path.join(dest, os.path.basename(key))
        if os.path.dirname(dest):
            os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(source, dest)

    def download_files(self, prefix: "str | None" = None, output_directory: "str | None" = None,
                       output_paths: "list | None" = None, batch_size: int = 100, append_prefix: bool = True,
                       timeout_seconds: object = None) -> None:
        """Copy the run's files whose names start with ``prefix`` into ``output_directory`` (their
        names kept; ``append_prefix=False`` drops the prefix), or to ``output_paths``."""
        names = [n for n in self.get_file_names() if not prefix or n.startswith(prefix)]
        if output_paths is not None and len(output_paths) != len(names):
            raise ValueError(f"run.download_files(...): output_paths must name one path per file ({len(names)} files match "
                             f"prefix {prefix!r})")
        base = os.fspath(output_directory) if output_directory is not None else os.curdir
        for i, name in enumerate(names):
            if output_paths is not None:
                dest = os.fspath(output_paths[i])
            else:
                rel = name if append_prefix or not prefix else name[len(prefix):].lstrip("/")
                dest = os.path.join(base, *rel.split("/"))
            self.download_file(name, dest)

    def get_details(self) -> dict:
        """What Azure ML's ``get_details()`` tells a running script about its run."""
        folder = self._folder()
        files = {} if folder is None else folder.files()
        parent = self.parent
        return {
            "runId": self.id,
            "displayName": self.display_name,
            "experiment": str(self.experiment),
            "target": os.environ.get(ENV_COMPUTE) or "local",
            "status": self.get_status(),
            "parentRunId": parent.id if parent is not None else None,
            "properties": {},
            "inputDatasets": [{"name": k, "value": v} for k, v in self.input_datasets.items()],
            "outputDatasets": [],
            "logFiles": {n: p for n, p in files.items() if n.startswith(("azureml-logs/", "logs/"))},
        }

    @property
    def input_datasets(self) -> dict:
        """The job's inputs, ``{name: value}`` (a data input's value is its local path)."""
        try:
            inputs = json.loads(os.environ.get(ENV_INPUTS) or "{}")
        except ValueError:
            return {}
        return inputs if isinstance(inputs, dict) else {}

    @property
    def parent(self) -> "Run | RunReference | None":
        """The run this one is a child of: the run that made it with ``child_run``, or (for a
        sweep trial or a ``submit_child`` run) a reference to the parent's id; None otherwise."""
        made_by = self._parent_run
        if made_by is not None:
            return made_by
        parent_id = os.environ.get(ENV_PARENT_RUN_ID)
        return RunReference(parent_id, self.experiment) if parent_id else None

    def child_run(self, name: "str | None" = None, run_id: "str | None" = None, outputs: object = None) -> "Run":
        """A child run of this one, which the script logs into like this one; it ends with
        ``complete()`` / ``fail()``, or with this run."""
        if name is not None:
            check_name(name, "child_run")
        return self._make_child(name, None if run_id is None else check_name(run_id, "child_run"))

    def register_model(self, model_name: str, model_path: "str | None" = None, tags: "dict | None" = None,
                       properties: "dict | None" = None, model_framework: "str | None" = None,
                       model_framework_version: "str | None" = None, description: "str | None" = None,
                       datasets: object = None, sample_input_dataset: object = None,
                       sample_output_dataset: object = None, resource_configuration: object = None,
                       **kwargs: object) -> "RegisteredModel":
        """Register the file or folder ``model_path`` (here, e.g. ``outputs/model.pt``, or already
        in the run) as the next version of model ``model_name``. The engine registers it a moment
        later, as it reads the run's records; ``properties`` are kept with the model's tags."""
        name = check_name(model_name, "register_model")
        if model_path is None:
            raise TypeError(f"run.register_model({name!r}): give model_path, e.g. 'outputs/model.pt'")
        for what, value in (("tags", tags), ("properties", properties)):
            if value is not None and not isinstance(value, dict):
                raise TypeError(f"run.register_model({name!r}): {what} must be a dict")
        info = {
            "type": model_framework or "custom",
            "description": description or "",
            "tags": {str(k): str(v) for k, v in {**(tags or {}), **(properties or {})}.items()},
        }
        path = self._model_in_run(name, os.fspath(model_path))
        self._register_model(name, path, info)
        self.flush()
        return RegisteredModel(name, path, dict(tags or {}), dict(properties or {}), description or "",
                               model_framework, model_framework_version)

    def _model_in_run(self, model_name: str, path: str) -> str:
        """The name in the run of the model at ``path``: uploaded first when it is a file or folder
        here (under the same relative name, ``outputs/<name>`` for one outside the working folder)."""
        if os.path.exists(path):
            rel = os.path.relpath(os.path.abspath(path)).replace(os.sep, "/")
            if rel.startswith("../") or rel == "..":
                rel = "outputs/" + os.path.basename(os.path.abspath(path))
            if os.path.isdir(path):
                self.upload_folder(rel, path)
            else:
                self.upload_file(rel, path)
            return rel
        key = path.strip("/")
        known = self.get_file_names()
        if key in known or any(n.startswith(key + "/") for n in known):
            return key
        raise FileNotFoundError(
            "run.register_model({!r}, model_path={!r}): no such file or folder, here or in the run "
            "(its files: {})".format(model_name, path, ", ".join(known[:10]) or "none yet"))

    # Hooks of the live and offline runs.
    _parent_run = None  # type: Run | None

    def _folder(self) -> "RunFolder | None":
        return None

    def _end(self, status: str, error: "str | None") -> None:
        raise NotImplementedError

    def _make_child(self, name: "str | None", run_id: "str | None") -> "Run":
        raise NotImplementedError

    def _register_model(self, name: str, path: str, info: dict) -> None:
        raise NotImplementedError

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
