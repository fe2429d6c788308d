"""The Overview tab: what ran, where, from which code, and how it ended.

Most of it comes from the run record the page already has; what needs a file read (the
environment's kind, whether a build log exists, the snapshot's size) is loaded off the GUI thread
when the run is first shown and whenever its status changes. A sweep run gets a Sweep section
(its settings, its trials and the best one; while it runs, its trials are read again every few
seconds); a trial links to its sweep.
"""

from __future__ import annotations

import html
import json
import logging
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from engine.runtime import sweepresults
from engine.runtime.launchspec import CODE_DIR
from studio.rundetail.logtail import BUILD_LOG_REL, DRIVER_LOG_REL, SUPERVISOR_LOG_REL
from studio.rundetail.sweepfacts import describe_best, sweep_values
from studio.rundetail.timeline import RunSummaryPanel
from studio.rundetail.trials import Children, is_sweep, load_children, trial_counts
from studio.style import (
    STATUS_COLORS,
    fmt_duration,
    fmt_size,
    fmt_time_full,
    fmt_value,
    heading,
    mono_font,
    plural,
    run_duration,
    run_status_label,
)
from studio.tasks import BackgroundOp

log = logging.getLogger(__name__)

# (key, title); a key starting with '#' is a section heading.
FIELDS = (
    ("#run", "Run"),
    ("status", "Status"), ("name", "Run name"), ("display_name", "Display name"), ("experiment", "Experiment"),
    ("parent", "Parent run"), ("sweep_of", "Sweep"), ("description", "Description"),
    ("created", "Created"), ("started", "Started"), ("ended", "Ended"), ("duration", "Duration"),
    ("exit_code", "Exit code"), ("error", "Error"), ("next", ""),
    ("#sweep", "Sweep"),
    ("sweep_sampling", "Sampling"), ("sweep_space", "Search space"), ("sweep_objective", "Objective"),
    ("sweep_limits", "Limits"), ("sweep_termination", "Early termination"), ("sweep_trials", "Trials"),
    ("sweep_best", "Best trial"),
    ("#code", "Code and environment"),
    ("command", "Command"), ("arguments", "Arguments"), ("environment", "Environment"), ("compute", "Compute"),
    ("git", "Git"), ("snapshot", "Snapshot"),
    ("#inputs", "Inputs and parameters"),
    ("data_inputs", "Data inputs"), ("data_outputs", "Data outputs"),
    ("inputs", "Inputs"), ("params", "Parameters"), ("tags", "Tags"), ("properties", "Properties"),
)
MONO = {"command", "arguments", "snapshot", "inputs", "params", "tags", "properties", "sweep_space"}
ALWAYS_SHOWN = {"status", "name", "experiment", "created", "compute", "command"}
RICH = {"status", "parent", "environment", "next", "sweep_of", "sweep_best", "data_inputs",
        "data_outputs"}  # with colour or links
WRAPPED = {"error", "description"}  # prose: wrapped, never cut
# Properties Trainyard records for itself that have their own rows (or mean nothing to a user).
HIDDEN_PROPERTIES = {"host", "machine", "interpreter", "source_file", "environment_hash", CODE_DIR}
# What a sweep run records of itself: shown in the Sweep section instead.
SWEEP_PROPERTIES = set(sweepresults.SWEEP_PROPERTY_KEYS)
# A running sweep's trials are read again at most this often (seconds).
SWEEP_REFRESH_S = 2.0
ENV_KINDS = {"user": "user-managed Python", "venv": "pip virtual environment", "conda": "conda",
             "docker": "Docker image"}


def _mapping(d: dict[str, Any]) -> str:
    return "\n".join(f"{k} = {v if isinstance(v, str) else json.dumps(v)}" for k, v in d.items())


def describe_git(git: dict[str, Any] | None) -> str:
    if not git:
        return "Not in a git repository"
    parts = [git.get("remote") or git.get("repository") or ""]
    if git.get("branch"):
        parts.append(f"branch {git['branch']}")
    if git.get("commit"):
        parts.append(f"commit {str(git['commit'])[:10]}")
    text = ", ".join(p for p in parts if p)
    return text + (" (uncommitted changes)" if git.get("dirty") else "")


