"""Early termination of sweep trials (Azure ML's bandit, median_stopping, truncation_selection).

Each time a trial logs its primary metric counts as one *report* (report k is the k-th value,
``history[k - 1]``). A policy is evaluated at reports ``delay_evaluation + 1``, then every
``evaluation_interval`` reports: report k is an evaluation point when
``k > delay_evaluation and (k - delay_evaluation - 1) % evaluation_interval == 0``
(delay 0, interval 1: every report; delay 5, interval 2: reports 6, 8, 10, ...).

``trials_to_stop`` judges each *running* trial at its latest evaluation point k (the largest one
not after its latest report), against the values at report k of every trial, running or finished,
that has reached report k. So a trial is never stopped for a report other trials have not reached
(a trial alone at report k is never stopped), finished trials count as reference but are never
stopped, and the answer depends only on the histories (not on how often it was asked). Rules, for
goal minimize (maximize mirrors them); "worse" is strict, so a tie never stops a trial:

bandit
    best = the best value at report k. Stop the trial if its value at k is worse than
    ``best * (1 + slack_factor)`` (maximize: ``best / (1 + slack_factor)``), or than
    ``best + slack_amount`` (maximize: ``best - slack_amount``). For a negative best the factor
    applies to its magnitude (``best + |best| * slack_factor``), so the slack still widens the
    allowed range instead of putting the best itself out of it.
median_stopping
    For each trial at report k, the running average of its values at reports 1..k; stop the
    trial if its best value over reports 1..k is worse than the median of those averages.
truncation_selection
    Rank the trials at report k by their value there (worst first; with ``exclude_finished_jobs``
    only running trials are ranked). The worst ``floor(n * truncation_percentage / 100)`` of the n
    are cut (so with fewer than 100 / truncation_percentage trials nothing is cut); a cut trial is
    stopped if it is running and strictly worse than the best trial that is not cut.

A NaN value counts as the worst possible value (a diverged trial is the first to go).

Called with histories that grow one round of reports at a time (every running trial reports, then
the call), the stops are exactly those of one call on the final histories with the stopped trials
still marked running: a trial stopped after report k keeps its latest evaluation point, and the
values at that report do not change afterwards. (Not with ``exclude_finished_jobs``, whose ranking
depends on which trials are running when asked.) For bandit this holds for any order of reports,
since more values at a report only raise the bar.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.sweeps.wording import SweepYamlError, closest, describe

POLICY_TYPES = ("bandit", "median_stopping", "truncation_selection")
_COMMON_KEYS = ("type", "evaluation_interval", "delay_evaluation")
_KEYS = {
    "bandit": (*_COMMON_KEYS, "slack_factor", "slack_amount"),
    "median_stopping": _COMMON_KEYS,
    "truncation_selection": (*_COMMON_KEYS, "truncation_percentage", "exclude_finished_jobs"),
}
_EXAMPLES = {
    "bandit": "{type: bandit, slack_factor: 0.1, evaluation_interval: 1, delay_evaluation: 5}",
    "median_stopping": "{type: median_stopping, evaluation_interval: 1, delay_evaluation: 5}",
    "truncation_selection": "{type: truncation_selection, truncation_percentage: 20, evaluation_interval: 1, "
                            "delay_evaluation: 5}",
}


class PolicyError(SweepYamlError):
    """An early termination policy is invalid; ``path`` is under ``early_termination``."""


@dataclass(frozen=True)
class Policy:
    """An early termination policy, as parsed from the YAML mapping under ``early_termination:``."""

    type: str
    evaluation_interval: int = 1
    delay_evaluation: int = 0
    slack_factor: float | None = None
    slack_amount: float | None = None
    truncation_percentage: int | None = None
    exclude_finished_jobs: bool = False


# --------------------------------------------------------------------------------------------
# parsing


def parse_policy(raw: object) -> Policy | None:
    """The mapping under ``early_termination:`` -> Policy; None when it is missing or empty."""
    if raw is None or (isinstance(raw, Mapping) and not raw):
        return None
    if not isinstance(raw, Mapping):
        raise PolicyError(f"early_termination must be a mapping, found {describe(raw)}",
                          f"e.g. early_termination: {_EXAMPLES['bandit']}", ())
    if "type" not in raw:
        raise PolicyError("early_termination has no type", f"add `type:`, one of: {', '.join(POLICY_TYPES)}",
                          ("type",))
    kind = raw["type"]
    if not isinstance(kind, str):
        raise PolicyError(f"early_termination type must be a string, found {describe(kind)}",
                          f"one of: {', '.join(POLICY_TYPES)}", ("type",))
    if kind not in POLICY_TYPES:
        close = closest(kind, POLICY_TYPES)
        hint = f"the policies are: {', '.join(POLICY_TYPES)}"
        raise PolicyError(f"unknown early termination policy {kind!r}",
                          f"did you mean {close[0]!r}? {hint[0].upper()}{hint[1:]}" if close else hint, ("type",))
    for key in raw:
        if key not in _KEYS[kind]:
            raise PolicyError(f"{kind} policy: unknown key {key!r}", _unknown_key_hint(kind, key), (str(key),))

    interval = _whole(raw, kind, "evaluation_interval", default=1, minimum=0)
    fields: dict[str, Any] = {
        # 0 is the Azure SDK v2 default and means "every report".
        "evaluation_interval": max(interval, 1),
        "delay_evaluation": _whole(raw, kind, "delay_evaluation", default=0, minimum=0),
    }
    if kind == "bandit":
        given = [key for key in ("slack_factor", "slack_amount") if key in raw]
        if len(given) != 1:
            raise PolicyError(
                "bandit policy: give exactly one of slack_factor and slack_amount"
                + (", not both" if given else ""),
                "slack_factor: 0.1 allows 10% from the best trial; slack_amount: 0.05 allows an absolute 0.05",
                (given[1],) if given else ("type",),
            )
        key = given[0]
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise PolicyError(f"bandit policy: {key} must be a number >= 0, found {describe(value)}",
                              f"e.g. {key}: 0.1", (key,))
        fields[key] = float(value)
    elif kind == "truncation_selection":
        if "truncation_percentage" not in raw:
            raise PolicyError("truncation_selection policy is missing 'truncation_percentage'",
                              "the percentage of worst trials to stop at each evaluation, e.g. truncation_percentage: 20",
                              ("truncation_percentage",))
        fields["truncation_percentage"] = _whole(raw, kind, "truncation_percentage", default=0, minimum=1, maximum=99)
        exclude = raw.get("exclude_finished_jobs", False)
        if not isinstance(exclude, bool):
            raise PolicyError(
                f"truncation_selection policy: exclude_finished_jobs must be true or false, found {describe(exclude)}",
                "exclude_finished_jobs: true ranks only the trials still running", ("exclude_finished_jobs",))
        fields["exclude_finished_jobs"] = exclude
    return Policy(type=kind, **fields)


def _whole(raw: Mapping[Any, Any], kind: str, key: str, *, default: int, minimum: int,
           maximum: int | None = None) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum and value > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum else f">= {minimum}"
        hints = {
            "evaluation_interval": "evaluation_interval: 1 applies the policy at every report",
            "delay_evaluation": "delay_evaluation: 5 leaves every trial alone for its first 5 reports",
            "truncation_percentage": "e.g. truncation_percentage: 20 stops the worst 20% at each evaluation",
        }
        raise PolicyError(f"{kind} policy: {key} must be a whole number {bounds}, found {describe(value)}",
                          hints[key], (key,))
    return value


def _unknown_key_hint(kind: str, key: object) -> str:
    owners = [other for other, keys in _KEYS.items() if key in keys]
    if owners:
        return f"{key} belongs to the {owners[0]} policy; remove it, or write `type: {owners[0]}`"
    takes = f"a {kind} policy takes {', '.join(_KEYS[kind][1:])}"
    close = closest(str(key), _KEYS[kind])
    return f"did you mean {close[0]!r}? {takes[0].upper()}{takes[1:]}" if close else takes


# --------------------------------------------------------------------------------------------
# evaluation


def is_evaluation_point(policy: Policy, report: int) -> bool:
    """Whether the policy is applied at report `report` (1-based)."""
    return report > policy.delay_evaluation and (report - policy.delay_evaluation - 1) % policy.evaluation_interval == 0


def latest_evaluation_point(policy: Policy, reports: int) -> int | None:
    """The last evaluation point at or before report `reports`; None before the first one."""
    if reports <= policy.delay_evaluation:
        return None
    return reports - (reports - policy.delay_evaluation - 1) % policy.evaluation_interval


@dataclass(frozen=True)
class _Judge:
    """What every rule needs: the direction, the metric's name and the trials' values."""

    minimize: bool
    metric: str
    values: Mapping[str, Sequence[float]]  # NaN replaced by the worst value
    shown: Mapping[str, Sequence[float]]  # as reported, for the reasons

    def worse(self, a: float, b: float) -> bool:
        return a > b if self.minimize else a < b

    def best(self, values: Sequence[float]) -> float:
        return min(values) if self.minimize else max(values)


def trials_to_stop(policy: Policy, goal: str, histories: Mapping[str, Sequence[float]],
                   running: Collection[str], *, metric: str = "primary metric") -> dict[str, str]:
    """{trial: reason} for the running trials `policy` stops now (rules: the module docstring).

    `histories` maps every trial (running or finished) to its primary metric values in report
    order; `metric` names the metric in the reasons."""
    if goal.lower() not in ("minimize", "maximize"):
        raise ValueError(f"unknown goal {goal!r} (use minimize or maximize)")
    minimize = goal.lower() == "minimize"
    worst = math.inf if minimize else -math.inf
    judge = _Judge(
        minimize=minimize,
        metric=metric,
        values={name: [worst if math.isnan(v) else float(v) for v in h] for name, h in histories.items()},
        shown=histories,
    )
    rule = _RULES[policy.type]
    stops: dict[str, str] = {}
    for name in sorted(running):
        report = latest_evaluation_point(policy, len(histories.get(name) or ()))
        if report is None:
            continue
        peers = [other for other, values in judge.values.items() if len(values) >= report]
        reason = rule(policy, judge, name, report, peers, running)
        if reason:
            stops[name] = reason
    return stops


def _bandit(policy: Policy, judge: _Judge, name: str, k: int, peers: list[str], running: Collection[str]) -> str | None:
    at_k = {peer: judge.values[peer][k - 1] for peer in peers}
    best = judge.best(list(at_k.values()))
    value = at_k[name]
    if not math.isfinite(best):
        return None  # every trial diverged: nothing to measure slack from
    if policy.slack_amount is not None:
        slack = policy.slack_amount
        bar = best + slack if judge.minimize else best - slack
        formula = f"{_num(best)} {'+' if judge.minimize else '-'} {_num(slack)}"
    else:
        factor = policy.slack_factor or 0.0
        if best >= 0:
            bar = best * (1 + factor) if judge.minimize else best / (1 + factor)
            formula = f"{_num(best)} {'*' if judge.minimize else '/'} (1 + {_num(factor)})"
        elif judge.minimize:
            bar = best + abs(best) * factor
            formula = f"{_num(best)} + {_num(abs(best))} * {_num(factor)}"
        else:
            bar = best - abs(best) * factor / (1 + factor)
            formula = f"{_num(best)} - {_num(abs(best))} * {_num(factor)} / (1 + {_num(factor)})"
    if not judge.worse(value, bar):
        return None
    return (f"bandit policy: {judge.metric} {_num(judge.shown[name][k - 1])} at report {k} is worse than "
            f"{formula} = {_num(bar)} ({_num(best)} is the best at report {k})")


def _median_stopping(policy: Policy, judge: _Judge, name: str, k: int, peers: list[str],
                     running: Collection[str]) -> str | None:
    averages = [sum(judge.values[peer][:k]) / k for peer in peers]
    median = statistics.median(averages)
    best = judge.best(judge.values[name][:k])
    if not judge.worse(best, median):
        return None
    diverged = math.isinf(best) and any(math.isnan(v) for v in judge.shown[name][:k])
    shown = "nan" if diverged else _num(best)
    reports = "report 1" if k == 1 else f"reports 1-{k}"
    return (f"median stopping policy: the best {judge.metric} of {reports}, {shown}, is worse than "
            f"{_num(median)}, the median of the running averages of the {len(peers)} trials at report {k}")


def _truncation_selection(policy: Policy, judge: _Judge, name: str, k: int, peers: list[str],
                          running: Collection[str]) -> str | None:
    ranked = [peer for peer in peers if peer in running] if policy.exclude_finished_jobs else list(peers)
    # Worst first; the name breaks ties only to make the order stable.
    ranked.sort(key=lambda peer: (judge.values[peer][k - 1] * (-1 if judge.minimize else 1), peer))
    percentage = policy.truncation_percentage or 0
    cut = len(ranked) * percentage // 100
    if name not in ranked[:cut]:
        return None
    spared = judge.values[ranked[cut]][k - 1]
    if not judge.worse(judge.values[name][k - 1], spared):
        return None  # tied with a trial that stays: cutting one of equals would be arbitrary
    return (f"truncation selection policy: {judge.metric} {_num(judge.shown[name][k - 1])} at report {k} is "
            f"among the worst {percentage}% of the {len(ranked)} trials at report {k} "
            f"(the worst {cut} {'is' if cut == 1 else 'are'} stopped)")


_Rule = Callable[[Policy, _Judge, str, int, list[str], Collection[str]], "str | None"]
_RULES: dict[str, _Rule] = {
    "bandit": _bandit,
    "median_stopping": _median_stopping,
    "truncation_selection": _truncation_selection,
}


def _num(value: float) -> str:
    return f"{value:.4g}"
