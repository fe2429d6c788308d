"""The Overview's Sweep section: a sweep run's settings, trials and best trial in words, from the
sweep record its controller keeps in the run's properties."""

from __future__ import annotations

import html
from typing import Any

from engine import entities as E
from engine.runtime import sweepresults
from studio.format import fmt_span
from studio.rundetail.trials import fmt_param, fmt_params
from studio.style import fmt_value, plural, status_label

__all__ = ["describe_best", "describe_limits", "describe_policy", "describe_sampling", "describe_space",
           "sweep_values"]


def sweep_values(run: E.Run) -> dict[str, str]:
    """The Sweep section's rows of a sweep run, from its record ('' for other runs)."""
    keys = ("sweep_sampling", "sweep_space", "sweep_objective", "sweep_limits", "sweep_termination",
            "sweep_trials", "sweep_best")
    record = sweepresults.SweepRecord.from_properties(run.properties)
    if record is None:
        return dict.fromkeys(keys, "")
    settings, metric, counts = record.settings, record.primary_metric, record.result.trials
    order = ("Completed", "Running", "Queued", "Canceled", "Failed")
    trials = ", ".join(f"{n:,} {status_label(k).lower()}"
                       for k, n in sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 9))
    best = record.result
    best_text = ""
    if best.best_child_run_id:
        best_text = describe_best(best.best_child_run_id, metric, best.best_metric_value, best.best_params)
    return {
        "sweep_sampling": describe_sampling(settings),
        "sweep_space": describe_space(record.search_space),
        "sweep_objective": f"{record.goal} {metric}".strip(),
        "sweep_limits": describe_limits(settings),
        "sweep_termination": describe_policy(settings.get("early_termination")) if settings else "",
        "sweep_trials": (f"{plural(sum(counts.values()), 'trial')} · {trials}" if counts
                         else "None yet" if not run.is_terminal else "None"),
        "sweep_best": best_text,
    }


def describe_best(name: str, metric: str, value: Any, params: dict[str, Any]) -> str:
    """'quiet_dingo_6: val_loss 0.1167 (lr=0.001129, optimizer=sgd)', the name a link to the trial."""
    text = f"<a href='run:{html.escape(name)}'>{html.escape(name)}</a>"
    if isinstance(value, (int, float)):
        text += f": {html.escape(metric)} {fmt_value(value)}"
    if params:
        text += f" ({html.escape(fmt_params(params))})"
    return text


def describe_sampling(settings: dict[str, Any]) -> str:
    algorithm = str(settings.get("sampling_algorithm") or "")
    seed = settings.get("seed")
    return algorithm + (f", seed {seed}" if seed is not None and algorithm != "grid" else "")


def describe_space(space: dict[str, Any]) -> str:
    """One line per parameter: 'lr         loguniform(-9, -1)', names padded to one column."""
    width = max((len(name) for name in space), default=0)
    lines = []
    for name, dist in space.items():
        dist = dist if isinstance(dist, dict) else {}
        kind = str(dist.get("type", "?"))
        if kind == "choice":
            args = ", ".join(fmt_param(v) for v in dist.get("values") or ())
        else:
            args = ", ".join(f"q={fmt_param(v)}" if k == "q" else fmt_param(v)
                             for k, v in dist.items() if k != "type")
        lines.append(f"{name.ljust(width)}  {kind}({args})")
    return "\n".join(lines)


fmt_seconds = fmt_span  # a configured limit: no zero parts


def describe_limits(settings: dict[str, Any]) -> str:
    bits = []
    if settings.get("max_total_trials"):
        bits.append(plural(int(settings["max_total_trials"]), "trial"))
    if settings.get("max_concurrent_trials"):
        bits.append(f"{settings['max_concurrent_trials']} at a time")
    if settings.get("timeout_seconds"):
        bits.append(f"timeout {fmt_seconds(float(settings['timeout_seconds']))}")
    if settings.get("trial_timeout_seconds"):
        bits.append(f"{fmt_seconds(float(settings['trial_timeout_seconds']))} per trial")
    return ", ".join(bits)


def describe_policy(policy: dict[str, Any] | None) -> str:
    """'bandit: slack factor 0.5, every 2 reports after 3' (reports of the primary metric)."""
    if not policy:
        return "None"
    kind = str(policy.get("type", ""))
    bits = []
    if policy.get("slack_factor") is not None:
        bits.append(f"slack factor {fmt_param(policy['slack_factor'])}")
    if policy.get("slack_amount") is not None:
        bits.append(f"slack amount {fmt_param(policy['slack_amount'])}")
    if policy.get("truncation_percentage") is not None:
        bits.append(f"the worst {policy['truncation_percentage']}%"
                    + (" of the running trials" if policy.get("exclude_finished_jobs") else ""))
    interval = int(policy.get("evaluation_interval") or 1)
    delay = int(policy.get("delay_evaluation") or 0)
    when = "every report" if interval == 1 else f"every {interval} reports"
    bits.append(when + (f" after {delay}" if delay else ""))
    return f"{kind.replace('_', ' ')}: {', '.join(bits)}"
