"""Where a Slurm run's files live on the cluster (REMOTE, on its shared filesystem) and how they
get there and back: `LocalSide` when Trainyard runs on the login node (`local: true`: plain file
copies, REMOTE = work_dir/<run>, or RUN/slurm without a work_dir), `SshSide` through the login
node (engine.compute.ssh: the content-store upload, the environment built there, SFTP pulls).

Either way REMOTE has the SSH layout (wd/, inject/, bin/, tracking/, driver.log, exit_code) and
engine.compute.ssh.pull.Puller brings back what grew, by byte offset (here through `LocalFiles`,
the few SFTP calls it makes answered from this machine's filesystem)."""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.compute.slurm.target import Login, SlurmTarget
from engine.compute.ssh.pull import Puller
from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog
from engine.errors import LaunchFailed
from engine.runtime import INJECT_DIR
from engine.runtime.files import RunFiles
from engine.runtime.launchspec import LaunchSpec

__all__ = ["LocalFiles", "LocalSide", "SshSide", "make_side"]


class _Attr:
    def __init__(self, name: str, st: os.stat_result) -> None:
        self.filename, self.st_mode, self.st_size = name, st.st_mode, st.st_size


class LocalFiles:
    """The SFTP calls engine.compute.ssh.pull.Puller makes, on this machine's files."""

    def stat(self, path: str) -> _Attr:
        return _Attr(os.path.basename(path), os.stat(path))

    def listdir_attr(self, path: str) -> list[_Attr]:
        return [_Attr(e.name, e.stat(follow_symlinks=False)) for e in os.scandir(path)]

    def open(self, path: str, mode: str) -> Any:
        return open(path, mode)

    def get(self, remote: str, local: str) -> None:
        shutil.copyfile(remote, local)


def _copy(src: Path, dest: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
    elif src.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)


def _read_only_files(path: Path) -> None:
    for f in [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
        f.chmod(f.stat().st_mode & ~0o222)


class LocalSide:
    """The run's files on this machine (the login node), in a folder the compute nodes see."""

    def __init__(
        self, target: SlurmTarget, files: RunFiles, spec: LaunchSpec, log: Callable[[str], None]
    ) -> None:
        self.target, self.files, self.spec, self.log = target, files, spec, log
        self.login = Login(target)
        self.remote = ""
        self.interpreter: str | None = None  # of an environment built for the run
        self.puller: Puller | None = None

    def connect(self) -> None:
        base = Path(os.path.expanduser(self.target.work_dir)).absolute() if self.target.work_dir else None
        self.remote = str(base / self.spec.run_name) if base else str(self.files.root / "slurm")
        self.puller = Puller(self.files, lambda: self.remote, LocalFiles, self.log, state="slurm-pull.json")

    def build_environment(self, env: EnvironmentSpec, log: BuildLog) -> tuple[str, bool]:
        """Build (or find) the environment here, with the builders local runs use: the login node
        shares the filesystem (the workspace's environments folder) with the compute nodes."""
        from engine.environments.build import ensure_built  # uv, conda: the slow path only

        if env.needs_docker:
            raise LaunchFailed(
                f"compute target {self.target.name!r} is a Slurm cluster: a Docker environment "
                f"({env.reference}) cannot run there in this version of Trainyard",
                "give the job a pip or conda environment, or a user-managed interpreter",
            )
        built = ensure_built(env, Path(self.spec.envs_root or ""), log)
        self.interpreter = built.interpreter
        return built.spec_hash, built.cached

    def upload(self, interpreter: str) -> int:
        """Copy the code (RUN/wd), the in-run client, the interpreter wrappers and the inputs into
        REMOTE; returns the bytes copied."""
        rem = Path(self.remote)
        for sub in ("wd", "tracking", "bin"):
            (rem / sub).mkdir(parents=True, exist_ok=True)
        _copy(self.files.wd, rem / "wd")
        _copy(INJECT_DIR, rem / "inject")
        for name in ("python", "python3"):
            wrapper = rem / "bin" / name
            wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(interpreter)} "$@"\n')
            wrapper.chmod(0o755)
        plan = self.spec.data
        for inp in plan.inputs if plan is not None else ():
            if inp.rel is not None:
                _copy(Path(inp.source), rem / inp.rel)
        # Read-only by permission bits too: all a node that refuses mount namespaces gives them.
        for inp in plan.read_only_inputs if plan is not None else ():
            if inp.rel is not None:
                _read_only_files(rem / inp.rel)
        for out in plan.outputs if plan is not None else ():
            (rem / out.rel).parent.mkdir(parents=True, exist_ok=True)
            if not out.is_file:
                (rem / out.rel).mkdir(parents=True, exist_ok=True)
        return sum(f.stat().st_size for f in rem.rglob("*") if f.is_file() and not f.is_symlink())

    def write(self, rel: str, text: str) -> None:
        path = Path(self.remote) / rel
        path.write_text(text)

    def read(self, rel: str) -> str | None:
        try:
            return (Path(self.remote) / rel).read_text()
        except OSError:
            return None

    def collect(self) -> None:
        """./outputs and the job's named outputs back into the run folder; REMOTE removed after
        (unless the target keeps remote files)."""
        rem = Path(self.remote)
        _copy(rem / "wd" / "outputs", self.files.wd / "outputs")
        plan = self.spec.data
        for out in plan.outputs if plan is not None else ():
            _copy(rem / out.rel, self.files.root / out.rel)
        if not self.target.keep_remote_files:
            shutil.rmtree(rem, ignore_errors=True)

    def close(self) -> None:
        pass


