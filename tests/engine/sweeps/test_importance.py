"""Parameter importance on synthetic trials whose objective depends on one parameter only."""

from __future__ import annotations

import math
import random

import pytest

from engine.sweeps.importance import BINNED, FANOVA, MIN_TRIALS, param_importances


def trials(n: int, seed: int = 1) -> list[tuple[dict[str, object], float]]:
    """lr drives the objective (log-scaled, a bowl at 1e-3); batch and optimizer are noise."""
    rnd = random.Random(seed)
    out: list[tuple[dict[str, object], float]] = []
    for _ in range(n):
        lr = math.exp(rnd.uniform(math.log(1e-5), math.log(1e-1)))
        params = {"batch": rnd.choice([16, 32, 64, 128]), "lr": lr, "optimizer": rnd.choice(["sgd", "adam"])}
        out.append((params, (math.log10(lr) + 3) ** 2 + rnd.gauss(0, 0.02)))
    return out


@pytest.mark.parametrize("method", [FANOVA, BINNED])
def test_the_parameter_the_objective_depends_on_ranks_first_with_most_of_the_variance(method: str) -> None:
    result = param_importances(trials(30), log_params={"lr"}, method=method)
    assert result is not None
    assert result.method == method and result.trials == 30
    assert result.ranking[0] == "lr"
    shares = dict(result.shares)
    assert shares["lr"] > 0.6 and shares["lr"] > 3 * max(shares["batch"], shares["optimizer"])
    assert sum(shares.values()) == pytest.approx(1.0)


def test_too_few_trials_give_no_estimate_and_unfinished_ones_do_not_count() -> None:
    few = trials(MIN_TRIALS - 1) + [({"batch": 16, "lr": 0.1, "optimizer": "sgd"}, math.nan)]
    assert param_importances(few) is None
    assert param_importances(trials(MIN_TRIALS)) is not None


def test_a_parameter_that_never_changed_explains_nothing() -> None:
    data = [({**p, "seed": 7}, v) for p, v in trials(12)]
    result = param_importances(data, log_params={"lr"}, method=BINNED)
    assert result is not None and dict(result.shares)["seed"] == 0.0
    flat = [(p, 1.0) for p, _ in trials(6)]  # the objective never moved: nothing explains it
    result = param_importances(flat)
    assert result is not None and all(s == 0.0 for _, s in result.shares)
