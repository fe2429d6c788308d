"""Ending runs: the cancel request, and the supervisors that died without ending theirs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine import entities as E
from engine.compute.procs import is_same_process_alive
from engine.compute.ssh import RUN_STATE, run_lock_held
from engine.errors import InvalidState
from engine.runs.launch import start_supervisor, this_host
from engine.runtime.files import RunFiles
from engine.runtime.sweepresults import is_sweep, stopped_early_properties

if TYPE_CHECKING:
    from engine.store.protocol import Store

__all__ = ["QUEUED_GRACE_SECONDS", "cancel", "fail_if_orphaned", "reconcile"]

# A run still Queued with no supervisor after this long never started.
QUEUED_GRACE_SECONDS = 60.0


def cancel(store: Store, name: str, reason: str | None = None, *, stopped_early: bool = False) -> E.Run:
    """Ask the supervisor to end the run's whole process tree (TERM, then KILL). `reason`
    replaces "canceled by the user" as the run's error; `stopped_early` marks a sweep trial its
    early-termination policy stopped (engine.runtime.sweepresults)."""
    run = store.request_cancel(name, reason)
    if stopped_early:
        store.update_run(name, properties=stopped_early_properties(run.properties))
    pid = run.supervisor_pid
    if pid and is_same_process_alive(pid, None):
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass
    return run


def fail_if_orphaned(store: Store, run: E.Run) -> None:
    """Fail `run` if it is this host's and its supervisor is gone."""
    if run.supervisor_pid and run.properties.get("host") == this_host():
        reconcile(store, only=run.name)


def reconcile(store: Store, only: str | None = None) -> list[str]:
    """Mark Failed the active runs of this host whose supervisor died (an SSH run whose script
    runs on its host gets a new supervisor instead). Returns the names of those marked Failed."""
    failed = []
    host = this_host()
    runs = [store.get_run(only)] if only else store.list_runs(statuses=E.ACTIVE_STATUSES, include_archived=True)
    for run in runs:
        if run.is_terminal or run.properties.get("host", host) != host:
            continue
        if run.supervisor_pid is None:
            if time.time() - run.created_at > QUEUED_GRACE_SECONDS:
                reason = "the run never started: its supervisor was not launched"
            else:
                continue
        else:
            if is_same_process_alive(run.supervisor_pid, store.supervisor_started(run.name)):
                continue
            # Re-read: the supervisor may have finished the run just now.
            if store.get_run(run.name).is_terminal:
                continue
            if _reattach(store, run):
                continue
            reason = (f"the run's supervisor process (pid {run.supervisor_pid}) died; "
                      f"see {Path(run.run_dir) / 'supervisor.log'}")
        sweep = is_sweep(run.properties)
        if sweep:
            reason = reason.replace("the run's supervisor", "the sweep's controller")
        if store.set_status(run.name, "Failed", error=reason):
            failed.append(run.name)
            if sweep:
                _cancel_orphaned_trials(store, run.name)
    return failed


def _reattach(store: Store, run: E.Run) -> bool:
    """An SSH run whose script was started on its host goes on there when its supervisor dies
    (this machine rebooted, the supervisor was killed): start a new supervisor, which takes the
    run over (engine.runs.supervisor, reattach). False for any other run."""
    files = RunFiles(Path(run.run_dir))
    if not (files.root / RUN_STATE).exists():
        return False
    if run_lock_held(files):  # a supervisor (a reattached one) owns it already
        return True
    pid, started = start_supervisor(files)
    store.update_run(run.name, supervisor_pid=pid, supervisor_started=started)
    return True


def _cancel_orphaned_trials(store: Store, sweep: str) -> None:
    """A sweep whose controller died can no longer judge or count its trials: stop them."""
    for trial in store.list_children(sweep):
        if not trial.is_terminal:
            try:
                cancel(store, trial.name, f"its sweep {sweep} failed: the sweep's controller died")
            except InvalidState:
                pass  # it ended meanwhile
