"""Engine -> Qt: a worker thread polls the store and the GUI thread gets signals.

The engine has no Qt and no callbacks into the GUI; runs are changed by other processes (their
supervisors, the CLI, the SDK). So a poller on its own QThread asks the store every ~0.5 s which
runs changed (`runs_changed_since`), keeps the last version of each, and passes on only those
that really differ. Experiments and models are re-read when they can have changed.
Every signal of `Bridge` is emitted on the GUI thread.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from engine import entities as E

log = logging.getLogger(__name__)

POLL_MS = 500
# A writer stamps `updated_at` with its own clock *before* its transaction commits, and on a busy
# machine (20 supervisors starting on 2 cores) the commit can land many seconds later. So each
# poll asks again for a window before the previous one (repeats are filtered out here); SQLite's
# busy timeout (30 s) bounds how late a commit can be.
OVERLAP_S = 35.0
# Belt and braces: every few seconds the runs still shown as active are re-read outright, so a
# change whose stamp fell outside every window still shows up.
RESYNC_EVERY = 10
# The first poll reports the active runs and this many of the newest ones.
RECENT_RUNS = 500
# Models change only through explicit registration: every few polls is enough.
MODEL_EVERY = 4


class _Poller(QObject):
    """Lives on the bridge's thread; all store reads happen here."""

    runs = Signal(list)
    experiments = Signal(list)
    models = Signal(list)
    loaded = Signal()
    failed = Signal(object)

    def __init__(self, engine: Any, interval_ms: int) -> None:
        super().__init__()
        self._engine = engine
        self._interval = interval_ms
        self._since: float | None = None
        self._known: dict[str, E.Run] = {}
        self._experiments: list[E.Experiment] | None = None
        self._models: list[E.Model] | None = None
        self._tick = 0
        self._last_error = ""
        self._timer: QTimer | None = None

    @Slot()
    def start(self) -> None:
        self._timer = QTimer(self)
        self._timer.setInterval(self._interval)
        self._timer.timeout.connect(self.poll)
        self.poll()
        self._timer.start()

    @Slot()
    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()

    def _resync_active(self, engine: Any) -> list[E.Run]:
        active = engine.list_runs(statuses=E.ACTIVE_STATUSES, include_archived=True)
        seen = {r.name for r in active}
        ended = [engine.get_run(name) for name, r in self._known.items()
                 if not r.is_terminal and name not in seen]
        return active + ended

    @staticmethod
    def _dedupe(runs: Any) -> list[E.Run]:
        """The last version of each run, in first-seen order."""
        by_name: dict[str, E.Run] = {}
        for r in runs:
            by_name[r.name] = r
        return list(by_name.values())

    @Slot()
    def poll(self) -> None:
        engine = self._engine
        try:
            first = self._since is None
            now = time.time()
            if first:  # not every run (there may be 100,000): the table reads its own pages
                fresh = (engine.list_runs(limit=RECENT_RUNS, include_archived=True)
                         + engine.list_runs(statuses=E.ACTIVE_STATUSES, include_archived=True))
            else:
                fresh = engine.runs_changed_since((self._since or now) - OVERLAP_S)
            self._since = now
            if not first and self._tick % RESYNC_EVERY == 0:
                fresh = fresh + self._resync_active(engine)
            changed = [r for r in self._dedupe(fresh) if self._known.get(r.name) != r]
            new_names = any(r.name not in self._known for r in changed)
            for r in changed:
                self._known[r.name] = r
            if changed or first:
                self.runs.emit(changed)
            if first or new_names:
                self._experiments = engine.list_experiments()
                self.experiments.emit(self._experiments)
            if first or self._tick % MODEL_EVERY == 0:
                models = engine.list_models()
                if models != self._models:
                    self._models = models
                    self.models.emit(models)
            self._tick += 1
            if first:
                self.loaded.emit()
            self._last_error = ""
        except Exception as exc:  # noqa: BLE001 - a locked or unreachable store must not end polling
            text = f"{type(exc).__name__}: {exc}"
            if text != self._last_error:  # report each distinct problem once, not twice a second
                self._last_error = text
                log.warning("polling the workspace store failed: %s", text)
                self.failed.emit(exc)


class Bridge(QObject):
    """Signals about the workspace, always on the GUI thread.

    runsChanged(list[Run]): runs that are new or changed since the last emission (the first
    emission holds every active run and the RECENT_RUNS newest ones; a table of all runs reads
    them page by page from the store, see studio.models.runs). experimentsChanged / modelsChanged carry the complete lists.
    """

    runsChanged = Signal(list)
    experimentsChanged = Signal(list)
    modelsChanged = Signal(list)
    loaded = Signal()
    pollFailed = Signal(object)
    _pokeRequested = Signal()
    _stopRequested = Signal()

    def __init__(self, engine: Any, parent: QObject | None = None, interval_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self.engine = engine
        self.is_loaded = False
        self._thread = QThread()
        self._thread.setObjectName("trainyard-bridge")
        self._poller = _Poller(engine, interval_ms)
        self._poller.moveToThread(self._thread)
        self._thread.started.connect(self._poller.start)
        self._poller.runs.connect(self._on_runs)
        self._poller.experiments.connect(self._on_experiments)
        self._poller.models.connect(self._on_models)
        self._poller.loaded.connect(self._on_loaded)
        self._poller.failed.connect(self._on_failed)
        self._pokeRequested.connect(self._poller.poll)
        # The poller's timer must be stopped on its own thread.
        self._stopRequested.connect(self._poller.stop, Qt.ConnectionType.BlockingQueuedConnection)

    def start(self) -> None:
        if not self._thread.isRunning():
            self._thread.start()

    def poke(self) -> None:
        """Poll now (after the studio itself changed something) instead of at the next tick."""
        if self._thread.isRunning():
            self._pokeRequested.emit()

    def stop(self) -> None:
        if self._thread.isRunning():
            self._stopRequested.emit()
            self._thread.quit()
            self._thread.wait()

    @Slot(list)
    def _on_runs(self, runs: list) -> None:
        self.runsChanged.emit(runs)

    @Slot(list)
    def _on_experiments(self, experiments: list) -> None:
        self.experimentsChanged.emit(experiments)

    @Slot(list)
    def _on_models(self, models: list) -> None:
        self.modelsChanged.emit(models)

    @Slot()
    def _on_loaded(self) -> None:
        self.is_loaded = True
        self.loaded.emit()

    @Slot(object)
    def _on_failed(self, exc: object) -> None:
        self.pollFailed.emit(exc)
