"""The `search_space:` of a sweep job (Azure ML CLI v2 semantics): parameter name -> distribution::

    {type: choice, values: [16, 32]}        one of the values
    {type: randint, upper: N}               a whole number in 0 .. N-1
    {type: uniform, min_value: a, max_value: b}
    {type: loguniform, min_value: a, max_value: b}   exp(uniform(a, b)): the bounds are exponents
    {type: normal, mu: m, sigma: s}
    {type: lognormal, mu: m, sigma: s}               exp(normal(m, s))
    quniform, qloguniform, qnormal, qlognormal       the same plus ``q``: round(value / q) * q

Parsed into ``Parameter``s (engine.sweeps.space draws from them). Errors are
``SearchSpaceError``: a message, a hint, and the path of the offending YAML node under
``search_space`` (e.g. ``("lr", "min_value")``; a missing key's path names the key, whose deepest
existing ancestor the loader can point at).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.specs.sweep_wording import SweepYamlError, closest, describe

KINDS = (
    "choice", "randint", "uniform", "quniform", "loguniform", "qloguniform",
    "normal", "qnormal", "lognormal", "qlognormal",
)
ALGORITHMS = ("random", "grid", "bayesian")
GOALS = ("minimize", "maximize")

GRID_KINDS = frozenset({"choice", "randint"})
BAYESIAN_KINDS = frozenset({"choice", "uniform", "quniform"})

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


class SearchSpaceError(SweepYamlError):
    """A search space (or the algorithm asked of it) is invalid; ``path`` is under ``search_space``."""


@dataclass(frozen=True)
class Parameter:
    """One search-space parameter: its name, distribution kind and validated arguments."""

    name: str
    kind: str
    args: dict[str, Any]


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


# What grid and bayesian sampling can take: (kinds, why not, hint). Random takes every kind.
_ALGORITHM_LIMITS = {
    "grid": (GRID_KINDS, "which grid sampling cannot enumerate (it takes choice and randint parameters)",
             "grid sampling needs choice parameters; use random or bayesian"),
    "bayesian": (BAYESIAN_KINDS,
                 "which bayesian sampling does not support (it takes choice, uniform and quniform parameters)",
                 "use choice, uniform or quniform, or sampling_algorithm: random"),
}


def check_algorithm_allows(algorithm: str, space: Mapping[str, Parameter]) -> None:
    """Raise SearchSpaceError on the first parameter `algorithm` cannot sample."""
    limits = _ALGORITHM_LIMITS.get(sampling_algorithm(algorithm))
    if limits is None:
        return
    kinds, why_not, hint = limits
    for parameter in space.values():
        if parameter.kind not in kinds:
            raise SearchSpaceError(f"parameter {parameter.name!r} is {parameter.kind}, {why_not}", hint,
                                   (parameter.name, "type"))


def sampling_algorithm(algorithm: str) -> str:
    """`algorithm` in lower case; ValueError unless it is random, grid or bayesian."""
    if algorithm.lower() not in ALGORITHMS:
        raise ValueError(f"unknown sampling algorithm {algorithm!r} (use random, grid or bayesian)")
    return algorithm.lower()