def field_values(run: E.Run) -> dict[str, str]:
    """Plain text of every field (rich fields are decorated by the tab)."""
    interp = run.properties.get("interpreter")
    env = run.environment or (f"User-managed Python ({interp})" if interp else "")
    status = run_status_label(run)
    if run.cancel_requested and not run.is_terminal:
        status += " (cancel requested)"
    elif run.status == "Queued" and run.properties.get("slurm_reason"):  # why Slurm keeps it waiting
        status += f" in Slurm: {run.properties['slurm_reason']}"
    hidden = HIDDEN_PROPERTIES | (SWEEP_PROPERTIES if is_sweep(run) else set())
    props = {k: v for k, v in run.properties.items() if k not in hidden}
    return {
        "status": status,
        "name": run.name,
        "display_name": run.display_name if run.display_name != run.name else "",
        "experiment": run.experiment_name,
        "parent": run.parent_name or "",
        "description": run.description,
        "created": fmt_time_full(run.created_at),
        "started": fmt_time_full(run.start_time),
        "ended": fmt_time_full(run.end_time),
        "duration": fmt_duration(run_duration(run.start_time, run.end_time)),
        "compute": run.compute + (f" on {run.properties['host']}" if run.properties.get("host") else ""),
        "environment": env,
        "command": run.command or "",
        "arguments": shlex.join(run.arguments) if run.arguments else "",
        "data_inputs": "",  # from the lineage records (RunExtras)
        "data_outputs": "",
        "inputs": _mapping(run.inputs),
        "params": _mapping(run.params),
        "tags": _mapping(run.tags),
        "properties": _mapping(props),
        "git": describe_git(run.git),
        "snapshot": run.snapshot_id or "",
        "exit_code": "" if run.exit_code is None else str(run.exit_code),
        "error": run.error or "",
        "next": _next_step(run),
        "sweep_of": "",  # known once the parent was read (RunExtras.parent_sweep)
        **sweep_values(run),
    }


def _next_step(run: E.Run) -> str:
    """Where to look when a run failed (a link the tab turns into a jump to that log)."""
    if run.status != "Failed":
        return ""
    if run.exit_code is None:  # it never got to run the script
        return (f"The <a href='log:{SUPERVISOR_LOG_REL}'>supervisor log</a> and the "
                f"<a href='log:{BUILD_LOG_REL}'>build log</a> tell what went wrong before the script started.")
    return f"The script's output is in the <a href='log:{DRIVER_LOG_REL}'>driver log</a>."


@dataclass(frozen=True)
class RunExtras:
    """What the Overview reads from files rather than the run record."""

    environment_kind: str | None
    build_log: bool
    snapshot_files: int | None
    snapshot_bytes: int | None
    snapshot_ignored: int | None
    parent_sweep: bool = False  # the run is a trial of its parent, a sweep
    trials: Children | None = None  # a sweep run's trials
    data: tuple[E.RunData, ...] = ()  # the inputs it consumed and the outputs it produced
    producers: dict[tuple[str, str, int], str] | None = None  # (kind, name, version) of an input -> its run


def load_extras(engine: Any, run: E.Run) -> RunExtras:
    kind = None
    if run.environment:
        spec = engine.run_environment(run.name)
        kind = spec.kind if spec is not None else None
    files = size = ignored = None
    if run.snapshot_id:
        try:
            manifest = engine.snapshots.load(run.snapshot_id)
            files, size, ignored = manifest.file_count, manifest.total_bytes, manifest.ignored_count
        except Exception as exc:  # noqa: BLE001 - the row then shows the id alone
            log.warning("reading snapshot %s failed: %s", run.snapshot_id, exc)
    parent_sweep = False
    if run.parent_name:
        try:
            parent_sweep = is_sweep(engine.get_run(run.parent_name))
        except Exception as exc:  # noqa: BLE001 - the row then shows a plain parent link
            log.warning("reading the parent of %s failed: %s", run.name, exc)
    trials = load_children(engine, run.name) if is_sweep(run) else None
    data = tuple(engine.run_data(run.name))
    producers: dict[tuple[str, str, int], str] = {}
    for r in data:
        if r.direction == "input" and r.asset_kind and r.asset_name and r.asset_version is not None:
            try:
                asset = (engine.get_model if r.asset_kind == "model" else engine.get_data_asset)(
                    r.asset_name, r.asset_version)
            except Exception as exc:  # noqa: BLE001 - the row then names the asset without its producer
                log.warning("reading %s %s:%s failed: %s", r.asset_kind, r.asset_name, r.asset_version, exc)
                continue
            if asset.run_name:
                producers[(r.asset_kind, r.asset_name, r.asset_version)] = asset.run_name
    return RunExtras(kind, (Path(run.run_dir) / BUILD_LOG_REL).is_file(), files, size, ignored,
                     parent_sweep, trials, data, producers)


