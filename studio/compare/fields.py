"""The settings of runs side by side, and which of them differ. No Qt in this module."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine import entities as E
from studio.format import fmt_value

MISSING = "—"


@dataclass(frozen=True)
class FieldRow:
    name: str
    values: tuple[str, ...]  # one per run, MISSING where a run has no such field
    differs: bool


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def run_fields(run: E.Run) -> dict[str, str]:
    """What a run was launched with and what it recorded, as 'field' -> text."""
    fields: dict[str, str] = {
        "experiment": run.experiment_name,
        "compute": run.compute,
        "environment": run.environment or "",
        "command": run.command or "",
        "arguments": " ".join(run.arguments),
    }
    if run.git:
        fields["git commit"] = str(run.git.get("commit") or "")
    if run.max_run_duration_seconds:
        fields["max duration (s)"] = f"{run.max_run_duration_seconds:g}"
    for prefix, values in (
        ("param", run.params),
        ("input", run.inputs),
        ("tag", run.tags),
        ("property", run.properties),
    ):
        for key in sorted(values):
            fields[f"{prefix}: {key}"] = _text(values[key])
    return {k: v for k, v in fields.items() if v != ""}


METRIC_PREFIX = "metric: "


def final_metrics(summaries: list[E.MetricSummary]) -> dict[str, str]:
    """The latest value of each scalar metric of a run, as 'metric: key' -> text."""
    return {
        f"{METRIC_PREFIX}{s.key}": fmt_value(s.last_value)
        for s in sorted(summaries, key=lambda s: s.key)
        if s.kind == "scalar" and s.last_value is not None
    }


def field_rows(
    runs: list[E.Run], *, show_all: bool = False, metrics: list[dict[str, str]] | None = None
) -> list[FieldRow]:
    """Rows for every field any run has, in a stable order; only the differing ones unless show_all.
    `metrics` (one mapping per run, from `final_metrics`) adds the final metric values last."""
    per_run = [run_fields(r) for r in runs]
    if metrics is not None:
        per_run = [{**f, **m} for f, m in zip(per_run, metrics, strict=True)]
    names: list[str] = []
    for fields in per_run:
        names += [n for n in fields if n not in names]
    rows = []
    for name in names:
        values = tuple(f.get(name, MISSING) for f in per_run)
        differs = len(set(values)) > 1
        if differs or show_all:
            rows.append(FieldRow(name, values, differs))
    return rows
