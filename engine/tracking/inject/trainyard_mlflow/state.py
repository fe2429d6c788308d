"""What this process knows of its MLflow runs: the Trainyard run and the child runs it made.

MLflow may build several store objects for one URI; they all share this module's state.
"""

import os
import sys
import threading
import time
from typing import Any
from urllib.parse import quote, unquote, urlparse

from trainyard_run import Run
from trainyard_run.envvars import ENV_MLFLOW_RUN_ID, ENV_RUN_ID

__all__ = ["RunState", "artifact_uri", "lock", "main_run", "note", "now_ms", "parse_artifact_uri", "runs"]

lock = threading.RLock()
runs: "dict[str, RunState]" = {}
_main: "list[RunState]" = []


def now_ms() -> int:
    return int(time.time() * 1000)


def note(text: str) -> None:
    try:
        sys.stderr.write(f"trainyard: {text}\n")
    except Exception:  # noqa: BLE001, S110 - stderr closed: nothing to tell
        pass


def artifact_uri(run_id: str, path_in_run: str) -> str:
    """``trainyard://runs/RUN/files/outputs/...``: a file or folder of a run."""
    return f"trainyard://runs/{quote(run_id, safe='')}/files/{path_in_run.strip('/')}"


def parse_artifact_uri(uri: str) -> "tuple[str, str]":
    """(run id, path in the run) of an artifact URI made by ``artifact_uri``."""
    parsed = urlparse(uri)
    parts = parsed.path.strip("/").split("/", 2)
    if parsed.scheme != "trainyard" or parsed.netloc != "runs" or len(parts) < 2 or parts[1] != "files":
        raise ValueError(f"not a Trainyard artifact URI: {uri!r} (expected trainyard://runs/RUN/files/PATH)")
    return unquote(parts[0]), parts[2] if len(parts) > 2 else ""


class RunState:
    """One MLflow run of this process, and the Trainyard run its records go to."""

    def __init__(self, run_id: str, experiment_id: str, writer: "Any", name: str, parent: "str | None") -> None:
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.writer = writer  # trainyard_run's live run (or the offline one outside a run)
        self.name = name
        self.parent = parent
        self.status = "RUNNING"
        self.start_time = now_ms()
        self.end_time: "int | None" = None
        self.lifecycle_stage = "active"
        self.latest: "dict[str, Any]" = {}  # key -> the mlflow Metric with the highest (step, timestamp)
        self.history: "dict[str, list[tuple[float, int, int]]]" = {}  # key -> (value, timestamp ms, step)
        self.params: "dict[str, str]" = {}
        self.tags: "dict[str, str]" = {}
        self.datasets: "list[Any]" = []
        self.model_outputs: "list[Any]" = []
        self.children = 0

    @property
    def artifact_uri(self) -> str:
        return artifact_uri(self.run_id, "outputs")


def main_run() -> "RunState":
    """The Trainyard run this process belongs to (``TRAINYARD_RUN_ID``)."""
    if _main:
        return _main[0]
    with lock:
        if not _main:
            writer = Run.get_context()
            run_id = os.environ.get(ENV_RUN_ID) or os.environ.get(ENV_MLFLOW_RUN_ID) or writer.id
            state = RunState(run_id, "", writer, writer.display_name, None)
            runs[run_id] = state
            _main.append(state)
    return _main[0]
