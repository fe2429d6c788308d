"""The detached process that owns one run (started through engine.entry with the run's folder).

It starts the script first (heavy imports come after, so the script's first line is not
delayed), then records the lifecycle, ingests metrics live, mirrors ./logs, enforces the
maximum duration, honours cancel (SIGTERM to us, or the store's flag), and at the end
collects ./outputs and records the exit code or signal. Closing the studio or killing the CLI
never touches it: it runs in its own session.

The script's handle is an engine.compute.handle.RunHandle whatever runs it (a local process or
process group, a container, an SSH host); the supervisor only polls, terminates, waits for and
cleans up that handle. Imports that pull in SQLAlchemy or the environment builders (PyYAML, the
Docker SDK) stay inside the methods that need them: the fast path starts the script before any
of them.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from engine.compute.handle import RunHandle
from engine.compute.local import start_local
from engine.compute.mounts import prepare_run_data, read_only_argv
from engine.compute.procs import become_subreaper
from engine.entities import USER_CANCEL, EnvironmentSpec
from engine.errors import InvalidSpec, TrainyardError
from engine.runs.control import requested_cancel
from engine.runs.gpuassign import GpuAssigner, apply_assignment, script_pids
from engine.runs.launch import INJECT_DIR, link_interpreter, materialize_code
from engine.runs.lineclock import LineClock
from engine.runs.logmirror import FolderMirror
from engine.runs.runlocks import keep_build_lock, keep_lock, last_meaningful_line, record_interpreter_lock
from engine.runs.tbingest import TensorBoardIngestor
from engine.runtime.files import BUILD_LOG, RunFiles
from engine.runtime.launchspec import read_spec
from engine.tracking.inject.trainyard_run.envvars import PREFIX, RUN_IDENTITY
from engine.workspace import models_dir_of_run

if TYPE_CHECKING:
    from engine.environments.build import BuiltEnvironment
    from engine.runs.ingest import RecordIngestor
    from engine.runs.sysmetrics import PulledNodes, PulledSystemMetrics, SystemMetrics
    from engine.store.sql import SqlStore

T = TypeVar("T")

__all__ = ["BUILD_LOG", "USER_CANCEL", "Supervisor"]

POLL_SECONDS = 0.1
CANCEL_CHECK_SECONDS = 0.5
QUEUE_POLL_SECONDS = 0.25


class Supervisor:
    def __init__(self, run_dir: Path) -> None:
        self.files = RunFiles(run_dir)
        self.spec = read_spec(self.files.spec)
        self.run_name = self.spec.run_name
        self.cancel_reason: str | None = None
        self.proc: RunHandle | None = None
        self.store: SqlStore | None = None
        self.gpus: GpuAssigner | None = None
        self.clock = LineClock(self.files.driver_log, self.files.driver_log_times)  # per-line times
        self._lock: Any = None  # an SSH run's ownership lock (engine.compute.ssh.hold_run_lock)
        self._log = open(self.files.supervisor_log, "a", buffering=1)  # noqa: SIM115

    def log(self, msg: str) -> None:
        self._log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {msg}\n")

    # ------------------------------------------------------------------ start
    def _materialize(self) -> None:
        materialize_code(self.spec, self.files.wd)
        for d in (self.files.tracking, self.files.system_logs, self.files.logs):
            d.mkdir(parents=True, exist_ok=True)
        if self.spec.data is not None:  # download copies, mount points, empty output folders
            prepare_run_data(self.spec.data, self.files.root, inputs=self.spec.placement.compute not in ("ssh", "slurm"))

    def needs_preparation(self) -> bool:
        """True when an environment must be built (or a container used) before the script starts."""
        if self.spec.placement.compute in ("docker", "ssh", "slurm"):
            return True
        env = EnvironmentSpec.from_dict(self.spec.environment) if self.spec.environment else None
        return env is not None and not env.user_managed and bool(
            env.image or env.build_context or env.conda is not None or env.pip_requirements is not None)

    def start_script(self) -> tuple[float, float, float]:
        """Fast path (nothing to build, local process): materialize and start the script before
        any heavy import. Returns (preparing, starting, running) times."""
        t_prep = time.time()
        self._materialize()
        t_start = time.time()
        self._start_local(self.spec.argv)
        return t_prep, t_start, time.time()

    def _start_local(self, argv: list[str]) -> None:
        env = dict(os.environ)
        env.update(self.spec.env)
        for key, value in self.spec.env_prepend.items():
            env[key] = value + (os.pathsep + env[key] if env.get(key) else "")
        # A script's argv is [interpreter, script, *arguments]: Azure expands `$VAR` in the arguments.
        expand_from = 2 if self.spec.script else None
        if self.spec.data is not None:  # read-only inputs: the script starts inside the mount wrapper
            wrapped = read_only_argv(self.spec.data, self.files.root, argv)
            if expand_from is not None:
                expand_from += len(wrapped) - len(argv)
            argv = wrapped
        self.proc = start_local(argv, self.files, env, self.spec.distribution, self.spec.cancel_grace_seconds,
                                expand_from=expand_from)

    def prepare_and_start(self) -> None:
        """Slow path: record Preparing, build (or reuse) the environment with its log streaming
        into 20_image_build_log.txt, then start the script locally, in a container or over SSH."""
        # The slow path's backends: imported here so that the fast path starts the script sooner.
        from engine.compute.targets import run_environment
        from engine.environments.build.daemon import docker_client

        store = self._store()
        store.set_status(self.run_name, "Preparing")
        self._record_gpus(store)
        self._materialize()
        if self.spec.placement.compute == "ssh":
            self._start_ssh()
            return
        if self.spec.placement.compute == "slurm":  # a Slurm job (engine.runs.slurmstart)
            from engine.runs.slurmstart import start_slurm

            self.proc = start_slurm(self.spec, self.files, store, self.log, self._driver_note,
                                    lambda: self.cancel_reason is not None)
            return
        on_docker = self.spec.placement.compute == "docker"
        # On a docker target with a default image, pip/conda environments are built on top of it.
        env_spec = run_environment(self.spec)
        built: BuiltEnvironment | None = None
        docker = None
        if env_spec is not None:
            # the builders: conda, uv, Docker
            from engine.environments.build import BuildLog, ensure_built, spec_hash
            from engine.environments.build.cache import hold_in_use

            if env_spec.needs_docker or on_docker:
                docker = docker_client()
            log = BuildLog(self.files.build_log)
            # The build cache is shared by every workspace: mark this build in use (until this
            # process exits) before it is built or found, so no workspace's prune removes it.
            if env_spec.kind != "user":
                self._env_lease = hold_in_use(Path(self.spec.envs_root or ""), spec_hash(env_spec))
            built = ensure_built(env_spec, Path(self.spec.envs_root or ""), log, docker=docker)
        default_image = None
        if on_docker and (built is None or not built.image) and self.spec.placement.default_image:
            if docker is None:
                docker = docker_client()
            default_image = self._default_image(docker)
        if self.cancel_reason is not None:
            return
        if built is not None:  # record what really runs the script
            props: dict[str, Any] = {"environment_hash": built.spec_hash, "environment_cached": built.cached}
            lock_id = self._safe(lambda: keep_build_lock(built, self.files))
            if lock_id:
                props["environment_lock"] = lock_id
            if built.image:
                props["image"] = built.image
            elif built.interpreter:
                props["interpreter"] = built.interpreter
            store.merge_properties(self.run_name, props, drop=("interpreter",) if built.image else ())
        if default_image is not None:
            store.merge_properties(self.run_name, {"image": default_image}, drop=("interpreter",))
        store.set_status(self.run_name, "Starting")
        if on_docker or (built is not None and built.image):
            image = built.image if built is not None and built.image else default_image
            self._start_container(image, docker)
        else:
            interpreter = built.interpreter if built is not None and built.interpreter else None
            argv = list(self.spec.argv)
            if interpreter:
                link_interpreter(self.files, interpreter)
                if self.spec.script:
                    argv[0] = interpreter
            self._start_local(argv)
        store.set_status(self.run_name, "Running")

    def _start_ssh(self) -> None:
        """Connect to the SSH target (a connection, login or host-key failure fails the run while
        Preparing, with that message), upload the code, start the script detached there."""
        # the slow path's backend (see prepare_and_start)
        from engine.compute.ssh.group import make_ssh_handle
        from engine.compute.targets import run_environment

        store = self._store()
        run: Any = make_ssh_handle(self.files, self.spec, self.log, self._driver_note)
        try:
            run.connect()
            env_spec = run_environment(self.spec)
            env_props: dict[str, Any] = {}
            if env_spec is not None and env_spec.kind != "user":  # built on the host, cached there
                from engine.environments.build import BuildLog  # builders: conda, uv, Docker

                self._driver_note(f"connected to {run.target.address}; preparing the environment there")
                env_hash, cached = run.build_environment(env_spec, BuildLog(self.files.build_log))
                env_props = {"environment_hash": env_hash, "environment_cached": cached}
                if run.env_lock is not None:  # what the host's build holds, as a local build's lock
                    env_props["environment_lock"] = keep_lock(run.env_lock, self.files)
            self._driver_note(f"connected to {run.target.address}; uploading the code to {run.remote}")
            sent = run.upload()
            if self.cancel_reason is not None:
                run.close()
                return
            store.merge_properties(self.run_name, dict(
                interpreter=run.interpreter, ssh_host=run.target.address, remote_dir=run.remote,
                upload_bytes=sent.bytes_sent, upload_blobs=sent.blobs_sent, **env_props))
            store.set_status(self.run_name, "Starting")
            run.start()
        except BaseException:
            run.close()
            raise
        self.proc = run
        store.set_status(self.run_name, "Running")

    def _default_image(self, docker_client: Any) -> str | None:
        """The compute target's `image:` for a run whose environment has no image, made sure to be
        on this machine (pulled when it is not, with the log in 20_image_build_log.txt); None when
        the target has none."""
        image = self.spec.placement.default_image
        if not image:
            return None
        from engine.environments.build import BuildLog  # builders: conda, uv, Docker
        from engine.environments.build.docker import ensure_base_image

        log = BuildLog(self.files.build_log)
        log.line(f"the job has no environment image: using the compute target's image {image}")
        ensure_base_image(docker_client, image, log)
        return str(image)

    def _start_container(self, image: str | None, docker_client: Any) -> None:
        from engine.compute.docker import ContainerRun, container_binds  # the slow path's backend

        if image is None:
            raise InvalidSpec("compute `docker` needs an environment with an image (`image:` or `build:`)",
                              "give the job an environment such as `image: python:3.11-slim`, or give the "
                              "compute target a default `image:`")
        if self.spec.script:
            argv = ["python", self.spec.script, *self.spec.arguments]
        else:
            # Debian-style images have only python3: let `python x.py` in a command work there too.
            shim = 'command -v python >/dev/null 2>&1 || python() { python3 "$@"; }; '
            argv = ["/bin/sh", "-c", shim + (self.spec.command or "")]
        env = {k: v for k, v in self.spec.env.items() if not k.startswith(PREFIX) or k in RUN_IDENTITY}
        container = ContainerRun(image, argv, run_root=self.files.root, env=env, inject_dir=INJECT_DIR,
                                 name=self.run_name, network=self.spec.placement.docker_network,
                                 gpus=self.spec.placement.gpus, docker=docker_client,
                                 shm_size=self.spec.placement.shm_size, expand_from=2 if self.spec.script else None,
                                 data_binds=container_binds(self.spec.data))
        self.proc = container
        container.start()

    # ------------------------------------------------------------------ main loop
    def _store(self) -> SqlStore:
        if self.store is None:
            from engine.store.sql import SqlStore  # SQLAlchemy: after the script started

            self.store = SqlStore(self.spec.store_url, migrate=False)
        return self.store

    def run(self) -> int:
        become_subreaper()
        signal.signal(signal.SIGTERM, self._on_sigterm)
        signal.signal(signal.SIGINT, self._on_sigterm)
        try:
            return self._run()
        finally:
            if self.gpus is not None:
                self._safe(self.gpus.release)

    def _start_run(self) -> tuple[int | None, tuple[float, float, float] | None]:
        """Wait for a slot and GPUs, prepare and start the script: (None, the start's times when
        known), or (the supervisor's exit code, None) when the run ended before starting."""
        if self.spec.placement.max_concurrent_runs and not self._wait_for_a_slot():
            self._store().set_status(self.run_name, "Canceled", error=self._cancel_message())
            return 0, None
        if self.spec.placement.gpus is not None:
            try:
                assigned = self._assign_gpus()
            except BaseException as exc:  # noqa: BLE001 - a request the machine can never meet
                self._fail_before_start(exc)
                return 1, None
            if not assigned:
                self._store().set_status(self.run_name, "Canceled", error=self._cancel_message())
                return 0, None
        if self.needs_preparation():
            try:
                self.prepare_and_start()
            except BaseException as exc:  # noqa: BLE001 - the build or the container failed: Failed in Preparing
                self._fail_before_start(exc)
                return 1, None
            if self.proc is None:  # canceled while preparing
                self._store().set_status(self.run_name, "Canceled", error=self.cancel_reason)
                return 0, None
            times = None
        else:
            try:
                times = self.start_script()
            except BaseException as exc:  # noqa: BLE001 - the script never started: record why
                self._fail_before_start(exc)
                return 1, None
        return None, times

    def _reattach_ssh(self) -> bool:
        """A supervisor started for an SSH run whose script already runs on the host (its first
        supervisor died; engine.runs.control.reconcile started this one): take it over. The
        host's offsets and the store's cursors make the logs and metrics go on where they were."""
        from engine.compute.ssh import RUN_STATE
        from engine.compute.ssh.group import make_ssh_handle

        if not (self.files.root / RUN_STATE).exists():
            return False
        run: Any = make_ssh_handle(self.files, self.spec, self.log, self._driver_note)
        self._driver_note(f"reattached (the run's supervisor was restarted): the script goes on at "
                          f"{run.target.hostname}")
        run.reattach()
        self.proc = run
        return True

    def _reattach_slurm(self) -> bool:
        """A Slurm run whose job was submitted by a supervisor that died: follow that job."""
        from engine.compute.slurm import RUN_STATE
        from engine.runs.slurmstart import reattach_slurm

        if not (self.files.root / RUN_STATE).exists():
            return False
        self.proc = reattach_slurm(self.spec, self.files, self._store(), self.log, self._driver_note)
        return True

    def _run(self) -> int:
        if self.spec.placement.compute in ("ssh", "slurm"):
            from engine.compute.ssh import hold_run_lock  # the slow path's backend (see prepare_and_start)

            self._lock = hold_run_lock(self.files)
            if self._lock is None:  # another supervisor owns the run (two reattached it at once)
                return 0
        times: tuple[float, float, float] | None = None
        if not (self.spec.placement.compute == "ssh" and self._reattach_ssh()) and not (
                self.spec.placement.compute == "slurm" and self._reattach_slurm()):
            ended, times = self._start_run()
            if ended is not None:
                return ended
        from engine.runs.ingest import RecordIngestor  # SQLAlchemy: after the script started

        store = self._store()
        if times is not None:
            for status, at in zip(("Preparing", "Starting", "Running"), times):
                store.set_status(self.run_name, status, at=at)
        self._safe(lambda: self._record_gpus(store))
        if times is not None:  # nothing was built: the lock is the interpreter's freeze, taken now
            self._safe(lambda: record_interpreter_lock(store, self.run_name, self.files))
        self.log(f"started: {self.spec.argv}")
        # Where models the script registers (MLflow's registered_model_name=) are copied.
        models_dir = models_dir_of_run(self.files.root)
        ingestor = RecordIngestor(store, self.run_name, self.files, warn=self.log, models_dir=models_dir)
        mirror = FolderMirror(self.files.wd / "logs", self.files.logs)
        system = self._system_metrics(store)
        tensorboard = TensorBoardIngestor(store, self.run_name, self.files.logs, warn=self.log,
                                          images=self.files.tracking)
        max_duration = self.spec.max_run_duration_seconds
        started = times[2] if times is not None else time.time()
        # Slurm enforces a job's time limit itself (--time): the job ends as TIMEOUT.
        deadline = started + float(max_duration) if max_duration and self.spec.placement.compute != "slurm" else None
        next_cancel_check = 0.0
        proc = self.proc
        assert proc is not None
        gpus = self.gpus
        if gpus is not None and gpus.assigned:  # the script keeps its GPUs should we die
            self._safe(lambda: gpus.keep_with(script_pids(proc)))
        while proc.poll() is None:
            self._safe(self.clock.poll)
            self._safe(ingestor.poll)
            self._safe(mirror.sync)
            if system is not None:
                self._safe(system.poll)
            self._safe(tensorboard.poll)
            now = time.monotonic()
            if now >= next_cancel_check:
                next_cancel_check = now + CANCEL_CHECK_SECONDS
                self.cancel_reason = self.cancel_reason or self._safe(lambda: requested_cancel(store, self.run_name))
            if deadline is not None and time.time() >= deadline and self.cancel_reason is None:
                self.cancel_reason = (
                    f"the run exceeded its maximum duration (max_run_duration_seconds={max_duration})"
                )
            if self.cancel_reason is not None:
                self._end_tree()
                break
            time.sleep(POLL_SECONDS)
        return self.finish(ingestor, mirror, tensorboard, system)

    def _system_metrics(self, store: SqlStore) -> SystemMetrics | PulledSystemMetrics | PulledNodes | None:
        from engine.runs.sysmetrics import for_run  # psutil

        return self._safe(lambda: for_run(store, self.run_name, self.proc, self.spec.env))

    def _wait_for_a_slot(self) -> bool:
        """Stay Queued while the compute target runs its `max_concurrent_runs` (runs queued
        earlier go first). False when the run is canceled while it waits."""
        store = self._store()
        limit = int(self.spec.placement.max_concurrent_runs or 0)
        target = self.spec.placement.compute_target or self.spec.placement.compute
        here = self.spec.placement.compute != "ssh"  # a local/Docker target is each machine's own
        said = False
        next_cancel_check = 0.0
        while self.cancel_reason is None:
            holding, awaiting = self._safe(lambda: store.runs_holding_or_awaiting(
                target, self.run_name, this_machine=here)) or (limit, 0)
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
                self.cancel_reason = self._safe(lambda: requested_cancel(store, self.run_name))
            time.sleep(QUEUE_POLL_SECONDS)
        return False

    def _assign_gpus(self) -> bool:
        """Wait Queued for the run's GPUs (engine.runs.gpuassign) and make them the only ones its
        script sees. False when the run is canceled while it waits."""
        # The queue's order is the submission's: spec.json is written when the run is submitted.
        # (Not the store's created_at: opening the store here would delay every GPU run's start.)
        self.gpus = GpuAssigner(self.spec, self.files.spec.stat().st_mtime, self._driver_note, self.log)

        def cancelled() -> bool:  # asked only while the run waits
            store = self._store()
            if self.cancel_reason is None:
                self.cancel_reason = self._safe(lambda: requested_cancel(store, self.run_name))
            return self.cancel_reason is not None

        assigned = self.gpus.wait(cancelled)
        if self.cancel_reason is not None:
            return False
        if assigned is not None:
            self.spec = apply_assignment(self.spec, assigned)
        return True

    def _record_gpus(self, store: SqlStore) -> None:
        """The GPUs the run got, as its `gpus_assigned` property (after the script started)."""
        if self.gpus is not None and self.gpus.assigned is not None:
            if store.get_run(self.run_name).properties.get("gpus_assigned") is not None:
                return
            store.merge_properties(self.run_name, {"gpus_assigned": ",".join(map(str, self.gpus.assigned))})

    def _driver_note(self, msg: str) -> None:
        """A line of Trainyard's own in the driver log (what `job stream` shows) before the script runs."""
        self.files.system_logs.mkdir(parents=True, exist_ok=True)
        with open(self.files.driver_log, "a") as f:
            f.write(f"[trainyard] {msg}\n")
        self.log(msg)

    def _end_tree(self) -> None:
        assert self.proc is not None
        self.log(f"ending the run: {self.cancel_reason}")
        self.proc.terminate(self.spec.cancel_grace_seconds)

    def finish(self, ingestor: RecordIngestor, mirror: FolderMirror, tensorboard: TensorBoardIngestor | None = None,
               system: SystemMetrics | PulledSystemMetrics | PulledNodes | None = None) -> int:
        proc, store = self.proc, self._store()
        assert proc is not None
        code = proc.wait()
        leftovers = self._safe(proc.cleanup)
        if leftovers:
            self.log(f"ended {leftovers} process(es) the script left running")
        code = proc.recorded_exit_code(code)
        store.set_status(self.run_name, "Finalizing")
        # Ingest until nothing new arrives: children may have flushed at the very end.
        while self._safe(ingestor.poll):
            pass
        self._safe(mirror.sync)
        self._safe(self.clock.poll)  # the script's last lines
        if system is not None:  # the last samples pulled from an SSH host
            self._safe(lambda: system.poll(final=True))
        if tensorboard is not None:
            self._safe(lambda: tensorboard.poll(force=True))
        self._safe(self._collect_outputs)
        fields: dict[str, Any] = {"exit_code": code}
        cancelled_by = getattr(proc, "cancelled_by", None)  # a Slurm job scancel'ed outside Trainyard
        if self.cancel_reason is None and cancelled_by:
            self.cancel_reason = str(cancelled_by)
        script_failed = ingestor.requested_status is not None and ingestor.requested_status[0] == "Failed"
        completed = self.cancel_reason is None and not proc.failure and code == 0 and not script_failed
        problems = self._safe(lambda: self._register_outputs(completed)) if self.spec.data is not None else None
        if problems:
            self._driver_note("; ".join(problems))
            completed, fields["error"] = False, "; ".join(problems)
        if self.cancel_reason is not None:
            status, fields["error"] = "Canceled", self._cancel_message()
        elif proc.failure:  # an SSH host that stayed unreachable
            status, fields["error"] = "Failed", proc.failure
        elif ingestor.requested_status is not None and ingestor.requested_status[0] == "Failed":
            # run.fail() (Azure's semantics): Failed whatever the exit code, with the script's words.
            status = "Failed"
            fields["error"] = ingestor.requested_status[1] or "the script called run.fail()"
        elif code == 0:
            status = "Completed" if completed else "Failed"
        else:
            status = "Failed"
            fields["error"] = self._failure_message(code)
            if code < 0:
                self._safe(lambda: store.merge_properties(self.run_name, {"signal": signal.Signals(-code).name}))
        self._safe(lambda: ingestor.end_children(status))
        store.set_status(self.run_name, status, **fields)
        self.log(f"ended: {status} (exit code {code})")
        return 0

    def _cancel_message(self) -> str:
        """Why the run was canceled: the canceller's reason (a sweep's early termination), if any."""
        assert self.cancel_reason is not None
        if self.cancel_reason == USER_CANCEL:  # e.g. SIGTERM: the request may still say why
            store = self._store()
            reason = self._safe(lambda: requested_cancel(store, self.run_name))
            if reason:
                return reason
        return self.cancel_reason

    def _collect_outputs(self) -> None:
        src = self.files.wd / "outputs"
        if not src.is_dir():
            return
        if not self.files.outputs.exists():
            os.replace(src, self.files.outputs)
        else:  # uploads already placed some files there: merge
            shutil.copytree(src, self.files.outputs, dirs_exist_ok=True)
            shutil.rmtree(src, ignore_errors=True)

    def _register_outputs(self, completed: bool) -> list[str]:
        """Record the outputs in the lineage; when the run completed, register those with a name."""
        from engine.data.assets import register_outputs  # hashing and copying: only at the end

        plan = self.spec.data
        assert plan is not None
        return register_outputs(self._store(), self.run_name, self.files.root, list(plan.outputs),
                                data_dir=Path(plan.data_root), models_dir=Path(plan.models_root), completed=completed)

    def _failure_message(self, code: int) -> str:
        rank = self.proc.failed_rank if self.proc is not None else None  # the process that failed
        dist = self.spec.distribution
        who = "the script"
        log = self.files.driver_log
        if rank is not None and dist is not None:
            kind, index = dist.role(rank)
            who = f"{kind} {index} of the script"
            log = self.files.system_logs / dist.log_name(rank)
        if code < 0:
            name = signal.Signals(-code).name
            return f"{who} was killed by signal {-code} ({name})"
        last = last_meaningful_line(log)
        msg = f"{who} exited with code {code}"
        return f"{msg}: {last}" if last else msg

    def _fail_before_start(self, exc: BaseException) -> None:
        self.log("failed before the script started:\n" + traceback.format_exc())
        message = exc.one_line() if isinstance(exc, TrainyardError) else f"{type(exc).__name__}: {exc}"
        self._store().set_status(self.run_name, "Failed", error=f"the run could not start: {message}")
        proc = self.proc
        if proc is not None:
            self._safe(lambda: proc.terminate(2.0))

    def _on_sigterm(self, _signum: int, _frame: object) -> None:
        self.cancel_reason = self.cancel_reason or USER_CANCEL

    def _safe(self, fn: Callable[[], T]) -> T | None:
        """One failed poll (a locked database, a vanished file) must not end the supervision."""
        try:
            return fn()
        except Exception:  # noqa: BLE001
            self.log("poll error:\n" + traceback.format_exc())
            return None

