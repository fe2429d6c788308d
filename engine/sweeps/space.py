"""The samplers that draw sweep trials from a search space (Azure ML semantics); the space itself is
parsed by engine.specs.search_space.

A q-kind with a whole-number ``q`` gives whole numbers (``int``: quniform 16..128 q 16 -> 32, not
32.0), since every multiple of a whole step is one; a fractional ``q`` gives floats without the
binary noise (q 0.1 -> 0.3, not 0.30000000000000004).

Samplers (``make_sampler``): ``random`` draws every kind, never repeats a combination when the
space is finite (choice, randint, quniform, qloguniform only) and is exhausted once every one was
drawn; ``grid`` walks the cartesian product of choice/randint parameters; ``bayesian`` asks
optuna's TPE sampler (choice, uniform and quniform only, as in Azure ML). ``bayesian`` never
exhausts; the sweep's ``max_total_trials`` bounds it.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol

from engine.specs.search_space import GOALS, Parameter, check_algorithm_allows, sampling_algorithm

if TYPE_CHECKING:
    import optuna

_FINITE_KINDS = frozenset({"choice", "randint", "quniform", "qloguniform"})
# A finite random sweep redraws this often on a repeat before listing what is left.
_REDRAWS = 200
_LISTABLE = 1_000_000


class Sampler(Protocol):
    def suggest(self) -> dict[str, Any] | None:
        """The next trial's parameters; None once the space is exhausted."""

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        """A trial's final primary metric (None: it failed or reported none)."""


# --------------------------------------------------------------------------------------------
# drawing values


def _times_q(n: int, q: float) -> int | float:
    """n * q, exact in decimal: a whole q gives an int, 3 * 0.1 gives 0.3."""
    if isinstance(q, int):
        return n * q
    return float(Decimal(n) * Decimal(repr(q)))


def _q_round(value: float, q: float) -> int | float:
    return _times_q(round(value / q), q)


def draw(parameter: Parameter, rng: random.Random) -> Any:
    """One value of `parameter`, drawn as Azure ML does."""
    kind, args = parameter.kind, parameter.args
    if kind == "choice":
        return rng.choice(args["values"])
    if kind == "randint":
        return rng.randrange(args["upper"])
    if "min_value" in args:
        value = rng.uniform(args["min_value"], args["max_value"])
    else:
        value = rng.gauss(args["mu"], args["sigma"])
    if "log" in kind:
        value = math.exp(value)
    return _q_round(value, args["q"]) if kind.startswith("q") else value


def _finite_values(parameter: Parameter) -> Sequence[Any] | None:
    """Every value `parameter` can take, or None when there are infinitely many."""
    kind, args = parameter.kind, parameter.args
    if kind == "choice":
        return args["values"]
    if kind == "randint":
        return range(args["upper"])
    if kind not in _FINITE_KINDS:
        return None
    low, high, q = args["min_value"], args["max_value"], args["q"]
    if kind == "qloguniform":
        low, high = math.exp(low), math.exp(high)
    # round(u / q) for u in (low, high): the n whose rounding cell [n - 1/2, n + 1/2] overlaps it.
    first = math.floor(low / q - 0.5) + 1
    last = math.ceil(high / q + 0.5) - 1
    return _Multiples(first, last, q)


class _Multiples(Sequence[Any]):
    """first * q, (first + 1) * q, ..., last * q without building the list."""

    def __init__(self, first: int, last: int, q: float) -> None:
        self.steps = range(first, last + 1)
        self.q = q

    def __len__(self) -> int:
        return len(self.steps)

    # Ints only (random.choice and the grid index it); a slice of a range times q makes no sense.
    def __getitem__(self, index: int) -> Any:  # type: ignore[override]
        return _times_q(self.steps[index], self.q)

    def __iter__(self) -> Iterator[Any]:
        return (_times_q(n, self.q) for n in self.steps)


def space_size(space: Mapping[str, Parameter]) -> int | None:
    """How many distinct parameter combinations there are, or None when infinitely many."""
    size = 1
    for parameter in space.values():
        values = _finite_values(parameter)
        if values is None:
            return None
        size *= _count(values)
    return size


def _count(values: Sequence[Any]) -> int:
    # len() of a range overflows past sys.maxsize; a huge randint or qloguniform is still finite.
    steps = values.steps if isinstance(values, _Multiples) else values
    return steps.stop - steps.start if isinstance(steps, range) else len(steps)


def _key(params: Mapping[str, Any]) -> tuple[tuple[str, str, Any], ...]:
    # The type is part of the key: 1, 1.0 and true are different choices. Sorted: a caller may hand
    # back the params in another order.
    return tuple(sorted((name, type(value).__name__, value) for name, value in params.items()))


# --------------------------------------------------------------------------------------------
# samplers


