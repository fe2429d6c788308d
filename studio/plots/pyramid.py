"""A curve whose min/max (peak) decimation reads a precomputed pyramid instead of every point.

pyqtgraph's peak downsampling reduces every visible point on each pan/zoom frame: with 100 runs of
100,000 points fully zoomed out that alone was ~14 ms of a ~50 ms frame. Here the min and the max of
blocks of 2, 4, 8 ... points are computed once per data change (level by level, only as deep as a
frame needs), and a frame slices the level whose block is the largest power of two not above the
block pyqtgraph would use. What is drawn is the same envelope (every spike kept), with up to twice
as many vertices; nothing is sampled away.

Only the configuration the charts use (clip to view + automatic peak downsampling, no FFT,
derivative or per-point connect) takes the fast path; anything else is pyqtgraph's own code.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.PlotDataItem import PlotDataset


class _Pyramid:
    """Block maxima and minima of `y` for blocks of 2**k points, built on demand."""

    def __init__(self, y: np.ndarray) -> None:
        self.y = y
        self.maxima: list[np.ndarray] = [y]
        self.minima: list[np.ndarray] = [y]

    def level(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        while len(self.maxima) <= k:
            hi, lo = self.maxima[-1], self.minima[-1]
            n = len(hi) // 2
            self.maxima.append(np.maximum(hi[0:2 * n:2], hi[1:2 * n:2]))
            self.minima.append(np.minimum(lo[0:2 * n:2], lo[1:2 * n:2]))
        return self.maxima[k], self.minima[k]


def _first_at_or_after(x: np.ndarray, value: float) -> int:
    """bisect_left(x, value) for sorted x, without numpy converting an int array to float."""
    if not math.isfinite(value):
        return 0 if value < 0 else len(x)
    if x.dtype.kind in "iu":
        return int(np.searchsorted(x, np.array(math.ceil(value), dtype=x.dtype)))
    return int(np.searchsorted(x, value))


class PyramidCurve(pg.PlotDataItem):
    _SLOW_OPTIONS = ("subtractMeanMode", "fftMode", "derivativeMode", "phasemapMode")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pyramid: _Pyramid | None = None
        self._pyramid_of: Any = None  # the mapped dataset the pyramid was built from

    def _fast_path_applies(self) -> bool:
        o = self.opts
        return (self._datasetMapped is not None and o["clipToView"] and o["autoDownsample"]
                and o["downsampleMethod"] == "peak" and not isinstance(o["connect"], np.ndarray)
                and not any(o[k] for k in self._SLOW_OPTIONS))

    def _getDisplayDataset(self) -> PlotDataset | None:  # pyqtgraph names it
        if self._dataset is None or not self._fast_path_applies():
            return super()._getDisplayDataset()
        if (self._datasetDisplay is not None and not self.property("xViewRangeWasChanged")
                and not (self.property("yViewRangeWasChanged") and self.opts["dynamicRangeLimit"] is not None)):
            return self._datasetDisplay
        mapped = self._datasetMapped
        x, y = mapped.x, mapped.y
        view = self.getViewBox()
        if view is None or len(x) < 4 or not mapped.xAllFinite:
            return super()._getDisplayDataset()
        view_range = view.viewRect()
        if self.opts["dynamicRangeLimit"] is not None and self._needs_range_limit(view_range):
            return super()._getDisplayDataset()

        # The block size pyqtgraph would pick (it assumes evenly spaced x), then a power of two.
        ds = 1
        dx = float(x[-1] - x[0]) / (len(x) - 1)
        width = view.width()
        if dx != 0.0 and width:
            ds_float = max(1.0, abs(view_range.width() / dx / (width * self.opts["autoDownsampleFactor"])))
            if math.isfinite(ds_float):
                ds = int(ds_float)
        level = max(0, int(math.log2(ds))) if ds > 1 else 0
        block = 1 << level

        lo, hi = 0, len(x)
        if not view.autoRangeEnabled()[0]:
            lo = max(0, _first_at_or_after(x, view_range.left()) - block)
            hi = min(len(x), max(lo, _first_at_or_after(x, view_range.right()) + block))
        if level == 0:
            xs, ys = x[lo:hi], y[lo:hi]
        else:
            if self._pyramid_of is not mapped:
                self._pyramid, self._pyramid_of = _Pyramid(y), mapped
            maxima, minima = self._pyramid.level(level)
            first, last = lo // block, min(len(maxima), -(-hi // block))
            n = max(0, last - first)
            xs = np.repeat(x[first * block + block // 2:(first + n) * block:block][:n], 2)
            n = len(xs) // 2
            ys = np.empty(2 * n)
            ys[0::2] = maxima[first:first + n]
            ys[1::2] = minima[first:first + n]
            tail = len(maxima) * block  # the last, partial block (the newest points of a live run)
            if hi > tail and (first + n) * block >= tail:
                rest = y[tail:hi]
                xs = np.append(xs, [x[tail], x[tail]])
                ys = np.append(ys, [np.max(rest), np.min(rest)])
        self._datasetDisplay = PlotDataset(xs, ys, mapped.xAllFinite, mapped.yAllFinite, None)
        self.setProperty("xViewRangeWasChanged", False)
        self.setProperty("yViewRangeWasChanged", False)
        return self._datasetDisplay

    def _needs_range_limit(self, view_range: Any) -> bool:
        """pyqtgraph clips values far outside the view (dynamicRangeLimit): leave that case to it."""
        data = self._datasetMapped.dataRect()
        height = view_range.height()
        if data is None or height <= 0:
            return False
        return (not data.bottom() < view_range.top() and not data.top() > view_range.bottom()
                and data.height() > 2 * self.opts["dynamicRangeHyst"] * self.opts["dynamicRangeLimit"] * height)
