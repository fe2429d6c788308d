"""A duration field with units; 0 reads "No limit" (a run's maximum duration)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QSpinBox, QWidget

UNITS = (("minutes", 60), ("hours", 3600), ("seconds", 1))


class DurationEdit(QWidget):
    """`seconds()` is None for no limit; `changed` on every edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        self.amount = QSpinBox()
        self.amount.setRange(0, 999_999)
        self.amount.setSpecialValueText("No limit")
        self.amount.setMinimumWidth(110)
        self.amount.setToolTip("The run is canceled when it takes longer than this (0: no limit)")
        self.unit = QComboBox()
        for label, factor in UNITS:
            self.unit.addItem(label, factor)
        lay.addWidget(self.amount)
        lay.addWidget(self.unit)
        lay.addStretch(1)
        self.amount.valueChanged.connect(self._changed)
        self.unit.currentIndexChanged.connect(self._changed)
        self._changed()

    def _changed(self, *_: object) -> None:
        self.unit.setEnabled(self.amount.value() > 0)
        self.changed.emit()

    def seconds(self) -> float | None:
        n = self.amount.value()
        return float(n * int(self.unit.currentData())) if n > 0 else None

    def set_seconds(self, seconds: float | None) -> None:
        if not seconds:
            self.amount.setValue(0)
            return
        for i, (_label, factor) in enumerate(UNITS):
            if seconds % factor == 0:
                self.unit.setCurrentIndex(i)
                self.amount.setValue(int(seconds // factor))
                return
