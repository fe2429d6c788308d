"""A real, offline conda channel built by hand for the tests (no conda, no conda-forge).

Packages are written the way conda packages are: a ``.tar.bz2`` with ``info/index.json``,
``info/paths.json``, ``info/files`` (and ``info/link.json`` for ``noarch: python``) plus the
payload; the channel is then indexed with py-rattler. What it holds:

- ``python`` (linux-64, the host's version): a shim whose ``bin/python`` runs the host interpreter
  with the env's ``lib/pythonX.Y/site-packages`` on the path, so ``noarch: python`` packages work
  and ``<prefix>/bin/python -c 'import mymodule'`` runs (there is no real python package offline);
- ``mymodule`` 1.0 (``noarch: python``, depends on python): a module with ``VERSION = "1.0"``;
- ``libgreet`` 1.0 and 2.0 and ``hello`` 0.1 (``noarch: generic``; hello depends on libgreet >=2
  and ships ``bin/hello`` with the prefix placeholder), for solver choices and conflicts.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import platform
import sys
import tarfile
from pathlib import Path

PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"
PYVER = f"{sys.version_info.major}.{sys.version_info.minor}"
PYVERSION = f"{PYVER}.{sys.version_info.micro}"


def _subdir() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "64", "amd64": "64", "aarch64": "aarch64", "arm64": "arm64"}.get(machine, machine)
    system = {"Linux": "linux", "Darwin": "osx"}.get(platform.system(), platform.system().lower())
    return f"{system}-{arch}"


def _host_python() -> str:
    """The real interpreter behind this (virtual) environment."""
    base = Path(sys.base_prefix) / "bin"
    for name in (f"python{PYVER}", "python3", "python"):
        if (base / name).exists():
            return str(base / name)
    return sys.executable


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def make_package(
    channel: Path,
    name: str,
    version: str,
    *,
    files: dict[str, tuple[bytes, int, bool]],
    depends: list[str] | None = None,
    noarch: str | None = "generic",
    build: str = "0",
) -> Path:
    """Write one package into ``channel``. ``files``: {relative path: (bytes, mode, has prefix placeholder)}."""
    subdir = "noarch" if noarch else _subdir()
    index: dict = {"name": name, "version": version, "build": build, "build_number": 0,
                   "depends": depends or [], "subdir": subdir, "license": "MIT",
                   "timestamp": 1700000000000}
    if noarch:
        index["noarch"] = noarch
    paths = []
    for rel, (data, _mode, prefix) in files.items():
        entry = {"_path": rel, "path_type": "hardlink", "sha256": hashlib.sha256(data).hexdigest(),
                 "size_in_bytes": len(data)}
        if prefix:
            entry.update(prefix_placeholder=PLACEHOLDER, file_mode="text")
        paths.append(entry)
    out = channel / subdir / f"{name}-{version}-{build}.tar.bz2"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:bz2") as tar:
        _add(tar, "info/index.json", json.dumps(index, indent=1).encode())
        _add(tar, "info/paths.json", json.dumps({"paths": paths, "paths_version": 1}).encode())
        _add(tar, "info/files", ("\n".join(files) + "\n").encode())
        if noarch == "python":
            _add(tar, "info/link.json",
                 json.dumps({"noarch": {"type": "python"}, "package_metadata_version": 1}).encode())
        has_prefix = [f"{PLACEHOLDER} text {rel}" for rel, (_, _, p) in files.items() if p]
        if has_prefix:
            _add(tar, "info/has_prefix", ("\n".join(has_prefix) + "\n").encode())
        for rel, (data, mode, _) in files.items():
            _add(tar, rel, data, mode)
    return out


def index_channel(channel: Path) -> None:
    from rattler.index import index_fs

    for sub in ("noarch", _subdir()):
        (channel / sub).mkdir(parents=True, exist_ok=True)
    asyncio.run(index_fs(channel, write_zst=False, write_shards=False, force=True))


def python_shim_script() -> bytes:
    return (
        "#!/bin/sh\n"
        "# python shim: the host interpreter with this env's site-packages first\n"
        'HERE=$(cd "$(dirname "$0")/.." && pwd)\n'
        f'PYTHONPATH="$HERE/lib/python{PYVER}/site-packages${{PYTHONPATH:+:$PYTHONPATH}}" '
        f'PYTHONNOUSERSITE=1 exec {_host_python()} "$@"\n'
    ).encode()


def build_channel(channel: Path) -> Path:
    """Create (or refresh) the test channel under ``channel``; returns it."""
    channel.mkdir(parents=True, exist_ok=True)
    make_package(channel, "python", PYVERSION, noarch=None, build="shim_0",
                 files={"bin/python": (python_shim_script(), 0o755, False)})
    make_package(channel, "mymodule", "1.0", noarch="python", build="py_0", depends=["python >=3.8"],
                 files={"site-packages/mymodule/__init__.py": (b'VERSION = "1.0"\n', 0o644, False)})
    for v in ("1.0", "2.0"):
        make_package(channel, "libgreet", v,
                     files={"share/greet/greeting.txt": (f"hello from libgreet {v}\n".encode(), 0o644, False)})
    hello = (f'#!/bin/sh\nPREFIX="{PLACEHOLDER}"\ncat "$PREFIX/share/greet/greeting.txt"\n'
             'echo "hello ran from $PREFIX"\n').encode()
    make_package(channel, "hello", "0.1", depends=["libgreet >=2"], files={"bin/hello": (hello, 0o755, True)})
    index_channel(channel)
    return channel
