"""Ending runs: the cancel request, and the supervisors that died without ending theirs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine import entities as E
from engine.compute.procs import is_same_process_alive
from engine.errors import InvalidState
from engine.runs.heartbeat import ENV_HEARTBEAT_TIMEOUT, beat_timeout, beats_in
from engine.runs.launch import start_supervisor
from engine.runtime.files import RunFiles
from engine.runtime.host import host_properties, runs_here
from engine.runtime.pipelineplan import PIPELINE_PROPERTY
from engine.runtime.sweepresults import is_sweep, stopped_early_properties

if TYPE_CHECKING:
    from engine.store.protocol import Store

__all__ = ["QUEUED_GRACE_SECONDS", "cancel", "fail_if_orphaned", "reconcile"]

# A run still Queued with no supervisor after this long never started.
QUEUED_GRACE_SECONDS = 60.0


def cancel(store: Store, name: str, reason: str | None = None, *, stopped_early: bool = False) -> E.Run:
    """Ask the supervisor to end the run's whole process tree (TERM, then KILL). `reason`
    replaces "canceled by the user" as the run's error; `stopped_early` marks a sweep trial its
    early-termination policy stopped (engine.runtime.sweepresults).

    The store's flag reaches any supervisor (it looks every CANCEL_CHECK_SECONDS), also one on
    another machine of a team workspace; one of this machine is also signalled, to end at once.
    Another machine's pid is never signalled here: it may be an unrelated process of this one."""
    run = store.request_cancel(name, reason)
    if stopped_early:
        store.merge_properties(name, stopped_early_properties({}))
    pid = run.supervisor_pid
    if pid and runs_here(run.properties) and is_same_process_alive(pid, None):
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass
    return run


def fail_if_orphaned(store: Store, run: E.Run) -> None:
    """Fail `run` if its supervisor is gone: a dead pid on this machine, or a heartbeat older
    than the timeout on another (engine.runs.heartbeat)."""
    if run.supervisor_pid and not run.is_terminal:
        reconcile(store, only=run.name)


def reconcile(store: Store, only: str | None = None) -> list[str]:
    """Mark Failed the active runs whose supervisor died (an SSH run whose script runs on its host
    gets a new supervisor instead). A supervisor of this machine is judged by its pid; one of
    another machine (a team workspace) by its heartbeat, never by a pid. Returns the names of
    the runs marked Failed."""
    failed = []
    runs = [store.get_run(only)] if only else store.list_runs(statuses=E.ACTIVE_STATUSES, include_archived=True)
    runs = [r for r in runs if not r.is_terminal]
    remote = [r.name for r in runs if not runs_here(r.properties)]
    ages = store.beat_ages(remote) if remote else {}
    for run in runs:
        if runs_here(run.properties):
            reason = _orphaned_here(store, run)
        else:
            reason = _orphaned_elsewhere(store, run, ages.get(run.name))
        if reason is None:
            continue
        controlled = (
            "sweep" if is_sweep(run.properties) else "pipeline" if PIPELINE_PROPERTY in run.properties else None
        )
        if controlled:
            reason = reason.replace("the run's supervisor", f"the {controlled}'s controller")
        # The cancel flag too: should the supervisor only have lost touch (another machine cut off
        # from the database), it ends the script as soon as it reads the store again.
        if store.set_status(run.name, "Failed", error=reason, cancel_requested=True):
            failed.append(run.name)
            if controlled:
                _cancel_orphaned_children(store, run.name, controlled)
    return failed


def _orphaned_here(store: Store, run: E.Run) -> str | None:
    """Why a run of this machine is orphaned (its supervisor's pid is gone), or None."""
    if run.supervisor_pid is None:
        if time.time() - run.created_at > QUEUED_GRACE_SECONDS:
            return "the run never started: its supervisor was not launched"
        return None
    if is_same_process_alive(run.supervisor_pid, store.supervisor_started(run.name)):
        return None
    # Re-read: the supervisor may have finished the run just now.
    if store.get_run(run.name).is_terminal:
        return None
    if _reattach(store, run):
        return None
    return (f"the run's supervisor process (pid {run.supervisor_pid}) died; "
            f"see {Path(run.run_dir) / 'supervisor.log'}")


def _orphaned_elsewhere(store: Store, run: E.Run, age: float | None) -> str | None:
    """Why a run of another machine is orphaned (its supervisor stopped beating), or None."""
    host = run.properties.get("host", "another machine")
    timeout = beat_timeout()
    if age is None:
        # Never beat: the submitter died before starting the supervisor (the clocks of the two
        # machines are compared here, hence the margin), or a run from before heartbeats.
        if run.supervisor_pid is None and time.time() - run.created_at > QUEUED_GRACE_SECONDS + timeout:
            return f"the run never started: its supervisor was not launched on {host}"
        return None
    if age <= timeout:
        return None
    if store.get_run(run.name).is_terminal:
        return None
    if _reattach(store, run):  # an SSH run: its script goes on at its host, owned from here now
        return None
    return (f"the run's supervisor process (pid {run.supervisor_pid} on {host}) stopped responding: no "
            f"heartbeat for {age:.0f} s (the limit is {timeout:.0f} s, ${ENV_HEARTBEAT_TIMEOUT}); it or its "
            f"machine died; see {Path(run.run_dir) / 'supervisor.log'}")


def _reattach(store: Store, run: E.Run) -> bool:
    """An SSH run whose script was started on its host (a Slurm run whose job was submitted) goes
    on there when its supervisor dies
    (this machine rebooted, the supervisor was killed): start a new supervisor, which takes the
    run over (engine.runs.supervisor, reattach). False for any other run."""
    # Here, not at the top: a local run's submit and watch do not load the SSH and Slurm run handles.
    from engine.compute.slurm import RUN_STATE as SLURM_RUN_STATE
    from engine.compute.ssh import RUN_STATE, run_lock_held

    files = RunFiles(Path(run.run_dir))
    if not ((files.root / RUN_STATE).exists() or (files.root / SLURM_RUN_STATE).exists()):
        return False
    if run_lock_held(files):  # a supervisor (a reattached one) owns it already
        return True
    pid, started = start_supervisor(files)
    # This machine owns it now (the run was another machine's whose supervisor stopped beating).
    store.merge_properties(run.name, host_properties(), supervisor_pid=pid, supervisor_started=started)
    if beats_in(store.url):
        store.beat(run.name)
    return True


def _cancel_orphaned_children(store: Store, parent: str, kind: str) -> None:
    """A sweep whose controller died can no longer judge or count its trials, a pipeline's can no
    longer pass their outputs on: stop them."""
    for child in store.list_children(parent):
        if not child.is_terminal:
            try:
                cancel(store, child.name, f"its {kind} {parent} failed: the {kind}'s controller died")
            except InvalidState:
                pass  # it ended meanwhile


def requested_cancel(store: Store, name: str) -> str | None:
    """Why run `name` is to be canceled (the canceller's reason, else "canceled by the user"),
    or None: read with the request itself, so a later failed read cannot lose the reason."""
    run = store.get_run(name)
    if not run.cancel_requested:
        return None
    reason = run.properties.get("cancel_reason")
    return reason if isinstance(reason, str) and reason else E.USER_CANCEL
