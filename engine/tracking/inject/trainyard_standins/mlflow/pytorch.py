"""``mlflow.pytorch`` under Trainyard: ``autolog()`` is accepted and logs nothing by itself.

MLflow's PyTorch autologging instruments PyTorch Lightning; Trainyard does not. Log with
``mlflow.log_metric(...)`` and save models under ``./outputs``, which Trainyard keeps with the run.
"""

from mlflow._flavor import flavor_getattr
from mlflow._runs import note

__all__ = ["autolog"]

_noted: list = []


def autolog(disable: bool = False, silent: bool = False, **kwargs: object) -> None:
    """Accepted for scripts written for MLflow; prints a one-line note the first time."""
    if not disable and not silent and not _noted:
        _noted.append(True)
        note("mlflow.pytorch.autolog(): Trainyard does not log PyTorch training by itself; "
                     "log with mlflow.log_metric(...)")


__getattr__ = flavor_getattr("pytorch", "torch.save(model.state_dict(), 'outputs/model.pt')")
