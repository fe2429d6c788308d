"""A run's script in a local Docker container: what the supervisor starts instead of a process.

Inside the container::

    /trainyard/run      the run folder (read-write): wd/, tracking/, logs/, azureml-logs/ ...
    /trainyard/run/wd   the working directory (the materialized snapshot)
    /trainyard/inject   the in-run client (read-only), first on PYTHONPATH

The script runs as the invoking user (``uid:gid``), so what it writes into the run folder belongs
to that user on the host, not to root; HOME is /tmp (an image's HOME is rarely writable by an
arbitrary uid). ``docker-init`` (tini) is PID 1, so the script gets SIGTERM on cancel like a
local process does, and zombies are reaped. stdout+stderr are appended live to
``azureml-logs/70_driver_log.txt`` by a thread that follows the container's log stream.

Exit codes are the container's: a script killed by signal N gives 128+N (SIGTERM 143, SIGKILL 137),
as a shell reports it; ``signal_of(code)`` maps that back.

Containers are named ``trainyard-<run name>`` and labelled ``trainyard.run=<run name>``;
``remove_leftover_containers`` removes what a crashed supervisor left.
"""

from __future__ import annotations

import math
import os
import re
import signal
import stat
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.compute.rankexec import expand_argv
from engine.environments.build.daemon import docker_client
from engine.errors import LaunchFailed
from engine.runtime.dataplan import CONTAINER_RUN_ROOT, DataPlan
from engine.runtime.files import RunFiles
from engine.tracking.inject.trainyard_run.envvars import ENV_RUN_DIR, ENV_TRACKING_DIR

RUN_MOUNT = CONTAINER_RUN_ROOT  # "/trainyard/run"
INJECT_MOUNT = "/trainyard/inject"
WORKDIR = f"{RUN_MOUNT}/wd"
LABEL = "trainyard.run"
NETWORK_MODES = ("host", "none", "bridge")
DEFAULT_SHM_SIZE = "2g"  # Azure ML's (DockerConfiguration, resources.shm_size)
# `python ...` also works in images that only have python3 (Debian's python3 has no `python`).
_PYTHON_FALLBACK = 'if command -v python >/dev/null 2>&1; then exec python "$@"; else exec python3 "$@"; fi'


def container_name(run_name: str) -> str:
    """``trainyard-<run name>``, with characters Docker does not accept in names replaced."""
    return "trainyard-" + re.sub(r"[^a-zA-Z0-9_.-]", "-", run_name)


def gpu_options(gpus: int | str | None, env: Mapping[str, str]) -> tuple[list[Any], dict[str, str]]:
    """The device requests and environment for a GPU request.

    ``gpus``: None (nothing asked: the image decides), 0 (no GPU: ``NVIDIA_VISIBLE_DEVICES=void``
    hides them even under an nvidia default runtime), N > 0 (N GPUs), -1 or ``"all"`` (all GPUs),
    ``"N"`` (N GPUs, as ``docker run --gpus N``), ``"device=0,2"`` or ``"0,2"`` (those GPUs).

    With a request the daemon sets ``NVIDIA_VISIBLE_DEVICES`` for the container itself; the host's
    ``CUDA_VISIBLE_DEVICES`` is dropped, because inside the container the devices are numbered
    from 0. ``NVIDIA_DRIVER_CAPABILITIES`` defaults to ``compute,utility``."""
    import docker as docker_sdk

    env = dict(env)
    if gpus is None:
        return [], env
    count: int | None = None
    ids: list[str] | None = None
    if isinstance(gpus, bool):
        raise TypeError(f"gpus must be a number, 'all' or device ids, not {gpus!r}")
    if isinstance(gpus, int):
        count = gpus
    else:
        text = str(gpus).strip().strip('"')
        if text.lower() == "all":
            count = -1
        elif text.startswith("device="):
            ids = [d.strip() for d in text[len("device="):].split(",") if d.strip()]
        elif "," in text:
            ids = [d.strip() for d in text.split(",") if d.strip()]
        elif text.lstrip("-").isdigit():
            count = int(text)
        else:
            raise ValueError(f"gpus must be a number, 'all' or device ids like 'device=0,1', not {gpus!r}")
    if count == 0:
        env["NVIDIA_VISIBLE_DEVICES"] = "void"
        env.pop("CUDA_VISIBLE_DEVICES", None)
        return [], env
    if count is not None and count < -1:
        raise ValueError(f"gpus must be -1 (all), 0 or a positive number, not {count}")
    if ids is not None:
        request = docker_sdk.types.DeviceRequest(device_ids=ids, capabilities=[["gpu"]])
    elif count is not None:
        request = docker_sdk.types.DeviceRequest(count=count, capabilities=[["gpu"]])
    else:  # pragma: no cover - every form above sets count or ids
        raise ValueError(f"gpus {gpus!r} names neither a count nor device ids")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.pop("NVIDIA_VISIBLE_DEVICES", None)
    env.setdefault("NVIDIA_DRIVER_CAPABILITIES", "compute,utility")
    return [request], env


