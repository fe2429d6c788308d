"""Series colours: distinct hues that stay readable on light and dark backgrounds."""

from __future__ import annotations

# Tableau 10, slightly deepened so the light ones keep contrast on white.
SERIES_COLORS = (
    "#2f80ed", "#f2994a", "#27ae60", "#e5484d", "#9b51e0",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)


def series_color(index: int) -> str:
    return SERIES_COLORS[index % len(SERIES_COLORS)]
