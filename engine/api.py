"""The engine facade: what the CLI, the SDK and the studio call. Plain blocking calls, no Qt."""

from __future__ import annotations

import os
import shlex
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import entities as E
from engine.errors import InvalidSpec, InvalidState, LaunchFailed, NotFound, TrainyardError
from engine.jobs.command import render_command
from engine.jobs.spec import JobSpec, SweepSpec
from engine.names import NAME_HINT, is_valid_name
from engine.runs import launch
from engine.runs.files import RunFiles
from engine.runs.names import new_run_name
from engine.runs.procs import is_same_process_alive
from engine.runtime import default_python
from engine.store.sql import SqlStore
from engine.tracking.inject.trainyard_run.envvars import (
    ENV_CANCEL_GRACE,
    ENV_EXPERIMENT,
    ENV_RUN_DIR,
    ENV_RUN_ID,
    ENV_TRACKING_DIR,
)
from engine.tracking.mlflow_env import mlflow_variables
from engine.workspace import WorkspaceLocation, resolve_workspace

BUILTIN_COMPUTE = E.BUILTIN_COMPUTE
# A run still Queued with no supervisor after this long never started.
QUEUED_GRACE_SECONDS = 60.0


class Engine:
    """One open workspace."""

    def __init__(self, location: WorkspaceLocation, *, reconcile: bool = True) -> None:
        self.location = location.ensure()
        self.store = SqlStore(location.store_url)
        self._snapshots: Any = None
        if reconcile:
            self.reconcile()

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, reconcile: bool = True) -> Engine:
        return cls(resolve_workspace(path), reconcile=reconcile)

    def close(self) -> None:
        self.store.close()

    @property
    def snapshots(self) -> Any:
        if self._snapshots is None:
            from engine.snapshots import SnapshotStore

            self._snapshots = SnapshotStore(self.location.snapshots_dir)
        return self._snapshots

    def run_files(self, name: str) -> RunFiles:
        return RunFiles(Path(self.store.get_run(name).run_dir))

    # ------------------------------------------------------------------ submit
    def submit(self, spec: JobSpec | SweepSpec, on_warning: Callable[[str], None] | None = None) -> E.Run:
        """Snapshot the code, record the run and start its supervisor. Returns at once.
        A sweep records the sweep run and starts its controller, which submits the trials."""
        from engine.compute.targets import resolve_compute, run_settings

        if isinstance(spec, SweepSpec):
            return self._submit_sweep(spec, on_warning)
        if spec.parent_run is not None:
            self.store.get_run(spec.parent_run)  # NotFound (with close names) before anything is made
        target = resolve_compute(self.store, spec.compute, spec.source_file)
        placement = run_settings(target, spec.gpus)  # spec.json: compute type, network, gpus, image
        env_spec = self._environment_of(spec)
        user_interpreter = spec.interpreter_path
        if env_spec is not None and env_spec.kind == "user":
            user_interpreter = env_spec.interpreter_path or user_interpreter
        on_ssh = placement["compute"] == "ssh"
        if on_ssh:
            _check_ssh_job(target, spec, env_spec)
            # The interpreter is on the remote: `python3` there unless the job names one.
            interpreter = user_interpreter or "python3"
            placement["ssh_interpreter"] = interpreter
        else:
            interpreter = _check_interpreter(user_interpreter or default_python(), spec.source_file)
        if spec.distribution is not None and (placement["compute"] == "docker"
                                              or (env_spec is not None and env_spec.needs_docker)):
            raise LaunchFailed("a distributed run starts its processes on this machine; running them in a "
                               "container is not available in this version of Trainyard",
                               "use `compute: local` with a pip or conda environment (or run one process)")
        code_dir = spec.code_dir.resolve() if spec.code_dir else None
        if code_dir is not None and not code_dir.is_dir():
            raise NotFound(
                f"the code folder {code_dir} does not exist",
                "fix `code:` in the job file (paths are relative to the YAML) or source_directory",
            )
        argv = self._argv(spec, code_dir, interpreter)

        snapshot = self._take_snapshot(code_dir, on_warning) if code_dir is not None else None
        name = spec.name or new_run_name()
        files = RunFiles(self.location.runs_dir / name)
        if spec.name is not None:
            self.store_has_no_run(name)
        try:
            files.root.mkdir(parents=True, exist_ok=False)
        except FileExistsError as exc:
            raise LaunchFailed(f"a run folder for {name!r} already exists at {files.root}",
                               "pick another --name") from exc
        try:
            link_env = self._run_env(spec, name, files)
            if not on_ssh:  # an SSH run's wrappers are made on the remote
                launch.link_interpreter(files, interpreter)
            launch.write_spec(files, {
                "run_name": name,
                "store_url": self.store.url,
                "snapshots_root": str(self.location.snapshots_dir),
                "snapshot_id": snapshot.id if snapshot else None,
                "argv": argv,
                "env": link_env,
                "env_prepend": {"PATH": str(files.bin), "PYTHONPATH": str(launch.INJECT_DIR)},
                "max_run_duration_seconds": spec.max_run_duration_seconds,
                "cancel_grace_seconds": float(os.environ.get(ENV_CANCEL_GRACE, "10")),
                # What the preparation path needs when an environment must be built first.
                **placement,
                "environment": env_spec.to_dict() if env_spec is not None else None,
                "envs_root": str(self.location.envs_dir),
                "script": spec.script,
                "arguments": [str(a) for a in spec.arguments],
                "command": argv[2] if spec.command is not None else None,
                "distribution": spec.distribution.to_dict() if spec.distribution is not None else None,
            })
            self.store.create_run(
                name=name,
                experiment_name=spec.experiment_name,
                run_dir=str(files.root),
                display_name=spec.display_name or name,
                description=spec.description,
                command=spec.command if spec.command is not None else shlex.join([spec.script or "", *spec.arguments]),
                arguments=list(spec.arguments),
                compute=target.name,
                environment=env_spec.reference if env_spec is not None else spec.environment,
                snapshot_id=snapshot.id if snapshot else None,
                git=snapshot.git.to_dict() if snapshot and snapshot.git else None,
                inputs=dict(spec.inputs),
                tags=dict(spec.tags),
                properties={**spec.properties, "host": launch.this_host(), "interpreter": interpreter,
                            **({"distribution": spec.distribution.to_dict()} if spec.distribution else {}),
                            **({"source_file": spec.source_file} if spec.source_file else {})},
                max_run_duration_seconds=spec.max_run_duration_seconds,
                parent_name=spec.parent_run,
            )
        except BaseException:
            shutil.rmtree(files.root, ignore_errors=True)
            raise
        return self._start(name, files)

    def _take_snapshot(self, code_dir: Path, on_warning: Callable[[str], None] | None) -> Any:
        """Snapshot `code_dir` (the size limits and ignore files apply) and record it in the store."""
        from engine.snapshots import SnapshotLimits

        snapshot = self.snapshots.take(code_dir, SnapshotLimits.from_env(), on_warning=on_warning)
        self.store.add_snapshot(
            E.SnapshotInfo(snapshot.id, snapshot.source, snapshot.file_count, snapshot.total_bytes,
                           time.time(), snapshot.git.to_dict() if snapshot.git else None))
        return snapshot

    def _submit_sweep(self, sweep: SweepSpec, on_warning: Callable[[str], None] | None) -> E.Run:
        """Check what every trial will need (compute, environment, code, command) now, so that a
        mistake fails the submit rather than twenty trials; then record the sweep run."""
        from dataclasses import asdict

        from engine.compute.targets import resolve_compute

        trial = sweep.trial
        target = resolve_compute(self.store, trial.compute, trial.source_file)
        env_spec = self._environment_of(trial)
        code_dir = trial.code_dir.resolve() if trial.code_dir else None
        if code_dir is not None and not code_dir.is_dir():
            raise NotFound(f"the code folder {code_dir} does not exist", "fix `trial.code:` in the job file")
        # Every reference in the command resolves (with a sample of the search space).
        sample = {name: p.args.get("values", [None])[0] if p.kind == "choice" else 0
                  for name, p in sweep.search_space.items()}
        _check_command_script(render_command(trial.command or "", trial.inputs, {}, source=trial.source_file,
                                             search_space=sample), code_dir, trial.source_file)
        snapshot = self._take_snapshot(code_dir, on_warning) if code_dir is not None else None
        name = sweep.name or new_run_name()
        if sweep.name is not None:
            self.store_has_no_run(name)
        files = RunFiles(self.location.runs_dir / name)
        try:
            files.root.mkdir(parents=True, exist_ok=False)
        except FileExistsError as exc:
            raise LaunchFailed(f"a run folder for {name!r} already exists at {files.root}",
                               "pick another --name") from exc
        space = {n: {"type": p.kind, **p.args} for n, p in sweep.search_space.items()}
        policy = None
        if sweep.early_termination is not None:  # as YAML would give it, for the controller to parse
            policy = {k: v for k, v in asdict(sweep.early_termination).items() if v is not None and not (
                k == "exclude_finished_jobs" and sweep.early_termination.type != "truncation_selection")}
        settings = {
            "search_space": space, "sampling_algorithm": sweep.sampling_algorithm, "seed": sweep.seed,
            "primary_metric": sweep.primary_metric, "goal": sweep.goal,
            "max_total_trials": sweep.max_total_trials, "max_concurrent_trials": sweep.max_concurrent_trials,
            "timeout_seconds": sweep.timeout_seconds, "trial_timeout_seconds": sweep.trial_timeout_seconds,
            "early_termination": policy,
        }
        try:
            launch.write_spec(files, {
                "run_name": name,
                "store_url": self.store.url,
                "workspace": str(self.location.folder),
                "snapshots_root": str(self.location.snapshots_dir),
                "snapshot_id": snapshot.id if snapshot else None,
                "sweep": {**settings, "trial": {
                    "experiment_name": trial.experiment_name, "command": trial.command,
                    "inputs": dict(trial.inputs), "environment_variables": dict(trial.environment_variables),
                    "compute": trial.compute, "environment": trial.environment,
                    "environment_spec": trial.environment_spec.to_dict() if trial.environment_spec else None,
                    "interpreter_path": trial.interpreter_path, "gpus": trial.gpus,
                    "max_run_duration_seconds": sweep.trial_timeout_seconds, "source_file": trial.source_file,
                }},
            })
            self.store.create_run(
                name=name,
                experiment_name=trial.experiment_name,
                run_dir=str(files.root),
                display_name=trial.display_name or name,
                description=trial.description,
                command=trial.command or "",
                arguments=[],
                compute=target.name,
                environment=env_spec.reference if env_spec is not None else trial.environment,
                snapshot_id=snapshot.id if snapshot else None,
                git=snapshot.git.to_dict() if snapshot and snapshot.git else None,
                inputs=dict(trial.inputs),
                tags=dict(trial.tags),
                properties={**trial.properties, "run_type": "sweep", "host": launch.this_host(),
                            "primary_metric": sweep.primary_metric, "goal": sweep.goal, "sweep": settings,
                            **({"source_file": trial.source_file} if trial.source_file else {})},
                max_run_duration_seconds=sweep.timeout_seconds,
            )
        except BaseException:
            shutil.rmtree(files.root, ignore_errors=True)
            raise
        return self._start(name, files)

    def _start(self, name: str, files: RunFiles) -> E.Run:
        """Queue the recorded run and start its supervisor (a start failure fails the run)."""
        self.store.set_status(name, "Queued")
        try:
            pid, started = launch.start_supervisor(files)
        except TrainyardError as exc:
            self.store.set_status(name, "Failed", error=exc.message)
            raise
        self.store.update_run(name, supervisor_pid=pid, supervisor_started=started)
        return self.store.get_run(name)

    def _environment_of(self, spec: JobSpec) -> Any:
        """The job's EnvironmentSpec: given inline, or a registered/curated reference; None means
        Trainyard's own interpreter."""
        env_spec = getattr(spec, "environment_spec", None)
        if env_spec is None and spec.environment:
            from engine.environments.resolve import resolve_environment

            env_spec = resolve_environment(self.store, spec.environment)
        return env_spec

    def store_has_no_run(self, name: str) -> None:
        try:
            self.store.get_run(name)
        except NotFound:
            return
        raise LaunchFailed(f"a job named {name!r} already exists",
                           "job names are unique in a workspace: pick another --name, or omit it")

    def _argv(self, spec: JobSpec, code_dir: Path | None, interpreter: str) -> list[str]:
        if (spec.command is None) == (spec.script is None):
            raise InvalidSpec("a job needs exactly one of `command` or `script`", file=spec.source_file)
        if spec.script is not None:
            base = code_dir or Path.cwd()
            if not (base / spec.script).is_file():
                raise NotFound(
                    f"the script {spec.script!r} is not in {base}",
                    "check `script` and `source_directory` (the script path is relative to it)",
                )
            return [interpreter, spec.script, *[str(a) for a in spec.arguments]]
        command = render_command(spec.command or "", spec.inputs, {}, source=spec.source_file,
                                 search_space=spec.search_space)
        _check_command_script(command, code_dir, spec.source_file)
        return ["/bin/sh", "-c", command]

    def _run_env(self, spec: JobSpec, name: str, files: RunFiles) -> dict[str, str]:
        env = {str(k): str(v) for k, v in spec.environment_variables.items()}
        env.update(mlflow_variables(name, spec.experiment_name, env, workspace_folder=self.location.folder))
        env.update({
            ENV_RUN_ID: name,
            ENV_EXPERIMENT: spec.experiment_name,
            ENV_TRACKING_DIR: str(files.tracking),
            ENV_RUN_DIR: str(files.root),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    # ------------------------------------------------------------------ read / control
    def get_run(self, name: str) -> E.Run:
        return self.store.get_run(name)

    def list_runs(self, **filters: Any) -> list[E.Run]:
        return self.store.list_runs(**filters)

    def cancel(self, name: str, reason: str | None = None) -> E.Run:
        """Ask the supervisor to end the run's whole process tree (TERM, then KILL). `reason`
        replaces "canceled by the user" as the run's error."""
        run = self.store.request_cancel(name, reason)
        pid = run.supervisor_pid
        if pid and is_same_process_alive(pid, None):
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
        return run

    def archive(self, name: str, archived: bool = True) -> E.Run:
        """Hide run `name` from run lists (or, with archived=False, show it again). Nothing is
        deleted: its folder, metrics and registered models stay."""
        self.store.update_run(name, archived=archived)
        return self.store.get_run(name)

    def rerun(self, name: str) -> E.Run:
        """Submit run `name` again, exactly as it was launched: the same code snapshot (never the
        folder as it is now), command or script and arguments, environment variables, environment,
        compute, experiment and limits. Returns the new run at once, like `submit`."""
        import json

        old = self.store.get_run(name)
        old_files = RunFiles(Path(old.run_dir))
        try:
            spec = json.loads(old_files.spec.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidState(f"job {name!r} cannot be re-run: its launch record {old_files.spec} is missing "
                               "or unreadable", "submit its project again instead") from exc
        if spec.get("snapshot_id") and not self.snapshots.exists(spec["snapshot_id"]):
            raise InvalidState(f"job {name!r} cannot be re-run: its code snapshot {spec['snapshot_id']} is gone",
                               "submit its project again instead")
        new = new_run_name()
        files = RunFiles(self.location.runs_dir / new)
        files.root.mkdir(parents=True, exist_ok=False)
        try:
            if old_files.bin.is_dir():  # `python` wrappers naming the run's interpreter
                shutil.copytree(old_files.bin, files.bin)
            env = dict(spec.get("env") or {})
            env.update({ENV_RUN_ID: new, ENV_TRACKING_DIR: str(files.tracking), ENV_RUN_DIR: str(files.root)})
            env.update(mlflow_variables(new, old.experiment_name, env, rerun_of=name,
                                        workspace_folder=self.location.folder))
            launch.write_spec(files, {
                **spec, "run_name": new, "store_url": self.store.url, "env": env,
                "snapshots_root": str(self.location.snapshots_dir), "envs_root": str(self.location.envs_dir),
                "env_prepend": {**spec.get("env_prepend", {}), "PATH": str(files.bin)},
            })
            # What the supervisor recorded about the old run's execution is not part of the request.
            recorded = ("environment_hash", "environment_cached", "image", "signal", "cancel_reason",
                        "trials", "best_child_run_id", "best_metric_value", "best_params")
            properties = {k: v for k, v in old.properties.items() if k not in recorded}
            self.store.create_run(
                name=new,
                experiment_name=old.experiment_name,
                run_dir=str(files.root),
                display_name=old.display_name if old.display_name != old.name else new,
                description=old.description,
                command=old.command,
                arguments=list(old.arguments),
                compute=old.compute,
                environment=old.environment,
                snapshot_id=old.snapshot_id,
                git=old.git,
                inputs=dict(old.inputs),
                tags=dict(old.tags),
                properties={**properties, "host": launch.this_host(), "rerun_of": name},
                max_run_duration_seconds=old.max_run_duration_seconds,
            )
        except BaseException:
            shutil.rmtree(files.root, ignore_errors=True)
            raise
        return self._start(new, files)

    def wait(self, name: str, timeout: float | None = None, poll: float = 0.2) -> E.Run:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self.store.get_run(name)
            if run.is_terminal:
                return run
            if deadline is not None and time.monotonic() > deadline:
                return run
            self._fail_if_orphaned(run)
            time.sleep(poll)

    def follow_log(self, name: str, write: Callable[[str], None], poll: float = 0.1) -> E.Run:
        """Write the driver log as it grows until the run ends; returns the final run."""
        run = self.store.get_run(name)
        path = RunFiles(Path(run.run_dir)).driver_log
        offset = 0
        decoder_tail = b""
        last_status_check = 0.0
        while True:
            chunk = b""
            if path.exists():
                with open(path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
                offset += len(chunk)
            if chunk:
                data = decoder_tail + chunk
                # Hold back an incomplete UTF-8 sequence at the end for the next read.
                cut = len(data)
                while cut > 0 and cut > len(data) - 4 and (data[cut - 1] & 0xC0) == 0x80:
                    cut -= 1
                if cut > 0 and data[cut - 1] >= 0xC0:
                    cut -= 1
                else:
                    cut = len(data)
                write(data[:cut].decode("utf-8", "replace"))
                decoder_tail = data[cut:]
                continue
            now = time.monotonic()
            if now - last_status_check >= 0.25:
                last_status_check = now
                run = self.store.get_run(name)
                if run.is_terminal:
                    if path.exists() and path.stat().st_size > offset:
                        continue
                    if decoder_tail:
                        write(decoder_tail.decode("utf-8", "replace"))
                    return run
                self._fail_if_orphaned(run)
            time.sleep(poll)

    def _fail_if_orphaned(self, run: E.Run) -> None:
        if run.supervisor_pid and run.properties.get("host") == launch.this_host():
            self.reconcile(only=run.name)

    def reconcile(self, only: str | None = None) -> list[str]:
        """Mark Failed the active runs of this host whose supervisor died. Returns their names."""
        failed = []
        host = launch.this_host()
        runs = [self.store.get_run(only)] if only else self.store.list_runs(
            statuses=E.ACTIVE_STATUSES, include_archived=True)
        for run in runs:
            if run.is_terminal or run.properties.get("host", host) != host:
                continue
            if run.supervisor_pid is None:
                if time.time() - run.created_at > QUEUED_GRACE_SECONDS:
                    reason = "the run never started: its supervisor was not launched"
                else:
                    continue
            else:
                started = self.store.supervisor_started(run.name)
                if is_same_process_alive(run.supervisor_pid, started):
                    continue
                # Re-read: the supervisor may have finished the run just now.
                if self.store.get_run(run.name).is_terminal:
                    continue
                reason = (f"the run's supervisor process (pid {run.supervisor_pid}) died; "
                          f"see {Path(run.run_dir) / 'supervisor.log'}")
            if run.properties.get("run_type") == "sweep":
                reason = reason.replace("the run's supervisor", "the sweep's controller")
            if self.store.set_status(run.name, "Failed", error=reason):
                failed.append(run.name)
                if run.properties.get("run_type") == "sweep":
                    self._cancel_orphaned_trials(run.name)
        return failed

    def _cancel_orphaned_trials(self, sweep: str) -> None:
        """A sweep whose controller died can no longer judge or count its trials: stop them."""
        for trial in self.store.list_children(sweep):
            if not trial.is_terminal:
                try:
                    self.cancel(trial.name, f"its sweep {sweep} failed: the sweep's controller died")
                except InvalidState:
                    pass  # it ended meanwhile

    # ------------------------------------------------------------------ environments cache
    def environments_in_use(self) -> set[str]:
        """The cache hashes of the environments that active runs use (or are about to build)."""
        import json

        from engine.compute.targets import run_environment
        from engine.environments.build import spec_hash

        hashes: set[str] = set()
        for run in self.store.list_runs(statuses=E.ACTIVE_STATUSES, include_archived=True):
            if run.properties.get("environment_hash"):
                hashes.add(str(run.properties["environment_hash"]))
                continue
            try:  # not built yet: the hash of what its supervisor will build
                env = run_environment(json.loads(RunFiles(Path(run.run_dir)).spec.read_text()))
                if env is not None:
                    hashes.add(spec_hash(env))
            except Exception:  # noqa: BLE001, S112 - a run folder being written or gone: nothing to keep
                continue
        return hashes

    def prune_environments(self) -> tuple[list[dict[str, Any]], set[str]]:
        """Remove the cached environment builds (venvs, conda envs, Docker images) that no active
        run uses. Returns (what was removed: `hash`, `kind`, `prefix`, `image`; the hashes kept
        because active runs use them)."""
        from engine.environments.build import prune
        from engine.environments.build.cache import CacheEntry, cached_hashes

        root = self.location.envs_dir
        keep = self.environments_in_use()
        markers = {h: CacheEntry(h, root).read_marker() or {} for h in cached_hashes(root) - keep}
        removed = prune(root, keep=keep)
        return ([{"hash": h, "kind": markers.get(h, {}).get("kind"), "prefix": markers.get(h, {}).get("prefix"),
                  "image": markers.get(h, {}).get("image")} for h in removed], keep)

    # ------------------------------------------------------------------ metrics and files
    def metric_history(self, name: str, key: str) -> E.MetricHistory:
        self.store.get_run(name)
        return self.store.metric_history(name, key)

    def latest_metrics(self, name: str) -> dict[str, Any]:
        return {m.key: m.last_value for m in self.store.metric_summaries(name)}

    def download(self, name: str, dest: Path, *, include_logs: bool = False) -> list[Path]:
        """Copy the run's outputs/ (and logs with include_logs) into dest/<run name>/."""
        run = self.store.get_run(name)
        files = RunFiles(Path(run.run_dir))
        target = dest / name
        parts = [("outputs", files.outputs)]
        if include_logs:
            parts += [("logs", files.logs), ("azureml-logs", files.system_logs)]
        copied = []
        for label, src in parts:
            if src.is_dir():
                shutil.copytree(src, target / label, dirs_exist_ok=True)
                copied.append(target / label)
        if not copied and not run.is_terminal:
            raise NotFound(f"job {name!r} has no outputs yet (it is {run.status})",
                           "outputs are collected when the run ends: wait with `trainyard job stream`")
        return copied

    # ------------------------------------------------------------------ models
    def register_model(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        run_name: str | None = None,
        description: str = "",
        tags: dict[str, Any] | None = None,
    ) -> E.Model:
        """Copy a file or folder into the workspace as the next version of model `name`.

        With `run_name`, a relative `path` is looked up in that run (e.g. `outputs/model.pt`).
        """
        _check_name(name, "model")
        src = Path(path)
        if run_name is not None:
            run = self.store.get_run(run_name)
            if not src.is_absolute():
                src = Path(run.run_dir) / src
                if not src.exists():
                    raise NotFound(f"job {run_name!r} has no file {str(path)!r}",
                                   "model paths are relative to the run, e.g. outputs/model.pt"
                                   + ("" if run.is_terminal else f"; the run is still {run.status}"))
        if not src.exists():
            raise NotFound(f"{src} does not exist", "give the path of the model file or folder")
        staging = self.location.models_dir / f".staging-{os.getpid()}-{time.monotonic_ns()}"
        if src.is_dir():
            shutil.copytree(src, staging / src.name)
        else:
            staging.mkdir(parents=True)
            shutil.copy2(src, staging / src.name)

        def place(version: int) -> Path:
            final = self.location.models_dir / name / str(version)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging, final)
            return final / src.name

        try:
            return self.store.add_model(name=name, path_for_version=place, run_name=run_name,
                                        description=description, tags=tags or {}, source_path=str(src))
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def download_model(self, name: str, version: int | None, dest: Path) -> Path:
        model = self.store.get_model(name, version)
        src = Path(model.path)
        target = dest / name / str(model.version)
        target.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target / src.name, dirs_exist_ok=True)
        else:
            shutil.copy2(src, target / src.name)
        return target / src.name

    # ------------------------------------------------------------------ data assets
    def create_data_asset(self, name: str, path: str, description: str = "") -> E.DataAsset:
        _check_name(name, "data asset")
        if path.startswith(("http://", "https://")):
            return self.store.add_data_asset(name=name, path=path, kind="uri_file", description=description)
        p = Path(path).expanduser().resolve()
        if not p.exists():
            raise NotFound(f"{p} does not exist", "give a local file or folder, or an http(s) URL")
        kind = "uri_folder" if p.is_dir() else "uri_file"
        return self.store.add_data_asset(name=name, path=str(p), kind=kind, description=description)


    # ------------------------------------------------------------------ run detail (children, files, code)
    def children(self, name: str) -> list[E.Run]:
        """The runs submitted as children of run `name` (`Run.submit_child`), oldest first."""
        return self.store.list_children(name)

    def run_environment(self, name: str) -> Any:
        """The EnvironmentSpec run `name` was launched with, or None (Trainyard's own interpreter)."""
        import json

        from engine.compute.targets import run_environment

        try:
            spec = json.loads(self.run_files(name).spec.read_text())
        except (OSError, ValueError):
            return None
        return run_environment(spec)

    def download_files(self, name: str, paths: list[str], dest: Path) -> list[Path]:
        """Copy files or folders of run `name` (paths relative to its folder, e.g. outputs/model.pt)
        into dest/<run name>/, keeping their relative paths."""
        root = Path(self.store.get_run(name).run_dir).resolve()
        copied = []
        for rel in paths:
            src = (root / rel).resolve()
            if not src.is_relative_to(root) or not src.exists():
                raise NotFound(f"job {name!r} has no file {rel!r}",
                               "paths are relative to the run folder, e.g. outputs/model.pt")
            target = dest / name / src.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, target, dirs_exist_ok=True)
            else:
                shutil.copy2(src, target)
            copied.append(target)
        return copied

    def snapshot_diff(self, old_run: str, new_run: str) -> Any:
        """engine.snapshots.diff.SnapshotDiff from the code of `old_run` to the code of `new_run`."""
        from engine.errors import InvalidState
        from engine.snapshots.diff import diff_snapshots

        ids = []
        for name in (old_run, new_run):
            snapshot_id = self.store.get_run(name).snapshot_id
            if snapshot_id is None:
                raise InvalidState(f"job {name!r} has no code snapshot",
                                   "it was submitted without a code folder; pick a run that has one")
            ids.append(snapshot_id)
        return diff_snapshots(self.snapshots, ids[0], ids[1])

    # ------------------------------------------------------------------ browsers (environments, compute, data, experiments)
    def list_all_environments(self) -> list[Any]:
        """Every registered environment version, then the curated ones (EnvironmentSpec)."""
        from engine.environments.resolve import list_all_environments

        return list_all_environments(self.store)

    def environment_build_status(self, spec: Any) -> Any:
        """engine.environments.status.BuildStatus of `spec` in this workspace's build cache."""
        from engine.environments.status import build_status

        return build_status(spec, self.location.envs_dir)

    def environment_build_log(self, spec: Any, max_bytes: int = 512 * 1024) -> str:
        """The last build log of `spec`: the one a Build from the studio wrote, else the build log
        of the newest run that used this build. '' when there is none."""
        from engine.environments.status import build_status

        status = build_status(spec, self.location.envs_dir)
        paths = [Path(status.log_path)] if status.log_path else []
        if not paths:
            from engine.runs.supervisor import BUILD_LOG

            for run in self.store.list_runs(limit=500, include_archived=True):
                if run.properties.get("environment_hash") == status.spec_hash:
                    paths.append(RunFiles(Path(run.run_dir)).system_logs / BUILD_LOG)
                    break
        for path in paths:
            try:
                with open(path, "rb") as fh:
                    size = fh.seek(0, os.SEEK_END)
                    fh.seek(max(0, size - max_bytes))
                    return fh.read().decode("utf-8", "replace")
            except OSError:
                continue
        return ""

    def build_environment(self, spec: Any, on_event: Callable[[Any], None] | None = None, *,
                          rebuild: bool = False) -> Any:
        """Build (or find cached) the environment `spec` (an EnvironmentSpec or a reference) now,
        outside any run. The log goes to the cache's build-logs/ (see environment_build_log) and to
        `on_event` (BuildEvent per line/step); a failure is kept for environment_build_status.
        With `rebuild`, a cached build is removed first (refused while active runs use it).
        Returns engine.environments.build.BuiltEnvironment."""
        from engine.environments.build import BuildLog, ensure_built, prune, spec_hash
        from engine.environments.build.cache import cached_hashes
        from engine.environments.resolve import resolve_environment
        from engine.environments.status import record_build
        from engine.errors import InvalidState

        if not hasattr(spec, "kind"):
            spec = resolve_environment(self.store, spec)
        root = self.location.envs_dir
        if rebuild and spec.kind != "user":
            h = spec_hash(spec)
            if h in self.environments_in_use():
                raise InvalidState(f"environment {spec.reference!r} is in use by active runs: it cannot be rebuilt now",
                                   "wait for those runs to end (or cancel them), then rebuild")
            prune(root, keep=cached_hashes(root) - {h})
        with record_build(spec, root) as log_file:
            return ensure_built(spec, root, BuildLog(log_file, on_event))

    def list_compute_targets(self) -> list[E.ComputeTarget]:
        """The built-in targets (local, docker), then the registered ones by name."""
        return self.store.list_compute_targets()

    def compute_states(self, targets: list[E.ComputeTarget] | None = None) -> dict[str, Any]:
        """name -> engine.compute.status.ComputeState; Docker is pinged once (a few seconds at most)."""
        from engine.compute.status import docker_state, target_state

        targets = self.list_compute_targets() if targets is None else targets
        docker = docker_state() if any(t.type == "docker" for t in targets) else None
        return {t.name: target_state(t, docker) for t in targets}

    def local_gpus(self) -> Any:
        """engine.compute.gpus.GpuInventory of this machine (nvidia-smi; none when it is absent)."""
        from engine.compute.gpus import local_gpus

        return local_gpus()

    def list_data_assets(self) -> list[E.DataAsset]:
        return self.store.list_data_assets()

    def experiment_metrics(self, runs_per_experiment: int = 20) -> dict[str, Any]:
        """experiment name -> engine.experiments.PrimaryMetric over its newest runs (those without
        metrics are left out). See PrimaryMetric for how the metric is chosen."""
        from engine.experiments import PrimaryMetric

        found: dict[str, Any] = {}
        for exp in self.store.list_experiments():
            summaries = [(run, self.store.metric_summaries(run.name))
                         for run in self.store.list_runs(experiment=exp.name, limit=runs_per_experiment,
                                                         include_archived=True)]
            metric = PrimaryMetric.choose(summaries)
            if metric is not None:
                found[exp.name] = metric
        return found

    @staticmethod
    def size_on_disk(path: str | os.PathLike[str]) -> int | None:
        """Bytes of a file, or of every file under a folder; None when it does not exist."""
        p = Path(path)
        if p.is_file():
            return p.stat().st_size
        if not p.is_dir():
            return None
        total = 0
        for root, _dirs, files in os.walk(p):
            for f in files:
                try:
                    total += os.lstat(os.path.join(root, f)).st_size
                except OSError:
                    continue
        return total


def _check_interpreter(path: str, source: str | None) -> str:
    p = Path(path).expanduser()
    if not (p.is_file() and os.access(p, os.X_OK)):
        raise InvalidSpec(f"the Python interpreter {path!r} does not exist or is not executable",
                          "fix environment.python.interpreter_path", file=source, field="interpreter_path")
    return str(p.absolute())


def _check_ssh_job(target: E.ComputeTarget, spec: JobSpec, env_spec: Any) -> None:
    """What an SSH target cannot run in this version: environments to build, distributed jobs."""
    where = f"compute target {target.name!r} ({target.config.get('host', '?')}) is an SSH target"
    if env_spec is not None and env_spec.kind != "user":
        raise LaunchFailed(
            f"{where}: building the job's {env_spec.kind} environment {env_spec.reference!r} there is not "
            "available in this version of Trainyard",
            "install the packages on that host and give the job an environment with "
            "`python: {user_managed_dependencies: true, interpreter_path: /path/to/python}` (or use "
            "`compute: local` / `compute: docker` to build it here)")
    if spec.distribution is not None:
        raise LaunchFailed(f"{where}: distributed runs over SSH are not available in this version of Trainyard",
                           "run one process there, or use `compute: local`")


def _check_command_script(command: str, code_dir: Path | None, source: str | None) -> None:
    """Catch the commonest typo before launching: `python missing.py`."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise InvalidSpec(f"the command is not valid shell: {exc}", file=source, field="command") from exc
    if len(words) >= 2 and Path(words[0]).name.startswith("python") and words[1].endswith(".py"):
        base = code_dir or Path.cwd()
        if not (base / words[1]).is_file():
            raise NotFound(
                f"the command runs {words[1]!r}, which is not in the code folder {base}",
                "check `code:` (relative to the job file) and the script name in `command:`",
            )


def _check_name(name: str, what: str) -> None:
    if not is_valid_name(name):
        raise InvalidSpec(f"invalid {what} name {name!r}", NAME_HINT)