class SshSide:
    """The run's files on the login node, through engine.compute.ssh (one SSH run's connection,
    uploads, environment builds and pulls; the script is started by Slurm, not by it)."""

    def __init__(
        self,
        target: SlurmTarget,
        files: RunFiles,
        spec: LaunchSpec,
        log: Callable[[str], None],
        note: Callable[[str], None],
    ) -> None:
        from engine.compute.ssh import SshRun, SshTarget  # paramiko: the slow path only

        settings = {**(target.ssh or {}), "keep_remote_files": target.keep_remote_files}
        if target.work_dir:
            settings["work_dir"] = target.work_dir
        self.target = target
        self.ssh = SshRun(SshTarget.from_config(target.name, settings), files, spec, log, note)
        self.login = Login(
            target,
            lambda cmd, timeout: (
                self.ssh.link.with_connection(lambda: self.ssh.link.exec(cmd, timeout=timeout))
                or ("", "the login node is unreachable", 255)
            ),
        )
        self.interpreter: str | None = None

    @property
    def remote(self) -> str:
        return self.ssh.remote

    @property
    def puller(self) -> Puller:
        return self.ssh.puller

    def connect(self) -> None:
        self.ssh.connect()

    def build_environment(self, env: EnvironmentSpec, log: BuildLog) -> tuple[str, bool]:
        env_hash, cached = self.ssh.build_environment(env, log)
        self.interpreter = self.ssh.env_interpreter
        return env_hash, cached

    def upload(self, interpreter: str) -> int:
        self.ssh.interpreter = interpreter
        return self.ssh.upload().bytes_sent

    def write(self, rel: str, text: str) -> None:
        with self.ssh.link.sftp.open(f"{self.remote}/{rel}", "wb") as f:
            f.write(text.encode())

    def read(self, rel: str) -> str | None:
        try:
            with self.ssh.link.sftp.open(f"{self.remote}/{rel}", "rb") as f:
                return str(f.read().decode())
        except OSError:
            return None

    def collect(self) -> None:
        self.ssh.cleanup()  # outputs downloaded, REMOTE removed (unless keep_remote_files)

    def close(self) -> None:
        self.ssh.close()


def make_side(
    target: SlurmTarget,
    files: RunFiles,
    spec: LaunchSpec,
    log: Callable[[str], None],
    note: Callable[[str], None],
) -> LocalSide | SshSide:
    return LocalSide(target, files, spec, log) if target.local else SshSide(target, files, spec, log, note)
