"""Compare's Environment tab: two runs side by side as `trainyard job diff` sees them.

Packages added, removed and changed between the two runs' environment locks come first, then
the settings that differ (environment, command, parameters, inputs, compute), then the code
files that changed; a section says how many of its fields are the same. Selecting a code file
shows its unified diff. The diff (`Engine.diff_runs`) is read off the GUI thread, when the tab
is first shown and whenever the pair changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.api.rundiff import RunDiff
from studio.errors import one_line
from studio.rundetail.codeview import ADDED_COLOR, REMOVED_COLOR, CodeView, DiffHighlighter
from studio.style import STATUS_COLORS, muted, plural
from studio.tasks import BackgroundOp
from studio.widgets import EmptyState

CHANGED_COLOR = STATUS_COLORS["Queued"]  # amber: a value that moved
CHANGE_COLORS = {"added": ADDED_COLOR, "removed": REMOVED_COLOR, "changed": CHANGED_COLOR}
SECTION_TITLES = {
    "environment": "Environment",
    "command": "Command",
    "parameters": "Parameters",
    "inputs": "Inputs",
    "compute": "Compute",
}
ABSENT = "—"
CODE_PATH_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class DiffRow:
    key: str
    a: str
    b: str
    change: str  # added | removed | changed (colours the row)
    path: str | None = None  # a code file: selecting it shows its diff


@dataclass(frozen=True)
class DiffSection:
    title: str
    rows: tuple[DiffRow, ...]
    same: int = 0
    note: str = ""


def _text(value: Any) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    return json.dumps(value, sort_keys=True, default=str)


def _change(a: Any, b: Any) -> str:
    return "added" if a is None else "removed" if b is None else "changed"


def diff_sections(diff: RunDiff) -> list[DiffSection]:
    """What the tab lists, in order (differences first): packages, each settings section that
    has a difference, code; then the sections where everything is the same. No Qt here."""
    packages = DiffSection(
        "Packages",
        tuple(DiffRow(p.name, p.old or ABSENT, p.new or ABSENT, p.change) for p in diff.packages),
        note="" if all(diff.locks) else "no lock recorded for a run: packages not compared",
    )
    settings = []
    for section, title in SECTION_TITLES.items():
        rows = tuple(
            DiffRow(f.key, _text(f.a), _text(f.b), _change(f.a, f.b))
            for f in diff.fields
            if f.section == section
        )
        settings.append(DiffSection(title, rows, diff.same.get(section, 0)))
    if diff.code is not None:
        code = DiffSection(
            "Code",
            tuple(
                DiffRow(
                    c.path,
                    "" if c.change == "added" else "present",
                    ""
                    if c.change == "removed"
                    else ("binary" if c.binary else f"+{c.added_lines} −{c.removed_lines}"),
                    c.change,
                    c.path,
                )
                for c in diff.code.changes
            ),
            diff.code.unchanged,
        )
    else:
        code = DiffSection("Code", (), note=diff.code_note)
    ordered = [packages, *settings, code]
    return [s for s in ordered if s.rows] + [s for s in ordered if not s.rows]


def summary_text(diff: RunDiff) -> str:
    if diff.identical:
        return "Same environment packages, settings and code."
    parts = []
    if diff.packages:
        parts.append(
            f"{plural(len(diff.packages), 'package')} differ" + ("s" if len(diff.packages) == 1 else "")
        )
    if diff.fields:
        parts.append(f"{plural(len(diff.fields), 'setting')}")
    if diff.code is not None and diff.code.changes:
        parts.append(f"{plural(len(diff.code.changes), 'code file')}")
    return "Differences: " + ", ".join(parts)


class EnvDiffPanel(QWidget):
    """Pick two of the compared runs (A, B); see what differs from A to B."""

    def __init__(self, engine: Any, run_names: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.run_names = list(run_names)
        self.diff: RunDiff | None = None
        self._loaded_pair: tuple[str, str] | None = None
        self._busy = False
        self._error = ""

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 8, 0, 0)
        top = QHBoxLayout()
        self.a_box, self.b_box = QComboBox(), QComboBox()
        for box, tip in ((self.a_box, "The run compared from"), (self.b_box, "The run compared with")):
            box.addItems(self.run_names)
            box.setToolTip(tip)
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        if len(self.run_names) > 1:
            self.b_box.setCurrentIndex(1)
        swap = QPushButton("⇄")
        swap.setToolTip("Swap the two runs")
        swap.setFixedWidth(swap.fontMetrics().horizontalAdvance("⇄") + 24)
        swap.clicked.connect(self.swap)
        top.addWidget(QLabel("From"))
        top.addWidget(self.a_box)
        top.addWidget(swap)
        top.addWidget(QLabel("to"))
        top.addWidget(self.b_box)
        top.addSpacing(12)
        self.summary = muted(QLabel())
        top.addWidget(self.summary, 1)
        lay.addLayout(top)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Field", "A", "B"])
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setStyleSheet("QTreeView::item { padding: 3px 0px; }")
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.tree.setColumnWidth(0, 240)
        self.tree.setColumnWidth(1, 280)
        self.tree.currentItemChanged.connect(self._current_changed)
        self.code_view = CodeView()
        self._highlighter = DiffHighlighter(self.code_view.document())
        self.code_view.hide()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.code_view)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.notes = muted(QLabel())
        self.notes.setWordWrap(True)
        self.notes.hide()
        body = QWidget()
        body_lay = QVBoxLayout(body)
        body_lay.setContentsMargins(0, 0, 0, 0)
        body_lay.addWidget(splitter, 1)
        body_lay.addWidget(self.notes)
        self.stack = QStackedWidget()
        self.loading = EmptyState("Reading the two runs…", "Their environment locks, settings and code.")
        self.failed = EmptyState("Cannot compare these runs", "")
        self.same_run = EmptyState(
            "The same run", "Pick two different runs to see what differs between them."
        )
        for w in (self.loading, body, self.failed, self.same_run):
            self.stack.addWidget(w)
        self._body = body
        lay.addWidget(self.stack, 1)
        for box in (self.a_box, self.b_box):  # once built: a change reads the new pair if shown
            box.currentIndexChanged.connect(lambda _i: self._pair_changed())

    # ---------------------------------------------------------------- public
    def pair(self) -> tuple[str, str]:
        return self.a_box.currentText(), self.b_box.currentText()

    def set_pair(self, a: str, b: str) -> None:
        for box, name in ((self.a_box, a), (self.b_box, b)):
            box.blockSignals(True)
            box.setCurrentText(name)
            box.blockSignals(False)
        self.load()

    def swap(self) -> None:
        a, b = self.pair()
        self.set_pair(b, a)

    def is_ready(self) -> bool:
        return self._loaded_pair == self.pair() and not self._busy

    def rows(self) -> list[tuple[str, list[list[str]]]]:
        """What the tree shows: (section heading, [[field, A, B], ...]) per section."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            out.append(
                (top.text(0), [[top.child(j).text(c) for c in range(3)] for j in range(top.childCount())])
            )
        return out

    def load(self) -> None:
        """Read the diff of the chosen pair (again) in the background."""
        a, b = self.pair()
        if not a or not b:
            return
        if a == b:
            self._loaded_pair = (a, b)
            self.summary.setText("")
            self.stack.setCurrentWidget(self.same_run)
            return
        if self._busy:
            return
        self._busy = True
        if self.diff is None:
            self.stack.setCurrentWidget(self.loading)
        engine = self.engine
        (
            BackgroundOp(self, lambda: engine.diff_runs(a, b))
            .success(lambda d: self._loaded((a, b), d))
            .failure(lambda e: self._failed((a, b), e))
            .run()
        )

    def _pair_changed(self) -> None:
        if self._loaded_pair is not None or self.isVisible():
            self.load()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._loaded_pair is None:
            self.load()

    # ---------------------------------------------------------------- updates
    def _loaded(self, pair: tuple[str, str], diff: RunDiff) -> None:
        self._busy = False
        if pair != self.pair():  # the pair changed while reading: read the new one
            self.load()
            return
        self.diff = diff
        self._loaded_pair = pair
        self._fill(diff)
        self.stack.setCurrentWidget(self._body)

    def _failed(self, pair: tuple[str, str], exc: BaseException) -> None:
        self._busy = False
        if pair != self.pair():
            self.load()
            return
        self._loaded_pair = pair
        self.failed.text.setText(one_line(exc))
        self.summary.setText("")
        self.stack.setCurrentWidget(self.failed)

    def _fill(self, diff: RunDiff) -> None:
        self.tree.clear()
        self.tree.setHeaderLabels(["Field", diff.a, diff.b])
        self.summary.setText(summary_text(diff))
        bold = QFont(self.tree.font())
        bold.setWeight(QFont.Weight.DemiBold)
        for section in diff_sections(diff):
            differs = len(section.rows)
            bits = [f"{differs} differ" + ("s" if differs == 1 else "") if differs else "no difference"]
            if section.same:
                bits.append(f"{section.same} the same")
            if section.note:
                bits.append(section.note)
            top = QTreeWidgetItem([f"{section.title}  ·  {', '.join(bits)}"])
            top.setFont(0, bold)
            top.setFlags(top.flags() & ~Qt.ItemFlag.ItemIsSelectable)
            self.tree.addTopLevelItem(top)
            top.setFirstColumnSpanned(True)  # (only once in the tree)
            for row in section.rows:
                item = QTreeWidgetItem([row.key, row.a, row.b])
                for c, text in enumerate((row.key, row.a, row.b)):
                    item.setToolTip(c, text)
                item.setForeground(2 if row.change != "removed" else 1, QColor(CHANGE_COLORS[row.change]))
                if row.path:
                    item.setData(0, CODE_PATH_ROLE, row.path)
                top.addChild(item)
            top.setExpanded(bool(section.rows))
        self.notes.setText("\n".join(diff.notes))
        self.notes.setVisible(bool(diff.notes))
        self.code_view.hide()

    def _current_changed(self, item: QTreeWidgetItem | None, _prev: Any) -> None:
        path = item.data(0, CODE_PATH_ROLE) if item is not None else None
        change = self.diff.code.get(path) if path and self.diff and self.diff.code else None
        if change is None:
            self.code_view.hide()
            return
        self.code_view.setPlainText(change.diff)
        self.code_view.show()
