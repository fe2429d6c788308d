"""Submitting a run: every kind (a job, a sweep, a re-run) is prepared the same way, once.

Check what the run needs (compute, environment, code, command) so that a mistake fails the
submit; snapshot the code; then `launch_run`: make the run folder, write its launch spec
(engine.runtime.launchspec), record the run, start the process that owns it (engine.entry) and
return at once. If anything fails before the run is recorded, its folder is removed.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import entities as E
from engine.compute.gpus import local_gpus
from engine.compute.targets import resolve_compute, run_settings
from engine.compute.vmsizes import gpus_of_size
from engine.data.resolve import ResolvedInput, check_outputs_can_register, resolve_inputs
from engine.entities import EnvironmentSpec
from engine.environments.lock import read_lock
from engine.environments.rebuild import plan_rebuild
from engine.environments.resolve import resolve_environment
from engine.errors import InvalidSpec, InvalidState, LaunchFailed, NotFound, TrainyardError
from engine.jobs.command import render_command
from engine.jobs.spec import JobSpec, SweepSpec
from engine.runs import launch
from engine.runs.heartbeat import beats_in
from engine.runs.names import new_run_name
from engine.runtime import INJECT_DIR, default_python
from engine.runtime.dataplan import (
    CONTAINER_RUN_ROOT,
    REMOTE_RUN_ROOT,
    DataPlan,
    InputPlacement,
    OutputPlacement,
)
from engine.runtime.files import RunFiles
from engine.runtime.host import host_properties
from engine.runtime.launchspec import CODE_DIR, LaunchSpec, Placement, SweepSettings, TrialTemplate, read_spec
from engine.runtime.sweepresults import RECORDED_BY_SUPERVISORS, sweep_run_properties
from engine.snapshots import SnapshotLimits, SnapshotManifest, SnapshotStore
from engine.tracking.inject.trainyard_run.envvars import (
    ENV_CANCEL_GRACE,
    ENV_COMPUTE,
    ENV_EXPERIMENT,
    ENV_INPUTS,
    ENV_PARENT_RUN_ID,
    ENV_RUN_DIR,
    ENV_RUN_ID,
    ENV_TRACKING_DIR,
)
from engine.tracking.mlflow_env import mlflow_variables
from engine.workspace import WorkspaceLocation

if TYPE_CHECKING:
    from engine.store.protocol import Store

__all__ = ["Submitter", "environment_of"]

# A generated name that another engine took at the same moment is drawn again, this many times.
_NAME_ATTEMPTS = 5


def environment_of(store: Store, spec: JobSpec) -> EnvironmentSpec | None:
    """The job's EnvironmentSpec: given inline, or a registered/curated reference; None means
    Trainyard's own interpreter."""
    env_spec = spec.environment_spec
    if env_spec is None and spec.environment:
        env_spec = resolve_environment(store, spec.environment)
    return env_spec


