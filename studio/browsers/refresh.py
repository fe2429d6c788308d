"""Reloading a page off the GUI thread: one load at a time, repeated requests coalesced.

    self.refresher = Refresher(self, load=lambda: engine.list_data_assets(), apply=self._show)
    self.refresher.request()        # now (or right after the load in flight)

With `every_ms`, the page reloads on that interval while it is visible (what another process
changes, e.g. an environment a run's supervisor is building, shows up without a click).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

from studio.errors import one_line
from studio.tasks import BackgroundOp


class Refresher(QObject):
    def __init__(self, page: QWidget, load: Callable[[], Any], apply: Callable[[Any], None],
                 every_ms: int | None = None) -> None:
        super().__init__(page)
        self._page = page
        self._load = load
        self._apply = apply
        self._busy = False
        self._again = False
        self.loaded = False  # at least one load finished (the page has something to show)
        self.error: BaseException | None = None
        self._timer = QTimer(self)
        if every_ms:
            self._timer.setInterval(every_ms)
            self._timer.timeout.connect(self._tick)
            self._timer.start()

    def _tick(self) -> None:
        if self._page.isVisible():
            self.request()

    def request(self) -> None:
        if self._busy:
            self._again = True
            return
        self._busy = True
        BackgroundOp(self._page, self._load).success(self._done).failure(self._failed).run()

    def _done(self, result: Any) -> None:
        self.error = None
        self._apply(result)
        self._finish()

    def _failed(self, exc: BaseException) -> None:
        # A locked or unreachable store: keep what is shown and say so in the status bar once.
        first = self.error is None or str(self.error) != str(exc)
        self.error = exc
        if first:
            window = self._page.window()
            bar = getattr(window, "statusBar", None)
            if callable(bar):
                bar().showMessage(f"Cannot load {self._page.objectName() or 'the page'}: {one_line(exc)}", 10000)
        self._finish()

    def _finish(self) -> None:
        self._busy = False
        self.loaded = True
        if self._again:
            self._again = False
            self.request()
