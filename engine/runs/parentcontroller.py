"""What the detached processes that own a parent run share (a sweep's controller, a pipeline's
controller): the launch spec they were started with, a driver log of what they did (what
`job stream` and the Logs tab show), a diagnosis log for their own failures, the workspace's store
and a Submitter for the child runs, and a cancel reason set by SIGTERM/SIGINT or by the user's
cancel request in the store."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import IO

from engine.entities import USER_CANCEL
from engine.runs.submit import Submitter
from engine.runtime.files import RunFiles
from engine.runtime.launchspec import read_spec
from engine.snapshots import SnapshotStore
from engine.store import Store, open_store
from engine.workspace import resolve_workspace

CANCEL_CHECK_SECONDS = 1.0  # how often the store is asked whether the user canceled the run


class ParentController:
    def __init__(self, run_dir: Path) -> None:
        self.files = RunFiles(run_dir)
        self.spec = read_spec(self.files.spec)
        self.run_name = self.spec.run_name
        self.cancel_reason: str | None = None
        self.store: Store | None = None
        self.submitter: Submitter | None = None
        self._log_file: IO[str] | None = None
        self._next_cancel_check = 0.0

    def say(self, msg: str) -> None:
        """One line in the run's driver log."""
        if self._log_file is None:
            self.files.system_logs.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.files.driver_log, "a", buffering=1)  # noqa: SIM115
        self._log_file.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _diagnose(self, msg: str) -> None:
        with open(self.files.supervisor_log, "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {msg}\n")

    def _open(self) -> Store:
        """At the start of run(): cancel on SIGTERM/SIGINT; open the workspace's store and a Submitter."""
        signal.signal(signal.SIGTERM, self._on_sigterm)
        signal.signal(signal.SIGINT, self._on_sigterm)
        location = resolve_workspace(self.spec.workspace).ensure()
        store = self.store = open_store(location.store_url)
        self.submitter = Submitter(store, location, SnapshotStore(location.snapshots_dir))
        return store

    def _store(self) -> Store:
        assert self.store is not None, "run() opens the store"
        return self.store

    def _on_sigterm(self, _signum: int, _frame: object) -> None:
        self.cancel_reason = self.cancel_reason or USER_CANCEL

    def _check_cancel_request(self, now: float) -> None:
        """Once a second: a cancel the user asked for in the store becomes the cancel reason."""
        if now >= self._next_cancel_check:
            self._next_cancel_check = now + CANCEL_CHECK_SECONDS
            if self._store().get_run(self.run_name).cancel_requested:
                self.cancel_reason = self.cancel_reason or USER_CANCEL