@dataclass(frozen=True)
class Submitter:
    """Submits runs into one open workspace (its store, its folders, its snapshot store)."""

    store: Store
    location: WorkspaceLocation
    snapshots: SnapshotStore

    # ------------------------------------------------------------------ the kinds of run
    def submit(self, spec: JobSpec | SweepSpec, on_warning: Callable[[str], None] | None = None,
               on_progress: Callable[[str], None] | None = None) -> E.Run:
        """Snapshot the code, record the run and start its supervisor. Returns at once.
        A sweep records the sweep run and starts its controller, which submits the trials."""
        if isinstance(spec, SweepSpec):
            return self._submit_sweep(spec, on_warning)
        target, placement, env_spec, interpreter, code_dir, _argv_checked = self._check_job(spec)
        on_ssh = placement.compute in ("ssh", "slurm")
        where = _where(placement, env_spec)
        resolved = resolve_inputs(self.store, self.location.data_dir, spec.data_inputs, source=spec.source_file,
                                  progress=on_progress)
        snapshot = self.take_snapshot(code_dir, on_warning)

        def prepare(name: str, files: RunFiles) -> tuple[LaunchSpec, dict[str, Any]]:
            if not on_ssh:  # an SSH (or Slurm) run's wrappers are made on the remote
                launch.link_interpreter(files, interpreter)
            run_data = _run_data(spec, resolved, where, files.root, self.location)
            argv = _argv(spec, code_dir, interpreter, run_data)
            env = {**self._run_env(spec, name, files), **run_data.env}
            # run.input_datasets: a data input's value is the path the script finds it at.
            env[ENV_INPUTS] = json.dumps({**spec.inputs, **run_data.paths}, default=str)
            launch_spec = LaunchSpec(
                run_name=name, store_url=self.store.url, snapshots_root=str(self.location.snapshots_dir),
                snapshot_id=snapshot.id if snapshot else None, argv=argv, env=env, data=run_data.plan,
                env_prepend={"PATH": str(files.bin), "PYTHONPATH": str(INJECT_DIR)},
                max_run_duration_seconds=spec.max_run_duration_seconds,
                cancel_grace_seconds=float(os.environ.get(ENV_CANCEL_GRACE, "10")),
                # What the preparation path needs when an environment must be built first.
                placement=placement, environment=env_spec.to_dict() if env_spec is not None else None,
                envs_root=str(self.location.envs_dir), script=spec.script,
                arguments=[str(a) for a in spec.arguments],
                command=argv[2] if spec.command is not None else None,
                distribution=spec.distribution,
            )
            record = dict(
                experiment_name=spec.experiment_name,
                display_name=spec.display_name or name,
                description=spec.description,
                command=spec.command if spec.command is not None else shlex.join([spec.script or "", *spec.arguments]),
                arguments=list(spec.arguments),
                compute=target.name,
                environment=env_spec.reference if env_spec is not None else spec.environment,
                **_snapshot_fields(snapshot),
                inputs={**spec.inputs, **{n: d.path for n, d in spec.data_inputs.items()}},
                tags=dict(spec.tags),
                properties={**spec.properties, **host_properties(), "interpreter": interpreter,
                            # the folder the code came from: the studio's Clone & edit opens it
                            **({CODE_DIR: str(code_dir)} if code_dir is not None else {}),
                            **({"distribution": spec.distribution.to_dict()} if spec.distribution else {}),
                            **({"source_file": spec.source_file} if spec.source_file else {})},
                max_run_duration_seconds=spec.max_run_duration_seconds,
                parent_name=spec.parent_run,
            )
            return launch_spec, record

        return self.launch_run(spec.name, prepare, lambda name: [r.lineage(name) for r in resolved])

    def validate(self, spec: JobSpec | SweepSpec) -> None:
        """Every check `submit` makes (the name is free; compute, environment reference, code,
        interpreter, command and the script it runs), without making or recording anything."""
        if spec.name is not None:
            self.check_name_is_free(spec.name)
        if isinstance(spec, SweepSpec):
            self._check_sweep(spec)
        else:
            self._check_job(spec)
            # Local paths and registered assets (http(s) inputs are downloaded only by a submit).
            resolve_inputs(self.store, self.location.data_dir, spec.data_inputs, source=spec.source_file,
                           download=False)

    def _check_job(self, spec: JobSpec) -> tuple[E.ComputeTarget, Placement, EnvironmentSpec | None, str,
                                                  Path | None, list[str]]:
        """What a job needs, checked: (compute target, placement, environment, interpreter, code
        folder, argv). Raises what a submit of it would."""
        if spec.parent_run is not None:
            self.store.get_run(spec.parent_run)  # NotFound (with close names) before anything is made
        target = resolve_compute(self.store, spec.compute, spec.source_file)
        settings = run_settings(target, spec.gpus if spec.gpus is not None else _gpus_of(spec.instance_type, target))
        env_spec = environment_of(self.store, spec)
        user_interpreter = spec.interpreter_path
        if env_spec is not None and env_spec.kind == "user":
            user_interpreter = env_spec.interpreter_path or user_interpreter
        on_ssh = settings["compute"] == "ssh"
        ssh_interpreter = None
        if on_ssh:
            _check_ssh_job(target, spec, env_spec)
            # The interpreter is on the remote: `python3` there unless the job names one.
            interpreter = ssh_interpreter = user_interpreter or "python3"
        elif settings["compute"] == "slurm":
            _check_slurm_job(target, spec, env_spec)
            if target.config.get("local"):  # the login node is this machine: as a local run's
                interpreter = _check_interpreter(user_interpreter or default_python(), spec.source_file)
            else:
                interpreter = user_interpreter or "python3"
            ssh_interpreter = interpreter
        else:
            interpreter = _check_interpreter(user_interpreter or default_python(), spec.source_file)
        placement = Placement(**settings, ssh_interpreter=ssh_interpreter, shm_size=spec.shm_size)
        if spec.distribution is not None and (placement.compute == "docker"
                                              or (env_spec is not None and env_spec.needs_docker)):
            raise LaunchFailed("a distributed run starts its processes on this machine; running them in a "
                               "container is not available in this version of Trainyard",
                               "use `compute: local` with a pip or conda environment (or run one process)")
        code_dir = _code_dir(spec, "fix `code:` in the job file (paths are relative to the YAML) or source_directory")
        check_outputs_can_register(self.store, spec.outputs, spec.source_file)
        # The command resolves with every input and output (the real paths are known at launch).
        argv = _argv(spec, code_dir, interpreter, _placeholder_data(spec))
        return target, placement, env_spec, interpreter, code_dir, argv

    def _submit_sweep(self, sweep: SweepSpec, on_warning: Callable[[str], None] | None) -> E.Run:
        """Check what every trial will need (compute, environment, code, command) now, so that a
        mistake fails the submit rather than twenty trials; then record the sweep run."""
        trial = sweep.trial
        target, env_spec, code_dir = self._check_sweep(sweep)
        snapshot = self.take_snapshot(code_dir, on_warning)
        policy = None
        if sweep.early_termination is not None:  # as YAML would give it, for the controller to parse
            policy = {k: v for k, v in asdict(sweep.early_termination).items() if v is not None and not (
                k == "exclude_finished_jobs" and sweep.early_termination.type != "truncation_selection")}
        settings = SweepSettings(
            search_space={n: {"type": p.kind, **p.args} for n, p in sweep.search_space.items()},
            sampling_algorithm=sweep.sampling_algorithm, seed=sweep.seed,
            primary_metric=sweep.primary_metric, goal=sweep.goal,
            max_total_trials=sweep.max_total_trials, max_concurrent_trials=sweep.max_concurrent_trials,
            timeout_seconds=sweep.timeout_seconds, trial_timeout_seconds=sweep.trial_timeout_seconds,
            early_termination=policy,
            trial=TrialTemplate(
                experiment_name=trial.experiment_name, command=trial.command, inputs=dict(trial.inputs),
                environment_variables=dict(trial.environment_variables), compute=trial.compute,
                environment=trial.environment,
                environment_spec=trial.environment_spec.to_dict() if trial.environment_spec else None,
                interpreter_path=trial.interpreter_path,
                gpus=trial.gpus if trial.gpus is not None else _gpus_of(trial.instance_type, target),
                max_run_duration_seconds=sweep.trial_timeout_seconds, source_file=trial.source_file,
                data_inputs={n: d.to_dict() for n, d in trial.data_inputs.items()},
                outputs={n: o.to_dict() for n, o in trial.outputs.items()},
                shm_size=trial.shm_size,
                distribution=trial.distribution.to_dict() if trial.distribution else None),
        )

        def prepare(name: str, _files: RunFiles) -> tuple[LaunchSpec, dict[str, Any]]:
            launch_spec = LaunchSpec(
                run_name=name, store_url=self.store.url, workspace=str(self.location.folder),
                snapshots_root=str(self.location.snapshots_dir), snapshot_id=snapshot.id if snapshot else None,
                sweep=settings)
            record = dict(
                experiment_name=trial.experiment_name,
                display_name=trial.display_name or name,
                description=trial.description,
                command=trial.command or "",
                arguments=[],
                compute=target.name,
                environment=env_spec.reference if env_spec is not None else trial.environment,
                **_snapshot_fields(snapshot),
                inputs=dict(trial.inputs),
                tags=dict(trial.tags),
                properties={**trial.properties, **sweep_run_properties(sweep.primary_metric, sweep.goal,
                                                                       settings.settings_json()),
                            **host_properties(),
                            **({"source_file": trial.source_file} if trial.source_file else {})},
                max_run_duration_seconds=sweep.timeout_seconds,
                parent_name=trial.parent_run,  # a pipeline's sweep step
            )
            return launch_spec, record

        return self.launch_run(sweep.name, prepare)

    def _check_sweep(self, sweep: SweepSpec) -> tuple[E.ComputeTarget, EnvironmentSpec | None, Path | None]:
        """What every trial will need: (compute target, environment, code folder)."""
        trial = sweep.trial
        target = resolve_compute(self.store, trial.compute, trial.source_file)
        env_spec = environment_of(self.store, trial)
        code_dir = _code_dir(trial, "fix `trial.code:` in the job file")
        # Every reference in the command resolves (with a sample of the search space).
        sample = {name: p.args.get("values", [None])[0] if p.kind == "choice" else 0
                  for name, p in sweep.search_space.items()}
        check_outputs_can_register(self.store, trial.outputs, trial.source_file)
        placeholder = _placeholder_data(trial)
        _check_command_script(render_command(trial.command or "", {**trial.inputs, **placeholder.paths},
                                             placeholder.output_paths, source=trial.source_file,
                                             search_space=sample), code_dir, trial.source_file)
        return target, env_spec, code_dir

    def rerun(self, name: str, *, from_lock: bool = True) -> E.Run:
        """Submit run `name` again, exactly as it was launched: the same code snapshot (never the
        folder as it is now), command or script and arguments, environment variables, environment,
        compute, experiment and limits. Returns the new run at once, like `submit`.

        With `from_lock` (the default) a built environment is rebuilt from the run's lock (every
        package pinned as the run had it), not from its spec; InvalidState when that cannot be
        done, naming the package. Without it (or with no lock) the spec is built as it is now."""
        old = self.store.get_run(name)
        old_files = RunFiles(Path(old.run_dir))
        try:
            spec = read_spec(old_files.spec)
        except (OSError, InvalidState) as exc:
            raise InvalidState(f"job {name!r} cannot be re-run: its launch record {old_files.spec} is missing "
                               "or unreadable", "submit its project again instead") from exc
        if spec.snapshot_id and not self.snapshots.exists(spec.snapshot_id):
            raise InvalidState(f"job {name!r} cannot be re-run: its code snapshot {spec.snapshot_id} is gone",
                               "submit its project again instead")

        on_this_daemon = spec.placement.compute in ("local", "docker")
        locked = (self._locked_environment(name, spec.environment, old_files, on_this_daemon,
                                           built_here=spec.placement.compute != "ssh")
                  if from_lock else None)

        def prepare(new: str, files: RunFiles) -> tuple[LaunchSpec, dict[str, Any]]:
            if old_files.bin.is_dir():  # `python` wrappers naming the run's interpreter
                shutil.copytree(old_files.bin, files.bin)
            # Input and output paths in the run folder name the old one: point them at the new one.
            old_root, new_root = str(old_files.root), str(files.root)
            env = {k: v.replace(old_root, new_root) for k, v in spec.env.items()}
            env.update({ENV_RUN_ID: new, ENV_TRACKING_DIR: str(files.tracking), ENV_RUN_DIR: str(files.root)})
            env.update(mlflow_variables(new, old.experiment_name, env, rerun_of=name,
                                        workspace_folder=self.location.folder))
            launch_spec = spec.with_changes(
                run_name=new, store_url=self.store.url, env=env,
                argv=[a.replace(old_root, new_root) for a in spec.argv],
                command=spec.command.replace(old_root, new_root) if spec.command else spec.command,
                snapshots_root=str(self.location.snapshots_dir), envs_root=str(self.location.envs_dir),
                env_prepend={**spec.env_prepend, "PATH": str(files.bin)},
                **({"environment": locked[0].to_dict()} if locked is not None else {}))
            # What the supervisor recorded about the old run's execution is not part of the request.
            properties = {k: v for k, v in old.properties.items() if k not in RECORDED_BY_SUPERVISORS}
            record = {
                "experiment_name": old.experiment_name,
                "display_name": old.display_name if old.display_name != old.name else new,
                "description": old.description,
                "command": old.command,
                "arguments": list(old.arguments),
                "compute": old.compute,
                "environment": old.environment,
                "snapshot_id": old.snapshot_id,
                "git": old.git,
                "inputs": dict(old.inputs),
                "tags": dict(old.tags),
                "properties": {**properties, **host_properties(), "rerun_of": name,
                               **({"rerun_from_lock": locked[1]} if locked is not None else {})},
                "max_run_duration_seconds": old.max_run_duration_seconds,
            }
            return launch_spec, record

        old_inputs = [r for r in self.store.run_data(name) if r.direction == "input"]
        return self.launch_run(None, prepare, lambda new: [replace(r, run_name=new, created_at=time.time())
                                                         for r in old_inputs])

    def _locked_environment(self, name: str, environment: dict[str, Any] | None, old_files: RunFiles,
                            local_docker: bool, *, built_here: bool) -> tuple[EnvironmentSpec, str] | None:
        """(the spec that rebuilds run `name`'s lock, the lock's id); None when the run had no
        built environment or no lock (a user-managed interpreter is used as it is)."""
        lock = read_lock(old_files.environment_lock)
        if environment is None or lock is None or lock.kind not in ("venv", "conda", "docker"):
            return None
        spec = EnvironmentSpec.from_dict(environment)
        return (plan_rebuild(spec, lock, self.location.envs_dir, name, local_docker=local_docker,
                             built_here=built_here), lock.id)

    # ------------------------------------------------------------------ the one way a run is made
    def launch_run(self, given_name: str | None,
                prepare: Callable[[str, RunFiles], tuple[LaunchSpec, dict[str, Any]]],
                lineage: Callable[[str], list[E.RunData]] | None = None,
                instead_of_start: Callable[[str, RunFiles], E.Run | None] | None = None) -> E.Run:
        """Make the run folder, let `prepare` fill it and say what to launch and record, write the
        launch spec, record the run and what it consumes (removing the folder if any of that
        fails), start it. `instead_of_start` may finish the recorded run itself (a pipeline whose
        every step is reused): when it returns the run, nothing is started."""
        for attempt in range(_NAME_ATTEMPTS):
            name = given_name or new_run_name()
            if given_name is not None:
                self.check_name_is_free(name)
            files = RunFiles(self.location.runs_dir / name)
            try:
                # The folder is the claim on the name: creating it is atomic, also on a filesystem
                # that several machines of a team workspace share.
                files.root.mkdir(parents=True, exist_ok=False)
            except FileExistsError as exc:
                if given_name is None and attempt + 1 < _NAME_ATTEMPTS:
                    continue  # a generated name another engine just took: draw another
                raise LaunchFailed(f"a job named {name!r} already exists (its run folder is {files.root})",
                                   "job names are unique in a workspace: pick another --name, or omit it") from exc
            try:
                launch_spec, record = prepare(name, files)
                launch_spec.write(files.spec)
                self.store.create_run(name=name, run_dir=str(files.root), **record)
                if lineage is not None:
                    self.store.record_run_data(lineage(name))
            except InvalidState as exc:
                shutil.rmtree(files.root, ignore_errors=True)
                if given_name is None and attempt + 1 < _NAME_ATTEMPTS and "already exists" in exc.message:
                    continue
                raise
            except BaseException:
                shutil.rmtree(files.root, ignore_errors=True)
                raise
            finished = instead_of_start(name, files) if instead_of_start is not None else None
            return finished if finished is not None else self._start(name, files)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _start(self, name: str, files: RunFiles) -> E.Run:
        """Queue the recorded run and start its supervisor (a start failure fails the run)."""
        self.store.set_status(name, "Queued")
        try:
            pid, started = launch.start_supervisor(files)
        except TrainyardError as exc:
            self.store.set_status(name, "Failed", error=exc.message)
            raise
        self.store.update_run(name, supervisor_pid=pid, supervisor_started=started)
        if beats_in(self.store.url):  # the first sign of life; the supervisor beats from now on
            self.store.beat(name)
        return self.store.get_run(name)

    def check_name_is_free(self, name: str) -> None:
        try:
            self.store.get_run(name)
        except NotFound:
            return
        raise LaunchFailed(f"a job named {name!r} already exists",
                           "job names are unique in a workspace: pick another --name, or omit it")

    def take_snapshot(self, code_dir: Path | None,
                       on_warning: Callable[[str], None] | None) -> SnapshotManifest | None:
        """Snapshot `code_dir` (the size limits and ignore files apply) and record it in the store."""
        if code_dir is None:
            return None
        snapshot = self.snapshots.take(code_dir, SnapshotLimits.from_env(), on_warning=on_warning)
        self.store.add_snapshot(
            E.SnapshotInfo(snapshot.id, snapshot.source, snapshot.file_count, snapshot.total_bytes,
                           time.time(), snapshot.git.to_dict() if snapshot.git else None))
        return snapshot

    def _run_env(self, spec: JobSpec, name: str, files: RunFiles) -> dict[str, str]:
        env = {str(k): str(v) for k, v in spec.environment_variables.items()}
        env.update(mlflow_variables(name, spec.experiment_name, env, workspace_folder=self.location.folder))
        env.update({
            ENV_RUN_ID: name,
            ENV_EXPERIMENT: spec.experiment_name,
            ENV_TRACKING_DIR: str(files.tracking),
            ENV_RUN_DIR: str(files.root),
            ENV_COMPUTE: spec.compute.removeprefix("azureml:"),
            ENV_INPUTS: json.dumps(spec.inputs, default=str),
            "PYTHONUNBUFFERED": "1",
        })
        if spec.parent_run is not None:
            env[ENV_PARENT_RUN_ID] = spec.parent_run
        return env


