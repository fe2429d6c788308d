"""The runs manager: submit, watch, control and read runs, and copy their files."""

from __future__ import annotations

import builtins
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import entities as E
from engine.api.rundiff import RunDiff, code_diff_or_note, diff_runs
from engine.compute.targets import run_environment
from engine.entities import EnvironmentSpec
from engine.environments.lock import Lock, read_lock
from engine.errors import InvalidState, NotFound
from engine.jobs.spec import JobSpec, SweepSpec
from engine.runs import control, watch
from engine.runs.submit import Submitter
from engine.runtime.files import RunFiles
from engine.runtime.launchspec import read_spec
from engine.snapshots import SnapshotStore
from engine.snapshots.diff import SnapshotDiff, diff_snapshots
from engine.workspace import WorkspaceLocation

if TYPE_CHECKING:
    from engine.store.protocol import Store

__all__ = ["RunsManager"]


class RunsManager:
    """Runs of one open workspace."""

    def __init__(self, store: Store, location: WorkspaceLocation, snapshots: SnapshotStore) -> None:
        self.store = store
        self.location = location
        self.snapshots = snapshots
        self._submitter = Submitter(store, location, snapshots)

    # ------------------------------------------------------------------ submit
    def submit(self, spec: JobSpec | SweepSpec, on_warning: Callable[[str], None] | None = None,
               on_progress: Callable[[str], None] | None = None) -> E.Run:
        return self._submitter.submit(spec, on_warning, on_progress)

    def validate(self, spec: JobSpec | SweepSpec) -> None:
        self._submitter.validate(spec)

    def rerun(self, name: str, *, from_lock: bool = True) -> E.Run:
        return self._submitter.rerun(name, from_lock=from_lock)

    def check_name_is_free(self, name: str) -> None:
        self._submitter.check_name_is_free(name)

    # ------------------------------------------------------------------ read / control
    def get(self, name: str) -> E.Run:
        return self.store.get_run(name)

    # Below this method `list` in the class body means it, so annotations say builtins.list.
    def list(self, **filters: Any) -> list[E.Run]:
        return self.store.list_runs(**filters)

    def query(self, **query: Any) -> builtins.list[E.Run]:
        return self.store.query_runs(**query)

    def count(self, *, text: str = "", include_archived: bool = True, top_level: bool = False) -> int:
        return self.store.count_runs(text=text, include_archived=include_archived, top_level=top_level)

    def child_counts(self, names: Sequence[str], include_archived: bool = True) -> dict[str, int]:
        return self.store.child_counts(names, include_archived)

    def changed_since(self, since: float) -> builtins.list[E.Run]:
        return self.store.runs_changed_since(since)

    def archived_among(self, names: Sequence[str]) -> set[str]:
        return self.store.archived_among(names)

    def list_experiments(self) -> builtins.list[E.Experiment]:
        return self.store.list_experiments()

    def set_tags(self, name: str, tags: dict[str, Any]) -> None:
        self.store.update_run(name, tags=tags)

    def update(self, name: str, *, display_name: str | None = None, description: str | None = None,
               tags: dict[str, Any] | None = None) -> E.Run:
        fields = {k: v for k, v in (("display_name", display_name), ("description", description), ("tags", tags))
                  if v is not None}
        if fields:
            self.store.update_run(name, **fields)
        return self.store.get_run(name)

    def children(self, name: str) -> builtins.list[E.Run]:
        return self.store.list_children(name)

    def files(self, name: str) -> RunFiles:
        return RunFiles(Path(self.store.get_run(name).run_dir))

    def cancel(self, name: str, reason: str | None = None) -> E.Run:
        return control.cancel(self.store, name, reason)

    def archive(self, name: str, archived: bool = True) -> E.Run:
        self.store.update_run(name, archived=archived)
        return self.store.get_run(name)

    def wait(self, name: str, timeout: float | None = None, poll: float = 0.2) -> E.Run:
        return watch.wait(self.store, name, timeout, poll)

    def follow_log(self, name: str, write: Callable[[str], None], poll: float = 0.1) -> E.Run:
        return watch.follow_log(self.store, name, write, poll)

    def reconcile(self, only: str | None = None) -> builtins.list[str]:
        return control.reconcile(self.store, only)

    # ------------------------------------------------------------------ metrics
    def metric_history(self, name: str, key: str) -> E.MetricHistory:
        self.store.get_run(name)
        return self.store.metric_history(name, key)

    def latest_metrics(self, name: str) -> dict[str, Any]:
        return {m.key: m.last_value for m in self.store.metric_summaries(name)}

    def metric_summaries(self, name: str) -> builtins.list[E.MetricSummary]:
        return self.store.metric_summaries(name)

    def metric_histories_since(self, name: str, starts: dict[str, int]) -> dict[str, E.MetricHistory]:
        return self.store.metric_histories_since(name, starts)

    def metric_objects(self, name: str, key: str | None = None) -> builtins.list[E.MetricObject]:
        return self.store.metric_objects(name, key)

    def metric_keys(self, limit: int = 500) -> builtins.list[str]:
        return self.store.metric_keys(limit)

    def latest_values(self, names: Sequence[str], keys: Sequence[str]) -> dict[str, dict[str, float]]:
        return self.store.latest_values(names, keys)

    # ------------------------------------------------------------------ what a run was launched with
    def environment(self, name: str) -> EnvironmentSpec | None:
        """The EnvironmentSpec run `name` was launched with, or None (Trainyard's own interpreter)."""
        try:
            spec = read_spec(self.files(name).spec)
        except (OSError, InvalidState):
            return None
        return run_environment(spec)

    def lock(self, name: str) -> Lock | None:
        """The environment lock of run `name` (the exact packages it ran with), or None."""
        return read_lock(self.files(name).environment_lock)

    def diff(self, a: str, b: str) -> RunDiff:
        """What differs from run `a` to run `b`: code, environment packages, parameters and inputs,
        compute (engine.api.rundiff)."""
        run_a, run_b = self.store.get_run(a), self.store.get_run(b)
        code, note = code_diff_or_note(self.snapshot_diff, run_a, run_b)
        return diff_runs(run_a, run_b, self.lock(a), self.lock(b), code, note)

    def snapshot_diff(self, old_run: str, new_run: str) -> SnapshotDiff:
        """From the code of `old_run` to the code of `new_run`."""
        ids = []
        for name in (old_run, new_run):
            snapshot_id = self.store.get_run(name).snapshot_id
            if snapshot_id is None:
                raise InvalidState(f"job {name!r} has no code snapshot",
                                   "it was submitted without a code folder; pick a run that has one")
            ids.append(snapshot_id)
        return diff_snapshots(self.snapshots, ids[0], ids[1])

    # ------------------------------------------------------------------ files
    def download(self, name: str, dest: Path, *, include_logs: bool = False) -> builtins.list[Path]:
        """Copy the run's outputs/ (and logs with include_logs) into dest/<run name>/."""
        run = self.store.get_run(name)
        files = RunFiles(Path(run.run_dir))
        target = dest / name
        parts = [("outputs", files.outputs)]
        if include_logs:
            parts += [("logs", files.logs), ("azureml-logs", files.system_logs)]
        copied = []
        for label, src in parts:
            if src.is_dir():
                shutil.copytree(src, target / label, dirs_exist_ok=True)
                copied.append(target / label)
        if not copied and not run.is_terminal:
            raise NotFound(f"job {name!r} has no outputs yet (it is {run.status})",
                           "outputs are collected when the run ends: wait with `trainyard job stream`")
        return copied

    def run_data(self, name: str) -> builtins.list[E.RunData]:
        self.store.get_run(name)  # NotFound with close names
        return self.store.run_data(name)

    def download_output(self, name: str, output: str | None, dest: Path) -> builtins.list[Path]:
        """Copy the named output `output` of run `name` (every one when None) to
        dest/named-outputs/NAME, as `az ml job download --output-name` does."""
        run = self.store.get_run(name)
        files = RunFiles(Path(run.run_dir))
        try:
            plan = read_spec(files.spec).data
        except (OSError, InvalidState):
            plan = None
        declared = {o.name: o.rel for o in (plan.outputs if plan is not None else ())}
        if output is not None and output not in declared:
            raise NotFound(f"job {name!r} has no output named {output!r}",
                           f"its outputs: {', '.join(sorted(declared)) or 'none'}")
        copied = []
        for out_name, rel in declared.items():
            if output is not None and out_name != output:
                continue
            src = files.root / rel
            if not src.exists():
                if output is not None:
                    raise NotFound(f"job {name!r} wrote nothing to its output {out_name!r}"
                                   + ("" if run.is_terminal else f" yet (it is {run.status})"),
                                   "outputs are what the script writes to ${{outputs.NAME}}")
                continue
            target = dest / "named-outputs" / out_name
            if src.is_dir():
                shutil.copytree(src, target, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target / src.name)
            copied.append(target)
        return copied

    def download_files(self, name: str, paths: builtins.list[str], dest: Path) -> builtins.list[Path]:
        """Copy files or folders of run `name` (paths relative to its folder, e.g. outputs/model.pt)
        into dest/<run name>/, keeping their relative paths."""
        root = Path(self.store.get_run(name).run_dir).resolve()
        copied = []
        for rel in paths:
            src = (root / rel).resolve()
            if not src.is_relative_to(root) or not src.exists():
                raise NotFound(f"job {name!r} has no file {rel!r}",
                               "paths are relative to the run folder, e.g. outputs/model.pt")
            target = dest / name / src.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, target, dirs_exist_ok=True)
            else:
                shutil.copy2(src, target)
            copied.append(target)
        return copied


def size_on_disk(path: str | os.PathLike[str]) -> int | None:
    """Bytes of a file, or of every file under a folder; None when it does not exist."""
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    if not p.is_dir():
        return None
    total = 0
    for root, _dirs, files in os.walk(p):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                continue
    return total
