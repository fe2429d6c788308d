"""The detached process that owns a sweep run: it draws hyperparameters, submits each trial as a
child run (an ordinary run with its own supervisor), watches the trials' primary metric, stops
the ones the early-termination policy gives up on, and records the best trial.

Started like any run's supervisor (`engine.entry.main` hands a run whose launch spec is a sweep's
to `SweepController`), in its own session: closing the studio or the CLI
never stops a sweep. Cancelling the sweep run cancels its running trials. Its driver log
(`azureml-logs/70_driver_log.txt`) tells what it did, one line per event; the sweep run's
`best_<metric>` metric traces the best finished trial after each trial ends.

Trials run the sweep's code snapshot (materialized once into the sweep run's `wd/`), never the
project folder as it is now, so editing the project during a sweep changes no trial.

It submits, cancels and watches trials through the runs layer (engine.runs.submit, .control,
.watch) on the workspace's store; what it records for the front ends is engine.runtime.sweepresults.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.entities import TERMINAL_STATUSES, EnvironmentSpec
from engine.errors import InvalidState
from engine.jobs.spec import DataInput, DataOutput, JobSpec
from engine.runs import control, watch
from engine.runs.launch import materialize_code
from engine.runs.parentcontroller import ParentController
from engine.runtime.distribution import Distribution
from engine.runtime.launchspec import SweepSettings
from engine.runtime.sweepresults import SweepResult, early_termination_reason, trial_properties
from engine.specs.early_termination import parse_policy
from engine.specs.search_space import parse_search_space
from engine.sweeps.space import Sampler, make_sampler
from engine.sweeps.termination import trials_to_stop

POLL_SECONDS = 0.5
# How long cancelled trials get to end before the sweep run records its own end anyway.
TRIAL_END_WAIT_SECONDS = 60.0


@dataclass
class Trial:
    name: str
    index: int
    params: dict[str, Any]
    status: str = "Queued"
    final: float | None = None  # the primary metric's last value when the trial ended
    stopped_by_policy: bool = False


class SweepController(ParentController):
    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        if self.spec.sweep is None:
            raise InvalidState(f"{self.files.spec} is not a sweep's launch spec")
        self.sweep: SweepSettings = self.spec.sweep
        self.metric = self.sweep.primary_metric
        self.goal = self.sweep.goal
        self.trials: dict[str, Trial] = {}
        self.histories: dict[str, list[float]] = {}
        self.best: Trial | None = None
        self._finished = 0

    # ------------------------------------------------------------------ main
    def run(self) -> int:
        store = self._open()
        try:
            self._materialize()
            store.set_status(self.run_name, "Running")
            status, error = self._loop()
        except BaseException as exc:  # noqa: BLE001 - the controller itself failed: say why, stop the trials
            self._diagnose("sweep failed:\n" + traceback.format_exc())
            self.say(f"the sweep failed: {exc}")
            self._cancel_running("the sweep run failed")
            status, error = "Failed", f"the sweep controller failed: {exc}"
        self._record_summary()
        fields: dict[str, Any] = {"error": error} if error else {}
        store.set_status(self.run_name, status, **fields)
        self.say(f"sweep {status.lower()}" + (f": {error}" if error else ""))
        store.close()
        return 0

    def _materialize(self) -> None:
        materialize_code(self.spec, self.files.wd)

    def _loop(self) -> tuple[str, str | None]:
        space = parse_search_space(self.sweep.search_space)
        sampler = make_sampler(self.sweep.sampling_algorithm, space, goal=self.goal, seed=self.sweep.seed)
        policy = parse_policy(self.sweep.early_termination)
        max_total = self.sweep.max_total_trials
        max_concurrent = self.sweep.max_concurrent_trials
        timeout = self.sweep.timeout_seconds
        deadline = time.monotonic() + float(timeout) if timeout else None
        self.say(f"sweep {self.run_name}: {self.sweep.sampling_algorithm} sampling of "
                 f"{', '.join(space)}; {self.goal} {self.metric}; up to {max_total} trials, "
                 f"{max_concurrent} at a time" + (f", {policy.type} early termination" if policy else ""))
        exhausted = False
        while True:
            now = time.monotonic()
            self._check_cancel_request(now)
            if self.cancel_reason is not None:
                self.say(f"canceling: {self.cancel_reason}")
                self._cancel_running("the sweep was canceled")
                return "Canceled", self.cancel_reason
            if deadline is not None and now >= deadline:
                self.say(f"the sweep reached its timeout ({timeout:g} s): canceling the running trials")
                self._cancel_running(f"the sweep reached its timeout ({timeout:g} s)")
                break
            self._refresh(sampler)
            running = {t.name for t in self.trials.values() if t.status not in TERMINAL_STATUSES}
            if policy is not None and running:
                stops = trials_to_stop(policy, self.goal, self.histories, running, metric=self.metric)
                for name, reason in stops.items():
                    trial = self.trials[name]
                    if trial.stopped_by_policy:
                        continue
                    trial.stopped_by_policy = True
                    self.say(f"stopping {name}: {reason}")
                    self._cancel(name, early_termination_reason(reason), stopped_early=True)
            while (not exhausted and len(running) < max_concurrent and len(self.trials) < max_total
                   and self.cancel_reason is None):
                params = sampler.suggest()
                if params is None:
                    exhausted = True
                    self.say(f"the search space is exhausted after {len(self.trials)} trials")
                    break
                running.add(self._submit_trial(params).name)
            if not running and (exhausted or len(self.trials) >= max_total):
                break
            time.sleep(POLL_SECONDS)
        completed = [t for t in self.trials.values() if t.status == "Completed"]
        if self.trials and not completed and all(t.status == "Failed" for t in self.trials.values()):
            first = min(self.trials.values(), key=lambda t: t.index)
            return "Failed", f"every trial failed; see the driver log of {first.name}"
        return "Completed", None

    # ------------------------------------------------------------------ trials
    def _trial_spec(self, name: str, params: dict[str, Any]) -> JobSpec:
        t = self.sweep.trial
        return JobSpec(
            experiment_name=t.experiment_name,
            code_dir=self.files.wd,
            command=t.command,
            name=name,
            display_name=name,
            description=f"trial of sweep {self.run_name}",
            inputs=dict(t.inputs),
            data_inputs={n: DataInput.from_dict(d) for n, d in t.data_inputs.items()},
            outputs={n: DataOutput.from_dict(d) for n, d in t.outputs.items()},
            environment_variables=dict(t.environment_variables),
            compute=t.compute or "local",
            environment=t.environment,
            interpreter_path=t.interpreter_path,
            max_run_duration_seconds=t.max_run_duration_seconds,
            source_file=t.source_file,
            environment_spec=EnvironmentSpec.from_dict(t.environment_spec) if t.environment_spec else None,
            gpus=t.gpus,
            shm_size=t.shm_size,
            distribution=Distribution.from_dict(t.distribution) if t.distribution else None,
            parent_run=self.run_name,
            search_space=params,
            properties=trial_properties(self.metric, self.goal),
        )

    def _submit_trial(self, params: dict[str, Any]) -> Trial:
        index = len(self.trials)
        name = f"{self.run_name}_{index}"
        trial = Trial(name, index, dict(params))
        self.trials[name] = trial
        self.histories[name] = []
        shown = _shown(params)
        try:
            assert self.submitter is not None
            self.submitter.submit(self._trial_spec(name, params))
        except Exception as exc:  # noqa: BLE001 - a trial that cannot start is a failed trial
            trial.status = "Failed"
            self._finished += 1
            self.say(f"trial {name} ({shown}) could not start: {exc}")
            return trial
        # The trial's hyperparameters are its params (what the compare view and tables show).
        self._store().ingest(name, source="sweep", offset=0, last_seq=0, params=dict(params))
        self.say(f"started {name}: {shown}")
        return trial

    def _refresh(self, sampler: Sampler) -> None:
        """Read the primary metric of active trials; record those that ended."""
        for trial in self.trials.values():
            if trial.status in TERMINAL_STATUSES:
                continue
            run = self._store().get_run(trial.name)
            self.histories[trial.name] = self._history(trial.name)
            if not run.is_terminal:
                trial.status = run.status
                continue
            trial.status = run.status
            self._finished += 1
            values = self.histories[trial.name]
            trial.final = values[-1] if values else None
            sampler.observe(trial.params, trial.final if run.status == "Completed" else None)
            shown = "no value" if trial.final is None else f"{self.metric} {trial.final:g}"
            why = f" ({run.error})" if run.error and run.status != "Completed" else ""
            self.say(f"{trial.name} {run.status.lower()}: {shown}{why}")
            if run.status == "Completed" and trial.final is not None and self._better(trial.final):
                self.best = trial
                self.say(f"best so far: {trial.name} with {self.metric} {trial.final:g}")
            if self.best is not None:
                self._log_best(self.best.final)

    def _history(self, name: str) -> list[float]:
        try:
            return [float(v) for v in self._store().metric_history(name, self.metric).values]
        except Exception:  # noqa: BLE001 - nothing logged yet
            return []

    def _better(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None or self.best.final is None:
            return True
        return value < self.best.final if self.goal == "minimize" else value > self.best.final

    def _log_best(self, value: float | None) -> None:
        if value is None:
            return
        k = self._finished
        self._store().ingest(self.run_name, source="sweep", offset=k, last_seq=k,
                                 scalars={f"best_{self.metric}": ([k], [value], [time.time()])})

    def _cancel(self, name: str, reason: str, *, stopped_early: bool = False) -> None:
        try:
            control.cancel(self._store(), name, reason, stopped_early=stopped_early)
        except InvalidState:
            pass  # it ended meanwhile

    def _cancel_running(self, reason: str) -> None:
        """Cancel every active trial and wait (a while) for them to end."""
        active = [t for t in self.trials.values() if t.status not in TERMINAL_STATUSES]
        for trial in active:
            self._cancel(trial.name, reason)
        deadline = time.monotonic() + TRIAL_END_WAIT_SECONDS
        for trial in active:
            run = watch.wait(self._store(), trial.name, timeout=max(0.0, deadline - time.monotonic()))
            trial.status = run.status
            if run.is_terminal:
                self.say(f"{trial.name} {run.status.lower()}")

    def _record_summary(self) -> None:
        """The best trial and the counts, as the sweep run's properties."""
        store = self._store()
        counts: dict[str, int] = {}
        for t in self.trials.values():
            counts[t.status] = counts.get(t.status, 0) + 1
        best = self.best
        result = SweepResult(counts, best.name, best.final, dict(best.params)) if best is not None \
            else SweepResult(counts)
        store.merge_properties(self.run_name, result.to_properties())
        if self.best is not None:
            self.say(f"best trial: {self.best.name} ({self.metric} {self.best.final:g}; "
                     + _shown(self.best.params) + ")")


def _shown(params: dict[str, Any]) -> str:
    """`lr=0.00112887, optimizer=sgd`: what a log line says of a trial's hyperparameters."""
    return ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