# ------------------------------------------------------------------------------ checks
def _gpus_of(instance_type: str | None, target: E.ComputeTarget) -> int | None:
    """`resources.instance_type` on a target of this machine: the GPUs one VM of that size has, as
    far as this machine has them (None: no GPU asked; the target's own setting applies)."""
    if not instance_type or target.type not in ("local", "docker"):
        return None
    wanted = gpus_of_size(instance_type) or 0
    given = min(wanted, len(local_gpus().gpus)) if wanted else 0
    return given or None


def _snapshot_fields(snapshot: SnapshotManifest | None) -> dict[str, Any]:
    return {"snapshot_id": snapshot.id if snapshot else None,
            "git": snapshot.git.to_dict() if snapshot and snapshot.git else None}


def _code_dir(spec: JobSpec, hint: str) -> Path | None:
    code_dir = spec.code_dir.resolve() if spec.code_dir else None
    if code_dir is not None and not code_dir.is_dir():
        raise NotFound(f"the code folder {code_dir} does not exist", hint)
    return code_dir


@dataclass(frozen=True)
class _RunData:
    plan: DataPlan | None
    paths: dict[str, str]  # input name -> the path the script gets
    output_paths: dict[str, str]
    env: dict[str, str]  # AZURE_ML_INPUT_<name> / AZURE_ML_OUTPUT_<name>, as Azure ML sets them


