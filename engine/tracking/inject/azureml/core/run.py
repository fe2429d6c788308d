"""``azureml.core.run``: the in-run ``Run`` (``from azureml.core.run import Run``)."""

from trainyard_run import Run, get_run

__all__ = ["Run", "get_run"]
