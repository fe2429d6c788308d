"""Rebuilding a run's environment from its lock (a re-run, `environment create --from-run`).

The locked spec pins every package the run had (engine.environments.lock.locked_spec). Before a
re-run is submitted, a venv's pins are resolved against the index as it is now (``uv pip
compile``, nothing installed): when a pinned version is gone the re-run is refused with the
package named and with what a build from the spec would install instead, so the user decides.
Conda pins and Docker images are checked by their build (a missing package fails it, naming it).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from engine.entities import EnvironmentSpec
from engine.environments.build.venv import pip_failure, resolve_requirements, source_dir
from engine.environments.lock import Lock, diff_packages, locked_spec, parse_freeze
from engine.errors import InvalidState

__all__ = ["plan_rebuild"]


def plan_rebuild(spec: EnvironmentSpec, lock: Lock, cache_root: Path, run: str) -> EnvironmentSpec:
    """The spec that rebuilds ``lock`` exactly; InvalidState when the index cannot give it."""
    pinned = locked_spec(spec, lock)
    if lock.kind != "venv" or not pinned.pip_requirements:
        return pinned
    cache_root = Path(cache_root)
    cache_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="relock-", dir=cache_root))
    try:
        cwd = source_dir(spec.pip_source, cache_root)
        result, _ = resolve_requirements(pinned.pip_requirements, cache_root, work / "locked", cwd)
        if result.ok:
            return pinned
        failure = pip_failure(
            result, [r for r in pinned.pip_requirements if not r.startswith("-")], f"the lock of job '{run}'"
        )
        now_text = ""
        if spec.pip_requirements:
            now, now_text = resolve_requirements(spec.pip_requirements, cache_root, work / "spec", cwd)
            if not now.ok:
                now_text = ""
    finally:
        shutil.rmtree(work, ignore_errors=True)
    headline = failure.message.split("\n", 1)[0]
    lines = [f"job {run!r} cannot be re-run from its environment lock {lock.id}: {headline}"]
    if now_text:
        changes = diff_packages([p for p in lock.packages if p.manager == "pip"], parse_freeze(now_text))
        lines.append(
            "a build from its spec would change: "
            + (", ".join(c.describe() for c in changes) if changes else "nothing")
        )
    raise InvalidState(
        "\n".join(lines),
        "re-run it from its spec instead (`trainyard job create --rerun RUN --from-spec`), or "
        "put the missing package version back on the index",
    )
