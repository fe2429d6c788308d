"""The Runs table's Name column as a tree: a sweep or pipeline row has an arrow that shows or
hides its trials or steps below it (a click on the arrow, → and ←, or the context menu), and
children are indented under their parent. The rows themselves come from `RunTableModel`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPointF, Qt
from PySide6.QtGui import QPainter, QPalette, QPolygonF
from PySide6.QtWidgets import (
    QApplication,
    QLineEdit,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from studio.models.runs import COL_NAME, COL_TAGS, DEPTH_ROLE, EXPAND_ROLE, RUN_ROLE, RunTableModel

ARROW = 16  # the width of one level of the tree (the arrow's column)


class KeepTypingDelegate(QStyledItemDelegate):
    """An inline editor keeps what the user typed: Qt refills every open editor from the model
    when its row changes (each status tick, each store report), which would otherwise wipe a
    half-typed name or tag list, and Enter would then save the old text."""

    def setEditorData(self, editor: QWidget, index: Any) -> None:
        if isinstance(editor, QLineEdit) and editor.isModified():
            return
        super().setEditorData(editor, index)


class NameDelegate(KeepTypingDelegate):
    """Paints the arrow of a parent row and indents child rows (only while grouped)."""

    def __init__(self, model: RunTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model

    def indent(self, index: QModelIndex) -> int:
        if not self.model.grouped:
            return 0
        return ARROW * (1 + int(index.data(DEPTH_ROLE) or 0))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        indent = self.indent(index)
        if not indent:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        widget = option.widget  # type: ignore[attr-defined]
        style = widget.style() if widget is not None else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, widget)
        text_opt = QStyleOptionViewItem(opt)
        text_opt.rect = opt.rect.adjusted(indent, 0, 0, 0)  # type: ignore[attr-defined]
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, text_opt, painter, widget)
        state = index.data(EXPAND_ROLE)
        if state is None:
            return
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        rect = opt.rect  # type: ignore[attr-defined]
        cx, cy, r = rect.left() + ARROW / 2 + 1, rect.center().y() + 0.5, 4.0
        if state:  # expanded: pointing down
            points = [QPointF(cx - r, cy - r / 2), QPointF(cx + r, cy - r / 2), QPointF(cx, cy + r / 2 + 1)]
        else:
            points = [QPointF(cx - r / 2, cy - r), QPointF(cx - r / 2, cy + r), QPointF(cx + r / 2 + 1, cy)]
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(opt.palette.color(role))  # type: ignore[attr-defined]
        painter.drawPolygon(QPolygonF(points))
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> Any:
        size = super().sizeHint(option, index)
        size.setWidth(size.width() + self.indent(index))
        return size


class ParentRows(QObject):
    """Wires a runs table for parent rows: the delegate, arrow clicks and the arrow keys."""

    def __init__(self, table: QTableView, model: RunTableModel) -> None:
        super().__init__(table)
        self.table = table
        self.model = model
        self.delegate = NameDelegate(model, table)
        table.setItemDelegateForColumn(COL_NAME, self.delegate)
        self.tags_delegate = KeepTypingDelegate(table)
        table.setItemDelegateForColumn(COL_TAGS, self.tags_delegate)
        self._viewport = table.viewport()
        self._viewport.installEventFilter(self)
        table.installEventFilter(self)

    def toggle(self, name: str) -> None:
        if self.model.expanded(name):
            self.model.collapse(name)
        elif self.model.has_children(name):
            self.model.expand(name)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()  # (checked first: no other event touches the table, e.g. while it is deleted)
        if kind == QEvent.Type.MouseButtonPress and obj is self._viewport:
            pos = event.position().toPoint()  # type: ignore[attr-defined]
            index = self.table.indexAt(pos)
            if index.isValid() and index.column() == COL_NAME and index.data(EXPAND_ROLE) is not None:
                left = self.table.visualRect(index).left()
                if left <= pos.x() < left + ARROW + 2:
                    self.toggle(index.data(RUN_ROLE).name)
                    return True
        elif kind == QEvent.Type.KeyPress and obj is self.table:
            key = event.key()  # type: ignore[attr-defined]
            index = self.table.currentIndex()
            if key in (Qt.Key.Key_Right, Qt.Key.Key_Left) and index.isValid() and self.model.grouped:
                return self._arrow_key(key, index)
        return super().eventFilter(obj, event)

    def _arrow_key(self, key: int, index: QModelIndex) -> bool:
        run = index.data(RUN_ROLE)
        state = index.data(EXPAND_ROLE)
        if run is None:
            return False
        if key == Qt.Key.Key_Right and state is False:
            self.model.expand(run.name)
            return True
        if key == Qt.Key.Key_Left and state is True:
            self.model.collapse(run.name)
            return True
        if key == Qt.Key.Key_Left and index.data(DEPTH_ROLE) and run.parent_name:
            row = self.model.row_of(run.parent_name)  # a child: go to its parent
            if row is not None:
                self.table.selectRow(row)
                self.table.setCurrentIndex(self.model.index(row, COL_NAME))
            return True
        return False
