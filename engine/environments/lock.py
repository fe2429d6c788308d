"""Environment locks: what a build resolved to, package by package.

A spec such as ``scikit-learn`` or ``torch>=2`` builds something different next month; the lock
records what it built this time. Every build writes one next to its cache marker
(``<cache>/<hash>/environment.lock.json``); every run that used the build gets a copy in its run
folder (``environment.lock.json``), so the run keeps it after the build is pruned.

- venv (uv): the installed distributions (read from the env's ``*.dist-info``), each with the
  sha256 of the artifacts the index has for its version (engine.environments.build.hashes); the lock's
  text is a requirements file with ``--hash`` lines, and a re-run installs it with
  ``--require-hashes``, so an artifact that changed on the index is refused.
- conda (rattler or a conda executable): every conda package's URL, version, build and sha256
  read from ``conda-meta/*.json``, as an ``@EXPLICIT`` list (the ``conda list --explicit``
  format), plus the pip packages installed on top.
- docker: the image id (a content digest) plus ``pip freeze`` inside the image.
- user-managed: ``pip freeze`` of the interpreter, taken when the run starts (kept per user while
  the interpreter's package folders are unchanged: ``interpreter_lock``).

``locked_spec(spec, lock)`` is the spec that rebuilds exactly the locked set (a re-run from the
lock, ``environment create --from-run``); ``diff_packages`` says what changed between two locks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.entities import EnvironmentSpec

LOCK_FILE = "environment.lock.json"
# What an image holds, read in a throwaway container: the freeze lines of the `*.dist-info` (and
# Debian's `*.egg-info`) folders on its python's sys.path (as scan_freeze reads a prefix here). Not `pip freeze`: pip's own
# start took 0.24 s of the 0.46 s that freezing in a container cost (the container is the rest).
_SCAN_SYS_PATH = (
    "import sys, os, json\n"
    "seen = set()\n"
    "for p in sys.path:\n"
    "    try:\n"
    "        names = sorted(os.listdir(p or '.'))\n"
    "    except OSError:\n"
    "        continue\n"
    "    for n in names:\n"
    "        stem = n[:-10] if n.endswith('.dist-info') else n[:-9] if n.endswith('.egg-info') else ''\n"
    "        name, _, version = stem.partition('-')\n"
    "        version = version.split('-')[0]\n"
    "        key = name.lower().replace('_', '-').replace('.', '-')\n"
    "        if not version or key in seen:\n"
    "            continue\n"
    "        seen.add(key)\n"
    "        try:\n"
    "            url = json.load(open(os.path.join(p, n, 'direct_url.json'))).get('url') or ''\n"
    "        except Exception:\n"
    "            url = ''\n"
    "        print(name + ' @ ' + url if url else name + '==' + version)\n"
)
FREEZE_IN_IMAGE = (
    f"python -c {shlex.quote(_SCAN_SYS_PATH)} 2>/dev/null || python3 -c {shlex.quote(_SCAN_SYS_PATH)} 2>/dev/null "
    "|| true"
)
_FREEZE_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)$")


def normalize(name: str) -> str:
    """PEP 503 name normalisation (conda names are already lower-case with dashes)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class LockedPackage:
    """One resolved package. ``manager``: pip or conda; ``source``: a URL (conda) or a pip
    requirement line that is not a plain pin (a local path, a VCS URL); ``sha256`` when known
    (conda); ``hashes``: pip, the sha256 of each artifact the index had for this version."""

    name: str
    version: str
    manager: str = "pip"
    build: str = ""
    source: str = ""
    sha256: str = ""
    hashes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "manager": self.manager,
            "build": self.build,
            "source": self.source,
            "sha256": self.sha256,
        }
        if self.hashes:
            out["hashes"] = list(self.hashes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LockedPackage:
        fields = {k: str(v) for k, v in data.items() if k in cls.__dataclass_fields__ and k != "hashes"}
        return cls(**fields, hashes=tuple(str(h) for h in data.get("hashes") or ()))

    @property
    def pin(self) -> str:
        """The requirement that installs exactly this package (pip: NAME==VERSION, or its source)."""
        if self.manager == "conda":
            build = f", build='{self.build}'" if self.build else ""
            return f"{self.name}[version='=={self.version}'{build}]"
        if self.source:
            return self.source
        return " ".join([f"{self.name}=={self.version}", *(f"--hash=sha256:{h}" for h in self.hashes)])


@dataclass(frozen=True)
class Lock:
    kind: str
    packages: tuple[LockedPackage, ...]
    spec_hash: str = ""
    image_id: str | None = None
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """A short content id: the same set of packages (and image) gives the same id."""
        payload = json.dumps(
            [
                self.image_id,
                sorted(
                    (p.manager, normalize(p.name), p.version, p.build, p.sha256, *p.hashes)
                    for p in self.packages
                ),
            ]
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "spec_hash": self.spec_hash,
            "image_id": self.image_id,
            "packages": [p.to_dict() for p in self.packages],
            "text": self.text,
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lock:
        pkgs = tuple(LockedPackage.from_dict(p) for p in data.get("packages") or [] if isinstance(p, dict))
        extra = {
            k: v
            for k, v in data.items()
            if k not in ("id", "kind", "spec_hash", "image_id", "packages", "text")
        }
        return cls(
            str(data.get("kind", "")),
            pkgs,
            str(data.get("spec_hash", "")),
            data.get("image_id"),
            str(data.get("text", "")),
            extra,
        )

    def by_name(self) -> dict[str, LockedPackage]:
        return {normalize(p.name): p for p in self.packages}


def write_lock(path: Path, lock: Lock) -> None:
    """Atomically (a reader never sees half a lock)."""
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(lock.to_dict(), indent=1))
    os.replace(tmp, path)


def read_lock(path: Path) -> Lock | None:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return Lock.from_dict(data) if isinstance(data, dict) else None


# --- taking a lock ---------------------------------------------------------------------------------


def parse_freeze(text: str) -> list[LockedPackage]:
    """``pip freeze`` / ``uv pip freeze`` lines: NAME==VERSION pins, and ``NAME @ URL`` sources."""
    out: list[LockedPackage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "-")):
            continue
        m = _FREEZE_LINE.match(line)
        if m:
            out.append(LockedPackage(m.group("name"), m.group("version")))
        elif " @ " in line:
            name = line.split(" @ ", 1)[0].strip()
            out.append(LockedPackage(name, "", source=line))
    return out


