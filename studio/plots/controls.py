"""The plot options every chart of a page shares, and the toolbar that edits them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QWidget

from studio.style import muted

X_MODE_LABELS = {"step": "Step", "wall": "Wall time", "relative": "Relative time"}
METRIC_X = "metric:"  # the combo's data for "against metric KEY"


@dataclass(frozen=True)
class PlotOptions:
    x_mode: str = "step"  # step | wall | relative | metric
    smoothing: float = 0.0  # EMA weight, 0 (off) .. 0.99
    log_y: bool = False
    x_metric: str = ""  # the metric the "metric" mode plots against (e.g. epoch)


class PlotControls(QWidget):
    """X axis, smoothing and log scale for all the charts of a page."""

    optionsChanged = Signal(object)  # PlotOptions

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._options = PlotOptions()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        lay.addWidget(muted(QLabel("X axis")))
        self.x_mode = QComboBox()
        for mode, label in X_MODE_LABELS.items():
            self.x_mode.addItem(label, mode)
        self.x_mode.setToolTip("Plot against the step, the wall-clock time, the time since the run's first point, "
                               "or another metric logged at the same steps (e.g. epoch)")
        self.x_mode.currentIndexChanged.connect(lambda _i: self._x_picked())
        self._metric_keys: list[str] = []
        lay.addWidget(self.x_mode)
        lay.addSpacing(12)
        lay.addWidget(muted(QLabel("Smoothing")))
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setFixedWidth(140)
        self.smoothing.setToolTip("Exponential moving average weight (as in TensorBoard); "
                                  "the raw values stay drawn faintly behind")
        self.smoothing_value = QLabel()
        self.smoothing_value.setMinimumWidth(self.smoothing_value.fontMetrics().horizontalAdvance("0.00") + 4)
        self.smoothing.valueChanged.connect(self._smoothing_moved)
        lay.addWidget(self.smoothing)
        lay.addWidget(self.smoothing_value)
        lay.addSpacing(12)
        self.log_y = QCheckBox("Log scale")
        self.log_y.setToolTip("Logarithmic y axis (values ≤ 0 are not drawn)")
        self.log_y.toggled.connect(lambda on: self._set(log_y=on))
        lay.addWidget(self.log_y)
        self._smoothing_moved(0)

    def options(self) -> PlotOptions:
        return self._options

    def set_metric_keys(self, keys: list[str]) -> None:
        """Offer these metrics as x axes (after Step, Wall time and Relative time)."""
        keys = sorted(set(keys) | ({self._options.x_metric} if self._options.x_metric else set()))
        if keys == self._metric_keys:
            return
        self._metric_keys = keys
        self.x_mode.blockSignals(True)
        while self.x_mode.count() > len(X_MODE_LABELS):
            self.x_mode.removeItem(self.x_mode.count() - 1)
        if keys:
            self.x_mode.insertSeparator(self.x_mode.count())
        for key in keys:
            self.x_mode.addItem(key, METRIC_X + key)
        self.x_mode.setCurrentIndex(self.x_mode.findData(_x_data(self._options)))
        self.x_mode.blockSignals(False)

    def set_options(self, options: PlotOptions) -> None:
        """Show `options` (and announce them, as if the user had picked them)."""
        if options.x_mode == "metric":
            self.set_metric_keys([*self._metric_keys, options.x_metric])
        self.x_mode.setCurrentIndex(self.x_mode.findData(_x_data(options)))
        self.smoothing.setValue(round(options.smoothing * 100))
        self.log_y.setChecked(options.log_y)
        self._set(**vars(options))

    def _x_picked(self) -> None:
        data = str(self.x_mode.currentData() or "step")
        if data.startswith(METRIC_X):
            self._set(x_mode="metric", x_metric=data[len(METRIC_X):])
        else:
            self._set(x_mode=data, x_metric="")

    def _smoothing_moved(self, value: int) -> None:
        self.smoothing_value.setText(f"{value / 100:.2f}" if value else "off")
        self._set(smoothing=value / 100)

    def _set(self, **changes: object) -> None:
        options = replace(self._options, **changes)  # type: ignore[arg-type]
        if options != self._options:
            self._options = options
            self.optionsChanged.emit(options)


def _x_data(options: PlotOptions) -> str:
    return METRIC_X + options.x_metric if options.x_mode == "metric" else options.x_mode
