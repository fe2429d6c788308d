"""A stand-in for the ``mlflow`` package: MLflow-instrumented training scripts log into their
Trainyard run with nothing installed in the run's environment.

Where it applies: only where the run's environment has no MLflow of its own. The run's
``sitecustomize`` (``inject/sitecustomize.py``) serves this package to ``import mlflow`` after
every other finder, so a real MLflow in the environment is imported instead (and logs into
Trainyard through the ``trainyard`` plugins, ``trainyard_mlflow``). Probes through
``importlib.util.find_spec("mlflow")`` do not see this package: libraries that would use more
of MLflow than it provides (transformers, Lightning) act as they do without MLflow.

Every call forwards to ``trainyard_run``'s current run (standard library only, Python 3.6+):

- ``log_metric(key, value, step=None, timestamp=None)``, ``log_metrics``: scalar metrics. Values
  must be numbers. Without ``step`` a key's points count 0, 1, 2, ... (real MLflow puts them all
  at step 0; Trainyard charts them in the order they were logged).
- ``log_param(s)``, ``set_tag(s)``: the run's params and tags.
- ``log_artifact(s)``, ``log_text``, ``log_dict``, ``log_figure``, ``log_image``: files under the
  run's ``outputs/`` (``outputs/<artifact_path>/<name>``), like ``run.upload_file``.
- ``start_run``, ``end_run``, ``active_run``: there is one run, the Trainyard run
  (``info.run_id`` is ``TRAINYARD_RUN_ID``). Nested runs and runs started again after
  ``end_run`` log into it too. As in MLflow, a logging call starts the run when none is
  active, and ``start_run()`` while one is active needs ``nested=True``.
- ``set_experiment``, ``set_tracking_uri``: the run keeps its experiment and its tracking URI
  (``MLFLOW_TRACKING_URI``, ``trainyard://runs/NAME?workspace=PATH``). Another value prints a
  one-line note.
- ``autolog()``, ``mlflow.sklearn.autolog()``: scikit-learn estimators log their params and
  training metrics when they fit. ``mlflow.pytorch|tensorflow|keras.autolog()`` are accepted and log nothing.

Outside a run (no ``TRAINYARD_TRACKING_DIR``) the calls print what they would have logged, like
``trainyard_run``'s offline run. Bad input raises ``mlflow.exceptions.InvalidInput`` naming the
call. It is an ``MlflowException`` and also a TypeError and a ValueError. The rest of MLflow's
API (``MlflowClient``, ``log_model``, search) is not provided: using it raises an error that
says so.

The calls live in ``_runs``, ``_tracking_uri``, ``_metrics`` and ``_artifacts`` (argument checks in
``_checks``); their names start with an underscore so that none can pass for a module of the
real MLflow (``import mlflow.artifacts`` must still fail here).
"""

# Beside the API (__all__), the public names the module had before it was split are kept.
from trainyard_run import MetricValueError, Run  # noqa: F401
from trainyard_run.envvars import ENV_MLFLOW_TRACKING_URI as ENV_TRACKING_URI  # noqa: F401
from trainyard_run.envvars import ENV_TRACKING_DIR  # noqa: F401

from mlflow._artifacts import (  # noqa: F401
    ARTIFACTS_DIR,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_text,
)
from mlflow._metrics import log_metric, log_metrics, log_param, log_params
from mlflow._runs import (  # noqa: F401
    ActiveRun,
    Experiment,
    RunInfo,
    active_run,
    end_run,
    last_active_run,
    set_experiment,
    set_tag,
    set_tags,
    start_run,
)
from mlflow._tracking_uri import get_tracking_uri, set_tracking_uri
from mlflow.exceptions import InvalidInput, MlflowException  # noqa: F401

# Reprs name it as before the split.
ActiveRun.__module__ = __name__

__all__ = [
    "ActiveRun",
    "MlflowException",
    "active_run",
    "autolog",
    "end_run",
    "get_tracking_uri",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]

_SUBMODULES = frozenset({"exceptions", "keras", "pytorch", "sklearn", "tensorflow"})


# ---- autologging ---------------------------------------------------------------------------


def autolog(disable: bool = False, silent: bool = False, **kwargs: object) -> None:
    """Automatic logging for what Trainyard supports: scikit-learn's ``fit``, when it is installed.

    MLflow's other options (``log_models``, ``log_input_examples``...) are accepted and ignored.
    """
    from mlflow import sklearn as mlflow_sklearn

    if mlflow_sklearn.sklearn_installed():
        mlflow_sklearn.autolog(disable=disable, silent=silent)


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:  # `import mlflow; mlflow.sklearn.autolog()` works in MLflow too
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"module 'mlflow' has no attribute {name!r}: inside a Trainyard run `mlflow` is Trainyard's "
        "stand-in, which provides the logging calls (log_metric(s), log_param(s), set_tag(s), "
        "log_artifact(s), log_text, log_dict, start_run, autolog, ...), not the rest of MLflow's API"
    )