def freeze(python: str | Path, uv: str | None = None, *, prefix: Path | None = None) -> str:
    """The installed distributions of ``python``'s environment, as freeze lines. Uses uv (fast:
    ~30 ms) when it is given, else ``python -m pip freeze``. '' when neither answers."""
    if uv:
        cmd = [uv, "pip", "freeze", "--python", str(python)]
        if prefix is not None:
            cmd = [uv, "pip", "freeze", "--prefix", str(prefix), "--python", str(python)]
    else:
        cmd = [str(python), "-m", "pip", "freeze", "--all"]
    try:
        res = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return res.stdout if res.returncode == 0 else ""


def scan_freeze(prefix: Path) -> str | None:
    """Freeze lines read straight from ``prefix``'s ``*.dist-info`` folders (what a freeze reads,
    without starting a process: ~1 ms instead of ~50). None when there is no site-packages."""
    found = sorted(Path(prefix).glob("lib/python*/site-packages"))
    if not found:
        return None
    lines: list[str] = []
    for info in sorted(found[0].glob("*.dist-info")):
        name, sep, version = info.name[: -len(".dist-info")].partition("-")
        if not sep:
            continue
        direct = info / "direct_url.json"
        url = ""
        if direct.exists():
            try:
                url = str(json.loads(direct.read_text()).get("url") or "")
            except (OSError, ValueError, AttributeError):
                url = ""
        lines.append(f"{name} @ {url}" if url else f"{name}=={version}")
    return "\n".join(sorted(lines, key=lambda ln: normalize(ln.split("=")[0].split(" @ ")[0]))) + "\n"


