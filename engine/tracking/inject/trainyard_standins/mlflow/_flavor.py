"""What the flavor modules (``mlflow.sklearn``, ``mlflow.pytorch``) share."""

from collections.abc import Callable

__all__ = ["flavor_getattr"]

_MODEL_CALLS = ("log_model", "save_model", "load_model")


def flavor_getattr(flavor: str, save_example: str) -> "Callable[[str], object]":
    """A PEP 562 ``__getattr__`` for ``mlflow.<flavor>``: the model calls say how to keep a model."""

    def __getattr__(name: str) -> object:
        if name in _MODEL_CALLS:
            raise AttributeError(
                f"mlflow.{flavor}.{name} is not provided inside a Trainyard run: save the model under ./outputs "
                f"(e.g. {save_example}) and Trainyard keeps it with the run"
            )
        raise AttributeError(f"module 'mlflow.{flavor}' has no attribute {name!r}")

    return __getattr__
