"""The run handle of a script on an SSH target (an engine.compute.handle.RunHandle): connect,
upload, start it detached, then pull what grows, honour cancel, bring ./outputs back."""

from __future__ import annotations

import fcntl
import json
import re
import shlex
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.compute.handle import shell_exit_code, wait_by_polling
from engine.compute.hostmounts import (
    namespace_probe,
    permission_bits_note,
    read_only_paths,
    read_only_wrapper,
)
from engine.compute.rankexec import expand_argv
from engine.compute.ssh.blobs import BlobSender, HostRecords, Tree, UploadResult
from engine.compute.ssh.connection import IO_TIMEOUT, Link, SshTarget, absolute_on_host
from engine.compute.ssh.container import HostImages, container_name, docker_run_argv, visible_in_container
from engine.compute.ssh.data import (
    download_named_outputs,
    output_folders,
    read_only_command,
)
from engine.compute.ssh.envbuild import RemoteEnvBuilder
from engine.compute.ssh.pull import STATE, Puller
from engine.compute.sysmon import REMOTE_FILE, remote_sampler_command, sampling_interval
from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog
from engine.environments.lock import Lock
from engine.errors import LaunchFailed
from engine.runtime import INJECT_DIR
from engine.runtime.dataplan import REMOTE_RUN_ROOT
from engine.runtime.files import RunFiles
from engine.runtime.launchspec import LaunchSpec
from engine.snapshots import SnapshotStore
from engine.snapshots.blobs import write_atomic
from engine.tracking.inject.trainyard_run.envvars import ENV_RUN_DIR, ENV_TRACKING_DIR

PULL_INTERVAL = 0.2
RUN_STATE = "ssh-run.json"  # in the run folder once the script started on the host
RUN_LOCK = "ssh-supervisor.lock"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# N ports free on a host at once (held together, so that they differ): a distributed run's rendezvous
_FREE_PORTS = (
    "import socket, sys; ss = [socket.socket() for _ in range(int(sys.argv[1]))]; "
    "[s.bind(('', 0)) for s in ss]; print(' '.join(str(s.getsockname()[1]) for s in ss))"
)