def python_lock(
    kind: str, python: str | Path, uv: str | None, spec_hash: str = "", prefix: Path | None = None
) -> Lock:
    """The lock of ``python``'s environment: read from ``prefix``'s site-packages when given (a
    build Trainyard made), else asked of uv/pip (a user-managed interpreter)."""
    scanned = scan_freeze(prefix) if prefix is not None else None
    return freeze_lock(kind, scanned if scanned is not None else freeze(python, uv), spec_hash)


def freeze_lock(kind: str, text: str, spec_hash: str = "", **extra: Any) -> Lock:
    """The lock that freeze lines `text` describe (taken here, or on an SSH host)."""
    return Lock(
        kind, tuple(sorted(parse_freeze(text), key=lambda p: normalize(p.name))), spec_hash, text=text,
        extra=dict(extra),
    )


def with_hashes(lock: Lock, hashes: dict[str, tuple[str, ...]]) -> Lock:
    """``lock`` with each pip pin's artifact hashes (``hashes``: normalised name -> sha256s); its
    text becomes a requirements file with ``--hash`` lines (what ``--require-hashes`` installs), or
    for a conda lock an @EXPLICIT list whose ``# pip`` lines have them."""
    if not hashes:
        return lock
    pkgs = tuple(
        replace(p, hashes=hashes.get(normalize(p.name), ())) if p.manager == "pip" and not p.source else p
        for p in lock.packages
    )
    if lock.kind == "conda":  # the @EXPLICIT list stays; its `# pip` lines carry the hashes
        return replace(lock, packages=pkgs, text=explicit_text([p for p in pkgs if p.manager == "conda"],
                                                               [p for p in pkgs if p.manager == "pip"]))
    text = "".join(
        " \\\n    ".join(p.pin.split(" ")) + "\n" if p.hashes else f"{p.pin}\n" for p in pkgs if p.manager == "pip"
    )
    return replace(lock, packages=pkgs, text=text)


def interpreter_lock(python: str | Path, uv: str | None, cache_dir: Path) -> Lock:
    """``python_lock("user", ...)`` of a user-managed interpreter (or Trainyard's own), kept in
    ``cache_dir`` while the interpreter's package folders are unchanged: its freeze takes ~50 ms
    on a small environment and a second or more on a large one, and a run's end waits for it.
    Installing or removing a package adds or removes a ``*.dist-info`` folder, which changes its
    folder's mtime and so the key; an interpreter whose package folders are not found is frozen
    every time."""
    key = _interpreter_key(Path(python))
    cached = cache_dir / f"{key}.json" if key else None
    if cached is not None:
        lock = read_lock(cached)
        if lock is not None:
            return lock
    lock = python_lock("user", python, uv)
    if cached is not None and lock.packages:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            write_lock(cached, lock)
        except OSError:
            pass  # a read-only cache: the next run freezes again
    return lock


def _interpreter_key(python: Path) -> str | None:
    """A hash of the interpreter and the mtimes of the folders its packages live in (its
    prefix's, a venv's base interpreter's, the user's site), or None when none is found."""
    real = python.resolve()
    prefixes = {python.absolute().parent.parent, real.parent.parent, Path.home() / ".local"}
    patterns = (
        "lib/python*/site-packages",
        "lib/python3*/dist-packages",
        "lib/python3/dist-packages",
        "local/lib/python*/dist-packages",
        "lib64/python*/site-packages",
    )
    parts = [str(python.absolute()), str(real)]
    folders = 0
    try:
        parts.append(str(real.stat().st_mtime_ns))
        for prefix in sorted(prefixes):
            for pattern in patterns:
                for folder in sorted(prefix.glob(pattern)):
                    parts.append(f"{folder}:{folder.stat().st_mtime_ns}")
                    folders += 1
    except OSError:
        return None
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24] if folders else None


def conda_packages(prefix: Path) -> list[LockedPackage]:
    """The conda packages installed in ``prefix``, from its ``conda-meta/*.json`` records."""
    out: list[LockedPackage] = []
    meta = Path(prefix) / "conda-meta"
    if not meta.is_dir():
        return out
    for f in sorted(meta.glob("*.json")):
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(rec, dict) or "name" not in rec:
            continue
        out.append(
            LockedPackage(
                str(rec["name"]),
                str(rec.get("version", "")),
                "conda",
                str(rec.get("build", "")),
                str(rec.get("url") or ""),
                str(rec.get("sha256") or rec.get("md5") or ""),
            )
        )
    return sorted(out, key=lambda p: p.name)


