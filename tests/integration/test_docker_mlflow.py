"""An MLflow-instrumented script in a real container through the whole engine: the stand-in is
mounted with the in-run client, and the MLFLOW_* variables reach the container."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from engine.api import Engine
from engine.entities import EnvironmentSpec
from engine.jobs.spec import JobSpec
from engine.links import run_link
from engine.runs.files import RunFiles

BASE = "trainyard-test-base:latest"

TRAIN = """
import os
import mlflow
print("env", os.environ["MLFLOW_TRACKING_URI"], os.environ["MLFLOW_RUN_ID"], os.environ["MLFLOW_EXPERIMENT_NAME"])
print("in a container:", os.path.exists("/.dockerenv"), mlflow.__file__)
mlflow.log_param("lr", 0.1)
for i in range(10):
    mlflow.log_metric("loss", 1.0 / (i + 1))
open("notes.txt", "w").write("from the container")
mlflow.log_artifact("notes.txt", artifact_path="notes")
"""


def test_an_mlflow_script_logs_from_a_container(tmp_path: Path, docker_client: Any) -> None:
    code = tmp_path / "p"
    code.mkdir()
    (code / "train.py").write_text(textwrap.dedent(TRAIN))
    eng = Engine.open(tmp_path / "ws")
    try:
        run = eng.submit(JobSpec(experiment_name="docker-mlflow", code_dir=code, script="train.py",
                                 compute="docker", environment_spec=EnvironmentSpec(name="base", image=BASE)))
        final = eng.wait(run.name, timeout=180)
        files = RunFiles(Path(final.run_dir))
        log = files.driver_log.read_text() if files.driver_log.exists() else ""
        assert final.status == "Completed", (final.error, log)
        assert f"env {run_link(run.name, eng.location.folder)} {run.name} docker-mlflow" in log.splitlines()
        assert "in a container: True /trainyard/inject/trainyard_standins/mlflow/__init__.py" in log.splitlines()
        assert eng.metric_history(run.name, "loss").values.tolist() == [1.0 / (i + 1) for i in range(10)]
        assert final.params == {"lr": 0.1}
        assert (files.outputs / "notes" / "notes.txt").read_text() == "from the container"
    finally:
        eng.close()
