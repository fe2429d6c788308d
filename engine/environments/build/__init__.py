"""Building environments, once per spec: ``ensure_built(spec, cache_root, log)``.

Builders by ``spec.kind``:

- ``user``: nothing is built; the interpreter (``spec.interpreter_path`` or Trainyard's own) must
  exist and be executable.
- ``venv``: ``uv venv`` + ``uv pip install`` (venv.py).
- ``conda``: py-rattler solve + install from the spec's channels, then the ``pip:`` section with
  uv; or the user's conda/mamba/micromamba when ``TRAINYARD_CONDA_EXE`` names one (conda.py).
- ``docker``: ``engine.environments.build.docker.build_image`` (the image tag carries the hash).

Every build is cached under ``cache_root/<spec hash>/`` (see cache.py): a hit returns at once and
logs "Using cached environment <hash>"; two processes or threads needing the same build at once
build it once (the second waits on a lock); a failed build leaves nothing behind and raises
``EnvBuildFailed`` (command, exit code and tail of the tool's output in the message).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.entities import EnvironmentSpec
from engine.environments.build import cache as _cache
from engine.environments.build.log import BuildEvent, BuildLog
from engine.environments.lock import LOCK_FILE, conda_lock, docker_lock, python_lock, with_hashes, write_lock
from engine.errors import EnvBuildFailed, InvalidSpec
from engine.runtime import default_python
from engine.tracking.inject.trainyard_run.envvars import ENV_CONDA_EXE

if TYPE_CHECKING:
    from engine.environments.build.hashes import HashPrefetch

__all__ = ["BuildEvent", "BuildLog", "BuiltEnvironment", "ensure_built", "prune", "spec_hash"]


@dataclass(frozen=True)
class BuiltEnvironment:
    """A ready environment. ``interpreter``: the python to run (None for Docker, where the image's
    PATH decides); ``image``: the Docker image tag; ``prefix``: the env folder (venv/conda);
    ``cached``: True when nothing was built now (found in the cache, or user-managed)."""

    spec_hash: str
    kind: str
    interpreter: str | None
    image: str | None
    prefix: str | None
    cached: bool
    lock: str | None = None  # the build's environment.lock.json (engine.environments.lock)


def spec_hash(spec: EnvironmentSpec) -> str:
    """The cache key of a spec: its build hash (for a Docker build context, with its content)."""
    if spec.kind == "docker" and spec.build_context:
        from engine.environments.build import docker as docker_mod  # PyYAML: only for image builds

        return docker_mod.spec_hash(spec)
    return spec.build_hash()


def ensure_built(spec: EnvironmentSpec, cache_root: Path, log: BuildLog, *, docker: Any = None) -> BuiltEnvironment:
    """The built environment of ``spec``: from the cache, or built now (and cached).

    Raises ``EnvBuildFailed`` (the build failed; nothing cached), ``InvalidSpec`` (e.g. a
    user-managed interpreter that does not exist), ``DockerUnavailable`` (Docker specs)."""
    kind = spec.kind
    if kind == "user":
        return _user_env(spec, log)
    cache_root = Path(cache_root).expanduser().resolve()
    h = spec_hash(spec)
    if kind == "docker":
        return _docker_env(spec, h, cache_root, log, docker)
    entry = _cache.CacheEntry(h, cache_root)
    hit = _hit(entry, log)
    if hit is not None:
        return hit
    waited = False

    def on_wait() -> None:
        nonlocal waited
        waited = True
        log.line(f"waiting for another build of this environment ({h[:12]}) to finish")

    with _cache.hash_lock(entry, on_wait):
        hit = _hit(entry, log, locked=True)
        if hit is not None:
            return hit
        if waited:
            log.line("the other build did not finish: building it here")
        entry.remove_leftovers()
        return _build(spec, entry, log)


# --- kinds -----------------------------------------------------------------------------------------


def _user_env(spec: EnvironmentSpec, log: BuildLog) -> BuiltEnvironment:
    path = spec.interpreter_path or default_python()
    resolved = path
    if os.sep not in path:
        resolved = shutil.which(path) or path
    p = Path(resolved).expanduser()
    if not p.is_file() or not os.access(p, os.X_OK):
        what = "does not exist" if not p.exists() else "is not an executable file"
        raise InvalidSpec(f"the interpreter '{path}' of user-managed environment '{spec.reference}' {what}",
                          hint="set python.interpreter_path to an existing python, or leave it empty to "
                               "use Trainyard's own interpreter", field="interpreter_path")
    log.done(f"Using user-managed environment: {p}")
    return BuiltEnvironment(spec.build_hash(), "user", str(p), None, None, cached=True)


def _hit(entry: _cache.CacheEntry, log: BuildLog, locked: bool = False) -> BuiltEnvironment | None:
    marker = entry.read_marker()
    if marker is None:
        return None
    interpreter = marker.get("interpreter")
    if interpreter and not os.path.exists(interpreter):
        # The env's python is gone (its base interpreter removed or upgraded): build again.
        if locked:
            log.line(f"cached environment {entry.spec_hash[:12]} is broken ({interpreter} is missing): "
                     "building it again")
            entry.invalidate()
        return None
    lock_path = entry.dir / LOCK_FILE
    if not lock_path.exists() and interpreter:  # a build from before locks: take its lock once
        with contextlib.suppress(OSError):
            _write_python_lock(marker.get("kind", ""), entry.dir, Path(interpreter), entry.spec_hash,
                               _marker_spec(marker))
    log.line(f"Using cached environment {entry.spec_hash}")
    log.done(f"environment ready (cached): {marker.get('prefix') or marker.get('image')}")
    return BuiltEnvironment(entry.spec_hash, marker.get("kind", ""), interpreter, marker.get("image"),
                            marker.get("prefix"), cached=True, lock=str(lock_path) if lock_path.exists() else None)


def _marker_spec(marker: dict[str, Any]) -> EnvironmentSpec | None:
    try:
        return EnvironmentSpec.from_dict(marker["spec"])
    except Exception:  # noqa: BLE001 - a marker from an older Trainyard: a lock without hashes
        return None


def _write_python_lock(kind: str, folder: Path, python: Path | None, h: str,
                       spec: EnvironmentSpec | None = None, prefetch: HashPrefetch | None = None) -> None:
    """Record what the build in ``folder`` (a venv or conda env at ``folder/env``) resolved to; its
    pip packages (a venv's, a conda env's pip: section's) get the sha256 of their artifacts on the
    spec's indexes (engine.environments.build.hashes: what ``prefetch`` compiled beside the pip
    install, the rest looked up now)."""
    from engine.environments.build.venv import source_dir, uv_bin

    try:
        uv: str | None = uv_bin()
    except EnvBuildFailed:
        uv = None
    if kind == "conda":
        lock = conda_lock(folder / "env", python, uv, h)
    elif python is not None:
        lock = python_lock(kind, python, uv, h, prefix=folder / "env")
    else:
        return
    pip_lines, source = _pip_lines(spec) if spec is not None else ((), None)
    pins = [(p.name, p.version) for p in lock.packages if p.manager == "pip" and p.version and not p.source]
    if pip_lines and pins and uv is not None:  # the pip packages' artifacts, by sha256
        from engine.environments.build.hashes import artifact_hashes, index_options

        root = folder.parent
        hashes = artifact_hashes(pins, index_options(pip_lines), root, folder / "hashes", cwd=source_dir(source, root),
                                 cached_first=True, known=prefetch.result() if prefetch is not None else None)
        shutil.rmtree(folder / "hashes", ignore_errors=True)
        lock = with_hashes(lock, hashes)
    write_lock(folder / LOCK_FILE, lock)


def _pip_lines(spec: EnvironmentSpec) -> tuple[tuple[str, ...], str | None]:
    """(the pip requirement lines a build of ``spec`` installs with uv, the file they came from):
    a venv's requirements, a conda file's ``pip:`` section."""
    if spec.kind == "venv":
        return tuple(spec.pip_requirements or ()), spec.pip_source
    if spec.kind == "conda" and spec.conda:
        return tuple(str(line).strip() for d in spec.conda.get("dependencies") or [] if isinstance(d, dict)
                     for line in d.get("pip") or [] if str(line).strip()), spec.conda_source
    return (), None


def _prefetch_hashes(spec: EnvironmentSpec, build_dir: Path, cache_root: Path) -> HashPrefetch | None:
    """The hash lookup of a venv's pins (a conda env's pip: section's), started beside its
    install (None: nothing to look up)."""
    lines, source = _pip_lines(spec)
    if not lines:
        return None
    from engine.environments.build.hashes import HashPrefetch
    from engine.environments.build.venv import source_dir

    try:
        return HashPrefetch(lines, cache_root, build_dir / "hashes", source_dir(source, cache_root))
    except EnvBuildFailed:  # no uv: the build says so
        return None


def _build(spec: EnvironmentSpec, entry: _cache.CacheEntry, log: BuildLog) -> BuiltEnvironment:
    # The builders come with PyYAML (conda) and uv's tooling: loaded when a build runs.
    from engine.environments.build import conda as conda_mod
    from engine.environments.build import venv as venv_mod

    kind = spec.kind
    t0 = time.monotonic()
    in_place = kind == "conda" and bool(os.environ.get(ENV_CONDA_EXE, "").strip())
    build_dir = entry.dir if in_place else entry.tmp_dir()
    log.step(f"Building {kind} environment '{spec.reference}' ({entry.spec_hash[:12]})")
    prefetch: HashPrefetch | None = None
    try:
        build_dir.mkdir(parents=True)
        prefetch = _prefetch_hashes(spec, build_dir, entry.root)
        python: Path | None
        if kind == "venv":
            python = venv_mod.build_venv(spec, build_dir, entry.root, log)
        elif kind == "conda":
            python = conda_mod.build_conda(spec, build_dir, entry.dir, entry.root, log)
        else:  # pragma: no cover - kinds are fixed by EnvironmentSpec.kind
            raise EnvBuildFailed(f"unknown environment kind {kind!r}")
        interpreter = str(entry.dir / python.relative_to(build_dir)) if python is not None else None
        log.line("recording the environment's lock (the exact packages installed)")
        _write_python_lock(kind, build_dir, python, entry.spec_hash, spec, prefetch)
        marker = {"kind": kind, "interpreter": interpreter, "image": None, "prefix": str(entry.prefix),
                  "spec": spec.to_dict(), "spec_hash": entry.spec_hash}
        _cache.write_marker(build_dir, marker)
        if not in_place:
            try:
                os.rename(build_dir, entry.dir)
            except OSError:
                # Someone else finished the same build first (only after a lost lock file): use theirs.
                if entry.read_marker() is None:
                    raise
                shutil.rmtree(build_dir, ignore_errors=True)
    except BaseException as exc:
        if prefetch is not None:
            prefetch.cancel()
        shutil.rmtree(build_dir, ignore_errors=True)
        if isinstance(exc, Exception):
            log.line(f"ERROR: build failed: {getattr(exc, 'message', None) or exc}")
        raise
    log.progress(1.0, "done")
    log.done(f"environment ready: {entry.prefix} (built in {time.monotonic() - t0:.1f} s)")
    lock_path = entry.dir / LOCK_FILE
    return BuiltEnvironment(entry.spec_hash, kind, interpreter, None, str(entry.prefix), cached=False,
                            lock=str(lock_path) if lock_path.exists() else None)


def _docker_env(spec: EnvironmentSpec, h: str, cache_root: Path, log: BuildLog, docker: Any) -> BuiltEnvironment:
    from engine.environments.build import docker as docker_mod  # PyYAML: only for image builds

    client = docker if docker is not None else docker_mod.docker_client()
    entry = _cache.CacheEntry(h, cache_root)
    tag = docker_mod.image_tag(spec)

    def cached() -> BuiltEnvironment | None:
        if not docker_mod.image_exists(client, tag):
            return None
        if entry.read_marker() is None:  # image there (built before, or by another tool): record it
            with contextlib.suppress(OSError):
                entry.dir.mkdir(parents=True, exist_ok=True)
                _cache.write_marker(entry.dir, {"kind": "docker", "interpreter": None, "image": tag,
                                                "prefix": None, "spec": spec.to_dict(), "spec_hash": h})
        lock_path = entry.dir / LOCK_FILE
        if not lock_path.exists():  # an image built before locks, or by another tool
            _write_docker_lock(client, tag, entry.dir, h)
        log.line(f"Using cached environment {h} (image {tag})")
        log.done(f"environment ready (cached): image {tag}")
        return BuiltEnvironment(h, "docker", None, tag, None, cached=True,
                                lock=str(lock_path) if lock_path.exists() else None)

    hit = cached()
    if hit is not None:
        return hit
    with _cache.hash_lock(entry, lambda: log.line(f"waiting for another build of this environment ({h[:12]})")):
        hit = cached()
        if hit is not None:
            return hit
        entry.remove_leftovers()
        if entry.dir.exists():  # a marker whose image is gone (removed by hand, new machine)
            entry.invalidate()
        log.step(f"Building docker environment '{spec.reference}' ({h[:12]})")
        try:
            image = docker_mod.build_image(spec, log, docker=client)
        except Exception as exc:
            log.line(f"ERROR: build failed: {getattr(exc, 'message', None) or exc}")
            raise
        tmp = entry.tmp_dir()
        try:
            tmp.mkdir(parents=True)
            log.line("recording the image's lock (its id and the pip packages inside it)")
            _write_docker_lock(client, image, tmp, h)
            _cache.write_marker(tmp, {"kind": "docker", "interpreter": None, "image": image, "prefix": None,
                                      "spec": spec.to_dict(), "spec_hash": h})
            os.rename(tmp, entry.dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    lock_path = entry.dir / LOCK_FILE
    return BuiltEnvironment(h, "docker", None, image, None, cached=False,
                            lock=str(lock_path) if lock_path.exists() else None)


def _write_docker_lock(client: Any, image: str, folder: Path, h: str) -> None:
    try:
        write_lock(folder / LOCK_FILE, docker_lock(client, image, h))
    except Exception:  # noqa: BLE001 - a lock is a record, never a reason to fail a run
        return


# --- prune -----------------------------------------------------------------------------------------


def prune_unused(cache_root: Path, keep: set[str]) -> list[dict[str, Any]]:
    """`prune`, saying what each removed build was: `hash`, `kind`, `prefix`, `image`, `size`
    (bytes on disk of a venv or conda env; 0 for an image, which Docker accounts for)."""
    markers = {h: _cache.CacheEntry(h, cache_root).read_marker() or {}
               for h in _cache.cached_hashes(cache_root) - keep}
    sizes = {h: _cache.folder_size(_cache.CacheEntry(h, cache_root).dir) for h in markers}
    return [{"hash": h, "kind": markers.get(h, {}).get("kind"), "prefix": markers.get(h, {}).get("prefix"),
             "image": markers.get(h, {}).get("image"), "size": sizes.get(h, 0)} for h in prune(cache_root, keep=keep)]


def prune(cache_root: Path, keep: set[str] | None = None) -> list[str]:
    """Remove cached builds whose hash is not in ``keep`` (all when None): env folders, and the
    images of Docker builds (best effort: skipped when the daemon is not running). A build running
    right now is left alone. Returns the removed hashes."""
    cache_root = Path(cache_root).expanduser().resolve()
    images: dict[str, str] = {}
    for h in _cache.cached_hashes(cache_root) - (keep or set()):
        marker = _cache.CacheEntry(h, cache_root).read_marker() or {}
        if marker.get("kind") == "docker" and marker.get("image"):
            images[h] = marker["image"]
    removed = _cache.prune(cache_root, keep)
    images = {h: image for h, image in images.items() if h in removed}
    if images:
        with contextlib.suppress(Exception):
            from engine.environments.build import docker as docker_mod  # PyYAML: only when images go

            client = docker_mod.docker_client(timeout=30)
            for image in images.values():
                with contextlib.suppress(Exception):
                    docker_mod.remove_image(client, image)
    return removed
