"""The Overview tab: what ran, where, from which code, and how it ended."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from studio.style import (
    STATUS_COLORS,
    fmt_duration,
    fmt_time_full,
    fmt_value,
    heading,
    mono_font,
    run_duration,
    status_label,
)

FIELDS = (
    ("status", "Status"), ("name", "Run name"), ("experiment", "Experiment"), ("description", "Description"),
    ("created", "Created"), ("started", "Started"), ("ended", "Ended"), ("duration", "Duration"),
    ("compute", "Compute"), ("environment", "Environment"), ("command", "Command"),
    ("arguments", "Arguments"), ("inputs", "Inputs"), ("params", "Parameters"), ("tags", "Tags"),
    ("git", "Git"), ("snapshot", "Snapshot"), ("exit_code", "Exit code"), ("error", "Error"),
)
MONO = {"command", "arguments", "snapshot", "inputs", "params", "tags"}


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
    interp = run.properties.get("interpreter")
    env = run.environment or (f"User-managed Python ({interp})" if interp else "")
    status = status_label(run.status)
    if run.cancel_requested and not run.is_terminal:
        status += " (cancel requested)"
    return {
        "status": status,
        "name": run.name,
        "experiment": run.experiment_name,
        "description": run.description,
        "created": fmt_time_full(run.created_at),
        "started": fmt_time_full(run.start_time),
        "ended": fmt_time_full(run.end_time),
        "duration": fmt_duration(run_duration(run.start_time, run.end_time)),
        "compute": run.compute + (f" on {run.properties['host']}" if run.properties.get("host") else ""),
        "environment": env,
        "command": run.command or "",
        "arguments": shlex.join(run.arguments) if run.arguments else "",
        "inputs": _mapping(run.inputs),
        "params": _mapping(run.params),
        "tags": _mapping(run.tags),
        "git": describe_git(run.git),
        "snapshot": run.snapshot_id or "",
        "exit_code": "" if run.exit_code is None else str(run.exit_code),
        "error": run.error or "",
    }


class OverviewTab(QScrollArea):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        outer = QHBoxLayout(body)
        outer.setContentsMargins(16, 14, 16, 14)
        outer.setSpacing(28)

        left = QVBoxLayout()
        left.setSpacing(10)  # nested layouts would inherit the wide column gap
        left.addWidget(heading("Details", 1.15))
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setHorizontalSpacing(16)
        self.form.setVerticalSpacing(7)
        self.values: dict[str, QLabel] = {}
        for key, title in FIELDS:
            name = QLabel(title)
            pal = name.palette()
            pal.setColor(QPalette.ColorRole.WindowText, pal.color(QPalette.ColorRole.PlaceholderText))
            name.setPalette(pal)
            value = QLabel()
            value.setObjectName(f"overview-{key}")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if key in MONO:
                value.setFont(mono_font())
            self.values[key] = value
            self.form.addRow(name, value)
        left.addLayout(self.form)
        left.addStretch(1)
        outer.addLayout(left, 3)

        right = QVBoxLayout()
        right.setSpacing(10)
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

    def set_run(self, run: E.Run) -> None:
        for key, text in field_values(run).items():
            label = self.values[key]
            label.setText(text)
            always = key in ("status", "name", "experiment", "created", "compute", "command")
            self.form.setRowVisible(label, bool(text) or always)
        color = STATUS_COLORS.get(run.status, "#9aa0a6")
        self.values["status"].setText(
            f"<span style='color:{color}'>●</span>&nbsp;{field_values(run)['status']}")
        self.values["status"].setTextFormat(Qt.TextFormat.RichText)
        err = self.values["error"]
        pal = err.palette()
        pal.setColor(QPalette.ColorRole.WindowText, QColor(STATUS_COLORS["Failed"]))
        err.setPalette(pal)
        snap = self.values["snapshot"]
        snap.setToolTip(run.snapshot_id or "")
        if run.snapshot_id:
            snap.setText(run.snapshot_id[:16] + "…")
        self.values["name"].setToolTip(str(Path(run.run_dir)))

    def set_metrics(self, summaries: list[E.MetricSummary]) -> None:
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
