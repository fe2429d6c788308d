"""Scalar metrics and params: ``log_metric(s)``, ``log_param(s)``."""

from trainyard_run import Run
from trainyard_run.values import short

from mlflow._checks import check_key, check_step, metric_value, to_seconds
from mlflow._runs import current_run
from mlflow.exceptions import InvalidInput

__all__ = ["log_metric", "log_metrics", "log_param", "log_params"]


def _log_checked(run: "Run", key: str, value: object, step: "int | None", seconds: "float | None") -> None:
    if seconds is None:
        run.log(key, value, step=step)
    else:
        run._log_at(key, value, step, seconds)


def log_metric(
    key: str,
    value: float,
    step: "int | None" = None,
    timestamp: "int | None" = None,
    synchronous: "bool | None" = None,
    run_id: "str | None" = None,
    model_id: "str | None" = None,
    dataset: object = None,
) -> None:
    """Log one value of the scalar metric ``key`` (at ``step``; without it, the key's next step)."""
    key = check_key(key, "log_metric")
    where = None
    checked: object = value  # MLflow's signature says float; scripts pass numpy/torch scalars too
    if type(value) is not float and type(value) is not int:
        where = f"mlflow.log_metric({key!r}, {short(value)})"
        checked = metric_value(value, where)
    if (step is not None and type(step) is not int) or timestamp is not None:
        where = where or f"mlflow.log_metric({key!r}, {short(checked)})"
        step = check_step(step, where[:-1] + f", step={short(step)})")
        seconds = to_seconds(timestamp, where[:-1] + f", timestamp={short(timestamp)})")
    else:
        seconds = None
    _log_checked(current_run(), key, checked, step, seconds)


def log_metrics(
    metrics: dict,
    step: "int | None" = None,
    synchronous: "bool | None" = None,
    run_id: "str | None" = None,
    timestamp: "int | None" = None,
    model_id: "str | None" = None,
    dataset: object = None,
) -> None:
    """Log several metrics at once; nothing is logged when any value is not a number."""
    if not isinstance(metrics, dict):
        raise InvalidInput(f"mlflow.log_metrics(...): expected a dict of metric name -> number, got "
                           f"{type(metrics).__name__}")
    step = check_step(step, f"mlflow.log_metrics(..., step={short(step)})")
    seconds = to_seconds(timestamp, f"mlflow.log_metrics(..., timestamp={short(timestamp)})")
    checked = []
    for key, value in metrics.items():
        name = check_key(key, "log_metrics")
        checked.append((name, metric_value(value, f"mlflow.log_metrics({{{name!r}: {short(value)}}})")))
    run = current_run()
    for name, value in checked:
        _log_checked(run, name, value, step, seconds)


def log_param(key: str, value: object, synchronous: "bool | None" = None) -> object:
    """Record one parameter of the run; returns ``value`` as MLflow does."""
    key = check_key(key, "log_param")  # before current_run(): a rejected call starts no run
    current_run().log_param(key, value)
    return value


def log_params(params: dict, synchronous: "bool | None" = None, run_id: "str | None" = None) -> None:
    """Record several parameters of the run."""
    if not isinstance(params, dict):
        raise InvalidInput(f"mlflow.log_params(...): expected a dict, got {type(params).__name__}")
    checked = {check_key(k, "log_params"): v for k, v in params.items()}
    if checked:
        current_run().log_params(checked)
