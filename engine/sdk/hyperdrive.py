"""`azureml.train.hyperdrive`: a HyperDriveConfig submitted with `Experiment.submit` runs as a
Trainyard sweep (engine.sweeps): the same samplers, early-termination policies and child runs as
a `type: sweep` job file.

Each trial runs the ScriptRunConfig's script with its arguments, then each sampled hyperparameter
appended as `NAME VALUE`, as Azure ML does: a parameter named `--lr` (or `lr`, which gets the
dashes) reaches the script as `--lr 0.01`. The trial's primary metric is the last value it logged.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from engine.errors import InvalidSpec
from engine.jobs.spec import SweepSpec
from engine.specs.early_termination import Policy, parse_policy
from engine.specs.search_space import Parameter, check_algorithm_allows, parse_search_space
from engine.specs.sweep_wording import SweepYamlError

__all__ = [
    "BanditPolicy",
    "BayesianParameterSampling",
    "GridParameterSampling",
    "HyperDriveConfig",
    "MedianStoppingPolicy",
    "NoTerminationPolicy",
    "PrimaryMetricGoal",
    "RandomParameterSampling",
    "TruncationSelectionPolicy",
    "choice",
    "lognormal",
    "loguniform",
    "normal",
    "qlognormal",
    "qloguniform",
    "qnormal",
    "quniform",
    "randint",
    "uniform",
]


# ------------------------------------------------------------------------------ parameter expressions
@dataclass(frozen=True)
class ParameterExpression:
    """One distribution of the search space (what `choice(...)`, `uniform(...)` ... return)."""

    kind: str
    args: dict[str, Any]

    def to_yaml(self) -> dict[str, Any]:
        return {"type": self.kind, **self.args}


def choice(*options: Any) -> ParameterExpression:
    """`choice(16, 32)`, `choice([16, 32])` or `choice(range(1, 5))`."""
    values = (
        list(options[0])
        if len(options) == 1 and isinstance(options[0], (list, tuple, range))
        else list(options)
    )
    return ParameterExpression("choice", {"values": values})


def randint(upper: int) -> ParameterExpression:
    return ParameterExpression("randint", {"upper": upper})


def uniform(min_value: float, max_value: float) -> ParameterExpression:
    return ParameterExpression("uniform", {"min_value": min_value, "max_value": max_value})


def quniform(min_value: float, max_value: float, q: float) -> ParameterExpression:
    return ParameterExpression("quniform", {"min_value": min_value, "max_value": max_value, "q": q})


def loguniform(min_value: float, max_value: float) -> ParameterExpression:
    """exp(uniform(min_value, max_value)): the bounds are exponents, as in Azure ML."""
    return ParameterExpression("loguniform", {"min_value": min_value, "max_value": max_value})


def qloguniform(min_value: float, max_value: float, q: float) -> ParameterExpression:
    return ParameterExpression("qloguniform", {"min_value": min_value, "max_value": max_value, "q": q})


def normal(mu: float, sigma: float) -> ParameterExpression:
    return ParameterExpression("normal", {"mu": mu, "sigma": sigma})


def qnormal(mu: float, sigma: float, q: float) -> ParameterExpression:
    return ParameterExpression("qnormal", {"mu": mu, "sigma": sigma, "q": q})


def lognormal(mu: float, sigma: float) -> ParameterExpression:
    return ParameterExpression("lognormal", {"mu": mu, "sigma": sigma})


def qlognormal(mu: float, sigma: float, q: float) -> ParameterExpression:
    return ParameterExpression("qlognormal", {"mu": mu, "sigma": sigma, "q": q})


# ------------------------------------------------------------------------------ sampling
class _Sampling:
    algorithm = "random"

    def __init__(
        self,
        parameter_space: dict[str, Any],
        properties: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        if not isinstance(parameter_space, dict) or not parameter_space:
            raise InvalidSpec(
                f"{type(self).__name__} needs a dict of parameter names to distributions",
                "e.g. {'--lr': uniform(0.001, 0.1), '--batch-size': choice(16, 32)}",
                field="parameter_space",
            )
        self.parameter_space = dict(parameter_space)
        self.properties = dict(properties or {})
        self.seed = seed if seed is not None else self.properties.get("rng_seed")


class RandomParameterSampling(_Sampling):
    algorithm = "random"


class GridParameterSampling(_Sampling):
    algorithm = "grid"


class BayesianParameterSampling(_Sampling):
    algorithm = "bayesian"


# ------------------------------------------------------------------------------ policies
class _Policy:
    def to_yaml(self) -> dict[str, Any] | None:
        raise NotImplementedError


class NoTerminationPolicy(_Policy):
    def to_yaml(self) -> None:
        return None


class BanditPolicy(_Policy):
    def __init__(
        self,
        evaluation_interval: int = 1,
        slack_factor: float | None = None,
        slack_amount: float | None = None,
        delay_evaluation: int = 0,
    ) -> None:
        self.evaluation_interval = evaluation_interval
        self.slack_factor = slack_factor
        self.slack_amount = slack_amount
        self.delay_evaluation = delay_evaluation

    def to_yaml(self) -> dict[str, Any]:
        slack = {"slack_factor": self.slack_factor} if self.slack_factor is not None else {}
        if self.slack_amount is not None:
            slack["slack_amount"] = self.slack_amount
        return {
            "type": "bandit",
            "evaluation_interval": self.evaluation_interval,
            "delay_evaluation": self.delay_evaluation,
            **slack,
        }


class MedianStoppingPolicy(_Policy):
    def __init__(self, evaluation_interval: int = 1, delay_evaluation: int = 0) -> None:
        self.evaluation_interval = evaluation_interval
        self.delay_evaluation = delay_evaluation

    def to_yaml(self) -> dict[str, Any]:
        return {
            "type": "median_stopping",
            "evaluation_interval": self.evaluation_interval,
            "delay_evaluation": self.delay_evaluation,
        }


class TruncationSelectionPolicy(_Policy):
    def __init__(
        self,
        truncation_percentage: int,
        evaluation_interval: int = 1,
        delay_evaluation: int = 0,
        exclude_finished_jobs: bool = False,
    ) -> None:
        self.truncation_percentage = truncation_percentage
        self.evaluation_interval = evaluation_interval
        self.delay_evaluation = delay_evaluation
        self.exclude_finished_jobs = exclude_finished_jobs

    def to_yaml(self) -> dict[str, Any]:
        return {
            "type": "truncation_selection",
            "truncation_percentage": self.truncation_percentage,
            "evaluation_interval": self.evaluation_interval,
            "delay_evaluation": self.delay_evaluation,
            "exclude_finished_jobs": self.exclude_finished_jobs,
        }


class PrimaryMetricGoal(Enum):
    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"


# ------------------------------------------------------------------------------ the config
class HyperDriveConfig:
    """A sweep of `run_config` (a ScriptRunConfig) over `hyperparameter_sampling`."""

    def __init__(
        self,
        hyperparameter_sampling: _Sampling,
        primary_metric_name: str,
        primary_metric_goal: PrimaryMetricGoal | str,
        max_total_runs: int,
        max_concurrent_runs: int | None = None,
        max_duration_minutes: int = 10080,
        policy: _Policy | None = None,
        estimator: Any = None,
        run_config: Any = None,
        resume_from: Any = None,
        resume_child_runs: Any = None,
        pipeline: Any = None,
        **_ignored: Any,
    ) -> None:
        for name, given in (
            ("estimator", estimator),
            ("pipeline", pipeline),
            ("resume_from", resume_from),
            ("resume_child_runs", resume_child_runs),
        ):
            if given is not None:
                raise InvalidSpec(
                    f"HyperDriveConfig({name}=...) is not provided by Trainyard",
                    "pass run_config=ScriptRunConfig(...) (estimators are deprecated in Azure ML too)",
                    field=name,
                )
        if run_config is None:
            raise InvalidSpec(
                "HyperDriveConfig needs run_config=ScriptRunConfig(...)",
                "the script every trial runs, with its environment and compute",
                field="run_config",
            )
        if not isinstance(hyperparameter_sampling, _Sampling):
            raise InvalidSpec(
                "hyperparameter_sampling must be RandomParameterSampling, GridParameterSampling or "
                f"BayesianParameterSampling, not {type(hyperparameter_sampling).__name__}",
                "e.g. RandomParameterSampling({'--lr': uniform(0.001, 0.1)})",
                field="hyperparameter_sampling",
            )
        goal = (
            primary_metric_goal.value
            if isinstance(primary_metric_goal, PrimaryMetricGoal)
            else str(primary_metric_goal)
        )
        if goal.lower() not in ("maximize", "minimize"):
            raise InvalidSpec(
                f"primary_metric_goal {primary_metric_goal!r} is neither MAXIMIZE nor MINIMIZE",
                "use PrimaryMetricGoal.MAXIMIZE or PrimaryMetricGoal.MINIMIZE",
                field="primary_metric_goal",
            )
        for name, value in (("max_total_runs", max_total_runs), ("max_concurrent_runs", max_concurrent_runs)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InvalidSpec(
                    f"{name} must be a whole number >= 1, not {value!r}", f"e.g. {name}=4", field=name
                )
        self.hyperparameter_sampling = hyperparameter_sampling
        self.primary_metric_name = primary_metric_name
        self.primary_metric_goal = goal.lower()
        self.max_total_runs = max_total_runs
        # None: every run at once, as in Azure ML (the compute target's limit still queues them).
        self.max_concurrent_runs = max_concurrent_runs or max_total_runs
        self.max_duration_minutes = max_duration_minutes
        self.policy = policy
        self.run_config = run_config

    def to_sweep(self, trial: Any) -> SweepSpec:
        """This sweep over `trial` (the run_config's JobSpec, script and arguments)."""
        # A distributed run_config sweeps as it runs alone: every trial keeps its distribution.
        flags, raw = _flags(self.hyperparameter_sampling.parameter_space)
        space = _space(raw, self.hyperparameter_sampling.algorithm)
        words = ["python", trial.script, *trial.arguments]
        command = " ".join(_arg(w) for w in words)
        command += "".join(
            f" {shlex.quote(flag)} ${{{{search_space.{name}}}}}" for name, flag in flags.items()
        )
        policy: Policy | None = None
        raw_policy = self.policy.to_yaml() if self.policy is not None else None
        if raw_policy is not None:
            try:
                policy = parse_policy(raw_policy)
            except SweepYamlError as exc:
                raise InvalidSpec(f"policy: {exc.message}", exc.hint, field="policy") from None
        minutes = self.max_duration_minutes
        return SweepSpec(
            # The flags are recorded so that HyperDriveRun names hyperparameters as the script got them.
            trial=replace(
                trial,
                command=command,
                script=None,
                arguments=(),
                properties={**trial.properties, HYPERDRIVE_FLAGS: flags},
            ),
            search_space=space,
            primary_metric=self.primary_metric_name,
            goal=self.primary_metric_goal,
            sampling_algorithm=self.hyperparameter_sampling.algorithm,
            seed=self.hyperparameter_sampling.seed,
            max_total_trials=self.max_total_runs,
            max_concurrent_trials=self.max_concurrent_runs,
            timeout_seconds=float(minutes) * 60 if minutes else None,
            trial_timeout_seconds=trial.max_run_duration_seconds,
            early_termination=policy,
        )


HYPERDRIVE_FLAGS = "hyperdrive_flags"  # a sweep run's property: search-space name -> flag
_ENV_REF = re.compile(r"\$(\w+|\{\w+\})")


def _arg(word: str) -> str:
    """One argument as a word of the trial's shell command: literal, except `$VAR` / `${VAR}`,
    which Azure ML expands in arguments (here the shell does, inside double quotes)."""
    if _ENV_REF.search(word):
        return '"' + re.sub(r'(["\\`])', r"\\\1", word) + '"'
    return shlex.quote(word)


def _flags(parameter_space: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """HyperDrive names (`--lr`, `lr`) -> search-space names (`lr`) and the flag each is passed as."""
    flags: dict[str, str] = {}
    raw: dict[str, Any] = {}
    for given, expr in parameter_space.items():
        text = str(given)
        name = text.lstrip("-")
        if name in flags:
            raise InvalidSpec(
                f"the parameter space names {name!r} twice ({flags[name]!r} and {text!r})",
                "keep one of them",
                field="parameter_space",
            )
        if not isinstance(expr, ParameterExpression):
            raise InvalidSpec(
                f"parameter {text!r}: {expr!r} is not a distribution",
                "use choice(...), uniform(...), loguniform(...), normal(...), ... from "
                "azureml.train.hyperdrive",
                field="parameter_space",
            )
        flags[name] = text if text.startswith("-") else f"--{text}"
        raw[name] = expr.to_yaml()
    return flags, raw


def _space(raw: dict[str, Any], algorithm: str) -> dict[str, Parameter]:
    try:
        space = parse_search_space(raw)
        check_algorithm_allows(algorithm, space)
    except SweepYamlError as exc:
        raise InvalidSpec(
            f"hyperparameter_sampling: {exc.message}", exc.hint, field="hyperparameter_sampling"
        ) from None
    return space
