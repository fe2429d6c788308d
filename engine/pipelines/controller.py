"""The detached process that owns a pipeline run: it starts each step as a child run as soon as the
steps it reads from have completed (independent steps at once: each child's own supervisor waits
for its compute target's concurrency and GPUs), passes outputs on as the next steps' inputs, reuses
an earlier identical step instead of running it (engine.pipelines.reuse), and ends the pipeline.

Started like a sweep's controller (`engine.entry.main` hands it a run whose launch spec is a
pipeline's), in its own session: closing the studio or killing the CLI never stops a pipeline.
Cancelling the pipeline run cancels its running steps; if this process dies, reconcile
(engine.runs.control) fails the pipeline and cancels its steps. Its driver log says what it did.

A step's inputs bound to another step's output are that child run's output folder (or file) on
this machine, given to the step as a data input (ro_mount unless the step asks for download), so
they take the data path of any command job (engine.data, engine.runtime.dataplan): bind-mounted
into a container, sent through the host's blob store to an SSH host.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine import entities as E
from engine.data.content import digest_of
from engine.entities import TERMINAL_STATUSES, EnvironmentSpec
from engine.errors import InvalidState
from engine.jobs.spec import DataInput, DataOutput, JobSpec, SweepSpec
from engine.pipelines.reuse import outputs_exist, step_key
from engine.runs import control, watch
from engine.runs.parentcontroller import ParentController
from engine.runtime.distribution import Distribution
from engine.runtime.files import RunFiles
from engine.runtime.host import host_properties
from engine.runtime.pipelineplan import (
    PIPELINE_PROPERTY,
    REUSED_FROM,
    STEP_PROPERTY,
    PipelinePlan,
    PlannedStep,
)
from engine.runtime.sweepresults import SweepResult, is_sweep
from engine.snapshots import SnapshotStore
from engine.store import Store

POLL_SECONDS = 0.2
STEP_END_WAIT_SECONDS = 60.0


@dataclass
class StepRun:
    name: str
    status: str = "NotStarted"
    run_name: str | None = None
    reused_from: str | None = None
    error: str | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"path", "hash"}


class PipelineController(ParentController):
    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        if self.spec.pipeline is None:
            raise InvalidState(f"{self.files.spec} is not a pipeline's launch spec")
        self.plan: PipelinePlan = self.spec.pipeline
        self.steps = {n: StepRun(n) for n in self.plan.steps}
        self._skipped: dict[str, str] = {}

    # ------------------------------------------------------------------ main
    def run(self) -> int:
        store = self._open()
        try:
            store.set_status(self.run_name, "Running")
            status, error = self._loop()
        except BaseException as exc:  # noqa: BLE001 - the controller itself failed: say why, stop the steps
            self._diagnose("pipeline failed:\n" + traceback.format_exc())
            self.say(f"the pipeline failed: {exc}")
            self._cancel_running("the pipeline run failed")
            status, error = "Failed", f"the pipeline controller failed: {exc}"
        self._finish(store, status, error)
        store.close()
        return 0

    def finish_if_all_reused(self, store: Store) -> bool:
        """In the process that submits the pipeline: when every step can be reused, record them and
        complete the pipeline run now (True); else change nothing (False) and a controller runs it."""
        if self.plan.force_rerun:
            return False
        found: dict[str, tuple[str, str, dict[str, dict[str, Any]]]] = {}
        self.store = store
        try:
            for name, step in self.plan.steps.items():  # in an order where producers come first
                _literals, _data, hashes = self._inputs(step)
                key = step_key(step, hashes)
                cached = store.find_cached_step(key) if step.is_deterministic else None
                if cached is None or not outputs_exist(cached[1]):
                    return False
                found[name] = (key, cached[0], cached[1])
                self.steps[name].outputs = dict(cached[1])
            store.set_status(self.run_name, "Running")
            self.say(f"pipeline {self.run_name}: {len(self.plan.steps)} steps, every one reused")
            for name, (key, original, outputs) in found.items():
                self._reuse(self.plan.steps[name], key, original, outputs)
            self._finish(store, "Completed", None)
            return True
        finally:
            for state in self.steps.values():
                if state.run_name is None:
                    state.outputs = {}
            self.store = None
            self._close_log()

    def _finish(self, store: Store, status: str, error: str | None) -> None:
        """Publish the pipeline's outputs, record what was skipped and reused, end the run."""
        self._publish_outputs()
        run = store.get_run(self.run_name)
        info = dict(run.properties.get(PIPELINE_PROPERTY) or {})
        store.update_run(
            self.run_name,
            properties={
                **run.properties,
                PIPELINE_PROPERTY: {
                    **info,
                    "skipped": dict(self._skipped),
                    "reused": {n: s.reused_from for n, s in self.steps.items() if s.reused_from},
                },
            },
        )
        if error:
            store.set_status(self.run_name, status, error=error)
        else:
            store.set_status(self.run_name, status)
        self.say(f"pipeline {status.lower()}" + (f": {error}" if error else ""))

    def _loop(self) -> tuple[str, str | None]:
        self.say(f"pipeline {self.run_name}: {len(self.plan.steps)} steps ({', '.join(self.plan.steps)})")
        while True:
            now = time.monotonic()
            self._check_cancel_request(now)
            if self.cancel_reason is not None:
                self.say(f"canceling: {self.cancel_reason}")
                self._cancel_running(f"the pipeline was canceled: {self.cancel_reason}")
                self._skip_pending("the pipeline was canceled")
                return "Canceled", self.cancel_reason
            self._refresh()
            started = self._start_ready()
            active = [s for s in self.steps.values() if s.run_name and s.status not in TERMINAL_STATUSES]
            pending = [s for s in self.steps.values() if s.status == "NotStarted"]
            if not active and not pending:
                break
            if not started:
                time.sleep(POLL_SECONDS)
        failed = [s for s in self.steps.values() if s.status == "Failed"]
        if failed:
            first = failed[0]
            return "Failed", f"step {first.name} failed" + (f": {first.error}" if first.error else "")
        canceled = [s for s in self.steps.values() if s.status == "Canceled"]
        if canceled:
            return "Canceled", f"step {canceled[0].name} was canceled" + (
                f": {canceled[0].error}" if canceled[0].error else ""
            )
        return "Completed", None

    # ------------------------------------------------------------------ steps
    def _start_ready(self) -> bool:
        started = False
        for name, step in self.plan.steps.items():
            state = self.steps[name]
            if state.status != "NotStarted":
                continue
            if all(self.steps[u].status == "Completed" for u in step.upstream()):
                self._start(step)
                started = True
        return started

    def _inputs(self, step: PlannedStep) -> tuple[dict[str, Any], dict[str, DataInput], dict[str, str]]:
        """(literal inputs, data inputs, content hash of each data input)."""
        literals: dict[str, Any] = {}
        data: dict[str, DataInput] = {}
        hashes: dict[str, str] = {}
        for name, i in step.inputs.items():
            if i.kind == "literal":
                literals[name] = i.value
            elif i.kind == "data":
                data[name] = DataInput(i.type or "uri_folder", i.path or "", i.mode or "ro_mount")
                hashes[name] = i.content_hash or ""
            else:
                produced = self.steps[i.step or ""].outputs[i.output or ""]
                data[name] = DataInput(i.type or "uri_folder", produced["path"], i.mode or "ro_mount")
                hashes[name] = produced["hash"]
        return literals, data, hashes

    def _start(self, step: PlannedStep) -> None:
        state = self.steps[step.name]
        literals, data, hashes = self._inputs(step)
        key = step_key(step, hashes)
        reuse = step.is_deterministic and not self.plan.force_rerun
        if reuse:
            cached = self._store().find_cached_step(key)
            if cached is not None and outputs_exist(cached[1]):
                self._reuse(step, key, cached[0], cached[1])
                return
        child = f"{self.run_name}_{step.name}"
        code_dir = None
        if step.snapshot_id:
            code_dir = self.files.wd / step.name
            SnapshotStore(Path(self.spec.snapshots_root)).materialize(step.snapshot_id, code_dir)
        env = EnvironmentSpec.from_dict(step.environment_spec) if step.environment_spec else None
        job = JobSpec(
            experiment_name=step.experiment_name,
            code_dir=code_dir,
            command=step.command,
            name=child,
            display_name=step.display_name or step.name,
            description=step.description,
            tags=dict(step.tags),
            inputs=literals,
            data_inputs=data,
            outputs={n: DataOutput.from_dict(o) for n, o in step.outputs.items()},
            environment_variables=dict(step.environment_variables),
            compute=step.compute,
            environment=step.environment,
            environment_spec=env,
            interpreter_path=step.interpreter_path if env is None else None,
            max_run_duration_seconds=step.timeout_seconds,
            gpus=step.gpus,
            shm_size=step.shm_size,
            instance_type=step.instance_type,
            parent_run=self.run_name,
            distribution=Distribution.from_dict(step.distribution) if step.distribution else None,
            properties={
                STEP_PROPERTY: step.name,
                "pipeline_step_key": key,
                **({"component": step.component} if step.component else {}),
            },
        )
        try:
            assert self.submitter is not None
            self.submitter.submit(job if step.sweep is None else _sweep_of(step.sweep, job))
        except Exception as exc:  # noqa: BLE001 - a step that cannot start is a failed step
            state.status, state.error = "Failed", f"could not start: {exc}"
            self.say(f"step {step.name} could not start: {exc}")
            self._step_ended(step.name)
            return
        state.run_name, state.status = child, "Queued"
        self.say(f"started step {step.name} as {child}")

    def _reuse(self, step: PlannedStep, key: str, original: str, outputs: dict[str, dict[str, Any]]) -> None:
        """Record a child run that stands for `step`, completed at once with `original`'s outputs."""
        store = self._store()
        state = self.steps[step.name]
        child = f"{self.run_name}_{step.name}"
        old = store.get_run(original)
        files = RunFiles(self.files.root.parent / child)
        files.system_logs.mkdir(parents=True, exist_ok=True)
        files.driver_log.write_text(
            f"reused from {original}: this step's code, environment, command, "
            "parameters and inputs are those of that run, so its outputs are reused\n"
        )
        try:  # the reused outputs where `job download` looks for this run's (its spec's data plan)
            old_spec = json.loads(RunFiles(Path(old.run_dir)).spec.read_text())
            old_spec["run_name"] = child
            files.spec.write_text(json.dumps(old_spec, indent=2))
            for out in (old_spec.get("data") or {}).get("outputs") or []:
                src, dest = Path(old.run_dir) / out["rel"], files.root / out["rel"]
                if src.exists() and not dest.exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(src, dest, target_is_directory=src.is_dir())
        except (OSError, ValueError, KeyError, TypeError):
            pass  # the outputs themselves are known from the cache; only downloads of this run miss them
        store.create_run(
            name=child,
            experiment_name=step.experiment_name,
            run_dir=str(files.root),
            display_name=step.display_name or step.name,
            description=step.description,
            command=old.command,
            arguments=list(old.arguments),
            compute=old.compute,
            environment=old.environment,
            snapshot_id=old.snapshot_id,
            git=old.git,
            inputs=dict(old.inputs),
            tags=dict(step.tags),
            parent_name=self.run_name,
            properties={
                STEP_PROPERTY: step.name,
                REUSED_FROM: original,
                "pipeline_step_key": key,
                **host_properties(),
                **({"component": step.component} if step.component else {}),
            },
        )
        now = time.time()
        store.set_status(child, "Running", at=now)
        store.set_status(child, "Completed", at=now, exit_code=0)
        state.run_name, state.status, state.reused_from, state.outputs = (
            child,
            "Completed",
            original,
            dict(outputs),
        )
        self.say(f"step {step.name}: reused from {original}")

    def _refresh(self) -> None:
        store = self._store()
        for name, state in self.steps.items():
            if state.run_name is None or state.status in TERMINAL_STATUSES:
                continue
            run = store.get_run(state.run_name)
            state.status = run.status
            if not run.is_terminal:
                continue
            step = self.plan.steps[name]
            if run.status == "Completed":
                state.outputs = self._outputs_of(step, self._output_run_dir(run))
                if step.is_deterministic:
                    store.add_cached_step(
                        str(run.properties.get("pipeline_step_key")), run.name, state.outputs
                    )
                self.say(f"step {name} completed ({run.name})")
            else:
                state.error = run.error
                self.say(
                    f"step {name} {run.status.lower()} ({run.name})" + (f": {run.error}" if run.error else "")
                )
            self._step_ended(name)

    def _output_run_dir(self, run: E.Run) -> Path:
        """Where a completed step's outputs are: its run's folder, or for a sweep step, its best trial's."""
        if is_sweep(run.properties):
            best = SweepResult.from_properties(run.properties).best_child_run_id
            if best:
                self.say(f"step {run.properties.get(STEP_PROPERTY)}: the outputs of the best trial, {best}")
                return Path(self._store().get_run(best).run_dir)
        return Path(run.run_dir)

    def _outputs_of(self, step: PlannedStep, run_dir: Path) -> dict[str, dict[str, Any]]:
        outputs = {}
        for out_name, out in step.outputs.items():
            path = run_dir / str(out.get("path") or f"outputs/{out_name}")
            if not path.exists():  # the script wrote nothing there: an empty output
                path.mkdir(parents=True, exist_ok=True) if out.get("type") != "uri_file" else path.touch()
            outputs[out_name] = {"path": str(path), "hash": digest_of(path).digest}
        return outputs

    def _step_ended(self, name: str) -> None:
        """After a step that did not complete: skip what depends on it (everything, with
        continue_on_step_failure: false)."""
        state = self.steps[name]
        if state.status == "Completed":
            return
        if not self.plan.continue_on_step_failure:
            self.say(
                f"step {name} {state.status.lower()}: ending the pipeline (continue_on_step_failure: false)"
            )
            self._cancel_running(f"step {name} of pipeline {self.run_name} {state.status.lower()}")
            self._skip_pending(f"step {name} {state.status.lower()}")
            return
        for dependent in self._downstream(name):
            if self.steps[dependent].status == "NotStarted":
                self._skip(dependent, f"step {name} {state.status.lower()}")

    def _downstream(self, name: str) -> list[str]:
        found: list[str] = []
        todo = [name]
        while todo:
            current = todo.pop()
            for n, s in self.plan.steps.items():
                if current in s.upstream() and n not in found:
                    found.append(n)
                    todo.append(n)
        return found

    def _skip(self, name: str, why: str) -> None:
        state = self.steps[name]
        state.status, state.error = "Canceled", f"not run: {why}"
        self._skipped[name] = why
        self.say(f"step {name} canceled: {why}")

    def _skip_pending(self, why: str) -> None:
        for name, state in self.steps.items():
            if state.status == "NotStarted":
                self._skip(name, why)

    def _cancel_running(self, reason: str) -> None:
        active = [s for s in self.steps.values() if s.run_name and s.status not in TERMINAL_STATUSES]
        for state in active:
            try:
                control.cancel(self._store(), str(state.run_name), reason)
            except InvalidState:
                pass  # it ended meanwhile
        deadline = time.monotonic() + STEP_END_WAIT_SECONDS
        for state in active:
            run = watch.wait(
                self._store(), str(state.run_name), timeout=max(0.0, deadline - time.monotonic())
            )
            state.status = run.status
            if run.status != "Completed":
                state.error = state.error or run.error
            self.say(f"step {state.name} {run.status.lower()}")

    def _publish_outputs(self) -> None:
        """Each pipeline output: the output of the step that publishes it, under this run's outputs/."""
        for name, step in self.plan.steps.items():
            for out, target in step.to_parent.items():
                produced = self.steps[name].outputs.get(out)
                if produced is None:
                    continue
                dest = self.files.outputs / target
                try:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    if dest.is_symlink() or dest.exists():
                        shutil.rmtree(dest) if dest.is_dir() and not dest.is_symlink() else dest.unlink()
                    os.symlink(produced["path"], dest, target_is_directory=Path(produced["path"]).is_dir())
                except OSError as exc:
                    self.say(f"could not publish pipeline output {target}: {exc}")


def _sweep_of(settings: dict[str, Any], trial: JobSpec) -> SweepSpec:
    """A sweep step as a sweep job: its search (the plan's) over `trial`, this step's command run
    with its inputs; the sweep run takes the trial's name and parent."""
    from engine.specs.early_termination import parse_policy
    from engine.specs.search_space import parse_search_space

    return SweepSpec(
        trial=replace(trial, name=None),
        search_space=parse_search_space(settings["search_space"]),
        primary_metric=str(settings["primary_metric"]),
        goal=str(settings.get("goal") or "minimize"),
        sampling_algorithm=str(settings.get("sampling_algorithm") or "random"),
        seed=settings.get("seed"),
        max_total_trials=int(settings["max_total_trials"]),
        max_concurrent_trials=int(settings["max_concurrent_trials"]),
        timeout_seconds=settings.get("timeout_seconds"),
        trial_timeout_seconds=settings.get("trial_timeout_seconds"),
        early_termination=parse_policy(settings.get("early_termination")),
        name=trial.name,
    )