def signal_of(code: int | None) -> signal.Signals | None:
    """The signal a container exit code 128+N stands for, if N is one."""
    if code is None or not 128 < code < 128 + 65:
        return None
    try:
        return signal.Signals(code - 128)
    except ValueError:
        return None


def _parse_user(user: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"(\d+)(?::(\d+))?", user)
    if not m:
        return None
    uid = int(m.group(1))
    return uid, int(m.group(2)) if m.group(2) else uid


def _make_reachable(path: Path) -> None:
    """Let a container user who is not the owner read and enter ``path`` (mkdtemp makes 0700)."""
    mode = path.stat().st_mode
    want = mode | stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
    if want != mode:
        os.chmod(path, stat.S_IMODE(want))


class ContainerRun:
    """One run's script in a container (an engine.compute.handle.RunHandle)."""

    failure: str | None = None
    failed_rank: int | None = None

    def __init__(
        self,
        image: str,
        argv: list[str],
        *,
        run_root: Path,
        env: dict[str, str],
        inject_dir: Path,
        name: str,
        network: str = "host",
        gpus: int | str | None = None,
        user: str | None = None,
        docker: Any = None,
        volumes: Mapping[str, str] | None = None,
        shm_size: str | None = None,
        expand_from: int | None = None,
        data_binds: list[tuple[str, str, bool]] | None = None,
    ) -> None:
        """``argv`` runs in ``/trainyard/run/wd``; ``env`` is the run's own variables (not the host's
        environment: the image supplies PATH and the rest); ``name`` is the run's name;
        ``network``: "host" (default), "none", "bridge" or a network's name; ``volumes``: extra
        host folder -> container path bind mounts (read-only); ``shm_size``: the size of /dev/shm
        (Docker's form, "2g"; None: Azure ML's default, 2g, where Docker's own is 64m, too small
        for PyTorch DataLoader workers); ``expand_from``: where a script's arguments start in
        ``argv`` (their ``$VAR``s take the container's variables, as in Azure ML); ``data_binds``:
        the run's inputs, (host path, container path, read-only), from ``container_binds``."""
        if not argv:
            raise ValueError("argv is empty")
        self.image = image
        self.argv = [str(a) for a in argv]
        self.files = RunFiles(Path(run_root))
        self.env = dict(env)
        self.inject_dir = Path(inject_dir)
        self.run_name = name
        self.name = container_name(name)
        self.network = network
        self.gpus = gpus
        self.user = user if user is not None else f"{os.getuid()}:{os.getgid()}"
        self.volumes = dict(volumes or {})
        self.shm_size = shm_size or DEFAULT_SHM_SIZE
        self.expand_from = expand_from
        self.data_binds = list(data_binds or [])
        self._client = docker
        self.container: Any = None
        self._code: int | None = None
        self._waiter: threading.Thread | None = None
        self._follower: threading.Thread | None = None
        self._wait_error: BaseException | None = None

    # ------------------------------------------------------------------ set-up

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client()
        return self._client

    def command(self) -> list[str]:
        argv = expand_argv(self.argv, self.environment(), self.expand_from)
        if argv[0] == "python":
            return ["/bin/sh", "-c", _PYTHON_FALLBACK, "python", *argv[1:]]
        return argv

    def environment(self) -> dict[str, str]:
        env = dict(self.env)
        pythonpath = env.get("PYTHONPATH")
        env.update({
            "PYTHONPATH": INJECT_MOUNT + (":" + pythonpath if pythonpath else ""),
            ENV_TRACKING_DIR: f"{RUN_MOUNT}/tracking",
            ENV_RUN_DIR: RUN_MOUNT,
            "PYTHONUNBUFFERED": "1",
        })
        env.setdefault("HOME", "/tmp")
        return env

    def mounts(self) -> dict[str, dict[str, str]]:
        mounts = {
            str(self.files.root.resolve()): {"bind": RUN_MOUNT, "mode": "rw"},
            str(self.inject_dir.resolve()): {"bind": INJECT_MOUNT, "mode": "ro"},
        }
        for host, inside in self.volumes.items():
            mounts[str(Path(host).resolve())] = {"bind": inside, "mode": "ro"}
        return mounts

    def create_kwargs(self) -> dict[str, Any]:
        """What ``containers.create`` is called with (tests read it)."""
        device_requests, env = gpu_options(self.gpus, self.environment())
        kwargs: dict[str, Any] = {
            "command": self.command(),
            "name": self.name,
            "labels": {LABEL: self.run_name},
            "user": self.user,
            "environment": env,
            "working_dir": WORKDIR,
            "volumes": self.mounts(),
            "network_mode": self.network,
            "shm_size": self.shm_size,
            "init": True,
            "detach": True,
            "stdin_open": False,
            "tty": False,
        }
        if device_requests:
            kwargs["device_requests"] = device_requests
        if self.data_binds:
            import docker as docker_sdk

            # Mounts, not `volumes`: two inputs may share a source. Nested under the run folder's
            # bind, at the mount points engine.compute.mounts.prepare_run_data made.
            kwargs["mounts"] = [docker_sdk.types.Mount(target, str(Path(source).resolve()), type="bind",
                                                       read_only=read_only)
                                for source, target, read_only in self.data_binds]
        return kwargs

    def _prepare_folders(self) -> None:
        root = self.files.root
        for d in (root, self.files.wd, self.files.tracking, self.files.system_logs, self.files.logs):
            d.mkdir(parents=True, exist_ok=True)
        self.files.driver_log.touch(exist_ok=True)
        ids = _parse_user(self.user)
        if ids is not None and os.geteuid() == 0 and ids[0] != root.stat().st_uid:
            # root running the script as someone else: that user must be able to write the run folder
            for dirpath, dirnames, filenames in os.walk(root):
                for entry in (dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)):
                    os.lchown(entry, *ids)
        for d in (root, self.files.wd, self.files.tracking):
            _make_reachable(d)
        for dirpath, dirnames, _files in os.walk(self.inject_dir):
            _make_reachable(Path(dirpath))
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Create and start the container (detached), then follow its output into the driver log."""
        import docker as docker_sdk

        if self.container is not None:
            raise RuntimeError("the container was started already")
        self._prepare_folders()
        remove_leftover_containers(self.run_name, docker=self.client)
        kwargs = self.create_kwargs()
        try:
            self.container = self.client.containers.create(self.image, **kwargs)
        except docker_sdk.errors.ImageNotFound as exc:
            raise LaunchFailed(f"the image {self.image} is not on this machine",
                               "build the run's environment first (it is built when the run starts)") from exc
        except docker_sdk.errors.APIError as exc:
            raise LaunchFailed(f"could not create the run's container: {_explain(exc)}") from exc
        try:
            self.container.start()
        except docker_sdk.errors.APIError as exc:
            text = _explain(exc)
            self.remove()
            hint = None
            if "device driver" in text or "gpu" in text.lower():
                hint = ("the run asks for GPUs: install the NVIDIA Container Toolkit and restart dockerd, "
                        "or run without GPUs")
            raise LaunchFailed(f"could not start the run's container: {text}", hint) from exc
        self._follower = threading.Thread(target=self._follow_logs, daemon=True, name=f"logs-{self.name}")
        self._follower.start()
        self._waiter = threading.Thread(target=self._wait_exit, daemon=True, name=f"wait-{self.name}")
        self._waiter.start()

    def _follow_logs(self) -> None:
        assert self.container is not None
        with open(self.files.driver_log, "ab", buffering=0) as out:
            try:
                out.writelines(self.container.logs(stream=True, follow=True, stdout=True, stderr=True))
            except Exception as exc:  # noqa: BLE001 - the daemon went away; say so in the log
                out.write(f"\n[trainyard] lost the container's output stream: {exc}\n".encode())

    def _wait_exit(self) -> None:
        assert self.container is not None
        try:
            self._code = int(self.container.wait()["StatusCode"])
        except BaseException as exc:  # noqa: BLE001 - poll() falls back to asking the daemon
            self._wait_error = exc

    def poll(self) -> int | None:
        """The exit code once the container has ended (and its output is in the driver log), else None."""
        if self.container is None:
            raise RuntimeError("the container was not started")
        if self._waiter is not None and self._waiter.is_alive():
            return None
        if self._code is None:
            self._code = self._state_exit_code()
            if self._code is None:
                return None
        self._join_follower()
        return self._code

    def host_pid(self) -> int | None:
        """The container's main process as a process of this machine (for the system metrics
        sampler), or None: not running, or the daemon is elsewhere (a VM, another host), which
        the process's cgroup naming this container proves or disproves."""
        if self.container is None:
            return None
        try:
            self.container.reload()
            pid = int(self.container.attrs.get("State", {}).get("Pid") or 0)
            if pid <= 0:
                return None
            cgroup = Path(f"/proc/{pid}/cgroup").read_text(encoding="utf-8", errors="replace")
        except Exception:  # noqa: BLE001 - gone, or not this machine's: no process metrics
            return None
        return pid if self.container.id in cgroup else None

    def _state_exit_code(self) -> int | None:
        try:
            self.container.reload()
        except Exception:  # noqa: BLE001 - gone: it ended; the exit code is lost
            return -1
        state = self.container.attrs.get("State", {})
        if state.get("Running") or state.get("Status") in ("created", "running", "restarting"):
            return None
        return int(state.get("ExitCode", -1))

    def _join_follower(self, timeout: float = 10.0) -> None:
        if self._follower is not None:
            self._follower.join(timeout)

    def wait(self, timeout: float | None = None) -> int:
        """Block until the container ends; its exit code. ``TimeoutError`` after ``timeout`` s."""
        if self.container is None:
            raise RuntimeError("the container was not started")
        if self._waiter is not None:
            self._waiter.join(timeout)
            if self._waiter.is_alive():
                raise TimeoutError(f"container {self.name} still running after {timeout} s")
        code = self.poll()
        while code is None:  # the wait call failed: ask for the state until it has ended
            time.sleep(0.2)
            code = self.poll()
        return code

    def terminate(self, grace: float) -> int:
        """SIGTERM, then SIGKILL after ``grace`` seconds (``docker stop``); returns the exit code."""
        import docker as docker_sdk

        if self.container is None:
            raise RuntimeError("the container was not started")
        try:
            self.container.stop(timeout=max(0, math.ceil(grace)))
        except docker_sdk.errors.NotFound:
            pass
        except docker_sdk.errors.APIError:
            try:
                self.container.kill()
            except docker_sdk.errors.APIError:
                pass
        return self.wait(timeout=max(30.0, grace + 30.0))

    def remove(self) -> None:
        """Remove the container (forcefully: a running one is killed)."""
        import docker as docker_sdk

        if self.container is None:
            return
        try:
            self.container.remove(force=True)
        except docker_sdk.errors.NotFound:
            pass
        except docker_sdk.errors.APIError as exc:
            if "already in progress" not in str(exc):
                raise
        self._join_follower(5.0)

    def cleanup(self) -> int:
        """Remove the container; no process outlives it."""
        self.remove()
        return 0

    def recorded_exit_code(self, code: int) -> int:
        """A container's exit code says 128+N when signal N ended the script: -N."""
        sig = signal_of(code)
        return -int(sig) if sig is not None else code


