"""A supervisor's sign of life, for engines on other machines.

An engine can check the pid of a supervisor of its own machine; a run of a team workspace
(docs/team-workspace.md) may be owned by a supervisor on another machine, whose pid means nothing
here. So every supervisor (and sweep controller) beats in the store every few seconds, by the
database's clock, from a thread of its own (engine.entry starts it), and another machine's engine
judges the run by the age of its last beat (engine.runs.control.reconcile): older than the
timeout, its supervisor (or its machine) is gone.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from engine.errors import NotFound

if TYPE_CHECKING:
    from engine.store.sql import SqlStore

__all__ = ["ENV_HEARTBEAT_SECONDS", "ENV_HEARTBEAT_TIMEOUT", "Heartbeat", "beat_interval", "beat_timeout",
           "beats_in"]

ENV_HEARTBEAT_SECONDS = "TRAINYARD_HEARTBEAT_SECONDS"
ENV_HEARTBEAT_TIMEOUT = "TRAINYARD_HEARTBEAT_TIMEOUT"
DEFAULT_INTERVAL = 10.0
# Well past a few missed beats, a database restart or a busy machine's pauses.
DEFAULT_TIMEOUT = 120.0


def _seconds(var: str, default: float) -> float:
    try:
        value = float(os.environ.get(var) or default)
    except ValueError:
        return default
    return value if value > 0 else default


def beats_in(store_url: str) -> bool:
    """Whether supervisors beat in the store at `store_url`: a database server's, which machines
    share. A SQLite file is one machine's (a team workspace refuses it), where pids suffice."""
    return not store_url.startswith("sqlite")


def beat_interval() -> float:
    """How often a supervisor beats ($TRAINYARD_HEARTBEAT_SECONDS, default 10 s)."""
    return _seconds(ENV_HEARTBEAT_SECONDS, DEFAULT_INTERVAL)


def beat_timeout() -> float:
    """How old another machine's last beat may be before its run counts as orphaned
    ($TRAINYARD_HEARTBEAT_TIMEOUT, default 120 s)."""
    return _seconds(ENV_HEARTBEAT_TIMEOUT, DEFAULT_TIMEOUT)


class Heartbeat:
    """Beats for run `run_name` in the store at `store_url` from a daemon thread until the process
    exits. The first beat waits one interval (the submitter beat at the start), so the store (and
    SQLAlchemy) are not loaded while a supervisor starts its script."""

    def __init__(self, store_url: str, run_name: str, interval: float | None = None) -> None:
        self.store_url = store_url
        self.run_name = run_name
        self.interval = interval or beat_interval()
        self._stop = threading.Event()
        self.last_error: Exception | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"heartbeat-{run_name}")

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        store: SqlStore | None = None
        while not self._stop.wait(self.interval):
            try:
                if store is None:
                    from engine.store.sql import SqlStore  # SQLAlchemy: not before the script started

                    store = SqlStore(self.store_url, migrate=False)
                store.beat(self.run_name)
            except NotFound:  # the run was deleted
                return
            except Exception as exc:  # noqa: BLE001 - the database is unreachable for now: beat again later
                self.last_error = exc
