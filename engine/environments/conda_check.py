"""Can a conda lock still be installed? Each locked package's file must be listed in its channel's
``repodata.json`` (``packages`` or ``packages.conda``) with the recorded sha256; for a local
(``file://``) channel the file itself must be there too. Used before a re-run from a lock, so a
gone package is named before anything is recorded (engine.environments.rebuild).

When it cannot, the spec is solved with py-rattler as it is now (nothing installed) to say what a
build from the spec would install instead.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from engine.entities import EnvironmentSpec
from engine.environments.lock import Lock, LockedPackage, diff_packages
from engine.errors import InvalidState

__all__ = ["check_conda_lock", "missing_conda_packages"]


def _repodata(subdir_url: str) -> dict[str, Any] | str:
    """The subdir's repodata, or why it could not be read."""
    try:
        with urllib.request.urlopen(f"{subdir_url}/repodata.json", timeout=60) as resp:
            data = json.loads(resp.read())
    except (OSError, ValueError) as exc:
        return f"its channel's {subdir_url}/repodata.json cannot be read ({exc})"
    return data if isinstance(data, dict) else f"{subdir_url}/repodata.json is not a repodata file"


def missing_conda_packages(lock: Lock) -> list[str]:
    """'NAME VERSION (BUILD): why' for each conda package of ``lock`` its channel no longer has."""
    cache: dict[str, dict[str, Any] | str] = {}
    out: list[str] = []
    for p in lock.packages:
        if p.manager != "conda" or not p.source:
            continue
        subdir_url, _, filename = p.source.rpartition("/")
        if subdir_url not in cache:
            cache[subdir_url] = _repodata(subdir_url)
        repo = cache[subdir_url]
        label = f"{p.name} {p.version} ({p.build})"
        if isinstance(repo, str):
            out.append(f"{label}: {repo}")
            continue
        entry = (repo.get("packages") or {}).get(filename) or (repo.get("packages.conda") or {}).get(filename)
        if not isinstance(entry, dict):
            out.append(f"{label}: {filename} is no longer in {subdir_url}")
        elif p.sha256 and len(p.sha256) == 64 and entry.get("sha256") and entry["sha256"] != p.sha256:
            out.append(f"{label}: {filename} in {subdir_url} has another sha256 now "
                       f"({str(entry['sha256'])[:12]}…, the lock has {p.sha256[:12]}…)")
        elif urlparse(p.source).scheme == "file" and not Path(unquote(urlparse(p.source).path)).is_file():
            out.append(f"{label}: {filename} is listed but its file is gone from {subdir_url}")
    return out


def _solve_now(spec: EnvironmentSpec) -> list[LockedPackage] | str:
    """The conda packages a build of ``spec`` would install now, or why it cannot be solved."""
    from engine.environments.build.conda import _run_async, resolve_channels, split_dependencies

    assert spec.conda is not None
    specs, _pip = split_dependencies(spec.conda)
    channels = resolve_channels(spec.conda.get("channels"), spec.conda_source)
    try:
        import rattler

        subdir = rattler.Subdir if hasattr(rattler, "Subdir") else rattler.Platform
        platforms = [str(subdir.current()), "noarch"]

        async def solve() -> list[Any]:
            return await rattler.solve(channels, specs, platforms=platforms,  # type: ignore[arg-type]
                                       virtual_packages=rattler.VirtualPackage.detect())

        records = _run_async(solve()) if specs else []
    except Exception as exc:  # noqa: BLE001 - rattler's errors have no common base
        return f"a build from its spec cannot be solved either: {str(exc).splitlines()[0] if str(exc) else exc}"
    return [LockedPackage(r.name.normalized, str(r.version), "conda", r.build, r.url, r.sha256.hex()
                          if isinstance(r.sha256, bytes) else str(r.sha256 or "")) for r in records]


def check_conda_lock(spec: EnvironmentSpec, lock: Lock, run: str) -> None:
    """InvalidState naming each gone package (and what the spec would install now) when ``lock``
    cannot be installed from its channels any more."""
    gone = missing_conda_packages(lock)
    if not gone:
        return
    headline = (f"job {run!r} cannot be re-run from its environment lock {lock.id}: "
                f"{len(gone)} conda package(s) can no longer be had")
    lines = [headline, *(f"  {g}" for g in gone)]
    now = _solve_now(spec)
    if isinstance(now, str):
        lines.append(now)
    else:
        changes = diff_packages([p for p in lock.packages if p.manager == "conda"], now)
        lines.append("a build from its spec would change: " + (", ".join(c.describe() for c in changes) or "nothing"))
    raise InvalidState("\n".join(lines), "re-run it from its spec instead (`trainyard job create --rerun RUN "
                       "--from-spec`), or put the package back in its channel (and index it again)")
