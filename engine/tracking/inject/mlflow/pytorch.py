"""``mlflow.pytorch`` under Trainyard: ``autolog()`` is accepted and logs nothing by itself.

MLflow's PyTorch autologging instruments PyTorch Lightning; Trainyard does not. Log with
``mlflow.log_metric(...)`` and save models under ``./outputs``, which Trainyard keeps with the run.
"""

from __future__ import annotations

import mlflow

__all__ = ["autolog"]

_noted: list = []


def autolog(disable: bool = False, silent: bool = False, **kwargs: object) -> None:
    """Accepted for scripts written for MLflow; prints a one-line note the first time."""
    if not disable and not silent and not _noted:
        _noted.append(True)
        mlflow._note("mlflow.pytorch.autolog(): Trainyard does not log PyTorch training by itself; "
                     "log with mlflow.log_metric(...)")


def __getattr__(name: str) -> object:
    if name in ("log_model", "save_model", "load_model"):
        raise AttributeError(
            f"mlflow.pytorch.{name} is not provided inside a Trainyard run: save the model under ./outputs "
            "(e.g. torch.save(model.state_dict(), 'outputs/model.pt')) and Trainyard keeps it with the run"
        )
    raise AttributeError(f"module 'mlflow.pytorch' has no attribute {name!r}")
