"""Sweep search spaces and the samplers that draw trials from them (Azure ML semantics).

A search space is the YAML mapping under ``search_space:``: parameter name -> distribution, spelled
as in the Azure ML CLI v2 schema::

    {type: choice, values: [16, 32]}        one of the values
    {type: randint, upper: N}               a whole number in 0 .. N-1
    {type: uniform, min_value: a, max_value: b}
    {type: loguniform, min_value: a, max_value: b}   exp(uniform(a, b)): the bounds are exponents
    {type: normal, mu: m, sigma: s}
    {type: lognormal, mu: m, sigma: s}               exp(normal(m, s))
    quniform, qloguniform, qnormal, qlognormal       the same plus ``q``: round(value / q) * q

A q-kind with a whole-number ``q`` gives whole numbers (``int``: quniform 16..128 q 16 -> 32, not
32.0), since every multiple of a whole step is one; a fractional ``q`` gives floats without the
binary noise (q 0.1 -> 0.3, not 0.30000000000000004).

Samplers (``make_sampler``): ``random`` draws every kind, never repeats a combination when the
space is finite (choice, randint, quniform, qloguniform only) and is exhausted once every one was
drawn; ``grid`` walks the cartesian product of choice/randint parameters; ``bayesian`` asks
optuna's TPE sampler (choice, uniform and quniform only, as in Azure ML). ``bayesian`` never
exhausts; the sweep's ``max_total_trials`` bounds it.

Errors are ``SearchSpaceError``: a message, a hint, and the path of the offending YAML node under
``search_space`` (e.g. ``("lr", "min_value")``; a missing key's path names the key, whose deepest
existing ancestor the loader can point at).
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from engine.sweeps.wording import SweepYamlError, closest, describe

if TYPE_CHECKING:
    import optuna

KINDS = (
    "choice", "randint", "uniform", "quniform", "loguniform", "qloguniform",
    "normal", "qnormal", "lognormal", "qlognormal",
)
ALGORITHMS = ("random", "grid", "bayesian")
GOALS = ("minimize", "maximize")

GRID_KINDS = frozenset({"choice", "randint"})
BAYESIAN_KINDS = frozenset({"choice", "uniform", "quniform"})
_FINITE_KINDS = frozenset({"choice", "randint", "quniform", "qloguniform"})

_KEYS: dict[str, tuple[str, ...]] = {
    "choice": ("values",),
    "randint": ("upper",),
    "uniform": ("min_value", "max_value"),
    "quniform": ("min_value", "max_value", "q"),
    "loguniform": ("min_value", "max_value"),
    "qloguniform": ("min_value", "max_value", "q"),
    "normal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"),
    "lognormal": ("mu", "sigma"),
    "qlognormal": ("mu", "sigma", "q"),
}
_EXAMPLES = {
    "choice": "{type: choice, values: [16, 32, 64]}",
    "randint": "{type: randint, upper: 10}",
    "uniform": "{type: uniform, min_value: 0.001, max_value: 0.1}",
    "quniform": "{type: quniform, min_value: 16, max_value: 128, q: 16}",
    "loguniform": "{type: loguniform, min_value: -9.2, max_value: -2.3}",
    "qloguniform": "{type: qloguniform, min_value: 2.7, max_value: 5.5, q: 16}",
    "normal": "{type: normal, mu: 0, sigma: 1}",
    "qnormal": "{type: qnormal, mu: 64, sigma: 16, q: 8}",
    "lognormal": "{type: lognormal, mu: -4.6, sigma: 1}",
    "qlognormal": "{type: qlognormal, mu: 4, sigma: 0.5, q: 8}",
}
# The names `${{search_space.NAME}}` can reference (engine/jobs/command.py).
_NAME = re.compile(r"[A-Za-z_][\w.-]*\Z")
# e**709.78 is the largest float; loguniform/qloguniform bounds are exponents.
_MAX_EXPONENT = math.log(1.7976931348623157e308)
# A finite random sweep redraws this often on a repeat before listing what is left.
_REDRAWS = 200
_LISTABLE = 1_000_000


class SearchSpaceError(SweepYamlError):
    """A search space (or the algorithm asked of it) is invalid; ``path`` is under ``search_space``."""


@dataclass(frozen=True)
class Parameter:
    """One search-space parameter: its name, distribution kind and validated arguments."""

    name: str
    kind: str
    args: dict[str, Any]


class Sampler(Protocol):
    def suggest(self) -> dict[str, Any] | None:
        """The next trial's parameters; None once the space is exhausted."""

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        """A trial's final primary metric (None: it failed or reported none)."""


# --------------------------------------------------------------------------------------------
# parsing


