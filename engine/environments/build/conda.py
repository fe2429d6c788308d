"""Conda environments: solved and installed with py-rattler (no conda needed), the ``pip:`` section
installed after with uv into the env's python. Or, when the user configured one with
``TRAINYARD_CONDA_EXE``, with their conda / mamba / micromamba.

With rattler the env is installed into the temporary build folder but with the final prefix
patched into its files (``alternative_target_prefix``), so the finished folder can be renamed
into place. A conda/mamba executable cannot do that, so it builds in place (the cache marker,
written last, still decides what counts as built).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from engine.entities import EnvironmentSpec
from engine.environments.build.log import BuildLog, ToolResult, run_tool, tool_env
from engine.environments.build.venv import pip_install, source_dir
from engine.errors import EnvBuildFailed, InvalidSpec
from engine.specs import yamlfile
from engine.tracking.inject.trainyard_run.envvars import ENV_CONDA_EXE

DEFAULT_CHANNELS = ["conda-forge"]
# conda's "defaults" is Anaconda's repository, not a channel on conda.anaconda.org.
NAMED_CHANNEL_URLS = {"defaults": ["https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r"]}
SHEBANG_MAX = 127

T = TypeVar("T")


def split_dependencies(conda: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(conda match specs, pip requirement lines) from a parsed conda YAML."""
    specs: list[str] = []
    pip: list[str] = []
    for dep in conda.get("dependencies") or []:
        if isinstance(dep, dict):
            for key, value in dep.items():
                if key == "pip":
                    pip += [str(v).strip() for v in (value or []) if str(v).strip()]
                else:
                    raise InvalidSpec(f"unexpected entry '{key}:' in conda dependencies (only 'pip:' "
                                      "may be a mapping)", field="dependencies")
        elif dep is not None and str(dep).strip():
            specs.append(str(dep).strip())
    return specs, pip


def resolve_channels(channels: list[Any] | None, source: str | None) -> list[str]:
    """Channel names/URLs for rattler: local folders (absolute, ``~`` or relative to the conda file)
    become file:// URLs; URLs and names (conda-forge, ...) pass through."""
    base = source_dir(source, Path.cwd())
    out: list[str] = []
    for ch in channels or DEFAULT_CHANNELS:
        ch = str(ch).strip()
        if not ch:
            continue
        if "://" in ch:
            out.append(ch)
        elif ch.startswith(("/", ".", "~")) or os.sep in ch and (base / ch).exists():
            path = Path(ch).expanduser()
            if not path.is_absolute():
                path = base / path
            out.append(path.resolve().as_uri())
        else:
            out.extend(NAMED_CHANNEL_URLS.get(ch, [ch]))
    return out


def _run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, also when the caller has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=target, name="trainyard-rattler")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _reporter(log: BuildLog, start: float, end: float) -> Any:
    """A rattler InstallerReporter that turns link/transaction callbacks into log lines and
    progress. Exceptions from the log's handler (a cancel) are kept and re-raised after install."""
    from rattler.install import InstallerReporter

    class Reporter(InstallerReporter):
        def __init__(self) -> None:
            super().__init__()
            self.total = 0
            self.done = 0
            self.error: BaseException | None = None
            self._next = 0

        def _safe(self, fn: Any, *args: Any) -> None:
            if self.error is None:
                try:
                    fn(*args)
                except BaseException as exc:  # noqa: BLE001
                    self.error = exc

        def on_transaction_start(self, total_operations: int) -> None:
            self.total = total_operations
            self._safe(log.line, f"installing {total_operations} package(s)")

        def on_link_start(self, operation: int, package_name: str) -> int:
            self._safe(log.line, f"linking {package_name}")
            self._next += 1
            return self._next

        def on_transaction_operation_complete(self, operation: int) -> None:
            self.done += 1
            if self.total:
                self._safe(log.progress, start + (end - start) * self.done / self.total,
                           f"installed {self.done}/{self.total} conda packages")

    # rattler's protocol methods are no-ops whose bodies are only docstrings, which mypy takes for
    # abstract methods.
    return Reporter()  # type: ignore[abstract]


