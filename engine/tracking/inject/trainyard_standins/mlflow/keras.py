"""``mlflow.keras`` under Trainyard: ``autolog()`` is accepted and logs nothing by itself.

MLflow's keras autologging hooks Keras' ``fit``; Trainyard does not. Log with
``mlflow.log_metric(...)`` (or a Keras callback that calls it) and save models under ``./outputs``,
which Trainyard keeps with the run. An environment with MLflow installed uses the real one instead.
"""

from mlflow._flavor import flavor_getattr
from mlflow._runs import note

__all__ = ["autolog"]

_noted: list = []


def autolog(disable: bool = False, silent: bool = False, **kwargs: object) -> None:
    """Accepted for scripts written for MLflow; prints a one-line note the first time."""
    if not disable and not silent and not _noted:
        _noted.append(True)
        note(
            "mlflow.keras.autolog(): Trainyard does not log Keras training by itself; "
            "log with mlflow.log_metric(...)"
        )


__getattr__ = flavor_getattr("keras", "model.save('outputs/model.keras')")