def explicit_text(conda: Sequence[LockedPackage], pip: Sequence[LockedPackage]) -> str:
    """The ``@EXPLICIT`` list (URL#sha256 per conda package), then the pip pins as comments-free
    ``# pip NAME==VERSION`` lines that conda ignores."""
    lines = [
        "# This file may be used to create an environment using:",
        "# $ conda create --name <env> --file <this file>",
        "@EXPLICIT",
    ]
    lines += [f"{p.source}#{p.sha256}" if p.sha256 else p.source for p in conda if p.source]
    lines += [f"# pip {p.pin}" for p in pip]  # with its --hash options when it has them
    return "\n".join(lines) + "\n"


def explicit_lock(text: str, spec_hash: str = "", **extra: Any) -> Lock:
    """The conda lock an ``@EXPLICIT`` list describes (an SSH host's, engine.compute.ssh.condahost):
    a package per URL (``NAME-VERSION-BUILD.conda`` or ``.tar.bz2``, its ``#`` digest), and the
    ``# pip NAME==VERSION [--hash=sha256:H ...]`` lines of what pip installed that conda did not."""
    conda: list[LockedPackage] = []
    pip_lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("# pip "):
            pip_lines.append(line.removeprefix("# pip "))
        elif line and not line.startswith(("#", "@")):
            url, _, digest = line.partition("#")
            stem = url.rsplit("/", 1)[-1].removesuffix(".conda").removesuffix(".tar.bz2")
            parts = stem.rsplit("-", 2)
            if len(parts) == 3:
                conda.append(LockedPackage(parts[0], parts[1], "conda", parts[2], url, digest))
    conda.sort(key=lambda p: p.name)
    pip = []
    for line in pip_lines:  # `NAME==VERSION [--hash=sha256:H ...]` or `NAME @ URL`
        hashes = tuple(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
        pip += [replace(p, hashes=hashes) for p in parse_freeze(line.partition(" --hash=")[0])]
    return _conda_lock(conda, pip, spec_hash, **extra)


def _conda_lock(conda: list[LockedPackage], pip: list[LockedPackage], spec_hash: str, **extra: Any) -> Lock:
    """The lock of conda packages `conda` and the pip packages of `pip` that conda did not install."""
    names = {normalize(p.name) for p in conda}
    pip = [p for p in pip if normalize(p.name) not in names]
    return Lock("conda", tuple(conda + sorted(pip, key=lambda p: normalize(p.name))), spec_hash,
                text=explicit_text(conda, pip), extra=dict(extra))


def conda_lock(prefix: Path, python: Path | None, uv: str | None, spec_hash: str = "") -> Lock:
    pip: list[LockedPackage] = []
    if python is not None and python.exists():
        text = scan_freeze(prefix)
        pip = parse_freeze(text if text is not None else freeze(python, uv))
    return _conda_lock(conda_packages(prefix), pip, spec_hash)


def docker_lock(client: Any, image: str, spec_hash: str = "") -> Lock:
    """The image's id (its content digest) and ``pip freeze`` inside it (no packages when the
    image has no python with pip)."""
    img = client.images.get(image)
    text = ""
    try:
        out = client.containers.run(
            image, [FREEZE_IN_IMAGE], entrypoint=["sh", "-c"], remove=True, network_mode="none"
        )
        text = out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out)
    except Exception:  # noqa: BLE001 - an image without a shell: the id alone is still the lock
        text = ""
    return image_lock(image, img.id, list(img.attrs.get("RepoDigests") or []), text, spec_hash)


