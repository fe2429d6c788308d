"""The one sanctioned way to run work off the GUI thread.

    BackgroundOp(parent, fn).success(on_done).failure(on_error).run()

`fn` runs on a QThreadPool worker; `on_done(result)` / `on_error(exc)` run on the GUI thread.
Without a failure callback, errors go to `show_error`. If `parent` is destroyed before the work
finishes, the callbacks are dropped (the result belongs to a widget that no longer exists).
Writes (`serial=True`) share one worker so that they reach the store in the order they were
made (Anki's `CollectionOp` does the same).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtWidgets import QMainWindow, QWidget

from studio import errors

log = logging.getLogger(__name__)

_serial_pool: QThreadPool | None = None
_in_flight: set[BackgroundOp] = set()


def serial_pool() -> QThreadPool:
    global _serial_pool
    if _serial_pool is None:
        _serial_pool = QThreadPool()
        _serial_pool.setMaxThreadCount(1)
    return _serial_pool


def wait_all(timeout_ms: int = 5000) -> bool:
    """Wait for queued and running work (at application exit). True when everything finished."""
    ok = QThreadPool.globalInstance().waitForDone(timeout_ms)
    if _serial_pool is not None:
        ok = _serial_pool.waitForDone(timeout_ms) and ok
    return ok


def in_flight() -> int:
    return len(_in_flight)


class _Relay(QObject):
    """One for the whole application, on the GUI thread: a worker's emit reaches `_deliver` queued.

    Never deleted: a relay per operation, deleted once delivered, could be freed by the GUI thread
    while the worker was still inside `emit()` (a crash seen with 10 runs ending at once)."""

    finished = Signal(object, object, object)

    def __init__(self) -> None:
        super().__init__()
        self.finished.connect(self._deliver)

    @Slot(object, object, object)
    def _deliver(self, op: Any, result: Any, exc: Any) -> None:
        op._deliver(result, exc)


_relay: _Relay | None = None


def _the_relay() -> _Relay:
    global _relay
    if _relay is None:
        _relay = _Relay()
    return _relay


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], op: BackgroundOp, relay: _Relay) -> None:
        super().__init__()
        self._fn = fn
        self._op = op
        self._relay = relay

    def run(self) -> None:
        try:
            result, exc = self._fn(), None
        except BaseException as e:  # noqa: BLE001 - delivered to the failure callback
            result, exc = None, e
        op, self._op, self._fn = self._op, None, None
        self._relay.finished.emit(op, result, exc)


class BackgroundOp:
    """Run `fn()` in the background; deliver its result or exception on the GUI thread."""

    def __init__(self, parent: QObject | None, fn: Callable[[], Any], *, serial: bool = False) -> None:
        self._parent = parent
        self._fn = fn
        self._serial = serial
        self._on_success: Callable[[Any], None] | None = None
        self._on_failure: Callable[[BaseException], None] | None = None
        self._progress: str | None = None

    def success(self, cb: Callable[[Any], None]) -> BackgroundOp:
        self._on_success = cb
        return self

    def failure(self, cb: Callable[[BaseException], None]) -> BackgroundOp:
        self._on_failure = cb
        return self

    def with_progress(self, label: str) -> BackgroundOp:
        """Show `label` in the window's status bar while the work runs."""
        self._progress = label
        return self

    def run(self) -> BackgroundOp:
        relay = _the_relay()  # created here, on the GUI thread, the first time
        _in_flight.add(self)
        if self._progress:
            bar = self._status_bar()
            if bar is not None:
                bar.showMessage(self._progress)
        pool = serial_pool() if self._serial else QThreadPool.globalInstance()
        pool.start(_Job(self._fn, self, relay))
        return self

    def _status_bar(self) -> Any:
        parent = self._parent
        if isinstance(parent, QWidget) and shiboken6.isValid(parent):
            window = parent.window()
            if isinstance(window, QMainWindow):
                return window.statusBar()
        return None

    def _deliver(self, result: Any, exc: BaseException | None) -> None:
        _in_flight.discard(self)
        if self._parent is not None and not shiboken6.isValid(self._parent):
            return
        if self._progress:
            bar = self._status_bar()
            if bar is not None and bar.currentMessage() == self._progress:
                bar.clearMessage()
        if exc is None:
            if self._on_success is not None:
                self._on_success(result)
            return
        if self._on_failure is not None:
            self._on_failure(exc)
        else:
            widget = self._parent if isinstance(self._parent, QWidget) else None
            errors.show_error(widget, exc)  # looked up now: the presenter can be swapped (tests)


class Reloader(QObject):
    """Keeps what a widget shows fresh without loading it twice at once or while no one looks.

    `load()` runs in the background and `loaded(result)` (or `failed(exc)`) on the GUI thread. A
    `refresh()` asked for while a load runs is done when it ends; `changed()` (the data changed)
    reloads now if the widget is shown, else when it is next shown."""

    def __init__(self, widget: QWidget, load: Callable[[], Any], loaded: Callable[[Any], None],
                 failed: Callable[[BaseException], None]) -> None:
        super().__init__(widget)
        self._widget, self._load, self._loaded, self._failed = widget, load, loaded, failed
        self.busy = False
        self.stale = True
        widget.installEventFilter(self)

    def refresh(self) -> None:
        if self.busy:
            self.stale = True
            return
        self.busy, self.stale = True, False
        BackgroundOp(self._widget, self._load).success(self._done).failure(self._fail).run()

    def changed(self) -> None:
        self.stale = True
        if self._widget.isVisible():
            self.refresh()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._widget and event.type() == QEvent.Type.Show and self.stale:
            self.refresh()
        return False

    def _done(self, result: Any) -> None:
        self.busy = False
        self._loaded(result)
        if self.stale and self._widget.isVisible():
            self.refresh()

    def _fail(self, exc: BaseException) -> None:
        self.busy = False
        self._failed(exc)