def _where(placement: Placement, env_spec: EnvironmentSpec | None) -> str:
    """Where the script runs: "ssh", "container" or "local"."""
    if placement.compute in ("ssh", "slurm"):  # the run folder is elsewhere (REMOTE_RUN_ROOT)
        return "ssh"
    return "container" if placement.compute == "docker" or (env_spec is not None and env_spec.needs_docker) else "local"


def _placeholder_data(spec: JobSpec) -> _RunData:
    """Stand-in paths for every input and output: what checking the command needs."""
    paths = {n: f"/run/inputs/{n}" for n in spec.data_inputs}
    return _RunData(None, paths, {n: f"/run/outputs/{n}" for n in spec.outputs}, {})


def _run_data(spec: JobSpec, resolved: list[ResolvedInput], where: str, run_root: Path,
              location: WorkspaceLocation) -> _RunData:
    """Where the script finds each input and output: under the run folder as the compute sees it
    (this machine's run folder, the container's /trainyard/run, the SSH host's run folder)."""
    if not resolved and not spec.outputs:
        return _RunData(None, {}, {}, {})
    root = {"ssh": REMOTE_RUN_ROOT, "container": CONTAINER_RUN_ROOT}.get(where, str(run_root))
    inputs, paths = [], {}
    for r in resolved:
        if r.mode == "direct" and not (where == "container" and not r.source.startswith(("http://", "https://"))):
            rel = None  # the path (or URL) as given; a container gets a local path bound at inputs/NAME
            paths[r.name] = r.source
        else:
            rel = f"inputs/{r.name}" + (f"/{Path(r.source).name}" if r.is_file else "")
            paths[r.name] = f"{root}/{rel}"
        inputs.append(InputPlacement(r.name, r.type, r.mode, r.source, rel, r.is_file))
    outputs = [OutputPlacement(n, o.type, o.mode, o.path or f"outputs/{n}", o.asset_name, o.asset_version,
                               o.description) for n, o in spec.outputs.items()]
    output_paths = {o.name: f"{root}/{o.rel}" for o in outputs}
    env = {f"AZURE_ML_INPUT_{n}": p for n, p in paths.items()}
    env.update({f"AZURE_ML_OUTPUT_{n}": p for n, p in output_paths.items()})
    plan = DataPlan(tuple(inputs), tuple(outputs), str(location.data_dir), str(location.models_dir))
    return _RunData(plan, paths, output_paths, env)


