"""What the build cache knows about one environment spec, and the files that describe the spec.

`build_status(spec, cache_root)` reads the cache without building anything:

- ``built``: a finished build is cached (a venv/conda prefix, or a Docker image's marker);
- ``building``: a build of this spec holds its lock right now (a run's supervisor, or the studio);
- ``failed``: the last build started through `record_build` failed (its error is kept);
- ``not built``: none of these (never built, or pruned);
- ``user-managed``: nothing to build (an existing interpreter is used).

Builds started through `record_build` keep their log at ``<cache_root>/build-logs/<hash>.log`` (and a
failure at ``<hash>.failed.json``), so the last build log can be shown later.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.entities import EnvironmentSpec
from engine.environments.build import cache as _cache
from engine.environments.build import spec_hash
from engine.specs import yamlfile
from engine.specs.envwrite import conda_text, environment_document, requirements_text

BUILT = "built"
BUILDING = "building"
FAILED = "failed"
NOT_BUILT = "not built"
USER_MANAGED = "user-managed"

LOG_DIR = "build-logs"
MAX_DOCKERFILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class BuildStatus:
    state: str  # BUILT | BUILDING | FAILED | NOT_BUILT | USER_MANAGED
    spec_hash: str
    location: str | None = None  # the env prefix or the Docker image tag of a build
    built_at: str | None = None  # ISO time the build finished
    error: str | None = None  # why the last recorded build failed
    log_path: str | None = None  # the last build log recorded for this spec, when there is one


def log_path(cache_root: Path, h: str) -> Path:
    return Path(cache_root) / LOG_DIR / f"{h}.log"


def _failure_path(cache_root: Path, h: str) -> Path:
    return Path(cache_root) / LOG_DIR / f"{h}.failed.json"


def _lock_held(entry: _cache.CacheEntry) -> bool:
    if not entry.lock_path.exists():
        return False
    with _cache.hash_lock(entry, blocking=False) as got:
        return not got


def build_status(spec: EnvironmentSpec, cache_root: Path) -> BuildStatus:
    """The cache's view of `spec` (never builds, never contacts Docker)."""
    cache_root = Path(cache_root).expanduser()
    if spec.kind == "user":
        return BuildStatus(USER_MANAGED, spec.build_hash(), spec.interpreter_path or "Trainyard's own Python")
    h = spec_hash(spec)
    entry = _cache.CacheEntry(h, cache_root)
    log = log_path(cache_root, h)
    logged = str(log) if log.is_file() else None
    marker = entry.read_marker()
    if marker is not None:
        return BuildStatus(BUILT, h, marker.get("prefix") or marker.get("image"), marker.get("created"),
                           log_path=logged)
    # A tmp folder alone may be what a killed build left: only a held lock means one is running.
    if _lock_held(entry):
        return BuildStatus(BUILDING, h, log_path=logged)
    failure = _failure_path(cache_root, h)
    if failure.is_file():
        try:
            data = json.loads(failure.read_text())
        except (OSError, ValueError):
            data = {}
        return BuildStatus(FAILED, h, error=str(data.get("error") or "the build failed"),
                           built_at=data.get("time"), log_path=logged)
    return BuildStatus(NOT_BUILT, h, log_path=logged)


@contextmanager
def record_build(spec: EnvironmentSpec, cache_root: Path) -> Iterator[Path]:
    """Around a build started by hand: yields the log file to write (emptied first); a failure is
    recorded for `build_status` (and re-raised), a success clears an earlier failure."""
    h = spec_hash(spec)
    log = log_path(cache_root, h)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    failure = _failure_path(cache_root, h)
    try:
        yield log
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        failure.write_text(json.dumps({"error": message, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}))
        raise
    failure.unlink(missing_ok=True)


def spec_documents(spec: EnvironmentSpec) -> list[tuple[str, str]]:
    """(title, text) of what defines `spec`, as a user would write it: the environment YAML, then
    the conda file, the pip requirements or the Dockerfile it refers to."""
    conda_file = Path(spec.conda_source).name if spec.conda_source else "conda.yml"
    pip_file = Path(spec.pip_source).name if spec.pip_source else "requirements.txt"
    build = {"path": spec.build_context, "dockerfile_path": spec.dockerfile} if spec.build_context else None
    doc = environment_document(spec, conda_file=conda_file, pip_file=pip_file, build=build, with_version=True)
    docs = [("Environment YAML", yamlfile.dump(doc))]
    if spec.conda is not None:
        docs.append((f"Conda file ({conda_file})", conda_text(spec.conda)))
    elif spec.pip_requirements is not None:
        text = requirements_text(spec.pip_requirements) or "# no packages: a bare virtual environment\n"
        docs.append((f"Pip requirements ({pip_file})", text))
    if spec.build_context:
        dockerfile = Path(spec.build_context) / spec.dockerfile
        try:
            with open(dockerfile, encoding="utf-8", errors="replace") as fh:
                text = fh.read(MAX_DOCKERFILE_BYTES)
        except OSError as exc:
            text = f"# cannot read {dockerfile}: {exc.strerror}\n"
        docs.append((f"Dockerfile ({spec.dockerfile})", text))
    return docs
