"""What each input type must look like on disk (the same check for a local path, a registered
data asset and a model)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["type_problem"]


def type_problem(kind: str, path: Path) -> str | None:
    """Why the file or folder at `path` cannot be an input of type `kind`; None when it can."""
    if kind == "uri_file":
        return None if path.is_file() else "is a folder, but the input's type is uri_file (one file)"
    if kind == "custom_model":
        return None  # a file or a folder, as the user's framework saves it
    if not path.is_dir():
        return f"is a file, but the input's type is {kind} (a folder)"
    if kind == "mltable" and not (path / "MLTable").is_file():
        return "has no MLTable file, which an mltable input needs (use type: uri_folder for a plain folder)"
    if kind == "mlflow_model" and not (path / "MLmodel").is_file():
        return "has no MLmodel file, which an mlflow_model input needs (use type: custom_model otherwise)"
    return None
