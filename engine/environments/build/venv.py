"""Virtual environments with uv: ``uv venv`` + ``uv pip install``.

uv ignores pip's configuration, so the parts of it that say where packages come from on this
machine (``find-links`` with local wheels, extra local indexes, constraint files) are read from
``pip config list`` and passed to uv explicitly. uv's cache lives in ``<cache_root>/uv-cache``, on
the same filesystem as the envs, so installs hardlink instead of copying.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.entities import EnvironmentSpec
from engine.environments.build.log import BuildLog, ToolResult, run_tool, tool_env
from engine.errors import EnvBuildFailed
from engine.runtime import default_python
from engine.tracking.inject.trainyard_run.envvars import ENV_UV_IGNORE_PIP_CONFIG


@functools.lru_cache(maxsize=1)
def uv_bin() -> str:
    """The uv executable: the one installed with Trainyard (the ``uv`` package), else on PATH."""
    try:
        import uv

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        import shutil

        found = shutil.which("uv")
        if found:
            return found
    raise EnvBuildFailed("uv is not installed, so pip environments cannot be built",
                         hint="pip install uv (it is a Trainyard dependency)")


@dataclass(frozen=True)
class PipConfig:
    """What of pip's configuration uv should honour."""

    find_links: tuple[str, ...] = ()
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    raw: dict[str, str] = field(default_factory=dict)

    def uv_args(self) -> list[str]:
        args: list[str] = []
        for fl in self.find_links:
            args += ["--find-links", fl]
        if self.index_url:
            args += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            args += ["--extra-index-url", url]
        if self.extra_index_urls:
            # pip's semantics: the best version across all indexes, not the first index that has it.
            args += ["--index-strategy", "unsafe-best-match"]
        for c in self.constraints:
            args += ["--constraint", c]
        return args


_CONFIG_LINE = re.compile(r"^(?P<scope>[^.]*)\.(?P<key>[A-Za-z0-9_-]+)=(?P<value>.*)$")


def _local_path_ok(value: str) -> bool:
    """A local path or file:// URL that exists (uv fails on a missing one); remote URLs pass."""
    if value.startswith("file://"):
        return Path(value[len("file://"):]).exists()
    if "://" in value:
        return True
    return Path(value).exists()


def parse_pip_config(text: str) -> PipConfig:
    """Parse ``pip config list`` output (``scope.key='value'`` lines; later scopes win)."""
    raw: dict[str, str] = {}
    for line in text.splitlines():
        m = _CONFIG_LINE.match(line.strip())
        if not m:
            continue
        value = m.group("value").strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        raw[m.group("key")] = value

    def values(key: str) -> tuple[str, ...]:
        out: list[str] = []
        for v in raw.get(key, "").split():
            if v not in out and _local_path_ok(v):
                out.append(v)
        return tuple(out)

    index = raw.get("index-url") or None
    return PipConfig(find_links=values("find-links"), index_url=index,
                     extra_index_urls=values("extra-index-url"), constraints=values("constraint"), raw=raw)


@functools.lru_cache(maxsize=1)
def pip_config() -> PipConfig:
    """This machine's pip configuration (asked once per process); empty when pip is unavailable.
    ``TRAINYARD_UV_IGNORE_PIP_CONFIG=1`` turns it off."""
    if os.environ.get(ENV_UV_IGNORE_PIP_CONFIG) == "1":
        return PipConfig()
    try:
        res = subprocess.run([default_python(), "-m", "pip", "config", "list"], check=False,
                             capture_output=True,
                             text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return PipConfig()
    if res.returncode != 0:
        return PipConfig()
    return parse_pip_config(res.stdout)


def uv_env(cache_root: Path) -> dict[str, str]:
    return tool_env({"UV_CACHE_DIR": str(cache_root / "uv-cache"), "UV_NO_PROGRESS": "1"})


# --- errors --------------------------------------------------------------------------------------

_NOT_FOUND = [
    re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._\-\[\],]*) was not found in the package registry"),
    re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._\-]*) was not found in the provided package locations"),
]
_NO_VERSION = re.compile(r"there (?:is|are) no versions? of (?P<name>[^\s,]+)")
_HASH_MISMATCH = re.compile(r"Hash mismatch for `(?P<name>[^`]+)`")


