"""Rebuilding a run's environment from its lock (a re-run, `environment create --from-run`).

The locked spec pins every package the run had (engine.environments.lock.locked_spec). Before a
re-run is submitted (so that nothing is recorded when it cannot be done), the lock is checked
against where its packages come from:

- venv: the pins are resolved against the index as it is now (``uv pip compile``, nothing
  installed), and the sha256 of each pinned version's artifacts is compared with the recorded
  ones (a version re-uploaded with other content is refused; the install itself runs with
  ``--require-hashes`` too).
- conda: each locked package's file must still be in its channel's ``repodata.json`` with the
  recorded sha256 (conda-forge removes and re-labels packages; a local channel may be rebuilt).
- docker: the locked image id must still be in this machine's Docker daemon (an image id cannot
  be pulled) when the run goes to it.

When the lock cannot be satisfied the re-run is refused, naming the package (or image), with
what a build from the spec would install instead, so the user decides.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from engine.entities import EnvironmentSpec
from engine.environments.build.venv import pip_failure, resolve_requirements, source_dir
from engine.environments.lock import Lock, LockedPackage, diff_packages, locked_spec, normalize, parse_freeze
from engine.errors import InvalidState

__all__ = ["plan_rebuild"]

_HINT = ("re-run it from its spec instead (`trainyard job create --rerun RUN --from-spec`), or put the "
         "missing package back where it came from")


def plan_rebuild(spec: EnvironmentSpec, lock: Lock, cache_root: Path, run: str, *,
                 local_docker: bool = True, built_here: bool = True) -> EnvironmentSpec:
    """The spec that rebuilds ``lock`` exactly; InvalidState when its packages cannot be had.
    ``local_docker``: the run goes to this machine's Docker daemon (an SSH host's daemon has its
    own images, which this machine cannot see: its build says when the image is gone).
    ``built_here``: False for an environment built on an SSH host, whose package index or
    channels (the URLs its lock names are the host's) may be ones this machine cannot reach: the
    host's build of the pins says when one is gone."""
    pinned = locked_spec(spec, lock)
    if lock.kind == "conda" and spec.conda is not None and built_here:
        from engine.environments.conda_check import check_conda_lock

        check_conda_lock(spec, lock, run)
        return pinned
    if lock.kind == "docker":
        if local_docker:
            _check_docker_lock(spec, lock, run)
        return pinned
    if lock.kind != "venv" or not pinned.pip_requirements or not built_here:
        return pinned
    cache_root = Path(cache_root)
    cache_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="relock-", dir=cache_root))
    try:
        cwd = source_dir(spec.pip_source, cache_root)
        result, _ = resolve_requirements(pinned.pip_requirements, cache_root, work / "locked", cwd)
        if result.ok:
            changed = _changed_artifacts(lock, pinned.pip_requirements, cache_root, work / "hashes", cwd)
            if not changed:
                return pinned
            headline = "the package index now serves other content for " + "; ".join(changed)
        else:
            failure = pip_failure(
                result, [r for r in pinned.pip_requirements if not r.startswith("-")], f"the lock of job '{run}'"
            )
            headline = failure.message.split("\n", 1)[0]
        now_text = ""
        if spec.pip_requirements:
            now, now_text = resolve_requirements(spec.pip_requirements, cache_root, work / "spec", cwd)
            if not now.ok:
                now_text = ""
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [f"job {run!r} cannot be re-run from its environment lock {lock.id}: {headline}"]
    if now_text:
        lines.append(spec_would_change([p for p in lock.packages if p.manager == "pip"], parse_freeze(now_text)))
    raise InvalidState("\n".join(lines), _HINT)


def spec_would_change(locked: list[LockedPackage], now: list[LockedPackage]) -> str:
    changes = diff_packages(locked, now)
    return "a build from its spec would change: " + (", ".join(c.describe() for c in changes) or "nothing")


def _changed_artifacts(lock: Lock, requirements: tuple[str, ...], cache_root: Path, work: Path,
                       cwd: Path) -> list[str]:
    """'NAME VERSION (sha256 X recorded, Y now)' for each locked pin none of whose recorded
    artifacts the index still has."""
    from engine.environments.build.hashes import artifact_hashes, index_options

    hashed = [p for p in lock.packages if p.manager == "pip" and p.hashes and not p.source]
    if not hashed:
        return []
    now = artifact_hashes([(p.name, p.version) for p in hashed], index_options(requirements), cache_root,
                          work, cwd=cwd)
    out: list[str] = []
    for p in hashed:
        found = now.get(normalize(p.name), ())
        if found and not set(found) & set(p.hashes):
            out.append(f"{p.name} {p.version} (sha256 {p.hashes[0][:12]}… recorded, {found[0][:12]}… now)")
    return out


def _check_docker_lock(spec: EnvironmentSpec, lock: Lock, run: str) -> None:
    """The locked image must still be in the daemon: an image id cannot be pulled or rebuilt."""
    if not lock.image_id:
        return
    from engine.environments.build import docker as docker_mod
    from engine.errors import DockerUnavailable

    try:
        client: Any = docker_mod.docker_client(timeout=30)
    except DockerUnavailable:
        return  # the build says so, with what to do
    if docker_mod.image_exists(client, lock.image_id):
        return
    pip = [p for p in lock.packages if p.manager == "pip"]
    base = spec.image or (f"the build context {spec.build_context}" if spec.build_context else "its base image")
    reqs = ", ".join(spec.pip_requirements or ()) or "none"
    raise InvalidState(
        f"job {run!r} cannot be re-run from its environment lock {lock.id}: its image {lock.image_id} "
        "is gone from this Docker daemon (an image id cannot be pulled)\n"
        f"a build from its spec would build {base} again with pip requirements {reqs}, resolved now; "
        f"the lock had {len(pip)} pip package(s): "
        + (", ".join(f"{p.name}=={p.version}" for p in pip[:20]) or "none")
        + (" …" if len(pip) > 20 else ""),
        "re-run it from its spec instead (`trainyard job create --rerun RUN --from-spec`), or load the "
        "image back (`docker load`) if it was saved",
    )