def parse_search_space(raw: object) -> dict[str, Parameter]:
    """The YAML mapping under ``search_space:`` -> {name: Parameter}, in the file's order."""
    if not isinstance(raw, Mapping):
        raise SearchSpaceError(
            f"search_space must be a mapping of parameter names to distributions, found {describe(raw)}",
            "write one entry per parameter, e.g. `lr: {type: uniform, min_value: 0.001, max_value: 0.1}`",
            (),
        )
    if not raw:
        raise SearchSpaceError(
            "search_space has no parameters",
            "add at least one, e.g. `lr: {type: uniform, min_value: 0.001, max_value: 0.1}`",
            (),
        )
    return {str(name): _parse_parameter(name, entry) for name, entry in raw.items()}


def _parse_parameter(name: object, entry: object) -> Parameter:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SearchSpaceError(
            f"parameter name {name!r} must start with a letter or _ and hold only letters, digits, _, - and .",
            "rename it, e.g. learning_rate (the command refers to it as ${{search_space.learning_rate}})",
            (str(name),),
        )
    if not isinstance(entry, Mapping):
        raise SearchSpaceError(
            f"parameter {name!r} must be a mapping with a type, found {describe(entry)}",
            f"write e.g. `{name}: {_EXAMPLES['choice']}` or `{name}: {_EXAMPLES['uniform']}`",
            (name,),
        )
    kind = entry.get("type")
    if "type" not in entry:
        raise SearchSpaceError(f"parameter {name!r} has no type", f"add `type:`, one of: {', '.join(KINDS)}",
                               (name, "type"))
    if not isinstance(kind, str):
        raise SearchSpaceError(f"parameter {name!r}: type must be a string, found {describe(kind)}",
                               f"one of: {', '.join(KINDS)}", (name, "type"))
    if kind not in KINDS:
        close = closest(kind, KINDS)
        hint = f"the types are: {', '.join(KINDS)}"
        raise SearchSpaceError(f"parameter {name!r} has an unknown type {kind!r}",
                               f"did you mean {close[0]!r}? {hint[0].upper()}{hint[1:]}" if close else hint,
                               (name, "type"))
    keys = _KEYS[kind]
    for key in entry:
        if key != "type" and key not in keys:
            raise SearchSpaceError(f"parameter {name!r} ({kind}) has an unknown key {key!r}",
                                   _unknown_key_hint(kind, key), (name, str(key)))
    for key in keys:
        if key not in entry:
            raise SearchSpaceError(
                f"parameter {name!r} ({kind}) is missing {key!r}",
                f"a {kind} parameter needs {_and(keys)}, e.g. `{name}: {_EXAMPLES[kind]}`",
                (name, key),
            )
    args = {key: entry[key] for key in keys}
    if kind == "choice":
        args["values"] = _checked_values(name, entry["values"])
    elif kind == "randint":
        upper = entry["upper"]
        if isinstance(upper, bool) or not isinstance(upper, int) or upper < 1:
            raise SearchSpaceError(
                f"parameter {name!r} (randint): upper must be a whole number >= 1, found {describe(upper)}",
                "randint draws a whole number from 0 to upper - 1, e.g. upper: 10",
                (name, "upper"),
            )
    else:
        for key in keys:
            args[key] = _checked_number(name, kind, key, entry[key])
        _check_ranges(name, kind, args)
    return Parameter(name=name, kind=kind, args=args)


def _unknown_key_hint(kind: str, key: object) -> str:
    takes = f"a {kind} parameter takes {_and(_KEYS[kind])}"
    if key == "q" and f"q{kind}" in KINDS:
        return f"q is only for q{kind}: write `type: q{kind}` to round the values, or remove q"
    close = closest(str(key), _KEYS[kind])
    return f"did you mean {close[0]!r}? {takes[0].upper()}{takes[1:]}" if close else takes


def _checked_values(name: str, values: object) -> list[Any]:
    path = (name, "values")
    if not isinstance(values, list):
        raise SearchSpaceError(f"parameter {name!r} (choice): values must be a list, found {describe(values)}",
                               "e.g. values: [16, 32, 64]", path)
    if not values:
        raise SearchSpaceError(f"parameter {name!r} (choice): values is empty",
                               "list at least one value, e.g. values: [16, 32, 64]", path)
    seen: set[tuple[type, Any]] = set()
    for index, value in enumerate(values):
        if isinstance(value, (list, dict)):
            hint = "nested search spaces are not supported; list plain values"
        elif value is None:
            hint = "quote it ('null') if you mean the text, or remove it"
        elif isinstance(value, float) and math.isnan(value):
            hint = "remove it"
        elif isinstance(value, (str, int, float)):
            if (type(value), value) in seen:
                raise SearchSpaceError(f"parameter {name!r} (choice): {value!r} appears twice in values",
                                       "list each value once", path)
            seen.add((type(value), value))
            continue
        else:
            hint = "write a string, a number or true/false"
        raise SearchSpaceError(
            f"parameter {name!r} (choice): values[{index}] must be a string, a number or true/false, "
            f"found {describe(value)}",
            hint, path,
        )
    return list(values)