def make_sampler(algorithm: str, space: Mapping[str, Parameter], *, goal: str = "minimize",
                 seed: int | None = None) -> Sampler:
    """A sampler for `space`; `goal` is the primary metric's direction (bayesian uses it)."""
    algorithm = sampling_algorithm(algorithm)
    if goal.lower() not in GOALS:
        raise ValueError(f"unknown goal {goal!r} (use minimize or maximize)")
    check_algorithm_allows(algorithm, space)
    if algorithm == "grid":
        return GridSampler(space)
    if algorithm == "bayesian":
        return BayesianSampler(space, goal=goal.lower(), seed=seed)
    return RandomSampler(space, seed=seed)


class RandomSampler:
    """Independent draws; a finite space is drawn without repeats and then exhausted."""

    def __init__(self, space: Mapping[str, Parameter], *, seed: int | None = None) -> None:
        self._space = dict(space)
        self._rng = random.Random(seed)
        self._size = space_size(space)
        self._seen: set[tuple[tuple[str, str, Any], ...]] = set()

    def _draw(self) -> dict[str, Any]:
        return {name: draw(parameter, self._rng) for name, parameter in self._space.items()}

    def suggest(self) -> dict[str, Any] | None:
        if self._size is None:
            return self._draw()
        if len(self._seen) >= self._size:
            return None
        redraws = 0
        while True:
            params = self._draw()
            if _key(params) not in self._seen:
                break
            redraws += 1
            if redraws >= _REDRAWS and self._size <= _LISTABLE:
                # Nearly exhausted: pick among what is left rather than redraw for ever (and reach
                # edge values rounding can all but never produce).
                params = self._rng.choice(self._unseen())
                break
        self._seen.add(_key(params))
        return params

    def _unseen(self) -> list[dict[str, Any]]:
        names = list(self._space)
        columns = [_finite_values(parameter) for parameter in self._space.values()]
        combos = (dict(zip(names, combo, strict=True)) for combo in itertools.product(*columns))  # type: ignore[arg-type]
        return [params for params in combos if _key(params) not in self._seen]

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        """Random sampling does not learn."""


class GridSampler:
    """Every combination of choice/randint values, the first parameter varying slowest."""

    def __init__(self, space: Mapping[str, Parameter]) -> None:
        names = list(space)
        columns = [_finite_values(parameter) for parameter in space.values()]
        self._combos = (dict(zip(names, combo, strict=True)) for combo in itertools.product(*columns))  # type: ignore[arg-type]

    def suggest(self) -> dict[str, Any] | None:
        return next(self._combos, None)

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        """Grid sampling does not learn."""


class BayesianSampler:
    """Optuna's TPE through ask-and-tell; every suggestion waits for its trial's observe()."""

    def __init__(self, space: Mapping[str, Parameter], *, goal: str = "minimize",
                 seed: int | None = None) -> None:
        import optuna  # slow to import: only when a bayesian sweep runs

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self._space = dict(space)
        # constant_liar: trials suggested while others still run are steered apart from those.
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
        # make_sampler passed a checked, lower-case goal
        direction: Literal["minimize", "maximize"] = "maximize" if goal == "maximize" else "minimize"
        self._study = optuna.create_study(direction=direction, sampler=sampler)
        self._distributions: dict[str, optuna.distributions.BaseDistribution] = {}
        for name, parameter in space.items():
            if parameter.kind == "choice":
                # Indices, not the values: optuna needs hashable, comparable choices of one kind.
                choices = tuple(range(len(parameter.args["values"])))
                self._distributions[name] = optuna.distributions.CategoricalDistribution(choices)
            else:  # uniform, quniform (rounded after the draw, as Azure does)
                low, high = parameter.args["min_value"], parameter.args["max_value"]
                self._distributions[name] = optuna.distributions.FloatDistribution(float(low), float(high))
        self._pending: dict[tuple[tuple[str, str, Any], ...], list[optuna.trial.Trial]] = {}

    def suggest(self) -> dict[str, Any] | None:
        trial = self._study.ask(self._distributions)
        params: dict[str, Any] = {}
        for name, parameter in self._space.items():
            raw = trial.params[name]
            if parameter.kind == "choice":
                params[name] = parameter.args["values"][raw]
            elif parameter.kind == "quniform":
                params[name] = _q_round(raw, parameter.args["q"])
            else:
                params[name] = raw
        self._pending.setdefault(_key(params), []).append(trial)
        return params

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        waiting = self._pending.get(_key(params))
        if not waiting:
            return  # not one of ours (or told already)
        trial = waiting.pop(0)
        if not waiting:
            del self._pending[_key(params)]
        if value is None or not math.isfinite(value):
            self._study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
        else:
            self._study.tell(trial, float(value))
