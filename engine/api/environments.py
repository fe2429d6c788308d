"""The environments manager: the environments a job can name, and this workspace's build cache."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.compute.ssh.container import HostImages
from engine.compute.ssh.envbuild import host_builder
from engine.entities import EnvironmentSpec
from engine.environments.build import (
    BuildEvent,
    BuildLog,
    BuiltEnvironment,
    ensure_built,
    prune,
    prune_unused,
    spec_hash,
)
from engine.environments.build.cache import cached_hashes
from engine.environments.lock import LOCK_FILE, Lock, locked_spec, read_lock
from engine.environments.resolve import list_all_environments, register_environment, resolve_environment
from engine.environments.status import BuildStatus, build_status, record_build
from engine.errors import InvalidState, NotFound
from engine.runs.envusage import environments_in_use, run_build_log
from engine.workspace import WorkspaceLocation

if TYPE_CHECKING:
    from engine.store.protocol import Store

__all__ = ["EnvironmentsManager"]



@dataclass(frozen=True)
class HostPruned:
    """What `trainyard environment prune --compute NAME` removed from an SSH target's host."""

    host: str  # user@address
    removed: list[str]  # environment hashes removed from the host's cache
    images: list[str]  # environment images removed from its daemon (`docker: true` targets)
    in_use: set[str]  # hashes kept: active runs use them

class EnvironmentsManager:
    """Environments of one open workspace."""

    def __init__(self, store: Store, location: WorkspaceLocation) -> None:
        self.store = store
        self.location = location

    def list_all(self) -> list[EnvironmentSpec]:
        """Every registered environment version, then the curated ones."""
        return list_all_environments(self.store)

    def resolve(self, ref: str) -> EnvironmentSpec:
        """`NAME`, `NAME:VERSION`, `NAME@latest` or an azureml: reference -> its spec."""
        return resolve_environment(self.store, ref)

    def register(self, spec: EnvironmentSpec, *, reuse_identical: bool = False) -> EnvironmentSpec:
        """Register `spec` as the next version of its name (see register_environment)."""
        return register_environment(self.store, spec, reuse_identical=reuse_identical)

    def created_at(self, name: str, version: int) -> float | None:
        return self.store.environment_created_at(name, version)

    def build_status(self, spec: EnvironmentSpec) -> BuildStatus:
        """The state of `spec` in this workspace's build cache."""
        return build_status(spec, self.location.envs_dir)

    def build_log(self, spec: EnvironmentSpec, max_bytes: int = 512 * 1024) -> str:
        """The last build log of `spec`: the one a Build from the studio wrote, else the build log
        of the newest run that used this build. '' when there is none."""
        status = build_status(spec, self.location.envs_dir)
        path = Path(status.log_path) if status.log_path else run_build_log(self.store, status.spec_hash)
        if path is None:
            return ""
        try:
            with open(path, "rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(0, size - max_bytes))
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def build(self, spec: EnvironmentSpec | str, on_event: Callable[[BuildEvent], None] | None = None, *,
              rebuild: bool = False) -> BuiltEnvironment:
        """Build (or find cached) the environment `spec` (an EnvironmentSpec or a reference) now,
        outside any run. The log goes to the cache's build-logs/ (see build_log) and to
        `on_event` (a BuildEvent per line/step); a failure is kept for build_status.
        With `rebuild`, a cached build is removed first (refused while active runs use it)."""
        if not isinstance(spec, EnvironmentSpec):
            spec = resolve_environment(self.store, spec)
        root = self.location.envs_dir
        if rebuild and spec.kind != "user":
            h = spec_hash(spec)
            if h in self.in_use():
                raise InvalidState(f"environment {spec.reference!r} is in use by active runs: it cannot be rebuilt now",
                                   "wait for those runs to end (or cancel them), then rebuild")
            prune(root, keep=cached_hashes(root) - {h})
        with record_build(spec, root) as log_file:
            return ensure_built(spec, root, BuildLog(log_file, on_event))

    def lock(self, spec: EnvironmentSpec | str) -> Lock:
        """The lock of `spec`'s build in this workspace (what it resolved to when it was built).
        NotFound when it is not built here; InvalidState for a user-managed environment."""
        if not isinstance(spec, EnvironmentSpec):
            spec = resolve_environment(self.store, spec)
        if spec.kind == "user":
            raise InvalidState(f"environment {spec.reference!r} is user-managed: Trainyard does not build it, so it "
                               "has no build lock", "each run records its interpreter's packages at start: "
                               "`trainyard job show -n RUN -o json` (environment_lock)")
        h = spec_hash(spec)
        lock = read_lock(self.location.envs_dir / h / LOCK_FILE)
        if lock is None:
            raise NotFound(f"environment {spec.reference!r} is not built in this workspace ({h[:12]}), so it has "
                           "no lock yet", "a job that uses it builds it and records the lock (or Build it on "
                           "the studio's Environments page)")
        return lock

    def register_from_run(self, run: str, spec: EnvironmentSpec | None, lock: Lock | None,
                          name: str | None = None) -> EnvironmentSpec:
        """Register the locked environment of run `run` (every package pinned as the run had it)
        as the next version of `name` (default: the run's environment name + '-locked')."""
        if spec is None or lock is None:
            what = "no environment lock" if spec is not None else "no environment of its own"
            raise InvalidState(f"job {run!r} has {what}, so there is nothing to lock",
                               "pick a run that built an environment (one that started after locks were "
                               "introduced)")
        locked = locked_spec(spec, lock, name=name or f"{spec.name}-locked")
        locked = replace(locked, description=f"locked from job {run} (lock {lock.id}); spec: {spec.reference}")
        return register_environment(self.store, locked)

    def in_use(self) -> set[str]:
        """The cache hashes of the environments that active runs use (or are about to build)."""
        return environments_in_use(self.store)

    def prune(self) -> tuple[list[dict[str, Any]], set[str]]:
        """Remove the cached environment builds (venvs, conda envs, Docker images) that no active
        run uses. Returns (what was removed: `hash`, `kind`, `prefix`, `image`; the hashes kept
        because active runs use them)."""
        keep = self.in_use()
        return prune_unused(self.location.envs_dir, keep), keep

    def prune_on(self, compute: str) -> HostPruned:
        """Remove the environments built on SSH target `compute` (its host's cache), and on a
        `docker: true` target the environment images on the host's daemon, that no active run
        uses."""
        target = self.store.get_compute_target(compute)
        if target.type != "ssh":
            raise InvalidState(f"compute target {compute!r} is `type: {target.type}`: its environments are "
                               "built on this machine", "run `trainyard environment prune` without --compute")
        keep = self.in_use()
        with host_builder(target.name, dict(target.config)) as builder:
            removed = builder.prune(keep)
            images = HostImages(builder).prune(keep) if target.config.get("docker") else []
            return HostPruned(builder.where, removed, images, keep)
