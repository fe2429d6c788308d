"""MLflow's runs under Trainyard: one run, the Trainyard run, however often it is started.

``start_run``, ``end_run``, ``active_run``, ``set_experiment`` and the run's tags.
"""

import os
import sys
import threading
import time

from trainyard_run import Run
from trainyard_run.envvars import ENV_TRACKING_DIR

from mlflow._checks import check_key
from mlflow.exceptions import InvalidInput, MlflowException

TYPE_CHECKING = False  # `typing` is not imported at run time: the client loads as little as it can
if TYPE_CHECKING:
    from typing import Literal  # novermin - for mypy only

__all__ = [
    "ActiveRun",
    "Experiment",
    "RunInfo",
    "active_run",
    "current_run",
    "end_run",
    "in_run",
    "last_active_run",
    "note",
    "set_experiment",
    "set_tag",
    "set_tags",
    "start_run",
]


def note(text: str) -> None:
    try:
        sys.stderr.write(f"trainyard: {text}\n")
    except Exception:  # noqa: BLE001, S110 - stderr closed: nothing to tell
        pass


def in_run() -> bool:
    return bool(os.environ.get(ENV_TRACKING_DIR))


class RunInfo:
    """MLflow's ``run.info`` for the Trainyard run."""

    def __init__(self, run: "Run") -> None:
        self.run_id = run.id
        self.run_uuid = run.id  # MLflow's older name for run_id
        self.run_name = run.display_name
        self.experiment_id = str(run.experiment)  # Trainyard's experiments are known by name
        self.status = "RUNNING"
        self.start_time = int(time.time() * 1000)
        self.end_time: "int | None" = None
        self.lifecycle_stage = "active"

    def __repr__(self) -> str:
        return f"<RunInfo: run_id={self.run_id!r}, experiment_id={self.experiment_id!r}, status={self.status!r}>"


class ActiveRun:
    """What ``start_run`` returns; ``with`` ends it, FAILED when the block raised."""

    def __init__(self, run: "Run") -> None:
        self.info = RunInfo(run)

    def __enter__(self) -> "ActiveRun":  # noqa: PYI034 - typing.Self is not in Python 3.6
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> "Literal[False]":
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


def current_run() -> "Run":
    """The Trainyard run, started as MLflow's active run when none is (as MLflow's calls do)."""
    run = Run.get_context()
    if not _active:
        with _lock:
            if not _active:
                _active.append(ActiveRun(run))
    return run


def start_run(
    run_id: "str | None" = None,
    experiment_id: "str | None" = None,
    run_name: "str | None" = None,
    nested: bool = False,
    parent_run_id: "str | None" = None,
    tags: "dict | None" = None,
    description: "str | None" = None,
    log_system_metrics: "bool | None" = None,
) -> "ActiveRun":
    """Start the run (it is the Trainyard run); use as ``with mlflow.start_run() as run:``."""
    run = Run.get_context()
    if tags is not None and not isinstance(tags, dict):
        raise InvalidInput(f"mlflow.start_run(tags=...): expected a dict of tags, got {type(tags).__name__}")
    if in_run():
        if run_id is not None and str(run_id) != run.id:
            note(f"mlflow.start_run(run_id={run_id!r}): inside a Trainyard run everything logs to run {run.id!r}")
        if experiment_id is not None and str(experiment_id) != str(run.experiment):
            note(f"mlflow.start_run(experiment_id={experiment_id!r}): run {run.id!r} belongs to "
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


def active_run() -> "ActiveRun | None":
    """The innermost started run, or None (a logging call starts one)."""
    return _active[-1] if _active else None


def last_active_run() -> "ActiveRun | None":
    """The active run, else the one ended last."""
    return active_run() or (_last_ended[0] if _last_ended else None)


def set_experiment(experiment_name: "str | None" = None, experiment_id: "str | None" = None) -> "Experiment":
    """Accepted: a run stays in the experiment it was submitted to (another name prints a note)."""
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidInput("mlflow.set_experiment(...): give exactly one of experiment_name or experiment_id")
    wanted = str(experiment_name if experiment_name is not None else experiment_id)
    if not in_run():
        return Experiment(wanted)
    run = Run.get_context()
    current = str(run.experiment)
    if wanted != current:
        note(f"mlflow.set_experiment({wanted!r}): run {run.id!r} belongs to experiment {current!r} "
             "and logs there")
    return Experiment(current)


def set_tag(key: str, value: object, synchronous: "bool | None" = None) -> None:
    """Set one tag of the run (stored as ``str(value)``, as MLflow does)."""
    key = check_key(key, "set_tag")
    current_run().tag(key, str(value))


def set_tags(tags: dict, synchronous: "bool | None" = None) -> None:
    """Set several tags of the run."""
    if not isinstance(tags, dict):
        raise InvalidInput(f"mlflow.set_tags(...): expected a dict, got {type(tags).__name__}")
    checked = {check_key(k, "set_tags"): str(v) for k, v in tags.items()}
    if checked:
        current_run().set_tags(checked)

