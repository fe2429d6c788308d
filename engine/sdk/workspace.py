"""`Workspace`: a Trainyard workspace folder, found the way the seeds' `from_config()` expects."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from engine.api import Engine
from engine.errors import TrainyardError
from engine.sdk.compute import ComputeTarget
from engine.sdk.data import DATASTORES, Dataset, Datastore
from engine.sdk.environment import Environment
from engine.sdk.experiment import Experiment
from engine.sdk.model import Model
from engine.workspace import resolve_workspace


class Workspace:
    """A workspace. `Workspace.from_config()` is what control scripts call."""

    def __init__(self, path: str | os.PathLike[str] | None = None, resource_group: str | None = None,
                 workspace_name: str | None = None, *, engine: Engine | None = None, **azure: Any) -> None:
        """`Workspace(FOLDER)`, or Azure ML's `Workspace(subscription_id, resource_group, workspace_name,
        auth=...)`: the cloud ids mean nothing here, so that form opens the workspace `from_config()` finds."""
        if engine is None and (resource_group is not None or workspace_name is not None
                               or "subscription_id" in azure):
            engine = Workspace.from_config().engine
        self._engine = engine or Engine.open(path)

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None, _file_name: str | None = None,
                    **_ignored: Any) -> Workspace:
        """-w / $TRAINYARD_WORKSPACE / nearest .trainyard/ / default; a seed-style
        `.azureml/config.json` may name a folder with `trainyard_workspace`."""
        config = _find_azureml_config(Path(path) if path else Path.cwd(), _file_name)
        if config is not None:
            data = json.loads(config.read_text() or "{}")
            folder = data.get("trainyard_workspace")
            if folder:
                return cls((config.parent.parent / folder).resolve())
        return cls(resolve_workspace(None).folder)

    @classmethod
    def get(cls, name: str | None = None, **_ignored: Any) -> Workspace:
        return cls.from_config()

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def name(self) -> str:
        return self._engine.location.name

    @property
    def location(self) -> str:
        return str(self._engine.location.folder)

    @property
    def compute_targets(self) -> dict[str, Any]:
        """The built-in targets (`local`, `docker`) and those created in this workspace, by name."""
        return {t.name: ComputeTarget(self, t.name) for t in self._engine.list_compute_targets()}

    def get_default_datastore(self) -> Datastore:
        """`workspaceblobstore`: a folder of this workspace (engine.sdk.data)."""
        return Datastore(self)

    @property
    def datastores(self) -> dict[str, Datastore]:
        return {name: Datastore(self, name) for name in DATASTORES}

    @property
    def datasets(self) -> dict[str, Any]:
        """Registered data assets (latest versions) as datasets, by name."""
        return Dataset.get_all(self)

    @property
    def experiments(self) -> dict[str, Any]:
        return {e.name: Experiment(self, e.name) for e in self._engine.list_experiments()}

    @property
    def environments(self) -> dict[str, Any]:
        """Registered environments (latest versions) and curated ones by name; any other name
        that resolves (an Azure ML curated name, `NAME:VERSION`) works with [] too."""
        return _Environments(self, Environment.list(self))

    @property
    def models(self) -> dict[str, Any]:
        latest: dict[str, Any] = {}
        for m in self._engine.list_models():
            latest[m.name] = Model(self, m.name, m.version)
        return latest

    def get_details(self) -> dict[str, Any]:
        return {"name": self.name, "location": self.location, "store": self._engine.store_url}

    def __repr__(self) -> str:
        return f"Workspace(name={self.name!r}, location={self.location!r})"


class _NoAuthentication:
    """Azure ML's credentials (`InteractiveLoginAuthentication(tenant_id=...)`, a service principal,
    ...): accepted and unused, a workspace here needs no sign-in."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def get_authentication_header(self) -> dict[str, str]:
        return {}


class InteractiveLoginAuthentication(_NoAuthentication):
    pass


class ServicePrincipalAuthentication(_NoAuthentication):
    pass


class MsiAuthentication(_NoAuthentication):
    pass


class AzureCliAuthentication(_NoAuthentication):
    pass


class _Environments(dict[str, Any]):
    def __init__(self, workspace: Workspace, found: dict[str, Any]) -> None:
        super().__init__(found)
        self._workspace = workspace

    def __missing__(self, key: str) -> Any:
        return Environment.get(self._workspace, key)  # NotFound suggests close names

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        try:
            self[str(key)]
        except TrainyardError:
            return False
        return True


def _find_azureml_config(start: Path, file_name: str | None) -> Path | None:
    start = start.resolve()
    if start.is_file():
        return start
    names = [file_name] if file_name else ["config.json"]
    for folder in (start, *start.parents):
        for sub in (".azureml", ""):
            for n in names:
                cand = folder / sub / n if sub else folder / n
                if sub and cand.is_file():
                    return cand
    return None
