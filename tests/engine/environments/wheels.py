"""Tiny real wheels, written by hand for the tests: a local package index (a folder used with
``--find-links``) that gains a newer version of a package between two builds. And what PyPI
publishes for a real package's files, to check a lock's hashes against."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
import zipfile
from pathlib import Path


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(folder: Path, name: str, version: str, body: str = "") -> Path:
    """Write ``name-version-py3-none-any.whl`` into ``folder``: a module ``name`` whose
    ``__version__`` is ``version`` (then ``body``: other content under the same version)."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n{body}'.encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: trainyard-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{info}/RECORD,,\n"
    out = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{info}/RECORD", record)
    return out


def pypi_sha256s(name: str, version: str) -> set[str]:
    """What PyPI publishes for each file of ``name`` ``version`` (its JSON simple API, not uv)."""
    req = urllib.request.Request(f"https://pypi.org/simple/{name}/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        files = json.loads(resp.read())["files"]
    return {f["hashes"]["sha256"] for f in files
            if f["filename"] == f"{name}-{version}.tar.gz" or f["filename"].startswith(f"{name}-{version}-")}
