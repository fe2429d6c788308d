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

The lookup does not wait for the install: ``HashPrefetch`` compiles the spec's requirements with
hashes while ``uv pip install`` runs (both resolve the same set from the same index pages), and the
lock takes its hashes for the pins that came out the same; only a pin it missed is looked up after
the build. A re-run from a lock already carries its hashes: they are read from its pins.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from engine.environments.build.log import BuildLog, run_tool
from engine.environments.build.venv import pip_config, uv_bin, uv_env
from engine.runtime import default_python

__all__ = ["HashPrefetch", "artifact_hashes", "index_options"]

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")
_HASH = re.compile(r"--hash=sha256:(?P<hash>[0-9a-f]{64})")
_FIND_LINKS = re.compile(r"^(?:--find-links|-f)(?:=|\s+)(?P<where>\S+)\s*$")


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def index_options(requirements: Iterable[str]) -> list[str]:
    """The lines of a requirements list that say where packages come from (``--index-url``,
    ``--find-links``, ``--no-index``...)."""
    return [line for line in requirements if line.startswith("-") and not line.startswith(("-e", "--editable"))]


def parse_pinned(text: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Hashed requirements (``uv pip compile --generate-hashes`` output, or a lock's pins) ->
    {normalised name: (its pinned version, its sha256s)}; a pin the index gave no hash for has ()."""
    out: dict[str, tuple[str, list[str]]] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        m = _PIN.match(line)
        if m:
            current = _key(m.group("name"))
            out[current] = (m.group("version"), [])
        if current is not None:
            out[current][1].extend(_HASH.findall(line))
        if not line.endswith("\\"):
            current = None
    return {k: (version, tuple(sorted(set(found)))) for k, (version, found) in out.items()}


def parse_hashed(text: str) -> dict[str, tuple[str, ...]]:
    """``uv pip compile --generate-hashes`` output -> {normalised name: its sha256s}."""
    return {k: found for k, (_version, found) in parse_pinned(text).items() if found}


def _local_folders(options: Sequence[str], cwd: Path, machine: bool = True) -> list[Path]:
    """The local ``--find-links`` folders of ``options`` (and of this machine's pip configuration)."""
    folders: list[Path] = []
    wheres = [m.group("where") for m in (_FIND_LINKS.match(o.strip()) for o in options) if m]
    for where in [*wheres, *(pip_config().find_links if machine else ())]:
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


def _compile_command(lines: Sequence[str], workdir: Path, stem: str, *, no_deps: bool,
                     offline: bool) -> tuple[list[str], Path]:
    """The ``uv pip compile --generate-hashes`` of requirement ``lines`` (written to
    ``workdir/<stem>.in``) and the file it writes."""
    workdir.mkdir(parents=True, exist_ok=True)
    req_file = workdir / f"{stem}.in"
    req_file.write_text("\n".join(lines) + "\n")
    out_file = workdir / f"{stem}.hashed.txt"
    out_file.unlink(missing_ok=True)
    cmd = [uv_bin(), "pip", "compile", "--python", default_python(), "--generate-hashes",
           *(["--no-deps"] if no_deps else []), "--no-header", "--no-annotate",
           *(["--offline"] if offline else []), *pip_config().uv_args(), "-o", str(out_file), str(req_file)]
    return cmd, out_file


def _compile(pins: Sequence[tuple[str, str]], options: Sequence[str], cache_root: Path, workdir: Path,
             cwd: Path, offline: bool) -> dict[str, tuple[str, ...]]:
    cmd, out_file = _compile_command([*options, *(f"{n}=={v}" for n, v in pins)], workdir, "pins",
                                     no_deps=True, offline=offline)
    result = run_tool(cmd, BuildLog(None), env=uv_env(cache_root), cwd=cwd)
    return parse_hashed(out_file.read_text()) if result.ok and out_file.exists() else {}


def _local_source(line: str) -> bool:
    """An editable install, or a requirement named by a path or URL rather than by name."""
    if line.startswith(("-e", "--editable")):
        return True
    if line.startswith("-"):
        return False
    req = line.split(";", maxsplit=1)[0]
    return " @ " in req or "/" in req or req.startswith(".")


class HashPrefetch:
    """The hashes of what a spec's requirements resolve to, compiled (``uv pip compile
    --generate-hashes``) in the background while the install runs, so that the lock's lookup adds
    nothing to a build whose pins it found. Requirements that already carry hashes (a re-run from
    a lock) are read, not compiled; requirements naming local sources (``-e``, paths, URLs) are
    left to the lookup after the build (compiling them would build them a second time)."""

    def __init__(self, requirements: Sequence[str], cache_root: Path, workdir: Path, cwd: Path) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._known: dict[str, tuple[str, tuple[str, ...]]] = {}
        reqs = [r.strip() for r in requirements if r.strip()]
        pins = [r for r in reqs if not r.startswith("-")]
        if pins and all("--hash=" in r for r in pins):
            self._known = parse_pinned("\n".join(reqs))
            return
        # A wheel folder of the spec's own (``--find-links DIR``) is left to the lookup after the
        # build too: a compile with hashes has uv record each file's hash in its cache, and uv
        # then trusts that record when the user rebuilds a wheel under the same version, so a
        # re-run from the lock would install the old wheel instead of refusing the new one.
        if any(_local_source(r) for r in reqs) or _local_folders(index_options(reqs), cwd, machine=False):
            return
        cmd, self._out = _compile_command(reqs, workdir, "prefetch", no_deps=False, offline=True)
        # Below the install's priority: on a busy machine the build itself goes first.
        nice = shutil.which("nice")
        cmd = [nice, "-n", "19", *cmd] if nice else cmd
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, env=uv_env(cache_root), cwd=str(cwd))
        except OSError:
            self._proc = None

    def result(self, timeout: float = 120.0) -> dict[str, tuple[str, tuple[str, ...]]]:
        """{normalised name: (version, sha256s)} of what the compile found ({} when it failed)."""
        if self._proc is not None:
            try:
                ok = self._proc.wait(timeout=timeout) == 0
            except subprocess.TimeoutExpired:
                self.cancel()
                ok = False
            self._proc = None
            if ok and self._out.exists():
                self._known = parse_pinned(self._out.read_text())
        return self._known

    def cancel(self) -> None:
        """Stop the compile (the build failed or was cancelled)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None


def artifact_hashes(pins: Sequence[tuple[str, str]], options: Sequence[str], cache_root: Path,
                    workdir: Path, cwd: Path | None = None, *, cached_first: bool = False,
                    known: Mapping[str, tuple[str, tuple[str, ...]]] | None = None
                    ) -> dict[str, tuple[str, ...]]:
    """{normalised name: the sha256 of each artifact the index has for that pinned version} for
    ``pins`` ((name, version) pairs), looked up on the indexes ``options`` name. Packages the
    index gives no hash for (and no local file has) are left out.

    ``cached_first`` (right after a build): the index pages uv just fetched for the install are
    read from its cache (``--offline``: ~30 ms instead of ~110 ms for a revalidation), and only
    what they lack is asked of the index. A re-run's check asks the index as it is now.
    ``known``: what a ``HashPrefetch`` found; a pin of the same version is not looked up again."""
    if not pins:
        return {}
    cwd = cwd or cache_root
    hashes: dict[str, tuple[str, ...]] = {}
    unhashed: set[str] = set()  # the index was asked (by the prefetch) and gave no hash
    for name, version in pins:
        found = (known or {}).get(_key(name))
        if found is not None and found[0] == version:
            if found[1]:
                hashes[_key(name)] = found[1]
            else:
                unhashed.add(_key(name))
    missing = [(n, v) for n, v in pins if _key(n) not in hashes and _key(n) not in unhashed]
    # The same order on a build and on a re-run's check, so that both find the same hashes: the
    # index first, then local find-links files for what it gave none.
    if missing:
        hashes.update(_compile(missing, options, cache_root, workdir, cwd, offline=cached_first))
    left = [(n, v) for n, v in missing if _key(n) not in hashes]
    if cached_first and left:  # pages not in uv's cache: ask the index
        hashes.update(_compile(left, options, cache_root, workdir, cwd, offline=False))
    folders = _local_folders(options, cwd)
    for name, version in pins:  # uv gives no hash for a local find-links file: hash it here
        if _key(name) not in hashes and folders:
            local = _local_hashes(folders, name, version)
            if local:
                hashes[_key(name)] = local
    return hashes