def describe_data(records: tuple[E.RunData, ...], direction: str,
                  producers: dict[tuple[str, str, int], str]) -> str:
    """One line per input (or output), as rich text: the asset it was (a link to it), where it came
    from, and for an input the run that produced that asset (a link)."""
    lines = []
    for r in records:
        if r.direction != direction:
            continue
        name = f"<b>{html.escape(r.name)}</b>"
        what = f"{html.escape(r.type)}, {html.escape(r.mode)}"
        if r.asset_kind and r.asset_name and r.asset_version is not None:
            ref = f"{r.asset_name}:{r.asset_version}"
            link = f"<a href='{r.asset_kind}:{html.escape(ref)}'>azureml:{html.escape(ref)}</a>"
            producer = producers.get((r.asset_kind, r.asset_name, r.asset_version))
            made = f" from run <a href='run:{html.escape(producer)}'>{html.escape(producer)}</a>" if producer else ""
            lines.append(f"{name}: {link} ({what}){made}")
        else:
            lines.append(f"{name}: {html.escape(r.path)} ({what})")
    return "<br>".join(lines)


class ValueLabel(QLabel):
    """A field's value: selectable, each line cut with '…' to the width (full text in the tooltip),
    or wrapped for prose. `text()` is always the full text.

    The Overview sets every value on each refresh of the run (several times a second while it
    runs), and a layout pass asks every label for its size hint: so an unchanged value costs
    nothing, a line is cut once per text and width, and a line far longer than any screen (a huge
    argument list, say) is measured only as far as it can show."""

    def __init__(self, *, wrap: bool = False, rich: bool = False) -> None:
        super().__init__()
        self._full = ""
        self._wrap = wrap
        self._rich = rich
        self._fitted: tuple[str, int, str] | None = None  # (text, width, font) of the shown text
        self._natural: tuple[str, str, int] | None = None  # (text, font, width) for sizeHint
        self.setWordWrap(wrap)
        self.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | (Qt.TextInteractionFlag.LinksAccessibleByMouse if rich
                                        else Qt.TextInteractionFlag.NoTextInteraction))
        self.setSizePolicy(QSizePolicy.Policy.Ignored if not (wrap or rich) else QSizePolicy.Policy.Preferred,
                           QSizePolicy.Policy.Preferred)

    def text(self) -> str:  # type: ignore[override]
        return self._full

    def setText(self, text: str) -> None:  # type: ignore[override]
        if text == self._full and self._fitted is not None:
            return  # unchanged: no new layout pass for the whole form
        self._full = text
        self._fit()

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return hint if self._wrap or self._rich else QSize(40, hint.height())

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        if self._wrap or self._rich:
            return hint
        font = self.font().key()
        if self._natural is None or self._natural[:2] != (self._full, font):
            fm = self.fontMetrics()
            width = max((fm.horizontalAdvance(_measured(line, fm, MAX_NATURAL_WIDTH))
                         for line in self._full.split("\n")), default=0)
            self._natural = (self._full, font, width)
        return QSize(self._natural[2] + 4, hint.height())

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._wrap or self._rich:
            self._fitted = (self._full, 0, "")
            if super().text() != self._full:
                super().setText(self._full)
            return
        width = max(self.width() - 2, 20)
        key = (self._full, width, self.font().key())
        if self._fitted == key:
            return
        self._fitted = key
        fm = self.fontMetrics()
        shown = "\n".join(fm.elidedText(_measured(line, fm, width), Qt.TextElideMode.ElideRight, width)
                           for line in self._full.split("\n"))
        if shown != super().text():
            super().setText(shown)
        self.setToolTip(self._full if shown != self._full else "")


# No label is wider than this (pixels): its natural width is not measured beyond it.
MAX_NATURAL_WIDTH = 8000


