"""Runs on `type: ssh` compute targets: the supervisor stays on this machine and drives the remote.

Over 600 lines on purpose: connection, upload, offset pulls and cancel share one session's state;
the remote-environment builders (next) will leave here as modules of their own.

The run's materialized snapshot (RUN/wd) and the in-run client are uploaded to
``REMOTE = work_dir/<run name>/`` as one tar stream; the script starts there detached (``setsid``,
stdio to files) so that a dropped connection never stops it. ``SshRun.poll`` then pulls, by byte
offset, what grew since the last pull: the remote driver log, the record files in REMOTE/tracking
and REMOTE/wd/logs into the run folder, where the usual ingestor and log mirror take them.
Appending by offset means a reconnect neither loses nor duplicates a byte. The script's exit code
lands in REMOTE/exit_code (written with a rename, so it is whole when it exists).

Remote layout::

    REMOTE/wd/          the snapshot; the script's working directory (outputs/, logs/)
    REMOTE/inject/      the in-run client (first on PYTHONPATH)
    REMOTE/bin/         `python` and `python3` wrappers for the run's interpreter (first on PATH)
    REMOTE/tracking/    record files the in-run client writes
    REMOTE/driver.log   stdout+stderr of the script
    REMOTE/exit_code    written when the script ends
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import signal
import stat
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import LaunchFailed
from engine.runtime import INJECT_DIR
from engine.runtime.files import RunFiles
from engine.runtime.launchspec import LaunchSpec
from engine.tracking.inject.trainyard_run.envvars import (
    ENV_RUN_DIR,
    ENV_SSH_RECONNECT_TIMEOUT,
    ENV_TRACKING_DIR,
)

DEFAULT_WORK_DIR = "~/.trainyard/runs"
DEFAULT_RECONNECT_TIMEOUT = 600.0
PULL_INTERVAL = 0.2
IO_TIMEOUT = 10.0  # a hung host fails a read within this, not after TCP's minutes
CONNECT_TIMEOUT = 10.0
BACKOFF_MIN, BACKOFF_MAX = 0.5, 5.0
CHUNK = 8 << 20
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def reconnect_timeout() -> float:
    try:
        return float(os.environ.get(ENV_SSH_RECONNECT_TIMEOUT, DEFAULT_RECONNECT_TIMEOUT))
    except ValueError:
        return DEFAULT_RECONNECT_TIMEOUT


# ------------------------------------------------------------------------------ settings
@dataclass(frozen=True)
class SshTarget:
    """Where and how to connect, after ~/.ssh/config (HostName, Port, User, IdentityFile)."""

    name: str
    host: str  # what the target says (may be an ~/.ssh/config alias)
    hostname: str
    port: int
    user: str
    key_files: tuple[str, ...]
    known_hosts: str | None
    work_dir: str
    keep_remote_files: bool = False

    @classmethod
    def from_config(cls, name: str, config: Mapping[str, Any]) -> SshTarget:
        import getpass

        import paramiko

        host = str(config.get("host") or "")
        found: dict[str, Any] = {}
        ssh_config = Path("~/.ssh/config").expanduser()
        if ssh_config.is_file():
            try:
                found = dict(paramiko.SSHConfig.from_path(str(ssh_config)).lookup(host))
            except Exception:  # noqa: BLE001 - a broken ~/.ssh/config must not hide the target's own settings
                found = {}
        port = int(config.get("port") or 22)
        if port == 22 and found.get("port"):  # the YAML's default 22 yields to the alias's Port
            port = int(found["port"])
        keys: tuple[str, ...] = ()
        if config.get("key_file"):
            keys = (os.path.expanduser(str(config["key_file"])),)
        elif found.get("identityfile"):
            keys = tuple(os.path.expanduser(k) for k in found["identityfile"])
        known = config.get("known_hosts")
        return cls(
            name=name, host=host, hostname=str(found.get("hostname") or host), port=port,
            user=str(config.get("user") or found.get("user") or getpass.getuser()),
            key_files=keys, known_hosts=os.path.expanduser(str(known)) if known else None,
            work_dir=str(config.get("work_dir") or DEFAULT_WORK_DIR),
            keep_remote_files=bool(config.get("keep_remote_files")),
        )

    @property
    def address(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"

    def connect(self, timeout: float = CONNECT_TIMEOUT) -> Any:
        """A connected paramiko.SSHClient; LaunchFailed says what is wrong and what to do."""
        import paramiko

        client = paramiko.SSHClient()
        system_hosts = os.path.expanduser("~/.ssh/known_hosts")
        try:  # named, paramiko raises when it cannot read it (unnamed, it would say nothing)
            client.load_system_host_keys(system_hosts)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise LaunchFailed(f"the known_hosts file {system_hosts} cannot be read: {exc}",
                               "make it a file you can read (chmod u+r), or move it aside") from None
        if self.known_hosts:
            try:
                client.get_host_keys().load(self.known_hosts)
            except OSError as exc:
                raise LaunchFailed(f"the known_hosts file {self.known_hosts} of compute target {self.name!r} "
                                   f"cannot be read: {exc}", "fix `known_hosts:` in the compute YAML") from None
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        for key in self.key_files:
            if not os.path.isfile(key):
                raise LaunchFailed(f"the SSH key file {key} of compute target {self.name!r} does not exist",
                                   "fix `key_file:` in the compute YAML (or IdentityFile in ~/.ssh/config)")
        hosts_file = self.known_hosts or "~/.ssh/known_hosts"
        keyscan = f"ssh-keyscan -p {self.port} {self.hostname} >> {hosts_file}"
        try:
            client.connect(self.hostname, port=self.port, username=self.user,
                           # paramiko takes a list of key files too (its docs); the stub says str
                           key_filename=list(self.key_files) or None,  # type: ignore[arg-type]
                           look_for_keys=not self.key_files, allow_agent=not self.key_files,
                           timeout=timeout, banner_timeout=timeout, auth_timeout=timeout)
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise LaunchFailed(f"the host key of {self.hostname}:{self.port} does not match the one in "
                               f"{hosts_file}: {exc}",
                               "if the host was reinstalled on purpose, remove its old line "
                               f"(ssh-keygen -R '[{self.hostname}]:{self.port}') and run `{keyscan}`") from None
        except paramiko.AuthenticationException as exc:
            client.close()
            keys = ", ".join(self.key_files) or "the default keys in ~/.ssh and the SSH agent"
            raise LaunchFailed(f"SSH login to {self.address} failed with the key {keys}: {exc}",
                               f"check `user:` and `key_file:`, and that the key's .pub is in "
                               f"~{self.user}/.ssh/authorized_keys there") from None
        except paramiko.SSHException as exc:
            client.close()
            if "not found in known_hosts" in str(exc):
                raise LaunchFailed(f"the host key of {self.hostname}:{self.port} (compute target {self.name!r}) "
                                   f"is unknown: it is not in {hosts_file}",
                                   f"check that it is the right host, then run `{keyscan}`") from None
            raise LaunchFailed(f"could not connect to {self.address} (compute target {self.name!r}): {exc}",
                               "check that sshd runs there and the port is right") from None
        except (OSError, EOFError) as exc:
            client.close()
            raise LaunchFailed(f"could not connect to {self.address} (compute target {self.name!r}): {exc}",
                               "check the host name and port, and that the machine is up and reachable") from None
        # Keepalives, and timeouts on every channel (IO_TIMEOUT): a silent host fails a read in seconds.
        transport = client.get_transport()
        if transport is not None:  # None only before connect()
            transport.set_keepalive(1)
        return client


# ------------------------------------------------------------------------------ the run
class SshRun:
    """The run handle of a script on an SSH target (an engine.compute.handle.RunHandle)."""

    failed_rank: int | None = None

    def __init__(self, target: SshTarget, files: RunFiles, spec: LaunchSpec,
                 log: Callable[[str], None], note: Callable[[str], None]) -> None:
        self.target = target
        self.files = files
        self.spec = spec
        self.log = log  # supervisor.log
        self.note = note  # a [trainyard] line in the driver log
        self.remote = ""  # REMOTE, absolute, once connected
        self.pgid: int | None = None
        self.interpreter: str | None = None  # absolute on the remote
        self.failure: str | None = None  # why the run failed though the script may not have
        self._client: Any = None
        self._sftp: Any = None
        self._offsets: dict[str, int] = {}  # remote rel path -> bytes pulled
        self._fetched: set[str] = set()  # whole files (tracking/files/*) already pulled
        self._code: int | None = None
        self._next_pull = 0.0
        self._lost_at: float | None = None  # wall time the connection was lost
        self._next_attempt = 0.0
        self._backoff = BACKOFF_MIN
        self._timeout = reconnect_timeout()

    @property
    def pid(self) -> int | None:
        return self.pgid

    # ---------------------------------------------------------------- start
    def connect(self) -> None:
        """Connect and check the remote has what a run needs (LaunchFailed otherwise)."""
        self._open()
        interp = self.spec.placement.ssh_interpreter or "python3"
        probe = (f'printf "home %s\\n" "$HOME"; for c in setsid tar; do command -v "$c" >/dev/null 2>&1 '
                 f'|| echo "missing $c"; done; p=$(command -v -- {shlex.quote(interp)} 2>/dev/null) '
                 f'&& echo "python $p" || echo "missing {interp}"')
        out, _err, _code = self._exec(probe)
        lines = dict(ln.split(" ", 1) for ln in out.splitlines() if " " in ln)
        missing = [ln.split(" ", 1)[1] for ln in out.splitlines() if ln.startswith("missing ")]
        if missing:
            raise LaunchFailed(f"{', '.join(missing)} not found on {self.target.address} (compute target "
                               f"{self.target.name!r})",
                               "install it there (Python 3 and util-linux's setsid and tar), or give the job "
                               "an environment with `interpreter_path:` set to the remote interpreter")
        self.interpreter = lines.get("python")
        work_dir = self.target.work_dir
        if work_dir == "~" or work_dir.startswith("~/"):
            work_dir = lines.get("home", "").rstrip("/") + work_dir[1:]
        elif not work_dir.startswith("/"):
            work_dir = lines.get("home", "").rstrip("/") + "/" + work_dir
        self.remote = work_dir.rstrip("/") + "/" + self.spec.run_name

    def upload(self) -> None:
        """Send RUN/wd, the in-run client and the interpreter wrappers as one tar stream."""
        r = shlex.quote(self.remote)
        chan = self._client.get_transport().open_session(timeout=IO_TIMEOUT)
        chan.settimeout(120)  # one write may wait while the remote tar unpacks a big snapshot
        chan.exec_command(f"mkdir -p {r} && tar --no-same-owner -xf - -C {r}")
        stream = chan.makefile_stdin("wb")

        def no_caches(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
            return None if "__pycache__" in info.name.split("/") else info

        with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.add(self.files.wd, arcname="wd", filter=no_caches)
            tar.add(INJECT_DIR, arcname="inject", filter=no_caches)
            for name in ("bin", "tracking"):
                info = tarfile.TarInfo(name)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
                tar.addfile(info)
            # Wrappers, not links: a venv's python must be started by its own path (launch.link_interpreter).
            wrapper = f'#!/bin/sh\nexec {shlex.quote(self.interpreter or "python3")} "$@"\n'.encode()
            for name in ("python", "python3"):
                info = tarfile.TarInfo(f"bin/{name}")
                info.size, info.mode, info.mtime = len(wrapper), 0o755, int(time.time())
                tar.addfile(info, io.BytesIO(wrapper))
        stream.flush()
        chan.shutdown_write()
        err = chan.makefile_stderr("rb").read().decode("utf-8", "replace").strip()
        code = chan.recv_exit_status()
        chan.close()
        if code != 0:
            raise LaunchFailed(f"uploading the code to {self.target.address}:{self.remote} failed: "
                               f"{err or f'tar exited with code {code}'}",
                               "check that the work folder there is writable and has space "
                               "(`work_dir:` in the compute YAML)")

    def start(self) -> None:
        """Start the script detached: `setsid` makes it its own process group, stdio goes to
        files, so a dropped connection neither stops it nor loses its output."""
        rem = self.remote
        env = dict(self.spec.env)
        env.update({ENV_TRACKING_DIR: f"{rem}/tracking", ENV_RUN_DIR: rem, "PYTHONUNBUFFERED": "1"})
        exports = [f"export {k}={shlex.quote(str(v))}" for k, v in env.items() if _ENV_NAME.match(k)]
        exports.append(f'export PYTHONPATH={shlex.quote(rem + "/inject")}"${{PYTHONPATH:+:$PYTHONPATH}}"')
        exports.append(f'export PATH={shlex.quote(rem + "/bin")}:"$PATH"')
        log, tmp, done = (shlex.quote(f"{rem}/{n}") for n in ("driver.log", "exit.tmp", "exit_code"))
        # The trap keeps this shell alive through a TERM to the group, so it still records the
        # script's exit status (143) rather than leaving no exit_code at all.
        pgid_file = shlex.quote(f"{rem}/pgid")
        inner = (f"echo $$ > {pgid_file}; trap : TERM INT HUP; {'; '.join(exports)}; "
                 f"{shlex.join(self.spec.argv)} > {log} 2>&1; echo $? > {tmp} && mv {tmp} {done}")
        # `cd ... || exit` on its own: `cd && setsid ... &` would background a subshell that waits
        # for the job with this channel open, and $! would not be the group's leader.
        command = (f"cd {shlex.quote(rem + '/wd')} || exit 1; setsid sh -c {shlex.quote(inner)} "
                   "< /dev/null > /dev/null 2>&1 & echo $!")
        try:
            out, err, code = self._exec(command)
            self.pgid = int(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            self._end_unconfirmed_start(pgid_file)
            raise LaunchFailed(f"the script could not be started on {self.target.address}: "
                               f"{err.strip() or out.strip() or f'exit code {code}'}") from None
        except BaseException:
            self._end_unconfirmed_start(pgid_file)
            raise
        self.log(f"ssh: started on {self.target.address} in {rem} (process group {self.pgid})")

    def _end_unconfirmed_start(self, pgid_file: str) -> None:
        """The start was not confirmed (a timeout, a dropped connection): if the script began
        anyway, it recorded its process group; end it, so that a failed run leaves nothing running."""
        try:
            self._exec(f"test -s {pgid_file} && kill -KILL -- -$(cat {pgid_file})", timeout=5)
        except Exception as exc:  # noqa: BLE001 - best effort: the host may be gone
            self.log(f"ssh: could not check for a half-started script: {exc}")

    # ---------------------------------------------------------------- supervise
    def poll(self) -> int | None:
        """Pull what grew (at most every PULL_INTERVAL s); the exit code once the script ended."""
        if self._code is not None:
            return self._code
        now = time.monotonic()
        if now < self._next_pull:
            return None
        self._next_pull = now + PULL_INTERVAL
        if self._client is None and not self._try_reconnect():
            return self._code
        try:
            code = self._read_exit_code()  # before the pull: all the script wrote is there by then
            self._pull()
        except Exception as exc:  # noqa: BLE001 - a lost connection, or one failed read
            if self._is_loss(exc):
                self._lost(exc)
            else:
                self.log(f"ssh: poll error: {type(exc).__name__}: {exc}")
            return None
        if code is not None:
            self._code = code
        return self._code

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"the run on {self.target.address} is still going")
            time.sleep(0.05)
        return code

    def terminate(self, grace: float) -> int:
        """TERM the remote process group, KILL it after `grace` s; returns the exit code."""
        if self._code is not None or self.pgid is None:
            return self._code if self._code is not None else -15
        group = f"-{self.pgid}"
        if not self._with_connection(lambda: self._exec(f"kill -TERM -- {group} 2>/dev/null; true")):
            self.failure = self._unreachable_message("to end the job")
            self._code = -15
            return self._code
        deadline = time.monotonic() + grace
        killed = False
        while True:
            code = self._with_connection(self._read_exit_code)
            if code is not None:
                break
            alive = self._with_connection(lambda: self._exec(f"kill -0 -- {group} 2>/dev/null && echo alive"))
            if not alive or "alive" not in alive[0]:
                break
            if time.monotonic() >= deadline:
                self._with_connection(lambda: self._exec(f"kill -KILL -- {group} 2>/dev/null; true"))
                killed = True
                break
            time.sleep(0.1)
        self._with_connection(self._pull)
        code = self._with_connection(self._read_exit_code)
        self._code = code if code is not None else (-9 if killed else -15)
        return self._code

    def cleanup(self) -> int:
        """After the end: end what the script left in its group, download REMOTE/wd/outputs into
        RUN/wd/outputs, remove REMOTE (unless `keep_remote_files`). Returns how many leftover
        process groups were ended (0 or 1)."""
        if self._client is None and self.failure is not None:
            self.log(f"ssh: {self.target.address} is unreachable: {self.remote} is left there")
            return 0
        leftovers = 0
        if self.pgid is not None:
            out = self._with_connection(lambda: self._exec(
                f"kill -0 -- -{self.pgid} 2>/dev/null && kill -KILL -- -{self.pgid} 2>/dev/null && echo ended"))
            leftovers = 1 if out and "ended" in out[0] else 0
        if not self._with_connection(self._download_outputs):  # None: unreachable; False: tar failed
            self.log(f"ssh: could not download the outputs from {self.target.address}:{self.remote}; "
                     "left there")
            return leftovers
        if not self.target.keep_remote_files and self.remote:
            self._with_connection(lambda: self._exec(f"rm -rf -- {shlex.quote(self.remote)}", timeout=120))
        self.close()
        return leftovers

    def recorded_exit_code(self, code: int) -> int:
        return code

    def close(self) -> None:
        client, self._client, self._sftp = self._client, None, None
        if client is not None:
            with contextlib.suppress(Exception):  # it is going away anyway
                client.close()

    # ---------------------------------------------------------------- connection
    def _open(self) -> None:
        self._client = self.target.connect()
        self._sftp = self._client.open_sftp()
        self._sftp.get_channel().settimeout(IO_TIMEOUT)

    def _is_loss(self, exc: BaseException) -> bool:
        """A dropped connection, or a host that stopped answering (the transport still looks
        active then, until TCP gives up minutes later)."""
        if isinstance(exc, (TimeoutError, EOFError)):
            return True
        transport = self._client.get_transport() if self._client is not None else None
        return not (transport is not None and transport.is_active())

    def _lost(self, exc: BaseException) -> None:
        self.close()
        if self._lost_at is None:
            self._lost_at = time.time()
            self._backoff = BACKOFF_MIN
            self._next_attempt = time.monotonic() + self._backoff
            self.log(f"ssh: lost the connection to {self.target.address}: {type(exc).__name__}: {exc}")
            self.note(f"lost the connection to {self.target.hostname}; reconnecting")

    def _try_reconnect(self) -> bool:
        """One attempt when the backoff allows; gives up (fails the run) after the timeout."""
        now = time.monotonic()
        if now < self._next_attempt:
            return False
        assert self._lost_at is not None
        try:
            self._open()
        except Exception as exc:  # noqa: BLE001 - the host is still away
            self.close()
            if time.time() - self._lost_at >= self._timeout:
                self.failure = self._unreachable_message("")
                self.note(self.failure)
                self._code = 255  # what ssh itself exits with when the connection fails
            else:
                self.log(f"ssh: reconnecting to {self.target.address} failed: {exc}")
                self._backoff = min(self._backoff * 2, BACKOFF_MAX)
                self._next_attempt = now + self._backoff
            return False
        self.note(f"reconnected to {self.target.hostname} after {time.time() - self._lost_at:.1f} s")
        self._lost_at = None
        return True

    def _unreachable_message(self, doing: str) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self._lost_at or time.time()))
        what = f" {doing}" if doing else ""
        return (f"the host {self.target.address} has been unreachable{what} since {since}; the job may "
                f"still be running there, in {self.remote}")

    def _with_connection(self, fn: Callable[[], Any]) -> Any:
        """`fn()` with reconnects while the host is away (up to the reconnect timeout); None when
        it stays unreachable."""
        while True:
            if self._client is None:
                if self._lost_at is None:
                    self._lost_at = time.time()
                try:
                    self._open()
                    self.note(f"reconnected to {self.target.hostname} after {time.time() - self._lost_at:.1f} s")
                    self._lost_at = None
                except Exception:  # noqa: BLE001
                    self.close()
                    if time.time() - (self._lost_at or time.time()) >= self._timeout:
                        return None
                    time.sleep(self._backoff)
                    self._backoff = min(self._backoff * 2, BACKOFF_MAX)
                    continue
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001
                if not self._is_loss(exc):
                    self.log(f"ssh: {type(exc).__name__}: {exc}")
                    return None
                self._lost(exc)

    def _exec(self, command: str, timeout: float = IO_TIMEOUT) -> tuple[str, str, int]:
        _stdin, stdout, stderr = self._client.exec_command(command, timeout=timeout)
        out = stdout.read().decode("utf-8", "replace")
        err = stderr.read().decode("utf-8", "replace")
        return out, err, stdout.channel.recv_exit_status()

    # ---------------------------------------------------------------- pulling
    def _read_exit_code(self) -> int | None:
        try:
            with self._sftp.open(f"{self.remote}/exit_code", "rb") as f:
                text = f.read().decode().strip()
        except FileNotFoundError:
            return None
        code = int(text)
        if code > 128:  # the shell's "killed by signal N", as a local run reports it
            try:
                return -int(signal.Signals(code - 128))
            except ValueError:
                pass
        return code

    def _pull(self) -> None:
        """Append what grew on the remote to the run folder: record files first, then the files
        their records name (complete before their record is written), then the logs."""
        self._pull_grown("driver.log", self.files.driver_log)
        entries = self._listdir(f"{self.remote}/tracking")
        for attr in entries:
            if stat.S_ISREG(attr.st_mode or 0):
                self._pull_grown(f"tracking/{attr.filename}", self.files.tracking / attr.filename, attr.st_size)
        for attr in entries:
            if stat.S_ISDIR(attr.st_mode or 0):
                self._pull_whole_files(f"tracking/{attr.filename}")
        for rel, size in self._walk("wd/logs"):
            self._pull_grown(rel, self.files.root / rel, size, rewritable=True)

    def _listdir(self, path: str) -> list[Any]:
        try:
            return list(self._sftp.listdir_attr(path))
        except FileNotFoundError:
            return []

    def _walk(self, rel: str) -> list[tuple[str, int]]:
        found = []
        for attr in self._listdir(f"{self.remote}/{rel}"):
            child = f"{rel}/{attr.filename}"
            if stat.S_ISLNK(attr.st_mode or 0):  # a log file linked in: follow it to what it names
                try:
                    attr = self._sftp.stat(f"{self.remote}/{child}")
                except OSError:
                    continue  # a dangling link
            if stat.S_ISDIR(attr.st_mode or 0):
                found.extend(self._walk(child))
            elif stat.S_ISREG(attr.st_mode or 0):
                found.append((child, attr.st_size or 0))
        return found

    def _pull_grown(self, rel: str, local: Path, size: int | None = None, rewritable: bool = False) -> None:
        offset = self._offsets.get(rel, 0)
        if size is None:
            try:
                size = self._sftp.stat(f"{self.remote}/{rel}").st_size or 0
            except FileNotFoundError:
                return
        if rewritable and size < offset:  # a log the script rewrote: take it again
            offset = 0
            local.unlink(missing_ok=True)
        if size <= offset:
            return
        local.parent.mkdir(parents=True, exist_ok=True)
        with self._sftp.open(f"{self.remote}/{rel}", "rb") as f:
            f.seek(offset)
            while offset < size:
                # Read a whole chunk before appending it: a connection lost mid-read appends nothing.
                data = f.read(min(CHUNK, size - offset))
                if not data:
                    break
                with open(local, "ab") as out:
                    out.write(data)
                offset += len(data)
                self._offsets[rel] = offset

    def _pull_whole_files(self, rel: str) -> None:
        for child, _size in self._walk(rel):
            name = child.rsplit("/", 1)[-1]
            if child in self._fetched or name.startswith(".tmp-"):
                continue
            local = self.files.root / child
            local.parent.mkdir(parents=True, exist_ok=True)
            part = local.with_name(local.name + ".part")
            self._sftp.get(f"{self.remote}/{child}", str(part))
            os.replace(part, local)
            self._fetched.add(child)

    def _download_outputs(self) -> bool:
        """./outputs as a tar stream, so that it arrives as the script left it: folders (empty
        ones too) and symlinks within it. A member that would land outside it (an absolute or
        escaping link) is skipped and logged."""
        import tarfile

        wd = f"{self.remote}/wd"
        try:
            self._sftp.stat(f"{wd}/outputs")
        except FileNotFoundError:
            return True  # the script made no ./outputs
        _stdin, stdout, _stderr = self._client.exec_command(f"tar -C {shlex.quote(wd)} -cf - outputs",
                                                            timeout=IO_TIMEOUT)
        local_wd = self.files.root / "wd"
        local_wd.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=stdout, mode="r|") as tar:
            for member in tar:
                try:
                    tar.extract(member, local_wd, filter="data")
                except tarfile.FilterError as exc:
                    self.log(f"ssh: not downloaded from outputs: {member.name} ({exc})")
        return stdout.channel.recv_exit_status() == 0


def make_ssh_run(files: RunFiles, spec: LaunchSpec, log: Callable[[str], None],
                 note: Callable[[str], None]) -> SshRun:
    """The handle of run `spec` on its SSH target (its placement's `ssh`: the target's settings);
    nothing is connected yet: connect(), upload(), start()."""
    settings = dict(spec.placement.ssh or {})
    target = SshTarget.from_config(str(spec.placement.compute_target or settings.get("host")), settings)
    return SshRun(target, files, spec, log, note)


__all__ = ["SshRun", "SshTarget", "make_ssh_run", "reconnect_timeout"]
