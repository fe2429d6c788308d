"""The run detail page: a header with the run's state and actions, and the run's tabs.

While the run is active a timer asks for a refresh every 0.5 s; each refresh runs `fetch` in
the background (never two at once) and applies only what is new. Once the run has ended and a
last refresh found nothing more, polling stops.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTabWidget, QToolButton, QVBoxLayout, QWidget

from engine import entities as E
from engine.errors import NotFound
from studio.browsers.runs import open_folder
from studio.errors import show_error
from studio.rundetail.children import ChildrenTab
from studio.rundetail.fetch import DetailUpdate, FetchState, fetch
from studio.rundetail.logs import LogsTab
from studio.rundetail.metrics import MetricsTab
from studio.rundetail.outputs import OutputsTab
from studio.rundetail.overview import OverviewTab
from studio.rundetail.pipelinetab import PipelineTab, is_pipeline
from studio.rundetail.snapshot import SnapshotTab
from studio.rundetail.sweeptab import SweepTab
from studio.rundetail.trials import is_sweep
from studio.style import STATUS_COLORS, fmt_duration, fmt_time, heading, muted, run_duration, run_status_label
from studio.tasks import BackgroundOp

log = logging.getLogger(__name__)

REFRESH_MS = 500
# While the run is active and its charts are on screen: a logged value shows within ~250 ms
# (the script flushes every 0.1 s, the supervisor ingests every 0.1 s, this reads every 0.05 s:
# an incremental read of the points since the last one, off the GUI thread).
LIVE_METRICS_MS = 50
TABS = ("overview", "metrics", "logs", "outputs", "snapshot", "children", "pipeline", "sweep")
# The tabs built after the page is shown, one per turn of the event loop (or at once when used):
# building them all with the page kept the GUI thread busy for over 100 ms on a loaded machine.
LATER_TABS = (("metrics", "Metrics"), ("logs", "Logs"), ("outputs", "Outputs + logs"), ("snapshot", "Snapshot"),
              ("children", "Child runs"))


class RunDetail(QWidget):
    """`back()` asks to return to the list; `loaded()` after the first refresh is shown;
    `openRun(name)` asks to show another run (a parent or child link)."""

    back = Signal()
    loaded = Signal()
    openRun = Signal(str)
    openAsset = Signal(str, str, int)  # a data asset or model the Overview links to

    def __init__(self, engine: Any, bridge: Any, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.bridge = bridge
        self.name = name
        self.run: E.Run | None = None
        self._state = FetchState(name)
        self._busy = False
        self._ready = False
        self._requested_plots: set[str] = set()
        self._filled_plots: set[str] = set()
        self._has_scalars = False
        self._quiet_terminal_passes = 0
        self._last_error = ""
        self.pipeline: PipelineTab | None = None  # a pipeline run's graph, the first tab
        self.sweep: SweepTab | None = None  # a sweep run's trials analysed, after Child runs
        self._wanted_tab: str | None = None

        lay = QVBoxLayout(self)
        lay.setContentsMargins(20, 12, 20, 12)
        lay.setSpacing(8)
        top = QHBoxLayout()
        self.back_button = QToolButton()
        self.back_button.setText("‹  Runs")
        self.back_button.setAutoRaise(True)
        self.back_button.setToolTip("Back to the list of runs")
        self.back_button.clicked.connect(self.back)
        top.addWidget(self.back_button)
        top.addStretch(1)
        self.cancel_button = QPushButton("Cancel run")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        top.addWidget(self.cancel_button)
        self.folder_button = QPushButton("Open run folder")
        self.folder_button.setEnabled(False)
        self.folder_button.clicked.connect(lambda: self.run and open_folder(self, self.run.run_dir))
        top.addWidget(self.folder_button)
        lay.addLayout(top)

        title_row = QHBoxLayout()
        title_row.setSpacing(14)
        self.title = heading(name, 1.6)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        title_row.addWidget(self.title)
        self.status_label = QLabel()
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        f = self.status_label.font()
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.status_label.setFont(f)
        title_row.addWidget(self.status_label)
        title_row.addStretch(1)
        lay.addLayout(title_row)
        self.subtitle = muted(QLabel())
        lay.addWidget(self.subtitle)
        lay.addSpacing(4)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.overview = OverviewTab(engine)
        self.tabs.addTab(self.overview, "Overview")
        self._built: dict[str, QWidget] = {}
        self._unbuilt: dict[str, QWidget] = {}
        for key, label in LATER_TABS:
            self._unbuilt[key] = QWidget()
            self.tabs.addTab(self._unbuilt[key], label)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.overview.openRun.connect(self.openRun)
        self.overview.openAsset.connect(self.openAsset)
        self.overview.showLog.connect(self.show_log)
        lay.addWidget(self.tabs, 1)
        QTimer.singleShot(0, self, self._build_next_tab)

        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        # The header's duration of a running run ticks every second without a store read.
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._update_header)
        bridge.runsChanged.connect(self._on_runs_changed)
        self.refresh()
        self._timer.start()

    # ---------------------------------------------------------------- tabs built later
    @property
    def metrics(self) -> MetricsTab:
        return self._tab("metrics")  # type: ignore[return-value]

    @property
    def logs(self) -> LogsTab:
        return self._tab("logs")  # type: ignore[return-value]

    @property
    def outputs(self) -> OutputsTab:
        return self._tab("outputs")  # type: ignore[return-value]

    @property
    def snapshot(self) -> SnapshotTab:
        return self._tab("snapshot")  # type: ignore[return-value]

    @property
    def child_runs(self) -> ChildrenTab:
        return self._tab("children")  # type: ignore[return-value]

    def _make_tab(self, key: str) -> QWidget:
        engine, bridge, name = self.engine, self.bridge, self.name
        if key == "metrics":
            metrics = MetricsTab()
            metrics.needsData.connect(self._resume)
            return metrics
        if key == "logs":
            return LogsTab(engine, name)
        if key == "outputs":
            return OutputsTab(engine, bridge, name)
        if key == "snapshot":
            return SnapshotTab(engine, name)
        children = ChildrenTab(engine, bridge, name)
        children.openRun.connect(self.openRun)
        children.countChanged.connect(self._children_counted)
        return children

    def _tab(self, key: str) -> QWidget:
        """Tab `key`, built now (in place of the empty widget that held its place) if it was not yet."""
        widget = self._built.get(key)
        if widget is None:
            widget = self._built[key] = self._make_tab(key)
            stand_in = self._unbuilt.pop(key)
            index = self.tabs.indexOf(stand_in)
            current = self.tabs.currentIndex() == index
            self.tabs.blockSignals(True)  # the same tab stays chosen: nothing to announce
            self.tabs.insertTab(index, widget, self.tabs.tabText(index))
            self.tabs.removeTab(index + 1)
            if current:
                self.tabs.setCurrentIndex(index)
            self.tabs.blockSignals(False)
            stand_in.deleteLater()
            if self.run is not None and key in ("logs", "outputs", "snapshot"):
                widget.set_run(self.run)  # type: ignore[attr-defined]
        return widget

    def _build_next_tab(self) -> None:
        key = next((k for k, _label in LATER_TABS if k not in self._built), None)
        if key is not None:
            self._tab(key)
            QTimer.singleShot(0, self, self._build_next_tab)

    def _tab_changed(self, index: int) -> None:
        for key, empty in list(self._unbuilt.items()):
            if self.tabs.indexOf(empty) == index:
                self._tab(key)
        self._pick_interval()

    # ---------------------------------------------------------------- public
    def is_ready(self) -> bool:
        """True once the run is shown and every chart created so far holds its points (the first read
        only learns which metrics exist; their charts are filled by the next)."""
        if not self._ready or not set(self.metrics.plots) <= self._filled_plots:
            return False
        if self.pipeline is not None and self.pipeline.model is None:
            return False  # a pipeline's graph is read after the run
        if self.sweep is not None and self.tabs.currentWidget() is self.sweep and self.sweep.analysis is None:
            return False  # a sweep's analysis is read after the run
        # Charts are made once the tab is laid out: until then the Metrics tab is not ready either.
        return self.tabs.currentWidget() is not self.metrics or not self._has_scalars or bool(self.metrics.plots)

    def is_polling(self) -> bool:
        return self._timer.isActive()

    def show_tab(self, name: str) -> None:
        tabs = dict(zip(TABS, (self.overview, self.metrics, self.logs, self.outputs, self.snapshot,
                               self.child_runs, self.pipeline, self.sweep), strict=True))
        widget = tabs[name]
        self._wanted_tab = name if widget is None else None  # a sweep's tab: shown once it is known to be one
        if widget is not None:
            self.tabs.setCurrentWidget(widget)

    def refresh(self) -> None:
        if self._busy:
            return
        self._busy = True
        state = self._state
        # What the charts and tables already hold: the fetch reads only what comes after.
        metrics = self._built.get("metrics")
        state.metric_counts = metrics.point_counts() if isinstance(metrics, MetricsTab) else {}
        self._requested_plots = set(state.metric_counts)
        state.object_counts = metrics.object_counts() if isinstance(metrics, MetricsTab) else {}
        engine = self.engine
        BackgroundOp(self, lambda: fetch(engine, state)).success(self._apply).failure(self._failed).run()

    def cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        engine, name = self.engine, self.name
        (BackgroundOp(self, lambda: engine.cancel(name), serial=True)
         .success(lambda _run: (self.bridge.poke(), self._resume()))
         .failure(lambda exc: (show_error(self, exc), self._update_header()))
         .with_progress(f"Canceling {name}…")
         .run())

    def stop(self) -> None:
        self._timer.stop()
        self._clock.stop()
        for key in ("logs", "outputs"):
            tab = self._built.get(key)
            if tab is not None:
                tab.stop()  # type: ignore[attr-defined]
        if self.pipeline is not None:
            self.pipeline.stop()

    def show_log(self, rel: str) -> None:
        """The Logs tab showing log file `rel` (relative to the run folder)."""
        self.logs.select_source(rel)
        self.show_tab("logs")

    def _add_pipeline_tab(self) -> None:
        """A pipeline run opens on its graph."""
        self.pipeline = PipelineTab(self.engine, self.bridge, self.name)
        self.pipeline.openRun.connect(self.openRun)
        self.tabs.insertTab(0, self.pipeline, "Pipeline")
        self.tabs.setCurrentWidget(self.pipeline)

    def _children_counted(self, n: int) -> None:
        index = self.tabs.indexOf(self.child_runs)
        self.tabs.setTabText(index, f"Child runs ({n:,})" if n else "Child runs")

    # ---------------------------------------------------------------- updates
    def _resume(self) -> None:
        self._quiet_terminal_passes = 0
        if not self._timer.isActive():
            self._timer.start()
        self.refresh()

    def _on_runs_changed(self, runs: list[E.Run]) -> None:
        if not self._timer.isActive() and any(r.name == self.name for r in runs):
            self._resume()

    def _failed(self, exc: BaseException) -> None:
        self._busy = False
        text = str(exc)
        if isinstance(exc, NotFound):
            self.stop()
        if text != self._last_error:
            self._last_error = text
            if isinstance(exc, NotFound) or not self._ready:
                show_error(self, exc)
            else:
                log.warning("refreshing run %s failed: %s", self.name, text)

    def _apply(self, update: DetailUpdate) -> None:
        self._busy = False
        self._filled_plots = self._requested_plots
        self._last_error = ""
        run = self.run = update.run
        self._update_header()
        self.overview.set_run(run)
        self.overview.set_metrics(update.summaries)
        self._has_scalars = any(m.kind == "scalar" for m in update.summaries)
        self.metrics.set_run_dir(run.run_dir)
        self.metrics.apply(update)
        # These tabs read their own files (only while shown); they only need the run's state.
        for tab in (self.logs, self.outputs, self.snapshot):
            tab.set_run(run)
        if self.pipeline is None and is_pipeline(run):
            self._add_pipeline_tab()
        if self.pipeline is not None:
            self.pipeline.set_run(run)
        if self.sweep is None and is_sweep(run):
            self.sweep = SweepTab(self.engine, self.bridge, self.name)
            self.sweep.openRun.connect(self.openRun)
            self.tabs.addTab(self.sweep, "Sweep analysis")
            if self._wanted_tab == "sweep":
                self.tabs.setCurrentWidget(self.sweep)
        self.metrics.set_finished(run.is_terminal)
        self._pick_interval()
        if run.is_terminal:
            self._clock.stop()
            # One more refresh after the end picks up the last metrics and log lines.
            if not update.has_news:
                self._quiet_terminal_passes += 1
            if self._quiet_terminal_passes >= 2:
                self._timer.stop()
        elif not self._clock.isActive():
            self._clock.start()
        if not self._ready:
            self._ready = True
            self.loaded.emit()

    def _pick_interval(self) -> None:
        live = (self.run is not None and not self.run.is_terminal
                and self.tabs.currentWidget() is self._built.get("metrics"))
        self._timer.setInterval(LIVE_METRICS_MS if live else REFRESH_MS)

    def _update_header(self) -> None:
        run = self.run
        if run is None:
            return
        self.title.setText(run.display_name or run.name)
        color = STATUS_COLORS.get(run.status, "#9aa0a6")
        self.status_label.setText(f"<span style='color:{color}'>●</span>&nbsp;{run_status_label(run)}")
        bits = [f"Experiment {run.experiment_name}", f"compute {run.compute}"]
        if run.start_time:
            bits.append(f"started {fmt_time(run.start_time).replace('Today ', 'today at ')}")
            bits.append(("ran " if run.is_terminal else "running for ")
                        + fmt_duration(run_duration(run.start_time, run.end_time)))
        if run.display_name != run.name:
            bits.append(run.name)
        self.subtitle.setText("  ·  ".join(bits))
        self.cancel_button.setEnabled(not run.is_terminal and not run.cancel_requested)
        self.cancel_button.setVisible(not run.is_terminal)
        self.folder_button.setEnabled(True)
