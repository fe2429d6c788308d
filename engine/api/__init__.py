"""The engine facade: what the CLI, the SDK and the studio call. Plain blocking calls, no Qt.

`Engine` is one open workspace. Its work is done by four managers, each over the layers below
(docs/architecture.md): `runs` (submit, watch, control, files), `environments` (the environments
a job can name, the build cache), `compute` (targets and their state) and `registry` (models,
data assets, experiment summaries). The methods on `Engine` itself are the front ends' surface and
forward to them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import entities as E
from engine.api.runs import RunsManager, size_on_disk
from engine.runs.control import QUEUED_GRACE_SECONDS
from engine.snapshots import SnapshotStore
from engine.store.sql import SqlStore
from engine.workspace import resolve_workspace

if TYPE_CHECKING:
    # The other managers are made on first use: `job create` and `job list` load neither the
    # pipeline submitter nor the SSH image builder nor the compute probes (~0.2 s).
    from engine.api.compute import ComputeManager, GpuReport
    from engine.api.environments import EnvironmentsManager, HostPruned
    from engine.api.pipelines import PipelinesManager
    from engine.api.registry import RegistryManager
    from engine.api.rundiff import RunDiff
    from engine.compute.gpus import GpuInventory
    from engine.compute.status import ComputeState
    from engine.compute.vmsizes import AmlComputeMapping
    from engine.data.preview import Preview
    from engine.entities import EnvironmentSpec
    from engine.environments.build import BuildEvent, BuiltEnvironment
    from engine.environments.lock import Lock
    from engine.environments.status import BuildStatus
    from engine.experiments import PrimaryMetric
    from engine.jobs.pipeline import ComponentSpec, PipelineSpec
    from engine.jobs.spec import JobSpec, SweepSpec
    from engine.runtime.files import RunFiles
    from engine.snapshots.diff import SnapshotDiff
    from engine.tracking.tbserver import TensorBoardServer
    from engine.workspace import WorkspaceLocation

__all__ = ["BUILTIN_COMPUTE", "QUEUED_GRACE_SECONDS", "Engine"]

BUILTIN_COMPUTE = E.BUILTIN_COMPUTE


class Engine:
    """One open workspace."""

    def __init__(self, location: WorkspaceLocation, *, reconcile: bool = True) -> None:
        self.location = location.ensure()
        self.store = SqlStore(location.store_url)
        self.snapshots = SnapshotStore(self.location.snapshots_dir)
        self.runs = RunsManager(self.store, self.location, self.snapshots)
        if reconcile:
            self.reconcile()

    @cached_property
    def environments(self) -> EnvironmentsManager:
        from engine.api.environments import EnvironmentsManager

        return EnvironmentsManager(self.store, self.location)

    @cached_property
    def compute(self) -> ComputeManager:
        from engine.api.compute import ComputeManager

        return ComputeManager(self.store)

    @cached_property
    def registry(self) -> RegistryManager:
        from engine.api.registry import RegistryManager

        return RegistryManager(self.store, self.location)

    @cached_property
    def pipelines(self) -> PipelinesManager:
        from engine.api.pipelines import PipelinesManager

        return PipelinesManager(self.store, self.location, self.snapshots)

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, reconcile: bool = True) -> Engine:
        return cls(resolve_workspace(path), reconcile=reconcile)

    def close(self) -> None:
        self.store.close()

    @property
    def store_url(self) -> str:
        return self.store.url

    # ------------------------------------------------------------------ runs
    def submit(self, spec: JobSpec | SweepSpec, on_warning: Callable[[str], None] | None = None,
               on_progress: Callable[[str], None] | None = None) -> E.Run:
        """Snapshot the code, record the run and start its supervisor. Returns at once (after
        downloading http(s) inputs not in the cache yet, reported through `on_progress`).
        A sweep records the sweep run and starts its controller, which submits the trials."""
        return self.runs.submit(spec, on_warning, on_progress)

    def submit_pipeline(self, spec: PipelineSpec, on_warning: Callable[[str], None] | None = None,
                        on_progress: Callable[[str], None] | None = None) -> E.Run:
        """Check every step (compute, environment, component, code, command, inputs), snapshot the
        steps' code, record the pipeline run and start its controller, which runs the steps as child
        runs as their inputs become ready (reusing earlier identical steps). Returns the pipeline run
        at once (docs/pipelines.md)."""
        return self.pipelines.submit(spec, on_warning, on_progress)

    def pipeline_graph(self, run_name: str) -> E.PipelineGraph:
        """The steps of pipeline run `run_name` as they stand (child run, status, times, reuse) and
        the data edges between them; cheap enough to poll for a live view."""
        return self.pipelines.graph(run_name)

    def validate_pipeline(self, spec: PipelineSpec) -> None:
        """Every check `submit_pipeline` makes, without recording a run."""
        self.pipelines.validate(spec)

    def create_component(self, spec: ComponentSpec, on_warning: Callable[[str], None] | None = None) -> ComponentSpec:
        """Register a command component (engine.specs.component) as the next version of its name;
        its code folder is snapshotted now."""
        return self.pipelines.create_component(spec, on_warning)

    def get_component(self, name: str, version: int | None = None) -> ComponentSpec:
        """Component `name` at `version` (None: its latest)."""
        return self.pipelines.get_component(name, version)

    def list_components(self, name: str | None = None) -> list[ComponentSpec]:
        """Every registered version of every component (or of `name`)."""
        return self.pipelines.list_components(name)

    def validate(self, spec: JobSpec | SweepSpec) -> None:
        """Every check `submit` makes, without creating anything (`trainyard job validate`):
        raises the error a submit of `spec` would."""
        self.runs.validate(spec)

    def rerun(self, name: str, *, from_lock: bool = True) -> E.Run:
        """Submit run `name` again, exactly as it was launched (the same code snapshot, command,
        environment, compute, experiment and limits). Its environment is rebuilt from the run's
        lock (the exact packages it had; InvalidState naming the package when the index no
        longer has one), or from its spec as it is now with `from_lock=False`. Returns at once."""
        return self.runs.rerun(name, from_lock=from_lock)

    def store_has_no_run(self, name: str) -> None:
        """LaunchFailed when a run named `name` exists (job names are unique in a workspace)."""
        self.runs.check_name_is_free(name)

    def get_run(self, name: str) -> E.Run:
        return self.runs.get(name)

    def list_runs(self, **filters: Any) -> list[E.Run]:
        return self.runs.list(**filters)

    def query_runs(self, **query: Any) -> list[E.Run]:
        """One page of runs, filtered and sorted by the store (text, sort, descending, offset,
        limit, include_archived, top_level: no child runs): a table of 100,000 runs reads only
        the rows it shows."""
        return self.runs.query(**query)

    def count_runs(self, *, text: str = "", include_archived: bool = True, top_level: bool = False) -> int:
        return self.runs.count(text=text, include_archived=include_archived, top_level=top_level)

    def child_counts(self, names: Sequence[str], include_archived: bool = True) -> dict[str, int]:
        """{run: how many child runs it has} for those of `names` that have any (one query)."""
        return self.runs.child_counts(names, include_archived)

    def runs_changed_since(self, since: float) -> list[E.Run]:
        return self.runs.changed_since(since)

    def archived_among(self, names: Sequence[str]) -> set[str]:
        return self.runs.archived_among(names)

    def list_experiments(self) -> list[E.Experiment]:
        return self.runs.list_experiments()

    def set_tags(self, name: str, tags: dict[str, Any]) -> None:
        """Replace run `name`'s tags."""
        self.runs.set_tags(name, tags)

    def update_run(self, name: str, *, display_name: str | None = None, description: str | None = None,
                   tags: dict[str, Any] | None = None) -> E.Run:
        """Change what describes a run (`job update`): its display name, description or tags
        (the whole mapping); None leaves a field as it is."""
        return self.runs.update(name, display_name=display_name, description=description, tags=tags)

    def children(self, name: str) -> list[E.Run]:
        """The runs submitted as children of run `name` (`Run.submit_child`), oldest first."""
        return self.runs.children(name)

    def run_files(self, name: str) -> RunFiles:
        return self.runs.files(name)

    def start_tensorboard(self, names: Sequence[str], port: int | None = None) -> TensorBoardServer:
        """TensorBoard over the runs' logs/ folders (each run a named log dir), on a free local
        port; the caller stops it (``server.stop()``)."""
        from engine.tracking.tbserver import start_tensorboard

        logdirs = {self.get_run(n).name: self.run_files(n).logs for n in names}
        return start_tensorboard(logdirs, self.location.storage / "tensorboard", port)

    def cancel(self, name: str, reason: str | None = None) -> E.Run:
        """Ask the supervisor to end the run's whole process tree (TERM, then KILL). `reason`
        replaces "canceled by the user" as the run's error."""
        return self.runs.cancel(name, reason)

    def archive(self, name: str, archived: bool = True) -> E.Run:
        """Hide run `name` from run lists (or, with archived=False, show it again). Nothing is
        deleted: its folder, metrics and registered models stay."""
        return self.runs.archive(name, archived)

    def wait(self, name: str, timeout: float | None = None, poll: float = 0.2) -> E.Run:
        return self.runs.wait(name, timeout, poll)

    def follow_log(self, name: str, write: Callable[[str], None], poll: float = 0.1) -> E.Run:
        """Write the driver log as it grows until the run ends; returns the final run."""
        return self.runs.follow_log(name, write, poll)

    def reconcile(self, only: str | None = None) -> list[str]:
        """Mark Failed the active runs of this host whose supervisor died. Returns their names."""
        return self.runs.reconcile(only)

    def metric_history(self, name: str, key: str) -> E.MetricHistory:
        return self.runs.metric_history(name, key)

    def latest_metrics(self, name: str) -> dict[str, Any]:
        return self.runs.latest_metrics(name)

    def metric_summaries(self, name: str) -> list[E.MetricSummary]:
        return self.runs.metric_summaries(name)

    def metric_histories_since(self, name: str, starts: dict[str, int]) -> dict[str, E.MetricHistory]:
        """key -> the points of that scalar metric from index starts[key] on."""
        return self.runs.metric_histories_since(name, starts)

    def metric_objects(self, name: str, key: str | None = None) -> list[E.MetricObject]:
        """The list/row/table/image values run `name` logged (of `key`, or all)."""
        return self.runs.metric_objects(name, key)

    def metric_keys(self, limit: int = 500) -> list[str]:
        """Scalar metric keys logged in this workspace (for metric columns)."""
        return self.runs.metric_keys(limit)

    def latest_values(self, names: Sequence[str], keys: Sequence[str]) -> dict[str, dict[str, float]]:
        """{run: {key: latest value}} of scalar metrics, in one query."""
        return self.runs.latest_values(names, keys)

    def run_environment(self, name: str) -> EnvironmentSpec | None:
        """The EnvironmentSpec run `name` was launched with, or None (Trainyard's own interpreter)."""
        return self.runs.environment(name)

    def snapshot_diff(self, old_run: str, new_run: str) -> SnapshotDiff:
        """From the code of `old_run` to the code of `new_run`."""
        return self.runs.snapshot_diff(old_run, new_run)

    def run_lock(self, name: str) -> Lock | None:
        """The environment lock of run `name` (the exact packages it ran with), or None."""
        return self.runs.lock(name)

    def diff_runs(self, a: str, b: str) -> RunDiff:
        """What differs from run `a` to run `b`: code, environment packages, parameters and
        inputs, compute; differences first (`trainyard job diff`, the studio's Compare)."""
        return self.runs.diff(a, b)

    def download(self, name: str, dest: Path, *, include_logs: bool = False) -> list[Path]:
        """Copy the run's outputs/ (and logs with include_logs) into dest/<run name>/."""
        return self.runs.download(name, dest, include_logs=include_logs)

    def download_files(self, name: str, paths: list[str], dest: Path) -> list[Path]:
        """Copy files or folders of run `name` (relative to its folder) into dest/<run name>/."""
        return self.runs.download_files(name, paths, dest)

    # ------------------------------------------------------------------ environments
    def list_all_environments(self) -> list[EnvironmentSpec]:
        """Every registered environment version, then the curated ones."""
        return self.environments.list_all()

    def environment_lock(self, ref: str | EnvironmentSpec) -> Lock:
        """The lock of an environment's build in this workspace (`trainyard environment lock`)."""
        return self.environments.lock(ref)

    def register_environment_from_run(self, run: str, name: str | None = None) -> EnvironmentSpec:
        """Register run `run`'s environment, locked to the exact packages it ran with."""
        return self.environments.register_from_run(run, self.runs.environment(run), self.runs.lock(run), name)

    def resolve_environment(self, ref: str) -> EnvironmentSpec:
        """`NAME`, `NAME:VERSION`, `NAME@latest` or an azureml: reference, registered or curated."""
        return self.environments.resolve(ref)

    def register_environment(self, spec: EnvironmentSpec, *, reuse_identical: bool = False) -> EnvironmentSpec:
        """Register `spec` as the next version of its name (or spec.version if free). With
        `reuse_identical`, an unchanged environment returns its latest registered version."""
        return self.environments.register(spec, reuse_identical=reuse_identical)

    def environment_created_at(self, name: str, version: int) -> float | None:
        return self.environments.created_at(name, version)

    def environment_build_status(self, spec: EnvironmentSpec) -> BuildStatus:
        return self.environments.build_status(spec)

    def environment_build_log(self, spec: EnvironmentSpec, max_bytes: int = 512 * 1024) -> str:
        return self.environments.build_log(spec, max_bytes)

    def build_environment(self, spec: EnvironmentSpec | str, on_event: Callable[[BuildEvent], None] | None = None,
                          *, rebuild: bool = False) -> BuiltEnvironment:
        return self.environments.build(spec, on_event, rebuild=rebuild)

    def environments_in_use(self) -> set[str]:
        return self.environments.in_use()

    def prune_environments(self) -> tuple[list[dict[str, Any]], set[str]]:
        return self.environments.prune()

    def prune_environments_on(self, compute: str) -> HostPruned:
        """Remove the environments built on an SSH target's host that no active run uses."""
        return self.environments.prune_on(compute)

    # ------------------------------------------------------------------ compute
    def list_compute_targets(self) -> list[E.ComputeTarget]:
        """The built-in targets (local, docker), then the registered ones by name."""
        return self.compute.list_targets()

    def get_compute_target(self, name: str) -> E.ComputeTarget:
        """`local`, `docker`, `NAME` or `azureml:NAME` -> the target (NotFound lists the known ones)."""
        return self.compute.get_target(name)

    def create_compute_target(self, target: E.ComputeTarget) -> E.ComputeTarget:
        """Register a validated target (engine.specs.compute) in the workspace."""
        return self.compute.create_target(target)

    def create_amlcompute_target(self, name: str, *, vm_size: str | None, min_nodes: int = 0, max_nodes: int = 4,
                                 idle_seconds_before_scaledown: int | None = None,
                                 description: str = "") -> AmlComputeMapping:
        """An Azure ML compute cluster (`AmlCompute`, `compute create --type amlcompute`) as a local
        target: up to `max_nodes` runs at a time, the GPUs of `vm_size` as far as this machine has
        them. Returns the target and a one-line note of what could not be honoured ("" if none)."""
        return self.compute.create_amlcompute(name, vm_size=vm_size, min_nodes=min_nodes, max_nodes=max_nodes,
                                              idle_seconds_before_scaledown=idle_seconds_before_scaledown,
                                              description=description)

    def delete_compute_target(self, name: str) -> E.ComputeTarget:
        return self.compute.delete_target(name)

    def compute_states(self, targets: list[E.ComputeTarget] | None = None) -> dict[str, ComputeState]:
        return self.compute.states(targets)

    def local_gpus(self) -> GpuInventory:
        return self.compute.local_gpus()

    def gpu_report(self, target: E.ComputeTarget, inventory: GpuInventory | None = None) -> GpuReport:
        """The GPUs of `target`'s machine, which run holds each, and the runs waiting for them."""
        return self.compute.gpu_report(target, inventory)

    def slurm_overview(self, target: E.ComputeTarget) -> Any:
        """A Slurm target's partitions, nodes (idle/mixed/allocated), GPUs and the user's queue."""
        return self.compute.slurm_overview(target)

    # ------------------------------------------------------------------ models, data, experiments
    def register_model(self, name: str, path: str | os.PathLike[str], *, run_name: str | None = None,
                       description: str = "", tags: dict[str, Any] | None = None) -> E.Model:
        """Copy a file or folder into the workspace as the next version of model `name`.
        With `run_name`, a relative `path` is looked up in that run (e.g. `outputs/model.pt`)."""
        return self.registry.register_model(name, path, run_name=run_name, description=description, tags=tags)

    def download_model(self, name: str, version: int | None, dest: Path) -> Path:
        return self.registry.download_model(name, version, dest)

    def get_model(self, name: str, version: int | None = None) -> E.Model:
        """Model `name` at `version` (None: its latest)."""
        return self.registry.get_model(name, version)

    def list_models(self, name: str | None = None) -> list[E.Model]:
        """Every version of every model (or of model `name`)."""
        return self.registry.list_models(name)

    def create_data_asset(self, name: str, path: str, description: str = "", *, kind: str | None = None,
                          version: int | None = None, tags: dict[str, Any] | None = None, copy: bool = True,
                          source: str | None = None) -> E.DataAsset:
        """Register a data asset version (engine.data.assets.create_data_asset)."""
        return self.registry.create_data_asset(name, path, description, kind=kind, version=version, tags=tags,
                                               copy=copy, source=source)

    def list_data_assets(self, name: str | None = None, include_archived: bool = False) -> list[E.DataAsset]:
        return self.registry.list_data_assets(name, include_archived)

    def archive_data_asset(self, name: str, version: int | None = None, archived: bool = True) -> list[E.DataAsset]:
        return self.registry.archive_data_asset(name, version, archived)

    def asset_lineage(self, asset_kind: str, name: str, version: int | None = None) -> list[E.RunData]:
        """The runs that produced (direction "output") and consumed ("input") a data asset or model."""
        return self.registry.asset_lineage(asset_kind, name, version)

    def preview_data(self, path: str, limit: int = 20) -> Preview:
        """The first rows of the first CSV/Parquet file at `path` (a data asset's or an output's)."""
        from engine.data.preview import preview_table

        return preview_table(path, limit)

    def run_data(self, name: str) -> list[E.RunData]:
        """What run `name` consumed and produced: exact asset versions and content hashes."""
        return self.runs.run_data(name)

    def download_output(self, name: str, output: str | None, dest: Path) -> list[Path]:
        """Copy one named output of run `name` (all of them when None) to dest/named-outputs/NAME."""
        return self.runs.download_output(name, output, dest)

    def get_data_asset(self, name: str, version: int | None = None) -> E.DataAsset:
        """Data asset `name` at `version` (None: its latest)."""
        return self.registry.get_data_asset(name, version)

    def experiment_metrics(self, runs_per_experiment: int = 20) -> dict[str, PrimaryMetric]:
        return self.registry.experiment_metrics(runs_per_experiment)

    @staticmethod
    def size_on_disk(path: str | os.PathLike[str]) -> int | None:
        """Bytes of a file, or of every file under a folder; None when it does not exist."""
        return size_on_disk(path)