def _argv(spec: JobSpec, code_dir: Path | None, interpreter: str, data: _RunData) -> list[str]:
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
    command = render_command(spec.command or "", {**spec.inputs, **data.paths}, data.output_paths,
                             source=spec.source_file, search_space=spec.search_space)
    _check_command_script(command, code_dir, spec.source_file)
    return ["/bin/sh", "-c", command]


def _check_interpreter(path: str, source: str | None) -> str:
    p = Path(path).expanduser()
    if not (p.is_file() and os.access(p, os.X_OK)):
        raise InvalidSpec(f"the Python interpreter {path!r} does not exist or is not executable",
                          "fix environment.python.interpreter_path", file=source, field="interpreter_path")
    return str(p.absolute())


def _check_ssh_job(target: E.ComputeTarget, spec: JobSpec, env_spec: EnvironmentSpec | None) -> None:
    """What an SSH target cannot run in this version: Docker environments other than on a
    `docker: true` target, more nodes than it has hosts."""
    where = f"compute target {target.name!r} ({target.config.get('host', '?')}) is an SSH target"
    dist = spec.distribution
    if dist is not None:  # one node per host of the target (engine.compute.ssh.group)
        hosts = target.config.get("hosts") or [target.config.get("host")]
        if dist.instance_count > len(hosts):
            raise LaunchFailed(f"{where} with {len(hosts)} host(s); the job asks for `instance_count: "
                               f"{dist.instance_count}` nodes",
                               "list one host per node in the compute YAML (`hosts: [a, b]`, node 0 first), "
                               "or lower `resources.instance_count`")
    if target.config.get("docker"):  # jobs run in containers of the host's daemon (ssh/container.py)
        _check_ssh_docker_job(where, target, spec, env_spec)
        return
    if env_spec is not None and env_spec.kind not in ("user", "venv", "conda"):  # pip and conda build there
        raise LaunchFailed(
            f"{where}: building the job's {env_spec.kind} environment {env_spec.reference!r} there is not "
            "available in this version of Trainyard (pip-requirements and conda environments are)",
            "install the packages on that host and give the job an environment with "
            "`python: {user_managed_dependencies: true, interpreter_path: /path/to/python}`, give it a "
            "pip-requirements environment, or use `compute: local` / `compute: docker` to build it here")


