"""The sha256 of every distribution a venv lock pins: what ``--require-hashes`` checks on a re-run.

Where the hashes come from, and why there: after the build, the installed ``NAME==VERSION`` pins
are compiled again with ``uv pip compile --generate-hashes --no-deps`` against the same indexes
(the spec's ``--index-url``/``--find-links`` lines and this machine's pip configuration). That
gives the hashes the index publishes for exactly that version (on PyPI: its wheels and sdist;
the one uv installed is among them, since uv checks what it downloads against them). The other
places were worse: uv's cache layout is internal to uv and changes between its versions; an
installed ``RECORD`` hashes the unpacked files, not the artifact, so ``--require-hashes`` cannot
use it. uv gives no hash for a file in a local ``--find-links`` folder, so those files (named
``NAME-VERSION-*.whl`` / ``NAME-VERSION.tar.gz``) are hashed here. The lookup itself is in
engine.environments.build.pinhashes (standard library: an SSH host runs it after its builds).

A lock is a record: when the index cannot be asked, the pins stay without hashes (and a re-run
installs them by version only, as before hashes were recorded).

The lookup does not wait for the install: ``HashPrefetch`` compiles the spec's requirements with
hashes while ``uv pip install`` runs (both resolve the same set from the same index pages), and the
lock takes its hashes for the pins that came out the same; only a pin it missed is looked up after
the build. A re-run from a lock already carries its hashes: they are read from its pins.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from engine.environments.build import pinhashes
from engine.environments.build.log import BuildLog, run_tool
from engine.environments.build.venv import pip_config, uv_bin, uv_env
from engine.runtime import default_python

__all__ = ["HashPrefetch", "artifact_hashes", "index_options"]

parse_pinned = pinhashes.parse_pinned
parse_hashed = pinhashes.parse_hashed


def index_options(requirements: Iterable[str]) -> list[str]:
    """The lines of a requirements list that say where packages come from (``--index-url``,
    ``--find-links``, ``--no-index``...)."""
    return pinhashes.index_options(list(requirements))


def _local_folders(options: Sequence[str], cwd: Path, machine: bool = True) -> list[str]:
    """The local ``--find-links`` folders of ``options`` (and of this machine's pip configuration)."""
    return pinhashes.find_links_folders(list(options), str(cwd), pip_config().find_links if machine else ())


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


class HashPrefetch:
    """The hashes of what a spec's requirements resolve to, compiled (``uv pip compile
    --generate-hashes``) in the background while the install runs, so that the lock's lookup adds
    nothing to a build whose pins it found. Requirements that already carry hashes (a re-run from
    a lock) are read, not compiled; some are left to the lookup after the build
    (pinhashes.compiles_beside_install says which, and why)."""

    def __init__(self, requirements: Sequence[str], cache_root: Path, workdir: Path, cwd: Path) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._known: dict[str, tuple[str, tuple[str, ...]]] = {}
        reqs = [r.strip() for r in requirements if r.strip()]
        pins = [r for r in reqs if not r.startswith("-")]
        if pins and all("--hash=" in r for r in pins):
            self._known = parse_pinned("\n".join(reqs))
            return
        if not pinhashes.compiles_beside_install(reqs):
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
    ``pins`` ((name, version) pairs), looked up on the indexes ``options`` name
    (engine.environments.build.pinhashes.lookup). Packages the index gives no hash for (and no
    local file has) are left out.

    ``cached_first`` (right after a build): the index pages uv just fetched for the install are
    read from its cache (``--offline``: ~30 ms instead of ~110 ms for a revalidation), and only
    what they lack is asked of the index. A re-run's check asks the index as it is now.
    ``known``: what a ``HashPrefetch`` found; a pin of the same version is not looked up again."""
    if not pins:
        return {}
    where = cwd or cache_root

    def compile_pins(which: list[tuple[str, str]], offline: bool) -> dict[str, tuple[str, ...]]:
        return _compile(which, options, cache_root, workdir, where, offline)

    return pinhashes.lookup(list(pins), compile_pins, _local_folders(options, where), cached_first=cached_first,
                            known=dict(known or {}))
