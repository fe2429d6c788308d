"""The Snapshot tab: the code the run ran (a file tree and a code view), and what changed since
another run's snapshot (a list of changed files and their coloured unified diffs).

Everything is read from the snapshot store off the GUI thread, when the tab is first shown.
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine import entities as E
from engine.snapshots.diff import FileChange, SnapshotDiff, as_text
from studio.errors import one_line, show_error
from studio.rundetail.codeview import ADDED_COLOR, REMOVED_COLOR, CodeView, DiffHighlighter
from studio.style import fmt_size, fmt_time, muted, plural
from studio.tasks import BackgroundOp
from studio.widgets import EmptyState

log = logging.getLogger(__name__)

PATH_ROLE = Qt.ItemDataRole.UserRole
MAX_SHOWN_BYTES = 2 * 1024 * 1024
CHANGE_MARK = {"added": "A", "removed": "D", "changed": "M"}
CHANGE_COLOR = {"added": ADDED_COLOR, "removed": REMOVED_COLOR}


class SnapshotTab(QWidget):
    def __init__(self, engine: Any, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.name = name
        self.run: E.Run | None = None
        self.manifest: Any = None
        self.diff: SnapshotDiff | None = None
        self.compared_with: str | None = None
        self._loading = False
        self._runs_listed = False
        self._shown_file: str | None = None

        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 12)
        lay.setSpacing(8)
        bar = QHBoxLayout()
        bar.setSpacing(8)
        self.summary = muted(QLabel())
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar.addWidget(self.summary, 1)
        bar.addWidget(QLabel("Compare with"))
        self.other = QComboBox()
        self.other.setEditable(True)
        self.other.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.other.lineEdit().setPlaceholderText("a run of this experiment, or any run name")
        self.other.setMinimumContentsLength(34)
        self.other.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.other.activated.connect(self._other_picked)
        self.other.lineEdit().returnPressed.connect(self._other_typed)
        bar.addWidget(self.other)
        self.files_button = QPushButton("Show files")
        self.files_button.setToolTip("Leave the comparison and browse this run's code")
        self.files_button.clicked.connect(self.show_files)
        self.files_button.setVisible(False)
        bar.addWidget(self.files_button)
        lay.addLayout(bar)

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["File", "Size"])
        self.tree.setUniformRowHeights(True)
        self._tree_header(self.tree)
        self.tree.itemSelectionChanged.connect(self._file_selected)
        self.changes = QTreeWidget()
        self.changes.setHeaderLabels(["Changed file", "Lines"])
        self.changes.setRootIsDecorated(False)
        self.changes.setUniformRowHeights(True)
        self._tree_header(self.changes)
        self.changes.itemSelectionChanged.connect(self._change_selected)
        self.left = QStackedWidget()
        self.left.addWidget(self.tree)
        self.left.addWidget(self.changes)

        self.code = CodeView()
        self.diff_view = CodeView()
        self.diff_view.set_line_numbers(False)
        self._highlighter = DiffHighlighter(self.diff_view.document())
        self.pick_hint = EmptyState("No file selected", "Select a file to read its code.")
        self.same = EmptyState("Same code", "")
        self.right = QStackedWidget()
        for w in (self.pick_hint, self.code, self.diff_view, self.same):
            self.right.addWidget(w)
        right_box = QWidget()
        rv = QVBoxLayout(right_box)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.setSpacing(4)
        self.file_title = muted(QLabel())
        self.file_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        rv.addWidget(self.file_title)
        rv.addWidget(self.right, 1)

        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.left)
        self.split.addWidget(right_box)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 3)
        self.split.setChildrenCollapsible(False)
        self.split.setSizes([280, 720])
        self.stack = QStackedWidget()
        self.empty = EmptyState("No code snapshot", "This run was submitted without a code folder, so "
                                "there is no snapshot of its code.")
        self.loading = EmptyState("Loading the snapshot…", "")
        self.stack.addWidget(self.split)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.loading)
        self.stack.setCurrentWidget(self.loading)
        lay.addWidget(self.stack, 1)

    @staticmethod
    def _tree_header(tree: QTreeWidget) -> None:
        tree.setAlternatingRowColors(True)
        header = tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)

    # ---------------------------------------------------------------- public
    def set_run(self, run: E.Run) -> None:
        self.run = run
        if self.isVisible():
            self._load()

    def files(self) -> list[str]:
        return [f.path for f in self.manifest.files] if self.manifest is not None else []

    def open_file(self, path: str) -> bool:
        item = self._find(self.tree, path)
        if item is not None:
            self.tree.setCurrentItem(item)
        return item is not None

    def code_text(self) -> str:
        return self.code.toPlainText() if self.right.currentWidget() is self.code else ""

    def changed_files(self) -> list[tuple[str, str]]:
        return [(c.path, c.change) for c in self.diff.changes] if self.diff is not None else []

    def diff_text(self) -> str:
        return self.diff_view.toPlainText() if self.right.currentWidget() is self.diff_view else ""

    def compare_with(self, other: str) -> None:
        """Show what changed from run `other`'s code to this run's."""
        if not other or other == self.name:
            return
        engine, name = self.engine, self.name
        (BackgroundOp(self, lambda: engine.snapshot_diff(other, name))
         .success(lambda diff: self._show_diff(other, diff))
         .failure(lambda exc: show_error(self, exc))
         .with_progress(f"Comparing the code of {name} with {other}…")
         .run())

    def show_files(self) -> None:
        self.diff = None
        self.compared_with = None
        self.files_button.setVisible(False)
        self.left.setCurrentWidget(self.tree)
        self.other.setCurrentIndex(-1)
        self.other.setEditText("")
        self._update_summary()
        self._file_selected()

    # ---------------------------------------------------------------- loading
    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._load()

    def _load(self) -> None:
        run = self.run
        if run is None or self._loading:
            return
        if not self._runs_listed:
            self._runs_listed = True
            engine = self.engine
            (BackgroundOp(self, lambda: engine.list_runs(experiment=run.experiment_name, limit=500))
             .success(self._runs_loaded)
             .failure(lambda exc: log.warning("listing runs to compare failed: %s", exc))
             .run())
        if self.manifest is not None:
            return
        if not run.snapshot_id:
            self.stack.setCurrentWidget(self.empty)
            return
        self._loading = True
        snapshots, snapshot_id = self.engine.snapshots, run.snapshot_id
        BackgroundOp(self, lambda: snapshots.load(snapshot_id)).success(self._loaded).failure(self._load_failed).run()

    def _loaded(self, manifest: Any) -> None:
        self._loading = False
        self.manifest = manifest
        self._fill_tree(manifest)
        self._update_summary()
        self.stack.setCurrentWidget(self.split)
        first = next((p for p in ("train.py", "main.py") if manifest.file(p) is not None), None)
        if first is not None:
            self.open_file(first)

    def _load_failed(self, exc: BaseException) -> None:
        self._loading = False
        self.empty.title.setText("The snapshot could not be read")
        self.empty.text.setText(one_line(exc))
        self.stack.setCurrentWidget(self.empty)

    def _runs_loaded(self, runs: list[E.Run]) -> None:
        current = self.other.currentText()
        self.other.blockSignals(True)
        self.other.clear()
        for r in runs:
            if r.name == self.name or not r.snapshot_id:
                continue
            label = r.display_name if r.display_name == r.name else f"{r.display_name} ({r.name})"
            self.other.addItem(f"{label}  ·  {fmt_time(r.created_at)}", r.name)
            self.other.setItemData(self.other.count() - 1, r.name, Qt.ItemDataRole.ToolTipRole)
        self.other.setCurrentIndex(-1)
        self.other.setEditText(current)
        self.other.blockSignals(False)

    def _fill_tree(self, manifest: Any) -> None:
        self.tree.clear()
        folders: dict[str, QTreeWidgetItem] = {}
        folder_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_DirIcon)
        file_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon)

        def folder(rel: str) -> QTreeWidgetItem | None:
            if rel == ".":
                return None
            if rel not in folders:
                item = QTreeWidgetItem([PurePosixPath(rel).name, ""])
                item.setIcon(0, folder_icon)
                parent = folder(str(PurePosixPath(rel).parent))
                if parent is None:
                    self.tree.addTopLevelItem(item)
                else:
                    parent.addChild(item)
                folders[rel] = item
            return folders[rel]

        # Each folder's own files, then its subfolders.
        entries = sorted(manifest.files, key=lambda f: (PurePosixPath(f.path).parent.parts, f.path))
        for f in entries:
            item = QTreeWidgetItem([PurePosixPath(f.path).name, fmt_size(f.size)])
            item.setIcon(0, file_icon)
            item.setData(0, PATH_ROLE, f.path)
            item.setToolTip(0, f.path)
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            parent = folder(str(PurePosixPath(f.path).parent))
            if parent is None:
                self.tree.addTopLevelItem(item)
            else:
                parent.addChild(item)
        self.tree.expandToDepth(0)

    def _update_summary(self) -> None:
        m = self.manifest
        if m is None:
            self.summary.setText("")
            return
        bits = [plural(m.file_count, "file"), fmt_size(m.total_bytes)]
        if m.ignored_count:
            bits.append(f"{m.ignored_count:,} ignored")
        bits.append(f"snapshot {m.id[:12]}")
        if self.diff is not None:
            d = self.diff
            counts = [f"{len(d.paths(kind))} {kind}" for kind in ("changed", "added", "removed") if d.paths(kind)]
            bits = [f"Compared with {self.compared_with}: " + (", ".join(counts) or "no differences")
                    + f", {d.unchanged:,} unchanged"]
        self.summary.setText("  ·  ".join(bits))
        self.summary.setToolTip(m.source)

    # ---------------------------------------------------------------- code view
    def _file_selected(self) -> None:
        items = self.tree.selectedItems()
        path = items[0].data(0, PATH_ROLE) if items else None
        if path is None or self.run is None or not self.run.snapshot_id:
            self.file_title.setText("")
            self.right.setCurrentWidget(self.pick_hint)
            return
        self._shown_file = path
        snapshots, snapshot_id = self.engine.snapshots, self.run.snapshot_id
        (BackgroundOp(self, lambda: snapshots.file_text(snapshot_id, path))
         .success(lambda data: self._show_code(path, data))
         .failure(lambda exc: show_error(self, exc))
         .run())

    def _show_code(self, path: str, data: bytes) -> None:
        if path != self._shown_file or self.diff is not None:
            return
        title = f"{path}  ·  {fmt_size(len(data))}"
        text = as_text(data[:MAX_SHOWN_BYTES])
        if text is None:
            self.file_title.setText(title)
            self.pick_hint.title.setText("Not a text file")
            self.pick_hint.text.setText(f"{path} is binary; its content is kept in the snapshot.")
            self.right.setCurrentWidget(self.pick_hint)
            return
        if len(data) > MAX_SHOWN_BYTES:
            title += f"  ·  first {fmt_size(MAX_SHOWN_BYTES)} shown"
        self.file_title.setText(title)
        self.code.setPlainText(text)
        self.right.setCurrentWidget(self.code)

    # ---------------------------------------------------------------- diff view
    def _other_picked(self, index: int) -> None:
        other = self.other.itemData(index)
        if other:
            self.compare_with(str(other))

    def _other_typed(self) -> None:
        text = self.other.currentText().strip()
        index = self.other.findText(text)
        self.compare_with(str(self.other.itemData(index)) if index >= 0 else text)

    def _show_diff(self, other: str, diff: SnapshotDiff) -> None:
        self.diff = diff
        self.compared_with = other
        self.files_button.setVisible(True)
        index = self.other.findData(other)
        self.other.blockSignals(True)
        if index >= 0:
            self.other.setCurrentIndex(index)
        else:
            self.other.setEditText(other)
        self.other.blockSignals(False)
        self.changes.clear()
        for c in diff.changes:
            lines = "" if c.binary else f"+{c.added_lines}  −{c.removed_lines}"
            item = QTreeWidgetItem([f"{CHANGE_MARK[c.change]}   {c.path}", lines])
            item.setData(0, PATH_ROLE, c.path)
            item.setToolTip(0, f"{c.path} ({c.change})")
            if c.change in CHANGE_COLOR:
                item.setForeground(0, QColor(CHANGE_COLOR[c.change]))
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.changes.addTopLevelItem(item)
        self.left.setCurrentWidget(self.changes)
        self._update_summary()
        if diff.changes:
            self.changes.setCurrentItem(self.changes.topLevelItem(0))
        else:
            self.file_title.setText("")
            self.same.text.setText(f"{other} ran exactly the same files as {self.name}.")
            self.right.setCurrentWidget(self.same)

    def _change_selected(self) -> None:
        items = self.changes.selectedItems()
        change: FileChange | None = None
        if items and self.diff is not None:
            change = self.diff.get(items[0].data(0, PATH_ROLE))
        if change is None:
            return
        self.file_title.setText(f"{change.path}  ·  {change.change}")
        self.diff_view.setPlainText(change.diff)
        self.right.setCurrentWidget(self.diff_view)

    @staticmethod
    def _find(tree: QTreeWidget, path: str) -> QTreeWidgetItem | None:
        stack = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            if item.data(0, PATH_ROLE) == path:
                return item
            stack += [item.child(i) for i in range(item.childCount())]
        return None
