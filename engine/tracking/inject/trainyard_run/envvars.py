"""The names of the environment variables Trainyard's processes pass to each other, defined once.

The in-run client reads the run's variables as ``trainyard_run.envvars``; the engine imports this
module as ``engine.tracking.inject.trainyard_run.envvars`` for those and for its own settings.
Standard library only (Python 3.6+), and nothing but names.
"""

__all__ = [
    "ENV_CANCEL_GRACE",
    "ENV_COMPUTE",
    "ENV_CONDA_EXE",
    "ENV_DOCKER_PULL_STALL",
    "ENV_EXPERIMENT",
    "ENV_FLUSH_INTERVAL",
    "ENV_HOME",
    "ENV_INPUTS",
    "ENV_MLFLOW_EXPERIMENT_NAME",
    "ENV_MLFLOW_RUN_ID",
    "ENV_MLFLOW_TRACKING_URI",
    "ENV_PARENT_RUN_ID",
    "ENV_RUN_DIR",
    "ENV_RUN_ID",
    "ENV_SNAPSHOT_MAX_FILES",
    "ENV_SNAPSHOT_MAX_MB",
    "ENV_SSH_RECONNECT_TIMEOUT",
    "ENV_STORE_URL",
    "ENV_SYSTEM_METRICS_INTERVAL",
    "ENV_TRACKING_DIR",
    "ENV_UV_IGNORE_PIP_CONFIG",
    "ENV_WORKSPACE",
    "PREFIX",
    "RUN_IDENTITY",
]

PREFIX = "TRAINYARD_"

# Set by the engine in every process of a run; read by the in-run client.
ENV_RUN_ID = "TRAINYARD_RUN_ID"
ENV_EXPERIMENT = "TRAINYARD_EXPERIMENT"
ENV_TRACKING_DIR = "TRAINYARD_TRACKING_DIR"  # where the record files go; unset: an offline run
ENV_RUN_DIR = "TRAINYARD_RUN_DIR"
ENV_FLUSH_INTERVAL = "TRAINYARD_FLUSH_INTERVAL"  # seconds between the client's writes (optional)
# What the in-run Run tells about itself (get_details, parent, input_datasets).
ENV_COMPUTE = "TRAINYARD_COMPUTE"  # the compute target's name
ENV_PARENT_RUN_ID = "TRAINYARD_PARENT_RUN_ID"  # set when the run is a child (a sweep trial, submit_child)
ENV_INPUTS = "TRAINYARD_INPUTS"  # the job's inputs as JSON: {name: value}
# The variables that name the run wherever it runs; the others are paths on the machine running it.
RUN_IDENTITY = (ENV_RUN_ID, ENV_EXPERIMENT, ENV_COMPUTE, ENV_PARENT_RUN_ID, ENV_INPUTS)

# MLflow's variables, set by the engine for MLflow-instrumented scripts (engine/tracking/mlflow_env.py)
# and read by the ``mlflow`` stand-in.
ENV_MLFLOW_TRACKING_URI = "MLFLOW_TRACKING_URI"
ENV_MLFLOW_RUN_ID = "MLFLOW_RUN_ID"
ENV_MLFLOW_EXPERIMENT_NAME = "MLFLOW_EXPERIMENT_NAME"

# The workspace: set by the user, or by `trainyard python` for the control script it starts.
ENV_WORKSPACE = "TRAINYARD_WORKSPACE"

# The engine's settings, set by the user.
ENV_HOME = "TRAINYARD_HOME"  # the default workspace's parent folder
ENV_STORE_URL = "TRAINYARD_STORE_URL"
ENV_CANCEL_GRACE = "TRAINYARD_CANCEL_GRACE"  # seconds between SIGTERM and SIGKILL on cancel
ENV_SSH_RECONNECT_TIMEOUT = "TRAINYARD_SSH_RECONNECT_TIMEOUT"
ENV_SNAPSHOT_MAX_MB = "TRAINYARD_SNAPSHOT_MAX_MB"
ENV_SNAPSHOT_MAX_FILES = "TRAINYARD_SNAPSHOT_MAX_FILES"
ENV_CONDA_EXE = "TRAINYARD_CONDA_EXE"
ENV_DOCKER_PULL_STALL = "TRAINYARD_DOCKER_PULL_STALL"
ENV_UV_IGNORE_PIP_CONFIG = "TRAINYARD_UV_IGNORE_PIP_CONFIG"
ENV_SYSTEM_METRICS_INTERVAL = "TRAINYARD_SYSTEM_METRICS_INTERVAL"  # seconds between samples; 0: off
