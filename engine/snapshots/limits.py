"""Snapshot size limits and the error that explains how to get under them."""

from __future__ import annotations

import heapq
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import InvalidSpec, SnapshotTooLarge
from engine.tracking.inject.trainyard_run.envvars import ENV_SNAPSHOT_MAX_FILES, ENV_SNAPSHOT_MAX_MB

MB = 1024 * 1024

# Folders that are almost never source code and often hold most of a project's files or bytes;
# suggested first (at any depth) when a snapshot is too large.
_HEAVY_DIRS = (
    ".venv", "venv", "env", "node_modules", "__pycache__", ".ipynb_checkpoints", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".tox", "mlruns", "wandb", "lightning_logs", "outputs",
)


@dataclass(frozen=True)
class SnapshotLimits:
    """How large a snapshot may be (Azure ML's defaults: 300 MB or 2,000 files).

    Attributes:
        max_bytes: Largest total size of the stored files.
        max_files: Largest number of stored files.
    """

    max_bytes: int = 300 * MB
    max_files: int = 2000

    @classmethod
    def from_env(cls) -> SnapshotLimits:
        """The defaults, overridden by ``TRAINYARD_SNAPSHOT_MAX_MB`` / ``TRAINYARD_SNAPSHOT_MAX_FILES``.

        Raises:
            InvalidSpec: A variable is set but is not a positive number.
        """
        max_bytes, max_files = cls.max_bytes, cls.max_files
        raw_mb = os.environ.get(ENV_SNAPSHOT_MAX_MB, "").strip()
        if raw_mb:
            max_bytes = int(_positive(raw_mb, ENV_SNAPSHOT_MAX_MB, float) * MB)
        raw_files = os.environ.get(ENV_SNAPSHOT_MAX_FILES, "").strip()
        if raw_files:
            max_files = int(_positive(raw_files, ENV_SNAPSHOT_MAX_FILES, int))
        return cls(max_bytes=max_bytes, max_files=max_files)


def _positive(raw: str, var: str, kind: type[float | int]) -> float:
    try:
        value = float(kind(raw))
    except ValueError:
        value = -1.0
    if not value > 0 or math.isinf(value):
        what = "a positive number of megabytes" if kind is float else "a positive whole number of files"
        raise InvalidSpec(
            f"environment variable {var}={raw!r} is not {what}",
            hint=f"unset {var} to use the default, or set it to e.g. {var}=1000",
            field=var,
        )
    return value


def human_size(n: int) -> str:
    """``1536`` -> ``'1.5 KB'`` (powers of 1024, as the limit itself is counted)."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover - loop always returns


def largest_files(files: Sequence[tuple[str, int]], n: int = 5) -> list[tuple[str, int]]:
    """The ``n`` largest ``(path, size)`` pairs, largest first (ties by path)."""
    return heapq.nsmallest(n, files, key=lambda f: (-f[1], f[0]))


def limit_error(
    source: str,
    files: Sequence[tuple[str, int]],
    total_bytes: int,
    limits: SnapshotLimits,
    root_ignore_file: str | None,
) -> SnapshotTooLarge | None:
    """The error ``take`` raises for these files, or None when they fit.

    ``root_ignore_file`` is the name of the ignore file in effect at the folder's top
    (``.amlignore``, ``.gitignore`` or None): the hint says which file to edit.
    """
    too_many = len(files) > limits.max_files
    too_big = total_bytes > limits.max_bytes
    if not (too_many or too_big):
        return None
    top = largest_files(files)
    listed = ", ".join(f"{path} ({human_size(size)})" for path, size in top)
    message = (
        f"The folder {source} is too large to snapshot: {len(files):,} files, {human_size(total_bytes)} "
        f"(limit: {limits.max_files:,} files, {human_size(limits.max_bytes)}). Largest files: {listed}."
    )
    patterns = suggest_patterns(files, by_bytes=too_big)
    lines = ", ".join(f"`{p}`" for p in patterns)
    sep = os.sep
    if root_ignore_file == ".amlignore":
        where = f"add lines such as {lines} to {source}{sep}.amlignore"
    elif root_ignore_file == ".gitignore":
        where = (
            f"add lines such as {lines} to {source}{sep}.gitignore (or to a new .amlignore, which then "
            f"replaces .gitignore for snapshots, so copy its rules too)"
        )
    else:
        where = f"create {source}{sep}.amlignore with lines such as {lines} (gitignore syntax)"
    raise_to = []
    if too_big:
        raise_to.append(f"{ENV_SNAPSHOT_MAX_MB}={_round_up(total_bytes / MB, 100)}")
    if too_many:
        raise_to.append(f"{ENV_SNAPSHOT_MAX_FILES}={_round_up(len(files), 1000)}")
    hint = f"To leave files out, {where}. Or raise the limit by setting {' and '.join(raise_to)} in the environment."
    return SnapshotTooLarge(message, hint)


def _round_up(value: float, step: int) -> int:
    return int(math.floor(value / step) + 1) * step


def suggest_patterns(files: Sequence[tuple[str, int]], *, by_bytes: bool, n: int = 3) -> list[str]:
    """Ignore patterns that would remove most of the bytes (or files), most effective first.

    Well-known heavy folders (``.venv/``, ``node_modules/``...) come first, at any depth; then
    the heaviest entries, anchored at the top. A folder that holds nearly all the files (a
    project kept in ``src/``) is looked into rather than suggested whole.
    """

    def measure(size: int) -> int:
        return size if by_bytes else 1

    heavy: dict[str, int] = {}
    for path, size in files:
        for part in path.split("/")[:-1]:
            if part in _HEAVY_DIRS:
                heavy[part] = heavy.get(part, 0) + measure(size)
                break
    total = sum(measure(size) for _, size in files) or 1
    out = [f"{name}/" for name, m in sorted(heavy.items(), key=lambda kv: -kv[1]) if m * 10 >= total]

    prefix = ""
    pool = list(files)
    ranked: list[tuple[str, int]] = []
    for _depth in range(4):
        weight: dict[str, int] = {}
        count: dict[str, int] = {}
        for path, size in pool:
            head, slash, _rest = path[len(prefix):].partition("/")
            key = head + slash  # folders keep their trailing "/"
            weight[key] = weight.get(key, 0) + measure(size)
            count[key] = count.get(key, 0) + 1
        ranked = sorted(weight.items(), key=lambda kv: (-kv[1], kv[0]))
        first, first_weight = ranked[0]
        holds_nearly_all = first_weight * 10 >= sum(weight.values()) * 9 and count[first] * 10 >= len(pool) * 9
        if not (first.endswith("/") and holds_nearly_all):
            break
        prefix += first
        pool = [f for f in pool if f[0].startswith(prefix)]
    for i, (name, m) in enumerate(ranked):
        if i and m * 20 < total:
            break  # entries under 5% would not help
        pattern = "/" + prefix + name
        if not any(f"/{h}" in pattern for h in out):  # already covered by a heavy-folder pattern
            out.append(pattern)
    return out[:n]
