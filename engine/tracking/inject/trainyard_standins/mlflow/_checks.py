"""Checking the arguments of MLflow's logging calls; bad input raises ``InvalidInput``."""

import math

from trainyard_run.values import MetricValueError, integer, number, short

from mlflow.exceptions import InvalidInput

__all__ = ["check_key", "check_step", "metric_value", "to_seconds"]


def check_key(key: object, call: str) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"mlflow.{call}({short(key)}, ...): the key must be a non-empty string, got "
                           f"{type(key).__name__} {short(key)}")
    return str(key)


def metric_value(value: object, where: str) -> object:
    t = type(value)
    if t is float or t is int:
        return value
    try:
        return number(value, "log", "")  # bools, numpy/torch scalars, Decimal...
    except MetricValueError:
        raise InvalidInput(f"{where}: metric values must be numbers (int or float), got "
                           f"{type(value).__name__} {short(value)}") from None


def check_step(step: object, where: str) -> "int | None":
    if step is None or type(step) is int:
        return step
    as_int = integer(step)  # numpy/torch integers
    if as_int is not None:
        return as_int
    raise InvalidInput(f"{where}: step must be an int, got {type(step).__name__} {short(step)}")


def to_seconds(timestamp: object, where: str) -> "float | None":
    """MLflow's timestamp (milliseconds since the epoch) in seconds, as the run records time."""
    if timestamp is None:
        return None
    as_int = integer(timestamp)
    if as_int is not None:
        return as_int / 1000.0
    if isinstance(timestamp, float) and math.isfinite(timestamp):
        return timestamp / 1000.0
    raise InvalidInput(f"{where}: timestamp must be milliseconds since the epoch (an int), got "
                       f"{type(timestamp).__name__} {short(timestamp)}")