def _check_ssh_docker_job(where: str, target: E.ComputeTarget, spec: JobSpec,
                          env_spec: EnvironmentSpec | None) -> None:
    """An SSH target with `docker: true` needs an image: the job's Docker environment, or the
    target's `image:` (for a job without one, or pip/conda packages to build on it)."""
    if spec.distribution is not None and spec.distribution.kind == "mpi":
        raise LaunchFailed(f"{where} with `docker: true`: `distribution: mpi` in containers over SSH is not "
                           "available in this version of Trainyard (pytorch and tensorflow are: a container "
                           "per process)",
                           "use `type: pytorch`, or an SSH target without `docker: true` for mpirun")
    if (env_spec is None or not env_spec.needs_docker) and not target.config.get("image"):
        what = "has no environment" if env_spec is None or env_spec.kind == "user" else (
            f"has the {env_spec.kind} environment {env_spec.reference!r} and nothing to build it on")
        raise LaunchFailed(f"{where} that runs jobs in Docker (`docker: true`); the job {what}",
                           "give the job a Docker environment (`image:` or `build:`), or the compute target an "
                           "`image:` (e.g. python:3.11-slim) that pip/conda packages are installed on")


def _check_slurm_job(target: E.ComputeTarget, spec: JobSpec, env_spec: EnvironmentSpec | None) -> None:
    """What a Slurm target cannot run in this version: Docker environments, TensorFlow's
    parameter-server layout."""
    where = f"compute target {target.name!r} is a Slurm cluster"
    if env_spec is not None and env_spec.needs_docker:
        raise LaunchFailed(f"{where}: the job's Docker environment {env_spec.reference!r} cannot run there in "
                           "this version of Trainyard",
                           "give the job a pip or conda environment (built on the login node), or a "
                           "user-managed interpreter on the shared filesystem")
    if spec.distribution is not None and spec.distribution.kind == "tensorflow":
        raise LaunchFailed(f"{where}: `distribution: tensorflow` is not available on Slurm in this version",
                           "use `type: pytorch` or `type: mpi` (srun starts the ranks)")


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
