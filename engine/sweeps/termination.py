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

from engine.specs.early_termination import Policy

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
