"""Typed, user-facing errors.

Every error a user can cause is a ``TrainyardError``: it carries a message that says what was
expected and what was found, and a hint that says what to do. The CLI prints both (no traceback)
and exits non-zero; the studio shows them through one presenter.
"""

from __future__ import annotations


class TrainyardError(Exception):
    """Root of all user-facing errors."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message

    def one_line(self) -> str:
        """'message (hint)': the error inside another text (a run's error, a list entry)."""
        return self.message + (f" ({self.hint})" if self.hint else "")


class NotFound(TrainyardError):
    """A named thing (job, experiment, model, compute target, file) does not exist."""


class InvalidSpec(TrainyardError):
    """A job/environment/compute spec or an argument is malformed; names file, line and field."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        super().__init__(where + message, hint)
        self.file = file
        self.line = line
        self.field = field


class SnapshotTooLarge(TrainyardError):
    """The source directory exceeds the snapshot size or file-count limit."""


class WorkspaceError(TrainyardError):
    """The workspace folder or its store cannot be used (missing, unwritable, wrong schema)."""


class LaunchFailed(TrainyardError):
    """A run could not be started."""


class InvalidState(TrainyardError):
    """The operation does not apply to the object's current state (e.g. cancel a finished run)."""


class MetricValueError(TrainyardError, TypeError):
    """A logged metric value is not a number."""


class Cancelled(TrainyardError):
    """A long operation was cancelled by the user."""


class RunFailed(TrainyardError):
    """A run the caller waited on did not complete (Failed or Canceled)."""


class EnvBuildFailed(TrainyardError):
    """Building an environment (venv, conda, Docker image) failed; the message carries the tool's
    command, exit code and the tail of its output."""


class DockerUnavailable(TrainyardError):
    """The Docker daemon cannot be reached."""
