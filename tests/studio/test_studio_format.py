"""One way of writing numbers, times and durations on every page (studio.format)."""

from __future__ import annotations

import datetime as dt

from studio.format import fmt_duration, fmt_number, fmt_span, fmt_time, fmt_value


def test_numbers_have_four_significant_figures_separators_and_scientific_at_the_ends():
    assert fmt_number(0.0003616) == "3.616e-4"
    assert fmt_number(0.25) == "0.25"
    assert fmt_number(2.302585) == "2.303"
    assert fmt_number(0.1234567) == "0.1235"
    assert fmt_number(1234.5678) == "1,235"
    assert fmt_number(98765.4) == "98,770"
    assert fmt_number(12_345_678.0) == "1.235e7"
    assert fmt_number(1e-5) == "1e-5"
    assert fmt_number(-0.0000123456) == "-1.235e-5"
    assert fmt_number(3.0) == "3"
    assert fmt_number(0.0) == "0"
    assert fmt_number(1_000_000) == "1,000,000"  # integers (steps, counts) stay whole
    assert fmt_number(float("nan")) == "NaN"
    assert fmt_value(None) == "" and fmt_value("adam") == "adam" and fmt_value(True) == "True"


def test_times_and_durations():
    now = dt.datetime(2026, 12, 5, 16, 30).timestamp()
    assert fmt_time(dt.datetime(2026, 12, 5, 9, 5, 7).timestamp(), now) == "Today 09:05:07"
    assert fmt_time(dt.datetime(2026, 12, 4, 23, 0, 0).timestamp(), now) == "Yesterday 23:00:00"
    assert fmt_time(dt.datetime(2026, 11, 30, 8, 1, 2).timestamp(), now) == "2026-11-30 08:01:02"
    assert [fmt_duration(s) for s in (0.3, 42, 185, 7380, 3 * 86400 + 4 * 3600)] == [
        "<1s", "42s", "3m 05s", "2h 03m", "3d 04h"]
    assert fmt_span(5400) == "1h 30m"
