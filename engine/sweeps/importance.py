"""How much each hyperparameter explains a sweep's objective, across its completed trials.

``param_importances(trials, log_params)`` answers with each parameter's share of the objective's
variance (shares sum to 1, highest first). Two estimators, the first that can run:

* **fANOVA** (Hutter et al. 2014) as optuna provides it (``FanovaImportanceEvaluator``): a random
  forest fitted to the trials, whose prediction variance is split into each parameter's marginal
  contribution. optuna is a dependency of the engine already (the bayesian sampler); its fANOVA
  fits the forest with scikit-learn, which a plain install may lack.
* **Binned variance** (numpy only), the fallback: for each parameter on its own, the share of the
  objective's variance that the means of its groups explain (the correlation ratio eta²); a
  choice's values are its groups, a number's trials are cut into up to 5 groups of similar size
  by rank (so a log-scaled parameter is binned the same way as a linear one). It sees no
  interactions, and with few trials overstates every parameter somewhat, so the shares are only
  comparable with each other.

Fewer than ``MIN_TRIALS`` trials with a finite objective give no estimate (None): on three points
any parameter "explains" the objective.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BINNED", "FANOVA", "MIN_TRIALS", "Importance", "param_importances"]

MIN_TRIALS = 4
FANOVA = "fANOVA (optuna)"
BINNED = "binned variance"
_MAX_BINS = 5


@dataclass(frozen=True)
class Importance:
    """Each parameter's share of the objective's variance, highest first.

    Attributes:
        shares: (parameter, share) pairs; the shares sum to 1 unless the objective did not vary
            (then all are 0). A parameter that had one value in every trial has share 0.
        method: which estimator gave them (``FANOVA`` or ``BINNED``).
        trials: how many trials they were estimated from.
    """

    shares: tuple[tuple[str, float], ...]
    method: str
    trials: int

    @property
    def ranking(self) -> list[str]:
        return [name for name, _ in self.shares]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def param_importances(trials: Sequence[tuple[Mapping[str, Any], float | None]],
                      log_params: Collection[str] = (), *, method: str | None = None,
                      seed: int = 0) -> Importance | None:
    """Each hyperparameter's share of the variance of the objective.

    Args:
        trials: (parameters, objective) of each completed trial; trials without a finite objective
            are left out.
        log_params: parameters searched on a log scale (loguniform): fANOVA splits them in log space.
        method: ``FANOVA`` or ``BINNED`` to force one; by default fANOVA when scikit-learn is there.
        seed: the random forest's seed (fANOVA), for the same answer on the same trials.

    Returns:
        The shares, or None when fewer than ``MIN_TRIALS`` trials have a finite objective.
    """
    done = [(dict(p), float(v)) for p, v in trials if v is not None and math.isfinite(v)]
    if len(done) < MIN_TRIALS:
        return None
    names = [k for k in done[0][0] if all(k in p for p, _ in done)]
    varying = [k for k in names if len({repr(p[k]) for p, _ in done}) > 1]
    objective = np.array([v for _, v in done])
    if method is None:
        method = FANOVA if importlib.util.find_spec("sklearn") is not None else BINNED
    shares: dict[str, float] = dict.fromkeys(names, 0.0)
    if varying and float(np.var(objective)) > 0:
        estimate = _fanova if method == FANOVA else _binned
        shares.update(estimate(done, varying, set(log_params), seed))
        total = sum(shares.values())
        if total > 0:
            shares = {k: v / total for k, v in shares.items()}
    ordered = sorted(shares.items(), key=lambda kv: (-kv[1], names.index(kv[0])))
    return Importance(tuple(ordered), method, len(done))


def _numeric(done: list[tuple[dict[str, Any], float]], name: str) -> list[float] | None:
    values = [_number(p[name]) for p, _ in done]
    return None if any(v is None for v in values) else [float(v or 0.0) for v in values]


def _binned(done: list[tuple[dict[str, Any], float]], names: list[str], _log: set[str],
            _seed: int) -> dict[str, float]:
    y = np.array([v for _, v in done])
    total = float(np.sum((y - y.mean()) ** 2))
    out = {}
    for name in names:
        numbers = _numeric(done, name)
        if numbers is None:
            groups = [repr(p[name]) for p, _ in done]
        else:  # up to _MAX_BINS groups of similar size by rank; equal values always share one
            bins = max(2, min(_MAX_BINS, len(done) // 3))
            distinct = sorted(set(numbers))
            if len(distinct) <= bins:
                groups = [repr(x) for x in numbers]
            else:
                rank = {x: i for i, x in enumerate(distinct)}
                groups = [str(rank[x] * bins // len(distinct)) for x in numbers]
        between = 0.0
        for g in set(groups):
            member = y[[i for i, k in enumerate(groups) if k == g]]
            between += len(member) * float((member.mean() - y.mean()) ** 2)
        out[name] = between / total
    return out


def _fanova(done: list[tuple[dict[str, Any], float]], names: list[str], log: set[str],
            seed: int) -> dict[str, float]:
    import optuna  # slow to import: only when asked

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists: dict[str, optuna.distributions.BaseDistribution] = {}
    encode: dict[str, dict[str, int]] = {}
    for name in names:
        numbers = _numeric(done, name)
        if numbers is None:  # choices by index: optuna wants comparable choices of one kind
            labels = list(dict.fromkeys(repr(p[name]) for p, _ in done))
            encode[name] = {label: i for i, label in enumerate(labels)}
            dists[name] = optuna.distributions.CategoricalDistribution(list(range(len(labels))))
        else:
            low, high = min(numbers), max(numbers)
            dists[name] = optuna.distributions.FloatDistribution(low, high, log=name in log and low > 0)
    study = optuna.create_study()
    for params, value in done:
        values = {k: encode[k][repr(params[k])] if k in encode else float(params[k]) for k in names}
        study.add_trial(optuna.trial.create_trial(params=values, distributions=dists, value=value))
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    result = optuna.importance.get_param_importances(study, evaluator=evaluator, params=names)
    return {k: max(0.0, float(v)) for k, v in result.items()}
