"""MLflow-instrumented scripts through the real engine: in an environment without MLflow (this
machine's system Python) `import mlflow` is the stand-in, what it logs lands in the run's store
and files, and the run's environment points MLflow at Trainyard. An MLflow the environment has
(here: a fake one on the job's PYTHONPATH) is imported instead of the stand-in."""

from __future__ import annotations

from pathlib import Path

from engine.api import Engine
from engine.entities import EnvironmentSpec
from engine.jobs.spec import JobSpec
from engine.links import parse_link, run_link
from engine.runs.files import RunFiles
from engine.tracking.mlflow_env import mlflow_variables

TRAIN = """
import os
import mlflow

print("env", os.environ["MLFLOW_TRACKING_URI"], os.environ["MLFLOW_RUN_ID"], os.environ["MLFLOW_EXPERIMENT_NAME"])
print("stand-in", mlflow.__file__.endswith(os.path.join("inject", "trainyard_standins", "mlflow", "__init__.py")))
with mlflow.start_run() as run:
    print("run id", run.info.run_id, "uri", mlflow.get_tracking_uri())
    mlflow.log_params({"lr": 0.01, "optimizer": "adam"})
    mlflow.set_tag("stage", "dev")
    for epoch in range(25):
        mlflow.log_metric("loss", 1.0 / (epoch + 1))
    for i in range(4):
        mlflow.log_metric("val_acc", 0.5 + i / 10, step=i * 100)
    with open("report.txt", "w") as f:
        f.write("final report")
    mlflow.log_artifact("report.txt")
    mlflow.log_artifact("report.txt", artifact_path="reports/final")
"""

# The system Python of this machine: no MLflow installed.
NO_MLFLOW = EnvironmentSpec(name="system-python", user_managed=True, interpreter_path="/usr/bin/python3")
# A "real" MLflow on the job's own PYTHONPATH: inside a run it wins over the stand-in.
REAL_MLFLOW = 'WHO = "the environment\'s own"\n'


def test_an_mlflow_script_logs_into_its_run(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"train.py": TRAIN})
    spec = JobSpec(experiment_name="mlflow-exp", code_dir=code, script="train.py", tags={"team": "vision"},
                   environment_spec=NO_MLFLOW, environment_variables={"MLFLOW_TRACKING_URI": "http://elsewhere:5000"})
    run = eng.submit(spec)
    final = eng.wait(run.name, timeout=60)
    files = RunFiles(Path(final.run_dir))
    log = files.driver_log.read_text()
    assert final.status == "Completed", (final.error, log)
    lines = log.splitlines()
    # Trainyard owns MLFLOW_TRACKING_URI inside a run, even over the job's own value: a link that
    # opens this run in this workspace.
    uri = run_link(run.name, eng.location.folder)
    assert parse_link(uri) == (run.name, str(eng.location.folder))
    assert f"env {uri} {run.name} mlflow-exp" in lines
    assert "stand-in True" in lines
    assert f"run id {run.name} uri {uri}" in lines

    loss = eng.metric_history(run.name, "loss")
    assert loss.values.tolist() == [1.0 / (e + 1) for e in range(25)]
    assert loss.steps.tolist() == list(range(25))
    val = eng.metric_history(run.name, "val_acc")
    assert val.values.tolist() == [0.5, 0.6, 0.7, 0.8] and val.steps.tolist() == [0, 100, 200, 300]
    assert final.params == {"lr": 0.01, "optimizer": "adam"}
    assert final.tags == {"team": "vision", "stage": "dev"}
    assert (files.outputs / "report.txt").read_text() == "final report"
    assert (files.outputs / "reports" / "final" / "report.txt").read_text() == "final report"

    # A re-run gets its own run id and link; the job's MLFLOW_TRACKING_URI is still overridden.
    again = eng.wait(eng.rerun(run.name).name, timeout=60)
    again_log = RunFiles(Path(again.run_dir)).driver_log.read_text()
    assert again.status == "Completed", (again.error, again_log)
    assert f"env {run_link(again.name, eng.location.folder)} {again.name} mlflow-exp" in again_log.splitlines()
    assert eng.metric_history(again.name, "loss").values.tolist() == loss.values.tolist()


def test_an_mlflow_in_the_environment_is_imported_instead_of_the_stand_in(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"train.py": "import mlflow\nprint(mlflow.WHO)\n", "site/mlflow/__init__.py": REAL_MLFLOW})
    spec = JobSpec(experiment_name="mlflow-exp", code_dir=code, script="train.py", environment_spec=NO_MLFLOW,
                   environment_variables={"PYTHONPATH": "site"})
    final = eng.wait(eng.submit(spec).name, timeout=60)
    log = RunFiles(Path(final.run_dir)).driver_log.read_text()
    assert final.status == "Completed", (final.error, log)
    assert "the environment's own" in log.splitlines()


def test_the_jobs_own_mlflow_run_id_and_experiment_name_win() -> None:
    job_env = {"MLFLOW_RUN_ID": "mine", "MLFLOW_EXPERIMENT_NAME": "my-exp", "MLFLOW_TRACKING_URI": "file:./x"}
    assert mlflow_variables("run-a", "exp", job_env) == {
        "MLFLOW_TRACKING_URI": "trainyard://runs/run-a", "MLFLOW_RUN_ID": "mine", "MLFLOW_EXPERIMENT_NAME": "my-exp"}
    assert mlflow_variables("run b/1", "exp", {}) == {
        "MLFLOW_TRACKING_URI": "trainyard://runs/run%20b%2F1", "MLFLOW_RUN_ID": "run b/1",
        "MLFLOW_EXPERIMENT_NAME": "exp"}
    # A re-run: the recorded MLFLOW_RUN_ID naming the original run was Trainyard's, a user's is kept.
    assert mlflow_variables("run-b", "exp", {"MLFLOW_RUN_ID": "run-a"}, rerun_of="run-a")["MLFLOW_RUN_ID"] == "run-b"
    assert mlflow_variables("run-b", "exp", {"MLFLOW_RUN_ID": "mine"}, rerun_of="run-a")["MLFLOW_RUN_ID"] == "mine"
