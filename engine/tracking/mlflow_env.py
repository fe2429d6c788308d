"""The MLFLOW_* variables of a run's environment, read by MLflow-instrumented scripts.

Inside a run ``import mlflow`` is the environment's real MLflow, which logs into the run through
the ``trainyard`` plugins (``inject/trainyard_mlflow``) that this tracking URI selects, or, where
the environment has no MLflow, Trainyard's stand-in (``inject/trainyard_standins/mlflow``), which
logs to the run whatever these say; they tell the script (and libraries that read them) where it
is logging.
``MLFLOW_TRACKING_URI`` is always Trainyard's link to the run, even when the job sets its own:
the run's MLflow calls land in Trainyard, so another URI would only mislead. ``MLFLOW_RUN_ID``
and ``MLFLOW_EXPERIMENT_NAME`` default to the run and its experiment, and a value the job sets
in its environment variables wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from engine.links import run_link
from engine.tracking.inject.trainyard_run.envvars import (
    ENV_MLFLOW_EXPERIMENT_NAME,
    ENV_MLFLOW_RUN_ID,
    ENV_MLFLOW_TRACKING_URI,
)


def mlflow_variables(run_name: str, experiment: str, job_env: Mapping[str, str],
                     rerun_of: str | None = None, workspace_folder: str | Path | None = None) -> dict[str, str]:
    """The MLFLOW_* variables for run `run_name`, given the job's own environment variables.
    With `workspace_folder` the tracking URI names the workspace too, so that `trainyard URI`
    opens the studio on that run wherever it is typed.

    A re-run copies its original's environment: there an MLFLOW_RUN_ID naming the original run
    (`rerun_of`) was Trainyard's, so it moves to the new run.
    """
    run_id = job_env.get(ENV_MLFLOW_RUN_ID)
    if run_id is None or run_id == rerun_of:
        run_id = run_name
    return {
        ENV_MLFLOW_TRACKING_URI: run_link(run_name, workspace_folder),
        ENV_MLFLOW_RUN_ID: run_id,
        ENV_MLFLOW_EXPERIMENT_NAME: job_env.get(ENV_MLFLOW_EXPERIMENT_NAME, experiment),
    }
