"""``mlflow.exceptions`` under Trainyard: the exception scripts catch (``except MlflowException``)."""

__all__ = ["InvalidInput", "MlflowException"]


class MlflowException(Exception):
    """An MLflow error; ``message`` and ``error_code`` as in MLflow."""

    def __init__(self, message: object, error_code: str = "INTERNAL_ERROR", **kwargs: object) -> None:
        self.message = str(message)
        self.error_code = error_code
        super().__init__(self.message)


class InvalidInput(MlflowException, TypeError, ValueError):
    """A bad argument to a logging call (a metric that is not a number, an empty key...).

    MLflow raises ``MlflowException`` here; it is also a TypeError and a ValueError, like
    ``trainyard_run``'s errors, so whichever ``except`` clause a script uses catches it.
    """

    def __init__(self, message: object) -> None:
        super().__init__(message, error_code="INVALID_PARAMETER_VALUE")