def _solver_failure(exc: BaseException, specs: list[str], channels: list[str], what: str) -> EnvBuildFailed:
    text = str(exc).strip()
    kind = type(exc).__name__
    cmd = f"rattler solve {shlex.join(specs)} --channel {' --channel '.join(channels)}"
    if kind == "SolverError":
        return EnvBuildFailed(
            f"the conda dependencies of {what} cannot be satisfied: {text}\n"
            f"requested: {', '.join(specs)}\nchannels: {', '.join(channels)}\n"
            f"command: {cmd}\nexit code: 1 (unsolvable)",
            hint="the solver's explanation above names the conflicting requirements; relax a pin or "
                 "add a channel that has the missing package")
    if kind in ("GatewayError", "FetchRepoDataError", "InvalidChannelError", "IoError"):
        return EnvBuildFailed(
            f"cannot read the conda channel(s) {', '.join(channels)} for {what}: {text}\n"
            f"command: {cmd}\nexit code: 1",
            hint="this machine may be offline or the channel name is wrong: use a local channel "
                 "(a folder or file:// URL under 'channels:'), or point TRAINYARD_CONDA_EXE at your "
                 "conda/mamba/micromamba")
    return EnvBuildFailed(f"solving the conda environment for {what} failed ({kind}): {text}\n"
                          f"command: {cmd}\nexit code: 1")


def _fix_pip_scripts(bin_dir: Path, before: set[str], final_prefix: Path) -> None:
    """Point the python shebang of scripts the pip section added at the env's final python."""
    python = final_prefix / "bin" / "python"
    if not bin_dir.is_dir():
        return
    for script in bin_dir.iterdir():
        if script.name in before or not script.is_file() or script.is_symlink():
            continue
        try:
            data = script.read_bytes()
        except OSError:
            continue
        first, sep, rest = data.partition(b"\n")
        if not first.startswith(b"#!") or b"python" not in first:
            continue
        shebang = f"#!{python}".encode()
        if len(shebang) > SHEBANG_MAX:  # the kernel's limit: re-exec through sh, like pip does
            shebang = f"#!/bin/sh\n'''exec' {shlex.quote(str(python))} \"$0\" \"$@\"\n' '''".encode()
        mode = script.stat().st_mode
        script.write_bytes(shebang + sep + rest)
        script.chmod(mode)


