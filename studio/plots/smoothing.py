"""TensorBoard-style smoothing: a debiased exponential moving average, vectorised with numpy.

TensorBoard's loop, for a weight w in [0, 1):

    last = 0; n = 0
    for v in values:  (non-finite values pass through unchanged and are skipped)
        last = last * w + (1 - w) * v;  n += 1;  smoothed = last / (1 - w ** n)

A Python loop costs ~30 ms per 100,000 points; this does the same in blocks with numpy, and
`Ema` carries the state on so appended points cost only their own length.
"""

from __future__ import annotations

import math

import numpy as np


def _ema_from_zero(x: np.ndarray, w: float) -> np.ndarray:
    """y[t] = w * y[t-1] + (1 - w) * x[t] with y[-1] = 0, for 0 < w < 1."""
    n = len(x)
    # Within a block, w**-i must stay far from overflowing float64 (its error stays relative
    # to the largest term, which is the one that matters).
    block = max(2, min(1024, int(200 / -math.log10(w))))
    blocks = -(-n // block)
    padded = np.zeros(blocks * block)
    padded[:n] = x
    xs = padded.reshape(blocks, block)
    i = np.arange(block)
    grow = w ** i  # w**t within a block
    inner = (1 - w) * grow * np.cumsum(xs * (w ** -i), axis=1)  # each block as if it started from 0
    # Carry each block's last value into the next: one scalar recurrence per block.
    carry = np.empty(blocks)
    decay, last = w ** block, 0.0
    ends = inner[:, -1].tolist()
    for k in range(blocks):
        carry[k] = last
        last = last * decay + ends[k]
    out = inner + carry[:, None] * (w * grow)[None, :]
    return out.reshape(-1)[:n]


class Ema:
    """Smooths a growing series: `extend(values)` returns the smoothed values of just those."""

    def __init__(self, weight: float) -> None:
        self.weight = float(weight)
        self._last = 0.0  # the biased average so far
        self._count = 0  # finite values seen so far

    def extend(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        w = self.weight
        if w <= 0 or len(values) == 0:
            return values.copy()
        out = values.copy()
        finite = np.isfinite(values)
        x = values[finite]
        if len(x) == 0:
            return out
        t = np.arange(1, len(x) + 1)
        biased = _ema_from_zero(x, w) + self._last * w ** t
        out[finite] = biased / (1 - w ** (self._count + t))
        self._last = float(biased[-1])
        self._count += len(x)
        return out


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    return Ema(weight).extend(values)
