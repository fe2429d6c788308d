"""How the studio writes numbers, times, durations and sizes: one place, every page.

Numbers: 4 significant figures, thousands separators, scientific notation only for the tiny and
the huge (0.0003616 -> 3.616e-4, 12_345_678 -> 1.235e7). Times: 'Today 14:03:22',
'Yesterday 09:15:00', '2026-12-03 14:03:22' (always to the second), and in full with the zone
for tooltips. Durations as people say them: '<1s', '42s', '3m 05s', '2h 03m', '3d 04h'.
Pure functions, no Qt: the tests call them directly."""

from __future__ import annotations

import datetime as _dt
import math
import time

from engine.snapshots.limits import human_size

SIGNIFICANT = 4
TINY = 1e-3  # below this (and above 0): scientific
HUGE = 1e6  # from this: scientific (integers stay whole up to 1e15: step counts, sizes)


def fmt_number(v: float) -> str:
    """One number, e.g. 0.25 -> '0.25', 1234.5678 -> '1,235', 0.0003616 -> '3.616e-4'."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}" if abs(v) < 1e15 else _scientific(float(v))
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v == 0:
        return "0"
    a = abs(v)
    if a < TINY or a >= HUGE:
        return _scientific(v)
    decimals = SIGNIFICANT - 1 - math.floor(math.log10(a))
    rounded = round(v, decimals)
    if decimals <= 0:
        return f"{rounded:,.0f}"
    text = f"{rounded:,.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _scientific(v: float) -> str:
    mantissa, _, exponent = f"{v:.{SIGNIFICANT - 1}e}".partition("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    return f"{mantissa}e{int(exponent)}"


def fmt_value(v: object) -> str:
    """Any metric, parameter or property value: numbers as fmt_number, None as '', else str."""
    if v is None:
        return ""
    if isinstance(v, (int, float)):
        return fmt_number(v)
    return str(v)


def fmt_time(ts: float | None, now: float | None = None) -> str:
    """'Today 14:03:22', 'Yesterday 09:15:00', '2026-12-03 14:03:22' (local time)."""
    if ts is None:
        return ""
    t = _dt.datetime.fromtimestamp(ts)
    today = _dt.date.fromtimestamp(time.time() if now is None else now)
    if t.date() == today:
        return t.strftime("Today %H:%M:%S")
    if t.date() == today - _dt.timedelta(days=1):
        return t.strftime("Yesterday %H:%M:%S")
    return t.strftime("%Y-%m-%d %H:%M:%S")


def fmt_time_full(ts: float | None) -> str:
    """'2026-12-03 14:03:22 CET': for tooltips and property lists."""
    if ts is None:
        return ""
    return _dt.datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def fmt_clock(ts: float | None) -> str:
    """'14:03:22': a time of day, where the day is clear from the context (a timeline, a log)."""
    return "" if ts is None else _dt.datetime.fromtimestamp(ts).strftime("%H:%M:%S")


def fmt_duration(seconds: float | None) -> str:
    """'<1s', '42s', '3m 05s', '2h 03m', '3d 04h'."""
    if seconds is None:
        return ""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s" if s or seconds <= 0 else "<1s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h {m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d {h:02d}h"


def fmt_span(seconds: float) -> str:
    """A configured length of time, without zero parts: 3600 -> '1h', 5400 -> '1h 30m', 90 -> '1m 30s'."""
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{sec}s" if sec else ""]
    return " ".join(p for p in parts if p) or "0s"


def run_duration(start: float | None, end: float | None) -> float | None:
    if start is None:
        return None
    return (end or time.time()) - start


def fmt_size(n: int) -> str:
    """'1.5 KB': sizes read as the engine writes them (a snapshot's limit, the CLI)."""
    return human_size(n)


def plural(n: int, word: str) -> str:
    """'1 run', '2 runs' (n formatted with thousands separators)."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")
