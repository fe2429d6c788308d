"""`Dataset`: registered data assets (a local file/folder or URL, versioned)."""

from __future__ import annotations

from typing import Any


class Dataset:
    def __init__(self, workspace: Any, name: str, version: int, path: str) -> None:
        self.workspace = workspace
        self.name = name
        self.version = version
        self.path = path

    @classmethod
    def get_by_name(cls, workspace: Any, name: str, version: str | int = "latest") -> Dataset:
        v = None if version == "latest" else int(version)
        asset = workspace.engine.get_data_asset(name, v)
        return cls(workspace, asset.name, asset.version, asset.path)

    def as_mount(self) -> str:
        return self.path

    def as_download(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, version={self.version}, path={self.path!r})"
