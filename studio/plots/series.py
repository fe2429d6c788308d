"""The data behind one curve: every logged point, in arrays that grow without copying each time.

No Qt here. `Series.x(mode)` and `Series.shown` hand out views of the buffers, so a curve that
appends 10 points to a million costs 10 points (amortised), not a million.
"""

from __future__ import annotations

import numpy as np

from studio.plots.smoothing import Ema

X_MODES = ("step", "wall", "relative", "metric")


class StepAxis:
    """Another metric as the x axis (val_loss against epoch): a point's x is that metric's value
    at the point's step, or at the nearest step before it (a metric logged less often holds its
    value); NaN before its first point."""

    def __init__(self, key: str, steps: np.ndarray, values: np.ndarray) -> None:
        order = np.argsort(np.asarray(steps), kind="stable")
        self.key = key
        self.steps = np.asarray(steps, dtype=np.int64)[order]
        self.values = np.asarray(values, dtype=np.float64)[order]

    def __len__(self) -> int:
        return len(self.values)

    def at(self, steps: np.ndarray) -> np.ndarray:
        i = np.searchsorted(self.steps, steps, side="right") - 1
        out = np.full(len(steps), np.nan)
        ok = i >= 0
        out[ok] = self.values[i[ok]]
        return out


class Growable:
    """A numpy array with spare room at the end; `view` is the filled part."""

    def __init__(self, dtype: np.dtype | type) -> None:
        self._buf = np.empty(0, dtype=dtype)
        self.n = 0

    @property
    def view(self) -> np.ndarray:
        return self._buf[: self.n]

    def clear(self) -> None:
        self.n = 0

    def extend(self, data: np.ndarray) -> None:
        need = self.n + len(data)
        if need > len(self._buf):
            # Views handed out earlier keep the old buffer; they stay valid, just shorter.
            bigger = np.empty(max(need, 2 * len(self._buf), 256), dtype=self._buf.dtype)
            bigger[: self.n] = self._buf[: self.n]
            self._buf = bigger
        self._buf[self.n: need] = data
        self.n = need


class Series:
    """One named series (one run's metric): steps, values, wall times and the smoothed values."""

    def __init__(self, series_id: str, label: str, color: str) -> None:
        self.id = series_id
        self.label = label
        self.color = color
        self.steps = Growable(np.int64)
        self.values = Growable(np.float64)
        self.stamps = Growable(np.float64)
        self.relative = Growable(np.float64)
        self.smoothed = Growable(np.float64)
        self.has_stamps = True
        self.sorted = {"step": True, "time": True}  # whether x only grows (binary search works)
        self.axis: StepAxis | None = None  # the x of the "metric" mode
        self._ema = Ema(0.0)

    def __len__(self) -> int:
        return self.values.n

    def clear(self) -> None:
        for g in (self.steps, self.values, self.stamps, self.relative, self.smoothed):
            g.clear()
        self.has_stamps = True
        self.sorted = {"step": True, "time": True}
        self._ema = Ema(self._ema.weight)

    def extend(self, steps: np.ndarray, values: np.ndarray, stamps: np.ndarray | None) -> None:
        steps = np.asarray(steps, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        if stamps is None:
            self.has_stamps = False  # the time axes fall back to steps for this series
            stamps = np.full(len(values), np.nan)
        stamps = np.asarray(stamps, dtype=np.float64)
        t0 = self.stamps.view[0] if self.stamps.n else (stamps[0] if len(stamps) else 0.0)
        for name, old, new in (("step", self.steps, steps), ("time", self.stamps, stamps)):
            joined = np.concatenate([old.view[-1:], new])
            self.sorted[name] = self.sorted[name] and not bool(np.any(np.diff(joined) < 0))
        self.steps.extend(steps)
        self.values.extend(values)
        self.stamps.extend(stamps)
        self.relative.extend(stamps - t0)
        if self._ema.weight > 0:
            self.smoothed.extend(self._ema.extend(values))

    def set_smoothing(self, weight: float) -> None:
        self._ema = Ema(weight)
        self.smoothed.clear()
        if weight > 0:
            self.smoothed.extend(self._ema.extend(self.values.view))

    @property
    def smoothing(self) -> float:
        return self._ema.weight

    def x(self, mode: str) -> np.ndarray:
        if mode == "metric" and self.axis is not None:
            return self.axis.at(self.steps.view)
        if mode == "wall" and self.has_stamps:
            return self.stamps.view
        if mode == "relative" and self.has_stamps:
            return self.relative.view
        return self.steps.view

    @property
    def shown(self) -> np.ndarray:
        """The y values the main curve draws: smoothed when smoothing is on, else the raw values."""
        return self.smoothed.view if self._ema.weight > 0 else self.values.view

    def nearest(self, mode: str, x: float) -> int | None:
        """Index of the logged point whose x is nearest to `x`."""
        xs = self.x(mode)
        n = len(xs)
        if n == 0:
            return None
        if mode == "metric" and self.axis is not None:
            gaps = np.abs(xs - x)
            return None if np.isnan(gaps).all() else int(np.nanargmin(gaps))
        if not self.sorted["step" if mode == "step" or not self.has_stamps else "time"]:
            return int(np.nanargmin(np.abs(xs - x)))
        i = int(np.searchsorted(xs, x))
        candidates = [j for j in (i - 1, i) if 0 <= j < n]
        return min(candidates, key=lambda j: abs(float(xs[j]) - x))
