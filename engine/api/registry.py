"""The registry manager: models and data assets of one workspace, and the experiments' summaries."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import entities as E
from engine.data.assets import create_data_asset, register_model_files
from engine.errors import InvalidSpec, NotFound
from engine.experiments import PrimaryMetric
from engine.names import NAME_HINT, is_valid_name
from engine.workspace import WorkspaceLocation

if TYPE_CHECKING:
    from engine.store.protocol import Store

__all__ = ["RegistryManager"]


class RegistryManager:
    def __init__(self, store: Store, location: WorkspaceLocation) -> None:
        self.store = store
        self.location = location

    # ------------------------------------------------------------------ models
    def register_model(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        run_name: str | None = None,
        description: str = "",
        tags: dict[str, Any] | None = None,
    ) -> E.Model:
        """Copy a file or folder into the workspace as the next version of model `name`.

        With `run_name`, a relative `path` is looked up in that run (e.g. `outputs/model.pt`).
        """
        _check_name(name, "model")
        src = Path(path)
        if run_name is not None:
            run = self.store.get_run(run_name)
            if not src.is_absolute():
                src = Path(run.run_dir) / src
                if not src.exists():
                    raise NotFound(f"job {run_name!r} has no file {str(path)!r}",
                                   "model paths are relative to the run, e.g. outputs/model.pt"
                                   + ("" if run.is_terminal else f"; the run is still {run.status}"))
        return register_model_files(self.store, self.location.models_dir, name=name, src=src, run_name=run_name,
                                    description=description, tags=tags)

    def download_model(self, name: str, version: int | None, dest: Path) -> Path:
        model = self.store.get_model(name, version)
        src = Path(model.path)
        target = dest / name / str(model.version)
        target.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target / src.name, dirs_exist_ok=True)
        else:
            shutil.copy2(src, target / src.name)
        return target / src.name

    # ------------------------------------------------------------------ data assets
    def get_model(self, name: str, version: int | None = None) -> E.Model:
        return self.store.get_model(name, version)

    def list_models(self, name: str | None = None) -> list[E.Model]:
        return self.store.list_models(name)

    def create_data_asset(self, name: str, path: str, description: str = "", *, kind: str | None = None,
                          version: int | None = None, tags: dict[str, Any] | None = None, copy: bool = True,
                          source: str | None = None) -> E.DataAsset:
        """Register a local file or folder (snapshotted into the workspace's content store; with
        copy=False a reference checked by its checksum) or an http(s) URL as a version of `name`."""
        return create_data_asset(self.store, self.location.data_dir, name=name, path=path, kind=kind,
                                 version=version, description=description, tags=tags, copy=copy, source=source)

    def list_data_assets(self, name: str | None = None, include_archived: bool = False) -> list[E.DataAsset]:
        return self.store.list_data_assets(name, include_archived)

    def get_data_asset(self, name: str, version: int | None = None) -> E.DataAsset:
        return self.store.get_data_asset(name, version)

    def archive_data_asset(self, name: str, version: int | None = None, archived: bool = True) -> list[E.DataAsset]:
        return self.store.archive_data_asset(name, version, archived)

    def asset_lineage(self, asset_kind: str, name: str, version: int | None = None) -> list[E.RunData]:
        """The runs that produced (direction output) and consumed (input) the asset."""
        return self.store.asset_usage(asset_kind, name, version)

    # ------------------------------------------------------------------ experiments
    def experiment_metrics(self, runs_per_experiment: int = 20) -> dict[str, PrimaryMetric]:
        """experiment name -> its PrimaryMetric over its newest runs (those without metrics are
        left out). See PrimaryMetric for how the metric is chosen."""
        found: dict[str, PrimaryMetric] = {}
        for exp in self.store.list_experiments():
            summaries = [(run, self.store.metric_summaries(run.name))
                         for run in self.store.list_runs(experiment=exp.name, limit=runs_per_experiment,
                                                         include_archived=True)]
            metric = PrimaryMetric.choose(summaries)
            if metric is not None:
                found[exp.name] = metric
        return found


def _check_name(name: str, what: str) -> None:
    if not is_valid_name(name):
        raise InvalidSpec(f"invalid {what} name {name!r}", NAME_HINT)