def _measured(line: str, fm: Any, width: int) -> str:
    """`line`, or a prefix of it already wider than `width`: cutting that prefix to `width` shows
    what cutting the whole line shows, without shaping thousands of characters nobody sees."""
    limit = max(64, 2 * width // max(fm.averageCharWidth(), 1))
    while len(line) > limit:
        prefix = line[:limit]
        if fm.horizontalAdvance(prefix) > width:
            return prefix
        limit *= 4
    return line


class OverviewTab(QScrollArea):
    """`openRun(name)` for the parent run link; `showLog(relpath)` for the build/driver log links."""

    openRun = Signal(str)
    showLog = Signal(str)
    openAsset = Signal(str, str, int)  # kind ("data" or "model"), name, version

    def __init__(self, engine: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.run: E.Run | None = None
        self.extras: RunExtras | None = None
        self._extras_for: tuple[str, str, int] | None = None
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        outer = QHBoxLayout(body)
        outer.setContentsMargins(16, 14, 16, 14)
        outer.setSpacing(28)

        left = QVBoxLayout()
        left.setSpacing(10)  # nested layouts would inherit the wide column gap
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setHorizontalSpacing(16)
        self.form.setVerticalSpacing(7)
        self.values: dict[str, ValueLabel] = {}
        self.sections: dict[str, QLabel] = {}
        for key, title in FIELDS:
            if key.startswith("#"):
                section = heading(title, 1.15)
                if self.sections:
                    section.setContentsMargins(0, 12, 0, 0)
                self.sections[key] = section
                self.form.addRow(section)
                continue
            name = QLabel(title)
            pal = name.palette()
            pal.setColor(QPalette.ColorRole.WindowText, pal.color(QPalette.ColorRole.PlaceholderText))
            name.setPalette(pal)
            value = ValueLabel(wrap=key in WRAPPED, rich=key in RICH)
            value.setObjectName(f"overview-{key}")
            if key in MONO:
                value.setFont(mono_font())
            value.linkActivated.connect(self._link)
            self.values[key] = value
            self.form.addRow(name, value)
        err = self.values["error"]
        pal = err.palette()
        pal.setColor(QPalette.ColorRole.WindowText, QColor(STATUS_COLORS["Failed"]))
        err.setPalette(pal)
        left.addLayout(self.form)
        left.addStretch(1)
        outer.addLayout(left, 3)

        right = QVBoxLayout()
        right.setSpacing(10)
        self.summary = RunSummaryPanel(engine)  # the status timeline and key-metric sparklines
        right.addWidget(self.summary)
        right.addSpacing(8)
        right.addWidget(heading("Latest metrics", 1.15))
        self.metrics = QTableWidget(0, 5)
        self.metrics.setHorizontalHeaderLabels(["Metric", "Last", "Min", "Max", "Points"])
        self.metrics.verticalHeader().setVisible(False)
        self.metrics.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.metrics.setAlternatingRowColors(True)
        self.metrics.setShowGrid(False)
        self.metrics.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, 5):
            self.metrics.horizontalHeader().setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.metrics.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
        self.no_metrics = QLabel("This run has not logged any metrics.")
        self.no_metrics.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        right.addWidget(self.metrics)
        right.addWidget(self.no_metrics)
        right.addStretch(1)
        outer.addLayout(right, 2)
        self.setWidget(body)

    # ---------------------------------------------------------------- run record
    def set_run(self, run: E.Run) -> None:
        self.run = run
        self.summary.set_run(run)
        self._show(run, self.extras)
        self.values["name"].setToolTip(str(Path(run.run_dir)))
        # A running sweep's trials change without its own status changing: read them every few seconds.
        tick = int(time.monotonic() // SWEEP_REFRESH_S) if is_sweep(run) and not run.is_terminal else 0
        if self.engine is not None and self._extras_for != (run.name, run.status, tick):
            self._extras_for = (run.name, run.status, tick)
            engine = self.engine
            (BackgroundOp(self, lambda: load_extras(engine, run))
             .success(self._extras_loaded)
             .failure(lambda exc: log.warning("reading details of %s failed: %s", run.name, exc))
             .run())

    def _extras_loaded(self, extras: RunExtras) -> None:
        self.extras = extras
        if self.run is not None:
            self._show(self.run, extras)

    def _show(self, run: E.Run, extras: RunExtras | None) -> None:
        """Every row's final text and visibility, each set once: the form is laid out again only
        when one of them changed (this runs on each refresh of a running run)."""
        values = field_values(run)
        texts = dict(values)
        visible = {key: bool(text) or key in ALWAYS_SHOWN for key, text in values.items()}
        color = STATUS_COLORS.get(run.status, "#9aa0a6")
        texts["status"] = f"<span style='color:{color}'>●</span>&nbsp;{html.escape(values['status'])}"
        if run.parent_name:
            texts["parent"] = f"<a href='run:{html.escape(run.parent_name)}'>{html.escape(run.parent_name)}</a>"
        self._extras_texts(run, extras, texts, visible)
        self._sweep_texts(run, extras, texts, visible)
        for key, text in texts.items():
            if key != "sweep_of" or visible[key]:  # a trial's sweep link, kept while hidden
                self.values[key].setText(text)
            self.form.setRowVisible(self.values[key], visible[key])
        self.form.setRowVisible(self.sections["#inputs"],
                                any(values[k] for k in ("inputs", "params", "tags", "properties"))
                                or visible["data_inputs"] or visible["data_outputs"])
        self.form.setRowVisible(self.sections["#sweep"], is_sweep(run))
        self.values["snapshot"].setToolTip(run.snapshot_id or "")

    @staticmethod
    def _extras_texts(run: E.Run, extras: RunExtras | None, texts: dict[str, str],
                      visible: dict[str, bool]) -> None:
        env = html.escape(texts["environment"])
        snap = (run.snapshot_id[:16] + "…") if run.snapshot_id else ""
        if extras is not None:
            bits = [env] if env else []
            if extras.environment_kind:
                bits.append(ENV_KINDS.get(extras.environment_kind, extras.environment_kind))
            if extras.build_log:
                bits.append(f"<a href='log:{BUILD_LOG_REL}'>build log</a>")
            env = "  ·  ".join(bits)
            if snap and extras.snapshot_files is not None:
                snap += f"  ·  {plural(extras.snapshot_files, 'file')}, {fmt_size(extras.snapshot_bytes or 0)}"
                if extras.snapshot_ignored:
                    snap += f", {extras.snapshot_ignored:,} ignored"
        texts["environment"], visible["environment"] = env, bool(env)
        texts["snapshot"] = snap
        for key, direction in (("data_inputs", "input"), ("data_outputs", "output")):
            texts[key] = describe_data(extras.data, direction, extras.producers or {}) if extras is not None else ""
            visible[key] = bool(texts[key])

    @staticmethod
    def _sweep_texts(run: E.Run, extras: RunExtras | None, texts: dict[str, str],
                     visible: dict[str, bool]) -> None:
        """A trial's link to its sweep; a sweep's trial counts and (while it runs) best trial so far."""
        trial_of = extras is not None and extras.parent_sweep and bool(run.parent_name)
        if trial_of and run.parent_name:
            parent = run.parent_name
            suffix = run.name.removeprefix(f"{parent}_")
            index = f" (trial {suffix})" if suffix != run.name and suffix.isdigit() else ""
            texts["sweep_of"] = f"<a href='run:{html.escape(parent)}'>{html.escape(parent)}</a>{index}"
        visible["sweep_of"] = trial_of
        visible["parent"] = bool(run.parent_name) and not trial_of
        children = extras.trials if extras is not None else None
        if not is_sweep(run) or children is None or children.sweep is None:
            return
        rows, info = children.rows, children.sweep
        if rows:
            texts["sweep_trials"] = f"{plural(len(rows), 'trial')} · {trial_counts([r.run for r in rows])}"
        best = next((r for r in rows if r.run.name == info.best), None)
        if best is not None:
            so_far = "" if run.is_terminal else "  (best so far)"
            texts["sweep_best"] = describe_best(best.run.name, info.metric, best.value, best.run.params) + so_far
        visible["sweep_best"] = bool(texts["sweep_best"])

    def _link(self, href: str) -> None:
        kind, _, target = href.partition(":")
        if kind == "run" and target:
            self.openRun.emit(target)
        elif kind in ("data", "model") and target:
            name, _, version = target.rpartition(":")
            self.openAsset.emit(kind, name, int(version))
        elif kind == "log" and target:
            self.showLog.emit(target)

    # ---------------------------------------------------------------- metrics
    def set_metrics(self, summaries: list[E.MetricSummary]) -> None:
        self.summary.set_metrics(summaries)
        self.metrics.setRowCount(len(summaries))
        for row, s in enumerate(summaries):
            last = fmt_value(s.last_value) if s.kind == "scalar" else s.kind
            cells = [s.key, last, fmt_value(s.min_value), fmt_value(s.max_value), f"{s.count:,}"]
            for col, text in enumerate(cells):
                item = self.metrics.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    self.metrics.setItem(row, col, item)
                item.setText(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.metrics.setVisible(bool(summaries))
        self.no_metrics.setVisible(not summaries)
        # As tall as its rows: the tab scrolls as a whole, the table never scrolls on its own.
        self.metrics.resizeRowsToContents()
        rows = sum(self.metrics.rowHeight(r) for r in range(self.metrics.rowCount()))
        self.metrics.setFixedHeight(self.metrics.horizontalHeader().sizeHint().height() + rows
                                    + 2 * self.metrics.frameWidth() + 2)
