"""Submitting a pipeline: check every step as a job submit would, resolve what can be resolved now
(registered components, environments, compute targets, data inputs with their content hashes),
snapshot each step's code, then record the pipeline run and start its controller
(engine.pipelines.controller) through the one way a run is made (engine.runs.submit). A mistake in
any step fails the submit and records nothing."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import entities as E
from engine.compute.targets import resolve_compute
from engine.data.resolve import resolve_inputs
from engine.errors import InvalidSpec, TrainyardError
from engine.jobs.pipeline import Binding, PipelineSpec, StepSpec, with_component
from engine.jobs.spec import DataInput, JobSpec, SweepSpec
from engine.names import parse_reference
from engine.pipelines.controller import PipelineController
from engine.runs.submit import Submitter, environment_of
from engine.runtime import default_python
from engine.runtime.files import RunFiles
from engine.runtime.host import host_properties
from engine.runtime.launchspec import LaunchSpec
from engine.runtime.pipelineplan import PIPELINE_PROPERTY, PipelinePlan, PlannedInput, PlannedStep
from engine.snapshots import SnapshotStore
from engine.workspace import WorkspaceLocation

if TYPE_CHECKING:
    from engine.store.protocol import Store

__all__ = ["PipelineSubmitter"]


@dataclass(frozen=True)
class PipelineSubmitter:
    store: Store
    location: WorkspaceLocation
    snapshots: SnapshotStore

    def submit(
        self,
        spec: PipelineSpec,
        on_warning: Callable[[str], None] | None = None,
        on_progress: Callable[[str], None] | None = None,
    ) -> E.Run:
        runs = Submitter(self.store, self.location, self.snapshots)
        if spec.name is not None:
            runs.check_name_is_free(spec.name)
        plan = self.plan(spec, runs, on_warning, on_progress)
        default_compute = spec.settings.default_compute or "local"
        given = {n: (v.path if isinstance(v, DataInput) else v) for n, v in spec.inputs.items()}
        data_inputs = {n: v for n, v in spec.inputs.items() if isinstance(v, DataInput)}
        resolved = resolve_inputs(self.store, self.location.data_dir, data_inputs, source=spec.source_file)

        def prepare(name: str, _files: RunFiles) -> tuple[LaunchSpec, dict[str, Any]]:
            launch_spec = LaunchSpec(
                run_name=name,
                store_url=self.store.url,
                workspace=str(self.location.folder),
                snapshots_root=str(self.location.snapshots_dir),
                pipeline=plan,
            )
            record: dict[str, Any] = {
                "experiment_name": spec.experiment_name,
                "display_name": spec.display_name or name,
                "description": spec.description,
                "command": "",
                "arguments": [],
                "compute": resolve_compute(self.store, default_compute, spec.source_file).name,
                "environment": None,
                "inputs": given,
                "tags": dict(spec.tags),
                "properties": {
                    **spec.properties,
                    PIPELINE_PROPERTY: {"steps": list(plan.steps)},
                    **host_properties(),
                    **({"source_file": spec.source_file} if spec.source_file else {}),
                },
            }
            return launch_spec, record

        def all_reused(name: str, files: RunFiles) -> E.Run | None:
            # Every step reusable: record it here, without waiting for a controller process to start.
            if PipelineController(files.root).finish_if_all_reused(self.store):
                return self.store.get_run(name)
            return None

        return runs.launch_run(
            spec.name, prepare, lambda name: [r.lineage(name) for r in resolved], all_reused
        )

    def validate(self, spec: PipelineSpec) -> None:
        """Every check `submit` makes, recording nothing (snapshots are content-addressed and shared)."""
        runs = Submitter(self.store, self.location, self.snapshots)
        if spec.name is not None:
            runs.check_name_is_free(spec.name)
        self.plan(spec, runs, None, None)

    # ------------------------------------------------------------------ the plan
    def plan(
        self,
        spec: PipelineSpec,
        runs: Submitter,
        on_warning: Callable[[str], None] | None,
        on_progress: Callable[[str], None] | None,
    ) -> PipelinePlan:
        pipeline_inputs = self._pipeline_inputs(spec, on_progress)
        snapshots: dict[Path, str | None] = {}
        steps: dict[str, PlannedStep] = {}
        for name in spec.order():
            step = spec.steps[name]
            try:
                steps[name] = self._plan_step(
                    spec, step, pipeline_inputs, runs, snapshots, on_warning, on_progress
                )
            except InvalidSpec as exc:
                if exc.message.startswith((f"step {name!r}", f"{exc.file}:{exc.line}: step {name!r}")):
                    raise
                raise InvalidSpec(
                    f"step {name!r}: {_bare(exc)}",
                    exc.hint,
                    file=exc.file or spec.source_file,
                    line=exc.line or step.line,
                    field=exc.field,
                ) from None
            except TrainyardError as exc:
                # a command job's `--set compute=...` is `--set jobs.STEP.compute=...` in a pipeline
                hint = exc.hint.replace("`--set compute=", f"`--set jobs.{name}.compute=") if exc.hint else None
                raise type(exc)(f"step {name!r}: {exc.message}", hint) from None
        return PipelinePlan(
            steps=steps,
            edges=spec.edges(),
            outputs={n: o.to_dict() for n, o in spec.outputs.items()},
            continue_on_step_failure=spec.settings.continue_on_step_failure,
            force_rerun=spec.settings.force_rerun,
            workspace=str(self.location.folder),
            data_root=str(self.location.data_dir),
            models_root=str(self.location.models_dir),
        )

    def _pipeline_inputs(
        self, spec: PipelineSpec, on_progress: Callable[[str], None] | None
    ) -> dict[str, PlannedInput]:
        data = {n: v for n, v in spec.inputs.items() if isinstance(v, DataInput)}
        out = {
            n: PlannedInput("literal", value=v)
            for n, v in spec.inputs.items()
            if not isinstance(v, DataInput)
        }
        for r in resolve_inputs(
            self.store, self.location.data_dir, data, source=spec.source_file, progress=on_progress
        ):
            out[r.name] = PlannedInput(
                "data", type=r.type, mode=r.mode, path=r.source, given=r.given, content_hash=r.content_hash
            )
        return out

    def _plan_step(
        self,
        spec: PipelineSpec,
        step: StepSpec,
        pipeline_inputs: dict[str, PlannedInput],
        runs: Submitter,
        snapshots: dict[Path, str | None],
        on_warning: Callable[[str], None] | None,
        on_progress: Callable[[str], None] | None,
    ) -> PlannedStep:
        snapshot_id: str | None = None
        if (
            step.component is not None
            and step.component.startswith("azureml:")
            and step.component_spec is None
        ):
            ref = parse_reference(step.component)
            comp = self.store.get_component(ref.name, ref.version)
            step = with_component(step, comp, spec.source_file)
            snapshot_id = comp.snapshot_id
        compute = step.compute or spec.settings.default_compute or "local"
        inputs: dict[str, PlannedInput] = {}
        literal_inputs: dict[str, Any] = {}
        data_inputs: dict[str, DataInput] = {}
        placeholders: dict[str, str] = {}
        for name, value in step.inputs.items():
            if isinstance(value, Binding):
                if value.kind == "parent_input":
                    bound = pipeline_inputs[value.name]
                    if bound.kind == "data":
                        bound = replace(bound, type=value.type or bound.type, mode=value.mode or bound.mode)
                        data_inputs[name] = DataInput(
                            bound.type or "uri_folder", bound.path or "", bound.mode or "ro_mount"
                        )
                    else:
                        literal_inputs[name] = bound.value
                    inputs[name] = bound
                else:
                    producer = spec.steps[value.step or ""]
                    out = producer.outputs[value.name]
                    inputs[name] = PlannedInput(
                        "step",
                        step=value.step,
                        output=value.name,
                        type=value.type or out.type,
                        mode=value.mode or "ro_mount",
                    )
                    placeholders[name] = f"/pipeline/{value.step}/outputs/{value.name}"
            elif isinstance(value, DataInput):
                data_inputs[name] = value
            else:
                literal_inputs[name] = value
                inputs[name] = PlannedInput("literal", value=value)
        job = JobSpec(
            experiment_name=spec.experiment_name,
            code_dir=step.code_dir,
            command=step.command,
            inputs={**literal_inputs, **placeholders},
            data_inputs=data_inputs,
            outputs=dict(step.outputs),
            environment_variables=dict(step.environment_variables),
            compute=compute,
            environment=step.environment,
            environment_spec=step.environment_spec,
            max_run_duration_seconds=step.timeout_seconds,
            source_file=spec.source_file,
            gpus=step.gpus,
            shm_size=step.shm_size,
            distribution=step.distribution,
            instance_type=step.instance_type,
        )
        checked: JobSpec | SweepSpec = job
        if step.sweep is not None:  # the sweep's trial is this step's command, with its inputs
            checked = replace(step.sweep, trial=job, name=None)
        if snapshot_id is not None and job.code_dir is None:
            with tempfile.TemporaryDirectory(prefix="trainyard-component-") as tmp:
                self.snapshots.materialize(snapshot_id, Path(tmp) / "code")
                code = Path(tmp) / "code"
                runs.validate(
                    replace(checked, trial=replace(job, code_dir=code))
                    if isinstance(checked, SweepSpec)
                    else replace(job, code_dir=code)
                )
        else:
            runs.validate(checked)
        for r in resolve_inputs(
            self.store,
            self.location.data_dir,
            {n: d for n, d in data_inputs.items() if n not in inputs},
            source=spec.source_file,
            progress=on_progress,
        ):
            inputs[r.name] = PlannedInput(
                "data", type=r.type, mode=r.mode, path=r.source, given=r.given, content_hash=r.content_hash
            )
        if step.code_dir is not None and snapshot_id is None:
            code = step.code_dir.resolve()
            if code not in snapshots:
                taken = runs.take_snapshot(code, on_warning)
                snapshots[code] = taken.id if taken else None
            snapshot_id = snapshots[code]
        env_spec = environment_of(self.store, job)
        interpreter = None
        if env_spec is None:
            interpreter = default_python()
            env_hash = f"interpreter:{interpreter}"
        else:
            env_hash = env_spec.build_hash()
        used = step.component_spec
        return PlannedStep(
            name=step.name,
            kind=step.kind,
            command=step.command or "",
            compute=compute,
            experiment_name=spec.experiment_name,
            display_name=step.display_name,
            description=step.description,
            tags=dict(step.tags),
            snapshot_id=snapshot_id,
            environment=env_spec.reference if env_spec is not None else step.environment,
            environment_spec=env_spec.to_dict() if env_spec is not None else None,
            environment_hash=env_hash,
            interpreter_path=interpreter,
            environment_variables=dict(step.environment_variables),
            inputs=inputs,
            outputs={n: o.to_dict() for n, o in step.outputs.items()},
            to_parent=dict(step.to_parent),
            gpus=step.gpus,
            shm_size=step.shm_size,
            instance_type=step.instance_type,
            distribution=step.distribution.to_dict() if step.distribution is not None else None,
            timeout_seconds=step.timeout_seconds,
            is_deterministic=step.is_deterministic,
            sweep=sweep_settings(step.sweep) if step.sweep is not None else None,
            component=(
                f"{used.name}:{used.version}" if used is not None and used.snapshot_id else step.component
            ),
        )


def _bare(exc: InvalidSpec) -> str:
    prefix = f"{exc.file}:{exc.line}: " if exc.file and exc.line else f"{exc.file}: " if exc.file else ""
    return exc.message.removeprefix(prefix)


def sweep_settings(sweep: SweepSpec) -> dict[str, Any]:
    """A sweep step's search as the plan keeps it (the sweep job's YAML spelling)."""
    policy = None
    if sweep.early_termination is not None:
        policy = {
            k: v
            for k, v in asdict(sweep.early_termination).items()
            if v is not None
            and not (k == "exclude_finished_jobs" and sweep.early_termination.type != "truncation_selection")
        }
    return {
        "search_space": {n: {"type": p.kind, **p.args} for n, p in sweep.search_space.items()},
        "sampling_algorithm": sweep.sampling_algorithm,
        "seed": sweep.seed,
        "primary_metric": sweep.primary_metric,
        "goal": sweep.goal,
        "max_total_trials": sweep.max_total_trials,
        "max_concurrent_trials": sweep.max_concurrent_trials,
        "timeout_seconds": sweep.timeout_seconds,
        "trial_timeout_seconds": sweep.trial_timeout_seconds,
        "early_termination": policy,
    }