class SshRun:
    """The run handle of a script on an SSH target (an engine.compute.handle.RunHandle)."""

    failed_rank: int | None = None

    def __init__(
        self,
        target: SshTarget,
        files: RunFiles,
        spec: LaunchSpec,
        log: Callable[[str], None],
        note: Callable[[str], None],
        rank: int | None = None,
        driver_log: Path | None = None,
    ) -> None:
        self.target = target
        self.files = files
        self.spec = spec
        self.log = log  # supervisor.log
        self.note = note  # a [trainyard] line in the driver log
        self.remote = ""  # REMOTE, absolute, once connected
        self.pgid: int | None = None
        self.interpreter: str | None = None  # absolute on the remote
        self.failure: str | None = None  # why the run failed though the script may not have
        self.link = Link(target, log, note)
        self.rank = rank  # a process of a distributed run (engine.compute.ssh.group), or None
        state = STATE if rank is None else f"ssh-pull-r{rank}.json"
        # Where start() records what reattach() needs (a distributed run's group: RUN_STATE too).
        self.state_file = RUN_STATE if rank is None else f"ssh-run-r{rank}.json"
        self.puller = Puller(
            files,
            lambda: self.remote,
            lambda: self.link.sftp,
            log,
            driver_log=driver_log,
            logs=rank in (None, 0),
            state=state,
        )
        self.env_interpreter: str | None = None  # the python of an environment built on the host
        self.env_lock: Lock | None = None  # what that environment (or image) holds, taken there
        self.cache_root = ""  # the host's cache (blobs, environments), absolute, once connected
        self.env_prefix: str | None = None  # a conda environment built on the host
        # `docker: true`: the script runs in a container of the host's daemon (ssh/container.py)
        self.docker = bool((spec.placement.ssh or {}).get("docker"))
        self.image: str | None = None
        self.container = container_name(spec.run_name, rank)
        self.user_ids: str | None = None  # uid:gid of the SSH user on the host
        self._sender: BlobSender | None = None
        # The local copy of what the system-metrics sampler on the host writes; None: not sampled
        # (sampling off, a process of a distributed run other than its node's first).
        self.system_metrics_file: Path | None = None
        # A distributed run's: this process samples its node (its own tree and those whose pid
        # files are `node_pid_files`, the node's other processes); None: it does not.
        self.sampled_node: int | None = None
        self.node_pid_files: list[str] = []
        self.node_containers: list[str] = []  # on a `docker: true` target, their containers
        self._code: int | None = None
        self._next_pull = 0.0

    @property
    def pid(self) -> int | None:
        return self.pgid

    # ---------------------------------------------------------------- start
    def connect(self) -> None:
        """Connect and check the remote has what a run needs (LaunchFailed otherwise)."""
        self.link.open()
        interp = self.spec.placement.ssh_interpreter or "python3"
        probe = (
            f'printf "home %s\\n" "$HOME"; for c in setsid tar; do command -v "$c" >/dev/null 2>&1 '
            f'|| echo "missing $c"; done; p=$(command -v -- {shlex.quote(interp)} 2>/dev/null) '
            f'&& echo "python $p" || echo "missing {interp}"; printf "ids %s:%s\n" "$(id -u)" "$(id -g)"'
        )
        out, _err, _code = self.link.exec(probe)
        lines = dict(ln.split(" ", 1) for ln in out.splitlines() if " " in ln)
        missing = [ln.split(" ", 1)[1] for ln in out.splitlines() if ln.startswith("missing ")]
        if missing:
            raise LaunchFailed(
                f"{', '.join(missing)} not found on {self.target.address} (compute target "
                f"{self.target.name!r})",
                "install it there (Python 3 and util-linux's setsid and tar), or give the job "
                "an environment with `interpreter_path:` set to the remote interpreter",
            )
        self.interpreter = lines.get("python")
        home = lines.get("home", "").rstrip("/")
        suffix = "" if self.rank is None else f"-r{self.rank}"
        self.remote = absolute_on_host(self.target.work_dir, home) + "/" + self.spec.run_name + suffix
        self.cache_root = absolute_on_host(self.target.cache_dir, home)
        self.user_ids = lines.get("ids")
        if self.docker:
            HostImages(self._builder()).check()

    def blob_sender(self) -> BlobSender:
        """The sender of content-addressed uploads to this host's cache (connected first)."""
        if self._sender is None or self._sender.client is not self.link.client:
            root = self.spec.snapshots_root
            records = (
                HostRecords(Path(root) / "remote", f"{self.target.address}:{self.cache_root}")
                if root
                else None
            )
            self._sender = BlobSender(
                self.link.client, self.cache_root, self.interpreter or "python3", records, self.target.address
            )
        return self._sender

    def build_environment(self, env: EnvironmentSpec, log: BuildLog) -> tuple[str, bool]:
        """Build (or find cached) the job's environment (or image) on the host: (spec hash, cached)."""
        builder = self._builder()
        if self.docker:  # an image of the host's daemon, locked there
            images = HostImages(builder)
            self.image, env_hash, cached = images.ensure(env, log)
            self.env_lock = images.lock(env, self.image)
            return env_hash, cached
        interpreter, env_hash, cached = builder.ensure(env, log)
        self.interpreter = self.env_interpreter = interpreter
        self.env_lock = builder.lock(env, log)
        if env.kind == "conda":  # its programs first on PATH, as conda's activate does
            self.env_prefix = f"{self.cache_root}/envs/{env_hash}"
        return env_hash, cached

    def _builder(self) -> RemoteEnvBuilder:
        return RemoteEnvBuilder(
            self.link.client,
            self.cache_root,
            self.interpreter or "python3",
            self.target.address,
            self.blob_sender(),
        )

    def upload(self) -> UploadResult:
        """Send the code snapshot (as REMOTE/wd), the in-run client and the interpreter wrappers
        through the host's blob store: only the contents it lacks travel."""
        tree = Tree()
        if self.spec.snapshot_id:
            store = SnapshotStore(Path(self.spec.snapshots_root))
            tree.add_snapshot(store, self.spec.snapshot_id, prefix="wd/")
            key = "run:" + store.load(self.spec.snapshot_id).source
        else:
            key = "run:"
        sender = self.blob_sender()
        tree.add_path(INJECT_DIR, "inject", sender.records.folder / "statcache" if sender.records else None)
        # Wrappers, not links: a venv's python must be started by its own path (launch.link_interpreter).
        wrapper = f'#!/bin/sh\nexec {shlex.quote(self.interpreter or "python3")} "$@"\n'.encode()
        for name in ("python", "python3"):
            tree.add_bytes(f"bin/{name}", wrapper, executable=True)
        result = sender.send(
            tree, self.remote, key=key, mkdirs=("wd", "tracking", "bin", *output_folders(self.spec.data))
        )
        self.log(
            f"ssh: uploaded {result.files} files to {self.remote}: {result.blobs_sent} new blob(s), "
            f"{result.bytes_sent} bytes sent"
        )
        return self._send_inputs(result)

    def _send_inputs(self, code: UploadResult) -> UploadResult:
        """Each input (not `direct`) into REMOTE/inputs/NAME through the host's blob store, as
        copies (a script writing into its input never touches the cache); `ro_mount` ones made
        read-only. Returns the code's upload plus the inputs'."""
        inputs = [
            i for i in (self.spec.data.inputs if self.spec.data is not None else ()) if i.rel is not None
        ]
        total = code
        for inp in inputs:
            dest = inp.rel or ""
            sent = self.send_path(Path(inp.source), dest)
            self.note(
                f"input {inp.name}: {sent.files} file(s), {sent.blob_bytes / 1e6:.1f} MB new to this host, "
                f"{sent.bytes_sent} bytes sent"
            )
            if inp.mode == "ro_mount":
                self.link.exec(read_only_command(f"{self.remote}/{dest}"))
            total = total.plus(sent)
        return total

    def free_ports(self, count: int) -> list[int]:
        """`count` ports free on the host at once (held together, so that they differ)."""
        out, err, _code = self.link.exec(f'{self.interpreter or "python3"} -c "{_FREE_PORTS}" {count}')
        try:
            ports = [int(p) for p in out.strip().splitlines()[-1].split()]
        except (ValueError, IndexError):
            ports = []
        if len(ports) != count:
            raise LaunchFailed(
                f"could not find a free port on {self.target.address} for the run's "
                f"rendezvous: {err.strip() or out.strip()}"
            )
        return ports

    def send_path(self, local: Path, dest: str, link: bool = False) -> UploadResult:
        """Make `dest` on the host (relative to REMOTE, or absolute) hold the file or folder `local`,
        sending only the contents the host's blob store lacks (connect() first). `link`: hard
        links to the blobs instead of copies (for inputs the script only reads: a script that
        writes into such a file changes the host's cached copy)."""
        sender = self.blob_sender()
        tree = Tree()
        cache = sender.records.folder / "statcache" if sender.records else None
        tree.add_path(local, "", cache)
        target = dest if dest.startswith("/") else f"{self.remote}/{dest}"
        if local.is_file():  # a file: send it as the last part of dest, into dest's folder
            folder, name = target.rsplit("/", 1)
            tree = Tree([(name, *tree.entries[0][1:])], tree.content)
            target = folder
        return sender.send(tree, target, key=f"path:{local.absolute()}", link=link)

    def start(self, extra_env: Mapping[str, str] | None = None) -> None:
        """Start the script detached: `setsid` makes it its own process group, stdio goes to
        files, so a dropped connection neither stops it nor loses its output."""
        rem = self.remote
        # Input and output paths were written for a run folder not known until connected.
        argv = [a.replace(REMOTE_RUN_ROOT, rem) for a in self.spec.argv]
        if self.env_interpreter and self.spec.script:  # `python3 train.py` as the environment's python
            argv[0] = self.env_interpreter
        env = {k: v.replace(REMOTE_RUN_ROOT, rem) for k, v in self.spec.env.items()}
        env.update({ENV_TRACKING_DIR: f"{rem}/tracking", ENV_RUN_DIR: rem, "PYTHONUNBUFFERED": "1"})
        env.update(extra_env or {})
        argv = self._command_argv(argv, env)
        if self.docker:  # the command is `docker run` on the host; the variables go to the container
            argv = self._docker_argv(argv, {k: str(v) for k, v in env.items() if _ENV_NAME.match(k)})
            exports = ["true"]
        else:  # ro_mount inputs in a private mount namespace
            argv = self._read_only_argv(argv)
            exports = [f"export {k}={shlex.quote(str(v))}" for k, v in env.items() if _ENV_NAME.match(k)]
            exports.append(f'export PYTHONPATH={shlex.quote(rem + "/inject")}"${{PYTHONPATH:+:$PYTHONPATH}}"')
            path = shlex.quote(rem + "/bin") + (
                f":{shlex.quote(self.env_prefix + '/bin')}" if self.env_prefix else ""
            )
            if self.env_prefix:
                exports.append(f"export CONDA_PREFIX={shlex.quote(self.env_prefix)}")
            exports.append(f'export PATH={path}:"$PATH"')
        log, tmp, done = (shlex.quote(f"{rem}/{n}") for n in ("driver.log", "exit.tmp", "exit_code"))
        interval = sampling_interval(env) if self.rank is None or self.sampled_node is not None else 0.0
        # The sampler watches this shell's tree (and, for `docker run`, the container's, which is
        # not its child); it is ended (and waited for) before exit_code is written, so the pull
        # that finds exit_code brings its last line too.
        sampler = remote_sampler_command(
            self.interpreter or "python3", rem, interval,
            containers=[self.container, *self.node_containers] if self.docker else (),
            gpus_seen=visible_in_container(self.spec.placement.gpus) if self.docker else None,
            roots_from=self.node_pid_files,
        )
        sysmon, stop = (sampler, 'kill "$sysmon" 2>/dev/null; wait "$sysmon"; ') if interval else ("true", "")
        # The trap keeps this shell alive through a TERM to the group, so it still records the
        # script's exit status (143) rather than leaving no exit_code at all.
        pgid_file = shlex.quote(f"{rem}/pgid")
        inner = (
            f"echo $$ > {pgid_file}; trap : TERM INT HUP; {'; '.join(exports)}; "
            f"{sysmon}; {shlex.join(argv)} > {log} 2>&1; echo $? > {tmp}; {stop}mv {tmp} {done}"
        )
        # `cd ... || exit` on its own: `cd && setsid ... &` would background a subshell that waits
        # for the job with this channel open, and $! would not be the group's leader.
        command = (
            f"cd {shlex.quote(rem + '/wd')} || exit 1; setsid sh -c {shlex.quote(inner)} "
            "< /dev/null > /dev/null 2>&1 & echo $!"
        )
        try:
            out, err, code = self.link.exec(command)
            self.pgid = int(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            self._end_unconfirmed_start(pgid_file)
            raise LaunchFailed(
                f"the script could not be started on {self.target.address}: "
                f"{err.strip() or out.strip() or f'exit code {code}'}"
            ) from None
        except BaseException:
            self._end_unconfirmed_start(pgid_file)
            raise
        self.log(f"ssh: started on {self.target.address} in {rem} (process group {self.pgid})")
        if interval:
            self._pull_system_metrics()
        # What a supervisor started after this one dies needs to take the run over (reattach()).
        state = {
            "remote": rem,
            "pgid": self.pgid,
            "cache_root": self.cache_root,
            "interpreter": self.interpreter,
            "system_metrics": bool(interval),
            "sampled_node": self.sampled_node,
        }
        write_atomic(str(self.files.root / self.state_file), json.dumps(state).encode())

    def _command_argv(self, argv: list[str], env: Mapping[str, str]) -> list[str]:
        """What the run's shell starts: the script, its `$VAR` arguments expanded as on this
        machine (an MPI run's is mpirun: engine.compute.ssh.mpi)."""
        if self.spec.script and any("$" in a for a in argv[2:]):
            return self._expand(argv, env)
        return argv

    def _read_only_argv(self, argv: list[str]) -> list[str]:
        """`argv` in a private mount namespace in which each ro_mount input (a file input: its
        folder, inputs/NAME) is mounted read-only; as it was, with a driver-log line per input,
        where the host refuses the namespace (namespace_probe finds out there). A container gets Docker's
        read-only binds instead (_docker_argv)."""
        data = self.spec.data
        if data is None or not data.read_only_inputs:
            return argv
        out, err, _code = self.link.exec(namespace_probe(self.remote))
        found = next((ln[3:] for ln in out.splitlines() if ln.startswith("ns ")), f"none {err.strip()}")
        if found in ("root", "user"):
            paths = list(read_only_paths(data, self.remote).values())
            self.log(f"ssh: read-only mounts ({found} namespace): {', '.join(paths)}")
            return read_only_wrapper(found, paths, argv)
        why = found.removeprefix("none").strip()
        for inp in data.read_only_inputs:
            self.note(permission_bits_note(inp.name, self.target.address, why))
        return argv

    def _pull_system_metrics(self) -> None:
        name = REMOTE_FILE if self.sampled_node is None else f"system-metrics-node{self.sampled_node}.jsonl"
        self.system_metrics_file = self.files.root / name
        self.puller.also[REMOTE_FILE] = self.system_metrics_file

    def _expand(self, argv: list[str], env: Mapping[str, str]) -> list[str]:
        """A script's `$VAR`/`${VAR}` arguments with this process's variables, as on this machine
        (engine.compute.rankexec.expand): those Trainyard sets (RANK, ...) over the host's own
        (a container's are those Trainyard sets)."""
        values: dict[str, str] = {}
        if not self.docker:
            out, _err, _code = self.link.exec("env -0")
            values = dict(e.split("=", 1) for e in out.split("\0") if "=" in e)
        values.update({k: str(v) for k, v in env.items()})
        return expand_argv(argv, values, 2)

    def _docker_argv(self, argv: list[str], env: dict[str, str]) -> list[str]:
        image = self.image or self.spec.placement.default_image
        if not image:
            raise LaunchFailed(
                f"compute target {self.target.name!r} runs jobs in Docker but the job has no image",
                "give the job a Docker environment (`image:` or `build:`), or the target an `image:`",
            )
        env["PYTHONPATH"] = f"{self.remote}/inject"
        placement = self.spec.placement
        full = docker_run_argv(
            image=image,
            argv=argv,
            name=self.container,
            run_name=self.spec.run_name,
            remote=self.remote,
            env=env,
            network=placement.docker_network,
            gpus=placement.gpus,
            user=self.user_ids,
            shm_size=placement.shm_size,
            read_only=tuple(read_only_paths(self.spec.data, self.remote).values()),  # Docker's read-only binds
        )
        opts = full[full.index("--network") : full.index(image)]
        shown = " ".join(
            o for i, o in enumerate(opts) if o != "-e" and (i == 0 or opts[i - 1] != "-e")
        )  # no values
        self.note(f"starting container {self.container} from {image} on {self.target.address} ({shown})")
        return full

    def reattach(self) -> None:
        """Take over the run a supervisor before this one started (it died): connect, and go on
        pulling from the offsets it reached (LaunchFailed when the host cannot be reached)."""
        state = json.loads((self.files.root / self.state_file).read_text())
        self.remote, self.pgid = str(state["remote"]), int(state["pgid"])
        self.sampled_node = state.get("sampled_node")
        self.cache_root, self.interpreter = str(state.get("cache_root") or ""), state.get("interpreter")
        if state.get("system_metrics"):
            self._pull_system_metrics()
        self.puller.load()
        try:
            self.link.open()
        except LaunchFailed as exc:  # the host is away: poll() reconnects, up to the reconnect timeout
            self.link.lost(exc)
        self.log(f"ssh: reattached to {self.target.address}: {self.remote} (process group {self.pgid})")

    def _end_unconfirmed_start(self, pgid_file: str) -> None:
        """The start was not confirmed (a timeout, a dropped connection): if the script began
        anyway, it recorded its process group; end it, so that a failed run leaves nothing running."""
        try:
            self.link.exec(f"test -s {pgid_file} && kill -KILL -- -$(cat {pgid_file})", timeout=5)
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
        if not self.link.connected:
            back = self.link.try_reconnect()
            if back is None:
                self.failure = self._unreachable_message("")
                self.note(self.failure)
                self._code = 255  # what ssh itself exits with when the connection fails
            if not back:
                return self._code
        try:
            code = self._read_exit_code()  # before the pull: all the script wrote is there by then
            self.puller.pull()
        except Exception as exc:  # noqa: BLE001 - a lost connection, or one failed read
            if self.link.is_loss(exc):
                self.link.lost(exc)
            else:
                self.log(f"ssh: poll error: {type(exc).__name__}: {exc}")
            return None
        if code is not None:
            self._code = code
        return self._code

    def wait(self, timeout: float | None = None) -> int:
        return wait_by_polling(self.poll, timeout, f"the run on {self.target.address} is still going")

    def terminate(self, grace: float) -> int:
        """TERM the remote process group, KILL it after `grace` s; returns the exit code."""
        if self._code is not None or self.pgid is None:
            return self._code if self._code is not None else -15
        group = f"-{self.pgid}"
        with_connection, exec_ = self.link.with_connection, self.link.exec
        stop = f"docker kill -s TERM {self.container} >/dev/null 2>&1; " if self.docker else ""
        if not with_connection(lambda: exec_(f"kill -TERM -- {group} 2>/dev/null; {stop}true")):
            self.failure = self._unreachable_message("to end the job")
            self._code = -15
            return self._code
        kill = f"docker kill {self.container} >/dev/null 2>&1; " if self.docker else ""
        deadline = time.monotonic() + grace
        killed = False
        while True:
            code = with_connection(self._read_exit_code)
            if code is not None:
                break
            alive = with_connection(lambda: exec_(f"kill -0 -- {group} 2>/dev/null && echo alive"))
            if not alive or "alive" not in alive[0]:
                break
            if time.monotonic() >= deadline:
                with_connection(lambda: exec_(f"kill -KILL -- {group} 2>/dev/null; {kill}true"))
                killed = True
                break
            time.sleep(0.1)
        with_connection(self.puller.pull)
        code = with_connection(self._read_exit_code)
        self._code = code if code is not None else (-9 if killed else -15)
        return self._code

    def cleanup(self) -> int:
        """After the end: end what the script left in its group, download REMOTE/wd/outputs into
        RUN/wd/outputs, remove REMOTE (unless `keep_remote_files`). Returns how many leftover
        process groups were ended (0 or 1)."""
        if not self.link.connected and self.failure is not None:
            self.log(f"ssh: {self.target.address} is unreachable: {self.remote} is left there")
            return 0
        leftovers = 0
        with_connection, exec_ = self.link.with_connection, self.link.exec
        if self.pgid is not None:
            out = with_connection(
                lambda: exec_(
                    f"kill -0 -- -{self.pgid} 2>/dev/null && kill -KILL -- -{self.pgid} 2>/dev/null && echo ended"
                )
            )
            leftovers = 1 if out and "ended" in out[0] else 0
        if self.docker:  # a container left running (its `docker run` was killed)
            out = with_connection(
                lambda: exec_(f"docker rm -f {self.container} >/dev/null 2>&1 && echo ended")
            )
            leftovers = max(leftovers, 1 if out and "ended" in out[0] else 0)
        # None: unreachable; False: tar failed
        if not with_connection(
            lambda: (
                download_named_outputs(
                    self.link.client, self.remote, self.files.root, self.spec.data, self.log
                )
                and self.puller.download_outputs(self.link.client)
            )
        ):
            self.log(
                f"ssh: could not download the outputs from {self.target.address}:{self.remote}; left there"
            )
            return leftovers
        if not self.target.keep_remote_files and self.remote:
            with_connection(lambda: exec_(f"rm -rf -- {shlex.quote(self.remote)}", timeout=120))
        self.close()
        return leftovers

    def recorded_exit_code(self, code: int) -> int:
        return code

    def close(self) -> None:
        self.link.close()

    # ---------------------------------------------------------------- helpers
    def _unreachable_message(self, doing: str) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.link.lost_at or time.time()))
        what = f" {doing}" if doing else ""
        return (
            f"the host {self.target.address} has been unreachable{what} since {since}; the job may "
            f"still be running there, in {self.remote}"
        )

    def _read_exit_code(self) -> int | None:
        try:
            with self.link.sftp.open(f"{self.remote}/exit_code", "rb") as f:
                text = f.read().decode().strip()
        except FileNotFoundError:
            return None
        code = int(text)
        return shell_exit_code(code)


def hold_run_lock(files: RunFiles) -> Any:
    """Take the run's ownership lock (held by its supervisor while it lives; the kernel lets it
    go when the supervisor dies): the open lock file, or None when another process holds it."""
    f = open(files.root / RUN_LOCK, "a")  # noqa: SIM115 - held open for the supervisor's life
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return None
    return f


def run_lock_held(files: RunFiles) -> bool:
    """Whether a live supervisor holds the run's ownership lock."""
    lock = hold_run_lock(files)
    if lock is None:
        return True
    lock.close()
    return False


def make_ssh_run(
    files: RunFiles, spec: LaunchSpec, log: Callable[[str], None], note: Callable[[str], None]
) -> SshRun:
    """The handle of run `spec` on its SSH target (its placement's `ssh`: the target's settings);
    nothing is connected yet: connect(), upload(), start()."""
    settings = dict(spec.placement.ssh or {})
    target = SshTarget.from_config(str(spec.placement.compute_target or settings.get("host")), settings)
    return SshRun(target, files, spec, log, note)


__all__ = [
    "IO_TIMEOUT",
    "PULL_INTERVAL",
    "RUN_STATE",
    "SshRun",
    "hold_run_lock",
    "make_ssh_run",
    "run_lock_held",
]
