"""The detached process that owns one local run: ``python -m engine.runs.supervisor RUN_DIR``.

It starts the script first (heavy imports come after, so the script's first line is not
delayed), then records the lifecycle, ingests metrics live, mirrors ./logs, enforces the
maximum duration, honours cancel (SIGTERM to us, or the store's flag), and at the end
collects ./outputs and records the exit code or signal. Closing the studio or killing the CLI
never touches it: it runs in its own session.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from engine.runs.files import RunFiles
from engine.tracking.inject.trainyard_run.envvars import PREFIX, RUN_IDENTITY

POLL_SECONDS = 0.1
USER_CANCEL = "canceled by the user"
BUILD_LOG = "20_image_build_log.txt"
CANCEL_CHECK_SECONDS = 0.5
QUEUE_POLL_SECONDS = 0.25


class Supervisor:
    def __init__(self, run_dir: Path) -> None:
        self.files = RunFiles(run_dir)
        self.spec: dict[str, Any] = json.loads(self.files.spec.read_text())
        self.run_name: str = self.spec["run_name"]
        self.cancel_reason: str | None = None
        self.proc: Any = None  # LocalProcess or ContainerRun: poll/wait/terminate/cleanup
        self.store: Any = None
        self._log = open(self.files.supervisor_log, "a", buffering=1)  # noqa: SIM115

    def log(self, msg: str) -> None:
        self._log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {msg}\n")

    # ------------------------------------------------------------------ start
    def _materialize(self) -> None:
        from engine.runs.launch import materialize_code

        materialize_code(self.spec, self.files.wd)
        for d in (self.files.tracking, self.files.system_logs, self.files.logs):
            d.mkdir(parents=True, exist_ok=True)

    def needs_preparation(self) -> bool:
        """True when an environment must be built (or a container used) before the script starts."""
        env = self.spec.get("environment")
        if self.spec.get("compute") in ("docker", "ssh"):
            return True
        return bool(env) and (env.get("image") or env.get("build_context") or env.get("conda") is not None
                              or env.get("pip_requirements") is not None) and not env.get("user_managed")

    def start_script(self) -> tuple[float, float, float]:
        """Fast path (nothing to build, local process): materialize and start the script before
        any heavy import. Returns (preparing, starting, running) times."""
        t_prep = time.time()
        self._materialize()
        t_start = time.time()
        self._start_local(self.spec["argv"])
        return t_prep, t_start, time.time()

    def _start_local(self, argv: list[str]) -> None:
        from engine.runs.procs import LocalProcess

        env = dict(os.environ)
        for key, value in self.spec["env"].items():
            env[key] = value
        for key, value in self.spec.get("env_prepend", {}).items():
            env[key] = value + (os.pathsep + env[key] if env.get(key) else "")
        if self.spec.get("distribution"):
            self._start_distributed(argv, env)
            return
        driver = open(self.files.driver_log, "ab", buffering=0)  # noqa: SIM115
        popen = subprocess.Popen(
            argv,
            cwd=self.files.wd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=driver,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: cancel ends the whole group
        )
        driver.close()
        self.proc = LocalProcess(popen)

    def _start_distributed(self, argv: list[str], env: dict[str, str]) -> None:
        """Several processes of the script (engine/runs/distributed.py): one per rank for
        pytorch, each with its own driver log; mpirun's for mpi."""
        from engine.runs import distributed
        from engine.runs.procs import LocalProcess, reap_leftovers, terminate_tree

        dist = distributed.Distribution.from_dict(self.spec["distribution"])
        self.files.system_logs.mkdir(parents=True, exist_ok=True)
        if dist.kind == "mpi":
            argv = distributed.mpirun_argv(dist, argv)
            with open(self.files.driver_log, "ab", buffering=0) as driver:
                self.proc = LocalProcess(subprocess.Popen(
                    argv, cwd=self.files.wd, env=env, stdin=subprocess.DEVNULL, stdout=driver,
                    stderr=subprocess.STDOUT, start_new_session=True))
            return
        port = distributed.free_port()
        popens = []
        for rank in range(dist.world_size):
            with open(self.files.system_logs / distributed.driver_log_name(rank), "ab", buffering=0) as driver:
                popens.append(subprocess.Popen(
                    argv, cwd=self.files.wd, env={**env, **distributed.rank_environment(dist, rank, port)},
                    stdin=subprocess.DEVNULL, stdout=driver, stderr=subprocess.STDOUT, start_new_session=True))
        self.proc = distributed.ProcessGroup(popens, terminate_tree, reap_leftovers,
                                             float(self.spec.get("cancel_grace_seconds", 10)))

    def prepare_and_start(self) -> None:
        """Slow path: record Preparing, build (or reuse) the environment with its log streaming
        into 20_image_build_log.txt, then start the script locally or in a container."""
        from engine.compute.targets import run_environment
        from engine.environments.build import BuildLog, ensure_built

        self.store.set_status(self.run_name, "Preparing")
        self._materialize()
        if self.spec.get("compute") == "ssh":
            self._start_ssh()
            return
        # On a docker target with a default image, pip/conda environments are built on top of it.
        env_spec = run_environment(self.spec)
        built = None
        docker_client = None
        if env_spec is not None:
            if env_spec.needs_docker or self.spec.get("compute") == "docker":
                from engine.environments.build.docker import docker_client as make_client

                docker_client = make_client()
            log = BuildLog(self.files.system_logs / BUILD_LOG)
            built = ensure_built(env_spec, Path(self.spec["envs_root"]), log, docker=docker_client)
        default_image = None
        if self.spec.get("compute") == "docker" and (built is None or not built.image) and self.spec.get("default_image"):
            if docker_client is None:
                from engine.environments.build.docker import docker_client as make_client

                docker_client = make_client()
            default_image = self._default_image(docker_client)
        if self.cancel_reason is not None:
            return
        if built is not None:  # record what really runs the script
            props = dict(self.store.get_run(self.run_name).properties)
            props.update({"environment_hash": built.spec_hash, "environment_cached": built.cached})
            if built.image:
                props["image"] = built.image
                props.pop("interpreter", None)
            elif built.interpreter:
                props["interpreter"] = built.interpreter
            self.store.update_run(self.run_name, properties=props)
        if default_image is not None:
            props = dict(self.store.get_run(self.run_name).properties)
            props["image"] = default_image
            props.pop("interpreter", None)
            self.store.update_run(self.run_name, properties=props)
        self.store.set_status(self.run_name, "Starting")
        if self.spec.get("compute") == "docker" or (built is not None and built.image):
            image = built.image if built is not None and built.image else default_image
            self._start_container(image, docker_client)
        else:
            interpreter = built.interpreter if built is not None and built.interpreter else None
            argv = list(self.spec["argv"])
            if interpreter:
                from engine.runs.launch import link_interpreter

                link_interpreter(self.files, interpreter)
                if self.spec.get("script"):
                    argv[0] = interpreter
            self._start_local(argv)
        self.store.set_status(self.run_name, "Running")

    def _start_ssh(self) -> None:
        """Connect to the SSH target (a connection, login or host-key failure fails the run while
        Preparing, with that message), upload the code, start the script detached there."""
        from engine.compute.ssh import make_ssh_run

        run = make_ssh_run(self.files, self.spec, self.log, self._driver_note)
        try:
            run.connect()
            self._driver_note(f"connected to {run.target.address}; uploading the code to {run.remote}")
            run.upload()
            if self.cancel_reason is not None:
                run.close()
                return
            props = dict(self.store.get_run(self.run_name).properties)
            props.update(interpreter=run.interpreter, ssh_host=run.target.address, remote_dir=run.remote)
            self.store.update_run(self.run_name, properties=props)
            self.store.set_status(self.run_name, "Starting")
            run.start()
        except BaseException:
            run.close()
            raise
        self.proc = run
        self.store.set_status(self.run_name, "Running")

    def _default_image(self, docker_client: Any) -> str | None:
        """The compute target's `image:` for a run whose environment has no image, made sure to be
        on this machine (pulled when it is not, with the log in 20_image_build_log.txt); None when
        the target has none."""
        image = self.spec.get("default_image")
        if not image:
            return None
        from engine.environments.build import BuildLog
        from engine.environments.build.docker import ensure_base_image

        log = BuildLog(self.files.system_logs / BUILD_LOG)
        log.line(f"the job has no environment image: using the compute target's image {image}")
        ensure_base_image(docker_client, image, log)
        return str(image)

    def _start_container(self, image: str | None, docker_client: Any) -> None:
        from engine.compute.docker import ContainerRun
        from engine.errors import InvalidSpec
        from engine.runs.launch import INJECT_DIR

        if image is None:
            raise InvalidSpec("compute `docker` needs an environment with an image (`image:` or `build:`)",
                              "give the job an environment such as `image: python:3.11-slim`, or give the "
                              "compute target a default `image:`")
        if self.spec.get("script"):
            argv = ["python", self.spec["script"], *self.spec.get("arguments", [])]
        else:
            # Debian-style images have only python3: let `python x.py` in a command work there too.
            shim = 'command -v python >/dev/null 2>&1 || python() { python3 "$@"; }; '
            argv = ["/bin/sh", "-c", shim + self.spec["command"]]
        env = {k: v for k, v in self.spec["env"].items() if not k.startswith(PREFIX) or k in RUN_IDENTITY}
        self.proc = ContainerRun(image, argv, run_root=self.files.root, env=env, inject_dir=INJECT_DIR,
                                 name=self.run_name, network=self.spec.get("docker_network", "host"),
                                 gpus=self.spec.get("gpus"), docker=docker_client)
        self.proc.start()

    # ------------------------------------------------------------------ main loop
    def run(self) -> int:
        from engine.runs.procs import become_subreaper

        become_subreaper()
        signal.signal(signal.SIGTERM, self._on_sigterm)
        signal.signal(signal.SIGINT, self._on_sigterm)
        if self.spec.get("max_concurrent_runs") and not self._wait_for_a_slot():
            self.store.set_status(self.run_name, "Canceled", error=self._cancel_message())
            return 0
        if self.needs_preparation():
            from engine.store.sql import SqlStore

            self.store = SqlStore(self.spec["store_url"], migrate=False)
            try:
                self.prepare_and_start()
            except BaseException as exc:  # noqa: BLE001 - the build or the container failed: Failed in Preparing
                self._fail_before_start(exc)
                return 1
            if self.proc is None:  # canceled while preparing
                self.store.set_status(self.run_name, "Canceled", error=self.cancel_reason)
                return 0
            times = None
        else:
            try:
                times = self.start_script()
            except BaseException as exc:  # noqa: BLE001 - the script never started: record why
                self._fail_before_start(exc)
                return 1
        from engine.runs.ingest import RecordIngestor
        from engine.runs.logmirror import FolderMirror
        from engine.store.sql import SqlStore

        if self.store is None:
            self.store = SqlStore(self.spec["store_url"], migrate=False)
        if times is not None:
            for status, at in zip(("Preparing", "Starting", "Running"), times):
                self.store.set_status(self.run_name, status, at=at)
        self.log(f"started: {self.spec['argv']}")
        ingestor = RecordIngestor(self.store, self.run_name, self.files, warn=self.log)
        mirror = FolderMirror(self.files.wd / "logs", self.files.logs)
        max_duration = self.spec.get("max_run_duration_seconds")
        started = times[2] if times is not None else time.time()
        deadline = started + float(max_duration) if max_duration else None
        next_cancel_check = 0.0
        assert self.proc is not None
        while self.proc.poll() is None:
            self._safe(ingestor.poll)
            self._safe(mirror.sync)
            now = time.monotonic()
            if now >= next_cancel_check:
                next_cancel_check = now + CANCEL_CHECK_SECONDS
                if self._safe(lambda: self.store.get_run(self.run_name).cancel_requested):
                    self.cancel_reason = self.cancel_reason or USER_CANCEL
            if deadline is not None and time.time() >= deadline and self.cancel_reason is None:
                self.cancel_reason = (
                    f"the run exceeded its maximum duration (max_run_duration_seconds={max_duration})"
                )
            if self.cancel_reason is not None:
                self._end_tree()
                break
            time.sleep(POLL_SECONDS)
        return self.finish(ingestor, mirror)

    def _wait_for_a_slot(self) -> bool:
        """Stay Queued while the compute target runs its `max_concurrent_runs` (runs queued
        earlier go first). False when the run is canceled while it waits."""
        from engine.store.sql import SqlStore

        self.store = SqlStore(self.spec["store_url"], migrate=False)
        limit = int(self.spec["max_concurrent_runs"])
        target = self.spec.get("compute_target") or self.spec.get("compute")
        said = False
        next_cancel_check = 0.0
        while self.cancel_reason is None:
            holding, awaiting = self._safe(lambda: self.store.runs_holding_or_awaiting(target, self.run_name)) \
                or (limit, 0)
            if holding + awaiting < limit:
                if said:
                    self._driver_note(f"a slot on {target} is free: starting")
                return True
            if not said:
                said = True
                self._driver_note(f"queued: compute target {target} runs at most {limit} job(s) at once "
                                  f"({holding} running, {awaiting} queued ahead); waiting for a free slot")
            now = time.monotonic()
            if now >= next_cancel_check:
                next_cancel_check = now + CANCEL_CHECK_SECONDS
                if self._safe(lambda: self.store.get_run(self.run_name).cancel_requested):
                    self.cancel_reason = USER_CANCEL
            time.sleep(QUEUE_POLL_SECONDS)
        return False

    def _driver_note(self, msg: str) -> None:
        """A line of Trainyard's own in the driver log (what `job stream` shows) before the script runs."""
        self.files.system_logs.mkdir(parents=True, exist_ok=True)
        with open(self.files.driver_log, "a") as f:
            f.write(f"[trainyard] {msg}\n")
        self.log(msg)

    def _end_tree(self) -> None:
        assert self.proc is not None
        self.log(f"ending the run: {self.cancel_reason}")
        self.proc.terminate(float(self.spec.get("cancel_grace_seconds", 10)))

    def finish(self, ingestor: Any, mirror: Any) -> int:
        assert self.proc is not None
        code = self.proc.wait()
        if hasattr(self.proc, "cleanup"):
            leftovers = self._safe(self.proc.cleanup)
            if leftovers:
                self.log(f"ended {leftovers} process(es) the script left running")
        else:  # a container: its exit code says 128+N when a signal ended it
            from engine.compute.docker import signal_of

            self._safe(self.proc.remove)
            sig = signal_of(code)
            if sig is not None:
                code = -int(sig)
        self.store.set_status(self.run_name, "Finalizing")
        # Ingest until nothing new arrives: children may have flushed at the very end.
        while self._safe(ingestor.poll):
            pass
        self._safe(mirror.sync)
        self._safe(self._collect_outputs)
        fields: dict[str, Any] = {"exit_code": code}
        failure = getattr(self.proc, "failure", None)  # an SSH host that stayed unreachable
        if self.cancel_reason is not None:
            status, fields["error"] = "Canceled", self._cancel_message()
        elif failure:
            status, fields["error"] = "Failed", failure
        elif code == 0:
            status = "Completed"
        else:
            status = "Failed"
            fields["error"] = self._failure_message(code)
            if code < 0:
                fields["properties"] = {**self.store.get_run(self.run_name).properties,
                                        "signal": signal.Signals(-code).name}
        self.store.set_status(self.run_name, status, **fields)
        self.log(f"ended: {status} (exit code {code})")
        return 0

    def _cancel_message(self) -> str:
        """Why the run was canceled: the canceller's reason (a sweep's early termination), if any."""
        assert self.cancel_reason is not None
        if self.cancel_reason == USER_CANCEL:
            reason = self._safe(lambda: self.store.get_run(self.run_name).properties.get("cancel_reason"))
            if isinstance(reason, str) and reason:
                return reason
        return self.cancel_reason

    def _collect_outputs(self) -> None:
        import shutil

        src = self.files.wd / "outputs"
        if not src.is_dir():
            return
        if not self.files.outputs.exists():
            os.replace(src, self.files.outputs)
        else:  # uploads already placed some files there: merge
            shutil.copytree(src, self.files.outputs, dirs_exist_ok=True)
            shutil.rmtree(src, ignore_errors=True)

    def _failure_message(self, code: int) -> str:
        rank = getattr(self.proc, "failed_rank", None)  # a distributed run: the process that failed
        who = "the script" if rank is None else f"rank {rank} of the script"
        if code < 0:
            name = signal.Signals(-code).name
            return f"{who} was killed by signal {-code} ({name})"
        log = self.files.driver_log
        if rank is not None:
            from engine.runs.distributed import driver_log_name

            log = self.files.system_logs / driver_log_name(rank)
        last = _last_meaningful_line(log)
        msg = f"{who} exited with code {code}"
        return f"{msg}: {last}" if last else msg

    def _fail_before_start(self, exc: BaseException) -> None:
        self.log("failed before the script started:\n" + traceback.format_exc())
        from engine.errors import TrainyardError
        from engine.store.sql import SqlStore

        message = exc.message if isinstance(exc, TrainyardError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, TrainyardError) and exc.hint:
            message += f" ({exc.hint})"
        store = self.store or SqlStore(self.spec["store_url"], migrate=False)
        store.set_status(self.run_name, "Failed", error=f"the run could not start: {message}")
        if self.proc is not None:
            self._safe(lambda: self.proc.terminate(2.0))

    def _on_sigterm(self, _signum: int, _frame: object) -> None:
        self.cancel_reason = self.cancel_reason or USER_CANCEL

    def _safe(self, fn: Any) -> Any:
        """One failed poll (a locked database, a vanished file) must not end the supervision."""
        try:
            return fn()
        except Exception:  # noqa: BLE001
            self.log("poll error:\n" + traceback.format_exc())
            return None


def _last_meaningful_line(path: Path, tail_bytes: int = 8192) -> str | None:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - tail_bytes))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:500] if lines else None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m engine.runs.supervisor RUN_DIR\n")
        return 2
    run_dir = Path(argv[1])
    if "sweep" in json.loads(RunFiles(run_dir).spec.read_text()):
        from engine.sweeps.controller import SweepController

        return SweepController(run_dir).run()
    return Supervisor(run_dir).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
