"""What the runs say about the environment cache: the builds active runs use (never pruned), and
the build log a run left for a build."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine import entities as E
from engine.compute.targets import run_environment
from engine.environments.build import spec_hash
from engine.runtime.files import RunFiles
from engine.runtime.launchspec import read_spec

if TYPE_CHECKING:
    from engine.store.protocol import Store

__all__ = ["environments_in_use", "run_build_log"]


def environments_in_use(store: Store) -> set[str]:
    """The cache hashes of the environments that active runs use (or are about to build)."""
    hashes: set[str] = set()
    for run in store.list_runs(statuses=E.ACTIVE_STATUSES, include_archived=True):
        if run.properties.get("environment_hash"):
            hashes.add(str(run.properties["environment_hash"]))
            continue
        try:  # not built yet: the hash of what its supervisor will build
            env = run_environment(read_spec(RunFiles(Path(run.run_dir)).spec))
            if env is not None:
                hashes.add(spec_hash(env))
        except Exception:  # noqa: BLE001, S112 - a run folder being written or gone: nothing to keep
            continue
    return hashes


def run_build_log(store: Store, build_hash: str, newest: int = 500) -> Path | None:
    """The build log of the newest run (of the last `newest`) that used build `build_hash`."""
    for run in store.list_runs(limit=newest, include_archived=True):
        if run.properties.get("environment_hash") == build_hash:
            return RunFiles(Path(run.run_dir)).build_log
    return None
