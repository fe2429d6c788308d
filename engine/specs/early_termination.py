"""The `early_termination:` of a sweep job (Azure ML's bandit, median_stopping,
truncation_selection), parsed into a ``Policy`` that engine.sweeps.termination applies. Errors are
``PolicyError``s whose path is under ``early_termination``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.specs.sweep_wording import SweepYamlError, closest, describe

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
