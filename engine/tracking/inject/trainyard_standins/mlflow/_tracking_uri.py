"""The tracking URI: inside a run, always the run's ``trainyard://runs/NAME`` link."""

import os
from urllib.parse import quote

from trainyard_run import Run
from trainyard_run.envvars import ENV_MLFLOW_TRACKING_URI
from trainyard_run.values import short

from mlflow._runs import in_run, note
from mlflow.exceptions import InvalidInput

__all__ = ["get_tracking_uri", "set_tracking_uri"]

_offline_uri: list = []  # set_tracking_uri outside a run


def _run_uri() -> str:
    uri = os.environ.get(ENV_MLFLOW_TRACKING_URI, "")
    # The engine sets it; a script that overwrote os.environ does not move where things log.
    return uri if uri.startswith("trainyard://") else "trainyard://runs/" + quote(Run.get_context().id, safe="")


def get_tracking_uri() -> str:
    """Inside a run: the run's ``trainyard://runs/NAME`` link, which is where MLflow calls log."""
    if in_run():
        return _run_uri()
    if _offline_uri:
        return _offline_uri[0]
    return os.environ.get(ENV_MLFLOW_TRACKING_URI) or "file://" + os.path.join(os.getcwd(), "mlruns")


def set_tracking_uri(uri: object) -> None:
    """Inside a run the run keeps logging to Trainyard; another URI prints a note and is ignored."""
    text = os.fspath(uri) if isinstance(uri, os.PathLike) else uri
    if not isinstance(text, str):
        raise InvalidInput(f"mlflow.set_tracking_uri({short(uri)}): expected a string, got {type(uri).__name__}")
    if not in_run():
        _offline_uri[:] = [text]
    elif text != _run_uri():
        note(f"mlflow.set_tracking_uri({text!r}): ignored inside a Trainyard run; MLflow calls log to "
             f"the run ({_run_uri()})")
