"""The sha256 of every distribution a venv lock pins: what ``--require-hashes`` checks on a re-run.

Where the hashes come from, and why there: after the build, the installed ``NAME==VERSION`` pins
are compiled again with ``uv pip compile --generate-hashes --no-deps`` against the same indexes
(the spec's ``--index-url``/``--find-links`` lines and this machine's pip configuration). That
gives the hashes the index publishes for exactly that version (on PyPI: its wheels and sdist;
the one uv installed is among them, since uv checks what it downloads against them). The other
places were worse: uv's cache layout is internal to uv and changes between its versions; an
installed ``RECORD`` hashes the unpacked files, not the artifact, so ``--require-hashes`` cannot
use it. uv gives no hash for a file in a local ``--find-links`` folder, so those files (named
``NAME-VERSION-*.whl`` / ``NAME-VERSION.tar.gz``) are hashed here.

A lock is a record: when the index cannot be asked, the pins stay without hashes (and a re-run
installs them by version only, as before hashes were recorded).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from engine.environments.build.log import BuildLog, run_tool
from engine.environments.build.venv import pip_config, uv_bin, uv_env
from engine.runtime import default_python

__all__ = ["artifact_hashes", "index_options"]

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")
_HASH = re.compile(r"--hash=sha256:(?P<hash>[0-9a-f]{64})")
_FIND_LINKS = re.compile(r"^(?:--find-links|-f)(?:=|\s+)(?P<where>\S+)\s*$")


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def index_options(requirements: Iterable[str]) -> list[str]:
    """The lines of a requirements list that say where packages come from (``--index-url``,
    ``--find-links``, ``--no-index``...)."""
    return [line for line in requirements if line.startswith("-") and not line.startswith(("-e", "--editable"))]


def parse_hashed(text: str) -> dict[str, tuple[str, ...]]:
    """``uv pip compile --generate-hashes`` output -> {normalised name: its sha256s}."""
    out: dict[str, list[str]] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        m = _PIN.match(line)
        if m:
            current = _key(m.group("name"))
            out.setdefault(current, [])
        if current is not None:
            out[current] += _HASH.findall(line)
        if not line.endswith("\\"):
            current = None
    return {k: tuple(sorted(set(v))) for k, v in out.items() if v}


def _local_folders(options: Sequence[str], cwd: Path) -> list[Path]:
    folders: list[Path] = []
    wheres = [m.group("where") for m in (_FIND_LINKS.match(o.strip()) for o in options) if m]
    for where in [*wheres, *pip_config().find_links]:
        if "://" in where and not where.startswith("file://"):
            continue
        path = Path(where.removeprefix("file://")).expanduser()
        path = path if path.is_absolute() else cwd / path
        if path.is_dir() and path not in folders:
            folders.append(path)
    return folders


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _local_hashes(folders: Sequence[Path], name: str, version: str) -> tuple[str, ...]:
    """Hashes of the wheels/sdists of ``name`` ``version`` in local find-links folders."""
    stems = {name, name.replace("-", "_"), _key(name), _key(name).replace("-", "_")}
    found: set[str] = set()
    for folder in folders:
        for stem in stems:
            for pattern in (f"{stem}-{version}-*.whl", f"{stem}-{version}.tar.gz", f"{stem}-{version}.zip"):
                found.update(_sha256(p) for p in folder.glob(pattern) if p.is_file())
    return tuple(sorted(found))


def _compile(pins: Sequence[tuple[str, str]], options: Sequence[str], cache_root: Path, workdir: Path,
             cwd: Path, offline: bool) -> dict[str, tuple[str, ...]]:
    workdir.mkdir(parents=True, exist_ok=True)
    req_file = workdir / "pins.in"
    req_file.write_text("\n".join([*options, *(f"{n}=={v}" for n, v in pins)]) + "\n")
    out_file = workdir / "pins.hashed.txt"
    out_file.unlink(missing_ok=True)
    cmd = [uv_bin(), "pip", "compile", "--python", default_python(), "--generate-hashes", "--no-deps",
           "--no-header", "--no-annotate", *(["--offline"] if offline else []), *pip_config().uv_args(),
           "-o", str(out_file), str(req_file)]
    result = run_tool(cmd, BuildLog(None), env=uv_env(cache_root), cwd=cwd)
    return parse_hashed(out_file.read_text()) if result.ok and out_file.exists() else {}


def artifact_hashes(pins: Sequence[tuple[str, str]], options: Sequence[str], cache_root: Path,
                    workdir: Path, cwd: Path | None = None, *, cached_first: bool = False
                    ) -> dict[str, tuple[str, ...]]:
    """{normalised name: the sha256 of each artifact the index has for that pinned version} for
    ``pins`` ((name, version) pairs), looked up on the indexes ``options`` name. Packages the
    index gives no hash for (and no local file has) are left out.

    ``cached_first`` (right after a build): the index pages uv just fetched for the install are
    read from its cache (``--offline``: ~30 ms instead of ~110 ms for a revalidation), and only
    what they lack is asked of the index. A re-run's check asks the index as it is now."""
    if not pins:
        return {}
    cwd = cwd or cache_root
    # The same order on a build and on a re-run's check, so that both find the same hashes: the
    # index first, then local find-links files for what it gave none.
    hashes = _compile(pins, options, cache_root, workdir, cwd, offline=cached_first)
    if cached_first and len(hashes) < len(pins):  # pages not in uv's cache: ask the index
        hashes.update(_compile([(n, v) for n, v in pins if _key(n) not in hashes], options, cache_root,
                               workdir, cwd, offline=False))
    folders = _local_folders(options, cwd)
    for name, version in pins:  # uv gives no hash for a local find-links file: hash it here
        if _key(name) not in hashes and folders:
            local = _local_hashes(folders, name, version)
            if local:
                hashes[_key(name)] = local
    return hashes