def _checked_number(name: str, kind: str, key: str, value: object) -> int | float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and math.isfinite(value):  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    hint = f"write a number, e.g. `{name}: {_EXAMPLES[kind]}`"
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                hint = "remove the quotes around the number"
                if "e" in value.lower() and "." not in value:
                    # YAML 1.1 only reads an exponent with a dot in the mantissa as a number.
                    hint = f"YAML reads {value} as text; write {number!r} (or put a dot in it: 1.0e-3)"
    what = "a finite number" if ok else "a number"
    raise SearchSpaceError(f"parameter {name!r} ({kind}): {key} must be {what}, found {describe(value)}",
                           hint, (name, key))


def _check_ranges(name: str, kind: str, args: dict[str, Any]) -> None:
    if "min_value" in args:
        low, high = args["min_value"], args["max_value"]
        if low >= high:
            raise SearchSpaceError(
                f"parameter {name!r} ({kind}): min_value ({low}) must be less than max_value ({high})",
                "swap them" if low > high else f"widen the range, or use `{name}: {{type: choice, values: [{low}]}}`",
                (name, "min_value"),
            )
        if kind.endswith("loguniform") and high > _MAX_EXPONENT:
            raise SearchSpaceError(
                f"parameter {name!r} ({kind}): max_value {high} is an exponent (the values run from "
                f"e**min_value to e**max_value) and e**{high} is too large",
                "the bounds are natural logs: for 0.0001 .. 0.1 write min_value: -9.21, max_value: -2.3",
                (name, "max_value"),
            )
    if "sigma" in args and args["sigma"] <= 0:
        raise SearchSpaceError(f"parameter {name!r} ({kind}): sigma must be greater than 0, found {args['sigma']}",
                               "sigma is the standard deviation, e.g. sigma: 1", (name, "sigma"))
    if "q" in args and args["q"] <= 0:
        raise SearchSpaceError(f"parameter {name!r} ({kind}): q must be greater than 0, found {args['q']}",
                               "q is the step the values are rounded to, e.g. q: 1 for whole numbers", (name, "q"))


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


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

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
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


def check_algorithm_allows(algorithm: str, space: Mapping[str, Parameter]) -> None:
    """Raise SearchSpaceError on the first parameter `algorithm` cannot sample."""
    algorithm = _algorithm(algorithm)
    if algorithm == "grid":
        for parameter in space.values():
            if parameter.kind not in GRID_KINDS:
                raise SearchSpaceError(
                    f"parameter {parameter.name!r} is {parameter.kind}, which grid sampling cannot enumerate "
                    "(it takes choice and randint parameters)",
                    "grid sampling needs choice parameters; use random or bayesian",
                    (parameter.name, "type"),
                )
    elif algorithm == "bayesian":
        for parameter in space.values():
            if parameter.kind not in BAYESIAN_KINDS:
                raise SearchSpaceError(
                    f"parameter {parameter.name!r} is {parameter.kind}, which bayesian sampling does not "
                    "support (it takes choice, uniform and quniform parameters)",
                    "use choice, uniform or quniform, or sampling_algorithm: random",
                    (parameter.name, "type"),
                )


def make_sampler(algorithm: str, space: Mapping[str, Parameter], *, goal: str = "minimize",
                 seed: int | None = None) -> Sampler:
    """A sampler for `space`; `goal` is the primary metric's direction (bayesian uses it)."""
    algorithm = _algorithm(algorithm)
    if goal.lower() not in GOALS:
        raise ValueError(f"unknown goal {goal!r} (use minimize or maximize)")
    check_algorithm_allows(algorithm, space)
    if algorithm == "grid":
        return GridSampler(space)
    if algorithm == "bayesian":
        return BayesianSampler(space, goal=goal.lower(), seed=seed)
    return RandomSampler(space, seed=seed)


def _algorithm(algorithm: str) -> str:
    if algorithm.lower() not in ALGORITHMS:
        raise ValueError(f"unknown sampling algorithm {algorithm!r} (use random, grid or bayesian)")
    return algorithm.lower()


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
        self._study = optuna.create_study(direction=goal, sampler=sampler)
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
