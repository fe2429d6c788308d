"""`Model`: a registered, versioned file or folder linked to the run that produced it."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class Model:
    def __init__(self, workspace: Any, name: str, version: int | None = None, **_ignored: Any) -> None:
        self.workspace = workspace
        m = workspace.engine.get_model(name, version)
        self._entity = m
        self.name = m.name
        self.version = m.version
        self.description = m.description
        self.tags = m.tags
        self.run_id = m.run_name

    @classmethod
    def register(cls, workspace: Any, model_path: str, model_name: str, tags: dict[str, Any] | None = None,
                 description: str = "", **_ignored: Any) -> Model:
        m = workspace.engine.register_model(model_name, model_path, description=description, tags=tags)
        return cls(workspace, m.name, m.version)

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def path(self) -> str:
        return self._entity.path

    def download(self, target_dir: str = ".", exist_ok: bool = False, **_ignored: Any) -> str:
        return str(self.workspace.engine.download_model(self.name, self.version, Path(target_dir)))

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, version={self.version})"