def pip_failure(result: ToolResult, requirements: Sequence[str], what: str) -> EnvBuildFailed:
    """An EnvBuildFailed for a failed ``uv pip install`` that names the package when uv says which."""
    text = "\n".join(result.tail)
    name = None
    for pat in _NOT_FOUND:
        m = pat.search(text)
        if m:
            name = m.group("name").rstrip(".,")
            headline = (f"pip package '{name}' of {what} was not found in the package registry "
                        "(PyPI and this machine's pip find-links/indexes)")
            hint = f"check the spelling of '{name}' in the pip requirements"
            break
    else:
        m = _NO_VERSION.search(text)
        mismatch = _HASH_MISMATCH.search(text)
        if mismatch:
            name = mismatch.group("name").split("==")[0]
            headline = (f"the artifact of '{mismatch.group('name')}' on the package index is not the one "
                        f"{what} locked: its sha256 differs, so it was refused (--require-hashes)")
            hint = ("the index now serves different content under the same version; re-run from the spec "
                    "(--from-spec) if the new artifact is trusted")
        elif m:
            name = m.group("name").rstrip(".,")
            headline = f"pip requirement '{name}' of {what} matches no version in the package registry"
            hint = f"check the version pin of '{name}' in the pip requirements"
        elif "No solution found" in text:
            headline = f"the pip requirements of {what} cannot be satisfied together"
            hint = "relax the conflicting version pins shown in the output"
        else:
            headline = f"installing the pip requirements of {what} failed"
            hint = "see the output; every line of it is in the build log (20_image_build_log.txt)"
    reqs = ", ".join(requirements) if requirements else "(none)"
    err = EnvBuildFailed(f"{headline}\nrequirements: {reqs}\n{result.describe()}", hint=hint)
    err.package = name  # type: ignore[attr-defined]
    return err


# --- building ------------------------------------------------------------------------------------


def pip_install(
    python: Path,
    requirements: Sequence[str],
    *,
    cache_root: Path,
    log: BuildLog,
    workdir: Path,
    what: str,
    prefix: Path | None = None,
    cwd: Path | None = None,
) -> None:
    """``uv pip install -r requirements`` into ``python``'s environment (or into ``prefix``)."""
    req_file = workdir / "requirements.txt"
    req_file.write_text("\n".join(requirements) + "\n")
    cmd = [uv_bin(), "pip", "install", "--python", str(python)]
    config = pip_config()
    if hashed(requirements):
        # A lock's pins: every artifact must match its recorded sha256. The machine's constraint
        # files go (--require-hashes wants every constraint pinned too): the locked set was
        # resolved under them already.
        cmd.append("--require-hashes")
        config = replace(config, constraints=())
    if prefix is not None:
        cmd += ["--prefix", str(prefix)]
    cmd += [*config.uv_args(), "-r", str(req_file)]
    result = run_tool(cmd, log, env=uv_env(cache_root), cwd=cwd or cache_root)
    if not result.ok:
        raise pip_failure(result, requirements, what)


def hashed(requirements: Sequence[str]) -> bool:
    """True when every requirement (not an option line) carries a ``--hash``: a venv lock's pins."""
    reqs = [r for r in requirements if r.strip() and not r.startswith("-")]
    return bool(reqs) and all("--hash=" in r for r in reqs)


def source_dir(source: str | None, fallback: Path) -> Path:
    """Relative paths in a requirements/conda file are taken from the file's folder."""
    if source:
        d = Path(source).expanduser().parent
        if d.is_dir():
            return d
    return fallback


def build_venv(spec: EnvironmentSpec, build_dir: Path, cache_root: Path, log: BuildLog) -> Path:
    """Create a relocatable venv at ``build_dir/env`` and install the spec's pip requirements.
    Returns the env's python (inside ``build_dir``)."""
    prefix = build_dir / "env"
    reqs = list(spec.pip_requirements or ())
    log.step("Creating virtual environment with uv")
    log.progress(0.05, "creating virtual environment")
    cmd = [uv_bin(), "venv", str(prefix), "--python", default_python(), "--relocatable", "--no-project"]
    result = run_tool(cmd, log, env=uv_env(cache_root), cwd=cache_root)
    if not result.ok:
        raise EnvBuildFailed(f"creating the virtual environment for '{spec.reference}' failed\n"
                             f"{result.describe()}", hint="see the output above")
    python = prefix / "bin" / "python"
    if reqs:
        log.step(f"Installing {len(reqs)} pip requirement(s) with uv: {', '.join(reqs)}")
        log.progress(0.2, "installing pip requirements")
        pip_install(python, reqs, cache_root=cache_root, log=log, workdir=build_dir,
                    what=f"environment '{spec.reference}'", cwd=source_dir(spec.pip_source, cache_root))
    log.progress(0.95, "virtual environment ready")
    return python


def resolve_requirements(requirements: Sequence[str], cache_root: Path, workdir: Path,
                         cwd: Path | None = None) -> tuple[ToolResult, str]:
    """What ``requirements`` resolve to on the index now, without installing anything
    (``uv pip compile``): (the tool's result, the resolved ``NAME==VERSION`` lines)."""
    workdir.mkdir(parents=True, exist_ok=True)
    req_file = workdir / "requirements.in"
    req_file.write_text("\n".join(requirements) + "\n")
    out_file = workdir / "requirements.lock.txt"
    cmd = [uv_bin(), "pip", "compile", "--python", default_python(), "--no-header", "--no-annotate",
           *pip_config().uv_args(), "-o", str(out_file), str(req_file)]
    result = run_tool(cmd, BuildLog(None), env=uv_env(cache_root), cwd=cwd or cache_root)
    return result, out_file.read_text() if result.ok and out_file.exists() else ""