def image_lock(image: str, image_id: str, repo_digests: list[str], freeze_text: str, spec_hash: str = "",
               **extra: Any) -> Lock:
    """The lock of a Docker image: its id and what ``pip freeze`` inside it printed (this machine's
    daemon, or an SSH host's: engine.compute.ssh.container)."""
    pkgs = tuple(sorted(parse_freeze(freeze_text), key=lambda p: normalize(p.name)))
    return Lock(
        "docker",
        pkgs,
        spec_hash,
        image_id=image_id,
        text=f"# image {image} {image_id}\n{freeze_text}",
        extra={"repo_digests": repo_digests, **extra},
    )


# --- using a lock ----------------------------------------------------------------------------------


def locked_spec(spec: EnvironmentSpec, lock: Lock, name: str | None = None) -> EnvironmentSpec:
    """The spec that rebuilds exactly ``lock``: every package pinned (venv, conda) or the image
    itself (docker). A user-managed spec is returned as it is (Trainyard does not build it)."""
    pip = [p.pin for p in lock.packages if p.manager == "pip"]
    named = name or spec.name
    if lock.kind == "venv" or (lock.kind == "conda" and spec.conda is None):
        # Where packages come from (--index-url, --find-links lines) stays as the spec said.
        options = [line for line in spec.pip_requirements or () if line.startswith("-")]
        return replace(spec, name=named, version=None, pip_requirements=tuple(options + pip), curated=False)
    if lock.kind == "conda" and spec.conda is not None:
        deps: list[Any] = [p.pin for p in lock.packages if p.manager == "conda"]
        old_pip = [
            line
            for d in spec.conda.get("dependencies") or []
            if isinstance(d, dict)
            for line in d.get("pip") or []
            if str(line).startswith("-")
        ]
        if pip:
            deps.append({"pip": [*old_pip, *pip]})
        conda = {"channels": list(spec.conda.get("channels") or []), "dependencies": deps}
        return replace(spec, name=named, version=None, conda=conda, curated=False)
    if lock.kind == "docker" and lock.image_id:
        return replace(
            spec,
            name=named,
            version=None,
            image=lock.image_id,
            build_context=None,
            conda=None,
            pip_requirements=None,
            curated=False,
        )
    if lock.kind == "user" and pip:  # a user-managed interpreter's freeze: a venv of the same pins
        return replace(
            spec,
            name=named,
            version=None,
            user_managed=False,
            interpreter_path=None,
            pip_requirements=tuple(pip),
            curated=False,
        )
    return replace(spec, name=named, version=None, curated=False)


@dataclass(frozen=True)
class PackageChange:
    name: str
    change: str  # added | removed | changed
    old: str | None
    new: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "change": self.change, "old": self.old, "new": self.new}

    def describe(self) -> str:
        if self.change == "added":
            return f"+ {self.name} {self.new}"
        if self.change == "removed":
            return f"- {self.name} {self.old}"
        return f"~ {self.name} {self.old} -> {self.new}"


def _label(p: LockedPackage) -> str:
    v = p.version or p.source
    return f"{v} ({p.build})" if p.manager == "conda" and p.build else v


def _identity(p: LockedPackage, other: LockedPackage) -> tuple[str, ...]:
    """What makes two records of a package differ: version and build, the hash when both sides
    have one (a conda URL moves with the channel's folder), a pip source (local path, VCS URL)."""
    both_hashed = bool(p.sha256 and other.sha256)
    return (
        p.manager,
        p.version,
        p.build,
        p.sha256 if both_hashed else "",
        p.source if p.manager == "pip" else "",
    )


def diff_packages(old: Sequence[LockedPackage], new: Sequence[LockedPackage]) -> list[PackageChange]:
    """Packages added, removed and changed (version, build or hash) from ``old`` to ``new``."""
    a = {normalize(p.name): p for p in old}
    b = {normalize(p.name): p for p in new}
    out: list[PackageChange] = []
    for key in sorted(a.keys() | b.keys()):
        pa, pb = a.get(key), b.get(key)
        if pa is None and pb is not None:
            out.append(PackageChange(pb.name, "added", None, _label(pb)))
        elif pb is None and pa is not None:
            out.append(PackageChange(pa.name, "removed", _label(pa), None))
        elif pa is not None and pb is not None and _identity(pa, pb) != _identity(pb, pa):
            out.append(PackageChange(pb.name, "changed", _label(pa), _label(pb)))
    return out