def container_binds(plan: DataPlan | None) -> list[tuple[str, str, bool]]:
    """The bind mounts of a run's inputs: each ro_mount read-only (the kernel refuses writes, whoever
    the script runs as), a local path in direct mode read-write; download copies are in the run folder."""
    if plan is None:
        return []
    return [(i.source, f"{CONTAINER_RUN_ROOT}/{i.rel}", i.mode == "ro_mount") for i in plan.inputs
            if i.rel is not None and i.mode in ("ro_mount", "direct")]


def _explain(exc: Any) -> str:
    return str(getattr(exc, "explanation", None) or exc)


def remove_leftover_containers(run_name: str | None = None, docker: Any = None) -> list[str]:
    """Remove the containers of ``run_name`` (all Trainyard run containers when None), running or
    not; returns their names."""
    import docker as docker_sdk

    if docker is None:
        docker = docker_client()
    label = f"{LABEL}={run_name}" if run_name is not None else LABEL
    found = {c.id: c for c in docker.containers.list(all=True, filters={"label": label})}
    if run_name is not None:
        for c in docker.containers.list(all=True, filters={"name": container_name(run_name)}):
            if c.name == container_name(run_name):
                found[c.id] = c
    removed = []
    for c in found.values():
        try:
            c.remove(force=True)
            removed.append(c.name)
        except docker_sdk.errors.NotFound:
            pass
    return removed