def build_conda(spec: EnvironmentSpec, build_dir: Path, final_dir: Path, cache_root: Path,
                log: BuildLog) -> Path | None:
    """Build the spec's conda env into ``build_dir/env`` (paths patched for ``final_dir/env``).
    Returns the env's python inside ``build_dir`` (None when the env has no python)."""
    exe = os.environ.get(ENV_CONDA_EXE, "").strip()
    if exe:
        return build_with_conda_exe(exe, spec, final_dir, cache_root, log)

    import rattler

    assert spec.conda is not None
    what = f"environment '{spec.reference}'"
    specs, pip_reqs = split_dependencies(spec.conda)
    channels = resolve_channels(spec.conda.get("channels"), spec.conda_source)
    prefix = build_dir / "env"
    final_prefix = final_dir / "env"
    for s in specs:
        try:
            rattler.MatchSpec(s)
        except Exception as exc:  # noqa: BLE001 - rattler's parse errors have no common base
            raise InvalidSpec(f"'{s}' is not a valid conda dependency: {exc}", file=spec.conda_source,
                              field="dependencies") from None
    if not specs:
        specs = []

    log.step(f"Solving conda environment: {', '.join(specs) or '(nothing)'}")
    log.line(f"channels: {', '.join(channels)}")
    log.progress(0.05, "solving")
    try:
        vpkgs = rattler.VirtualPackage.detect()
    except Exception:  # noqa: BLE001
        vpkgs = []
    subdir = rattler.Subdir if hasattr(rattler, "Subdir") else rattler.Platform  # renamed in 0.2x
    platforms = [str(subdir.current()), "noarch"]

    async def solve(wanted: list[str]) -> list[Any]:
        # Platform names as str, which rattler parses; its stub wants its own Literal of them.
        return await rattler.solve(channels, wanted, platforms=platforms,  # type: ignore[arg-type]
                                   virtual_packages=vpkgs)

    try:
        records = _run_async(solve(specs)) if specs else []
    except Exception as exc:  # noqa: BLE001
        # "- pip" is usual in conda files, but the pip section is installed with uv here: when the
        # channels have no pip package, solve without it.
        bare = [s for s in specs if s.split("=")[0].split("<")[0].split(">")[0].strip() == "pip"]
        if type(exc).__name__ == "SolverError" and bare and "pip" in str(exc):
            log.line("the channels have no 'pip' package; solving without it (the pip: section is "
                     "installed with uv)")
            specs = [s for s in specs if s not in bare]
            try:
                records = _run_async(solve(specs)) if specs else []
            except Exception as exc2:  # noqa: BLE001
                log.line(f"ERROR: {exc2}")
                raise _solver_failure(exc2, specs, channels, what) from None
        else:
            log.line(f"ERROR: {exc}")
            raise _solver_failure(exc, specs, channels, what) from None
    for r in sorted(records, key=lambda r: r.name.normalized):
        log.line(f"  {r.name.normalized} {r.version} {r.build} ({r.channel})")

    log.step(f"Installing {len(records)} conda package(s)")
    log.progress(0.2, "installing conda packages")
    reporter = _reporter(log, 0.2, 0.6 if pip_reqs else 0.9)
    prefix.mkdir(parents=True, exist_ok=True)

    async def install() -> None:
        await rattler.install(records, target_prefix=prefix, cache_dir=cache_root / "conda-pkgs",
                              show_progress=False, reporter=reporter, alternative_target_prefix=final_prefix)

    try:
        if records:
            _run_async(install())
    except Exception as exc:  # noqa: BLE001
        log.line(f"ERROR: {exc}")
        raise EnvBuildFailed(f"installing the conda packages of {what} failed ({type(exc).__name__}): {exc}\n"
                             f"command: rattler install into {final_prefix}\nexit code: 1") from None
    if reporter.error is not None:
        raise reporter.error
    (prefix / "conda-meta").mkdir(parents=True, exist_ok=True)

    python = prefix / "bin" / "python"
    if pip_reqs:
        if not python.exists():
            raise EnvBuildFailed(
                f"the conda file of {what} has a pip: section but its conda dependencies install no "
                "python, so there is nothing to install the pip packages into",
                hint="add 'python' to the conda dependencies")
        log.step(f"Installing {len(pip_reqs)} pip requirement(s) with uv: {', '.join(pip_reqs)}")
        log.progress(0.6, "installing pip requirements")
        before = {p.name for p in (prefix / "bin").iterdir()} if (prefix / "bin").is_dir() else set()
        pip_install(python, pip_reqs, cache_root=cache_root, log=log, workdir=build_dir, what=what,
                    prefix=prefix, cwd=source_dir(spec.conda_source, cache_root))
        _fix_pip_scripts(prefix / "bin", before, final_prefix)
    log.progress(0.95, "conda environment ready")
    return python if python.exists() else None


def build_with_conda_exe(exe: str, spec: EnvironmentSpec, final_dir: Path, cache_root: Path,
                         log: BuildLog) -> Path | None:
    """``<exe> create -p <prefix> -f environment.yml --yes`` (mamba, micromamba) or
    ``conda env create -p <prefix> -f environment.yml``; the tool installs the pip section itself.
    Builds in place at ``final_dir/env``."""
    assert spec.conda is not None
    what = f"environment '{spec.reference}'"
    final_dir.mkdir(parents=True, exist_ok=True)
    prefix = final_dir / "env"
    doc = {k: v for k, v in spec.conda.items() if k != "name"}
    doc["channels"] = resolve_channels(spec.conda.get("channels"), spec.conda_source)
    env_file = final_dir / "environment.yml"
    env_file.write_text(yamlfile.dump(doc))
    name = Path(exe).name.lower()
    if "mamba" in name:
        cmd = [exe, "create", "-p", str(prefix), "-f", str(env_file), "--yes"]
    else:
        cmd = [exe, "env", "create", "-p", str(prefix), "-f", str(env_file)]
    log.step(f"Creating conda environment with {exe}")
    log.progress(0.05, f"running {Path(exe).name}")
    result: ToolResult = run_tool(cmd, log, env=tool_env(), cwd=source_dir(spec.conda_source, cache_root))
    if not result.ok:
        raise EnvBuildFailed(f"creating the conda environment for {what} with {exe} failed\n{result.describe()}",
                             hint="see the output above; unset TRAINYARD_CONDA_EXE to use the built-in "
                                  "solver (py-rattler) instead")
    python = prefix / "bin" / "python"
    log.progress(0.95, "conda environment ready")
    return python if python.exists() else None
