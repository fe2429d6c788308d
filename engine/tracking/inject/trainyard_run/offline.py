"""The run outside Trainyard (no tracking folder): it prints what it would have logged."""

import uuid

from .run import ExperimentName, Run
from .values import MetricValueError, cell, cells, check_name, check_run_path, check_step, number

__all__ = ["OfflineRun"]


class OfflineRun(Run):
    """The run outside Trainyard: checks values like the live run and prints instead of logging."""

    _counters: "dict[str, object]"  # unused offline; kept as the live run has it

    @classmethod
    def _create(cls) -> "OfflineRun":
        self = object.__new__(cls)
        self._id = f"OfflineRun_{uuid.uuid4()}"
        self._experiment = ExperimentName("offline_experiment")
        self._display_name = self._id
        self._counters = {}
        return self

    def _say(self, what: str, name: object, value: object) -> None:
        print(f"Attempted to {what} {name}:\n{value}")

    def log(self, name: str, value: object, description: str = "", step: "int | None" = None) -> None:
        t = type(value)
        if t is not float and t is not int:
            value = number(value, "log", name)
        check_name(name, "log")
        if step is not None and type(step) is not int:
            check_step(name, value, step)
        self._say("log scalar metric", name, value)

    def log_list(self, name: str, value: object, description: str = "") -> None:
        key = check_name(name, "log_list")
        self._say("log list metric", key, cells(value, "log_list", key))

    def log_row(self, name: str, description: "str | None" = None, **kwargs: object) -> None:
        key = check_name(name, "log_row")
        self._say("log row metric", key, {c: cell(v, "log_row", key) for c, v in kwargs.items()})

    def log_table(self, name: str, value: dict, description: str = "") -> None:
        key = check_name(name, "log_table")
        if not isinstance(value, dict):
            raise MetricValueError(
                f"run.log_table({key!r}, ...): expected a dict of column -> list of values"
            )
        self._say("log table metric", key, {str(c): cells(v, "log_table", key) for c, v in value.items()})

    def log_image(self, name: str, path: object = None, plot: object = None, description: str = "") -> None:
        key = check_name(name, "log_image")
        if (path is None) == (plot is None):
            raise ValueError(f"run.log_image({key!r}, ...): give exactly one of path=... or plot=...")
        self._say("log image metric", key, path if path is not None else plot)

    def upload_file(self, name: str, path_or_stream: object) -> None:
        self._say("upload file", check_run_path(name, "upload_file"), path_or_stream)

    def _tags(self, items: dict) -> None:
        for key, value in items.items():
            self._say("set tag", key, value)

    def _params(self, items: dict) -> None:
        for key, value in items.items():
            self._say("log parameter", key, value)

    def flush(self) -> None:
        pass

    def _end(self, status: str, error: "str | None") -> None:
        if status != "Completed":  # complete() offline stays quiet, as it always has
            self._say("mark the run", status, error or "")

    def _make_child(self, name: "str | None", run_id: "str | None") -> "OfflineRun":
        child = OfflineRun._create()
        child._display_name = name or child._id
        child._parent_run = self
        return child

    def _register_model(self, name: str, path: str, info: dict) -> None:
        self._say("register model", name, path)

    def _model_in_run(self, model_name: str, path: str) -> str:
        return path  # nothing to upload to: the offline run only says what it would register


Run._offline_class = OfflineRun
