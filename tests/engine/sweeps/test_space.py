"""Search spaces and samplers: parsing (with the exact errors a user reads), the value every kind
draws, and how random, grid and bayesian sampling walk a space."""

from __future__ import annotations

import math
import sys

import pytest

from engine.specs.search_space import (
    KINDS,
    Parameter,
    SearchSpaceError,
    check_algorithm_allows,
    parse_search_space,
)
from engine.sweeps.space import make_sampler, space_size

EVERY_KIND = {
    "opt": {"type": "choice", "values": ["adam", "sgd", 3, 0.5, True]},
    "layers": {"type": "randint", "upper": 4},
    "dropout": {"type": "uniform", "min_value": 0.1, "max_value": 0.5},
    "batch": {"type": "quniform", "min_value": 16, "max_value": 128, "q": 16},
    "lr": {"type": "loguniform", "min_value": -9.2, "max_value": -2.3},
    "hidden": {"type": "qloguniform", "min_value": 2.7, "max_value": 5.6, "q": 8},
    "shift": {"type": "normal", "mu": 10, "sigma": 2},
    "width": {"type": "qnormal", "mu": 64, "sigma": 8, "q": 4},
    "decay": {"type": "lognormal", "mu": -4.6, "sigma": 0.5},
    "steps": {"type": "qlognormal", "mu": 5, "sigma": 0.3, "q": 10},
}


def draws(raw: dict, n: int = 400, seed: int = 7) -> list[dict]:
    """Up to n random draws (fewer when a finite space runs out)."""
    sampler = make_sampler("random", parse_search_space(raw), seed=seed)
    return [params for _ in range(n) if (params := sampler.suggest()) is not None]


def error_of(raw: object) -> SearchSpaceError:
    with pytest.raises(SearchSpaceError) as caught:
        parse_search_space(raw)
    return caught.value


def test_every_kind_parses_in_file_order_with_its_arguments() -> None:
    space = parse_search_space(EVERY_KIND)
    assert list(space) == list(EVERY_KIND)
    assert sorted(p.kind for p in space.values()) == sorted(KINDS)
    assert space["batch"] == Parameter("batch", "quniform", {"min_value": 16, "max_value": 128, "q": 16})
    assert space["opt"].args == {"values": ["adam", "sgd", 3, 0.5, True]}


def test_every_kind_samples_within_its_bounds_and_with_its_type() -> None:
    samples = draws(EVERY_KIND)
    column = {name: [s[name] for s in samples] for name in EVERY_KIND}
    assert set(column["opt"]) == {"adam", "sgd", 3, 0.5, True}
    assert set(column["layers"]) == {0, 1, 2, 3} and all(type(v) is int for v in column["layers"])
    assert all(type(v) is float and 0.1 <= v <= 0.5 for v in column["dropout"])
    # quniform with whole bounds and q: ints on the q grid
    assert set(column["batch"]) <= set(range(16, 129, 16)) and all(type(v) is int for v in column["batch"])
    # loguniform bounds are exponents: values in e**-9.2 .. e**-2.3, spread over the orders of magnitude
    assert all(math.exp(-9.2) <= v <= math.exp(-2.3) for v in column["lr"])
    assert min(column["lr"]) < 1e-3 < max(column["lr"])
    # qloguniform: round(exp(uniform(2.7, 5.6)) / 8) * 8, exp(2.7) ~ 14.9, exp(5.6) ~ 270.4
    assert all(type(v) is int and v % 8 == 0 and 16 <= v <= 272 for v in column["hidden"])
    assert all(type(v) is float for v in column["shift"])
    assert 9.5 < sum(column["shift"]) / len(samples) < 10.5
    assert all(type(v) is int and v % 4 == 0 for v in column["width"])
    assert all(type(v) is float and v > 0 for v in column["decay"])
    assert all(type(v) is int and v % 10 == 0 and v > 0 for v in column["steps"])


def test_q_rounding_is_exact_for_a_fractional_step_and_int_for_a_whole_one() -> None:
    tenths = {s["x"] for s in draws({"x": {"type": "quniform", "min_value": 0, "max_value": 1, "q": 0.1}})}
    assert tenths == {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0}  # no 0.30000000000000004
    # a whole q gives ints even with fractional bounds: every multiple of 2 is whole
    evens = {s["x"] for s in draws({"x": {"type": "quniform", "min_value": 0.5, "max_value": 6.5, "q": 2}})}
    assert evens == {0, 2, 4, 6} and all(type(v) is int for v in evens)
    # a float q stays float even when whole-valued
    floats = {s["x"] for s in draws({"x": {"type": "quniform", "min_value": 1, "max_value": 3, "q": 1.0}})}
    assert floats == {1.0, 2.0, 3.0} and all(type(v) is float for v in floats)


def test_random_is_reproducible_with_a_seed() -> None:
    assert draws(EVERY_KIND, n=20, seed=3) == draws(EVERY_KIND, n=20, seed=3)
    assert draws(EVERY_KIND, n=20, seed=3) != draws(EVERY_KIND, n=20, seed=4)


def test_random_draws_a_finite_space_without_repeats_then_stops() -> None:
    raw = {
        "opt": {"type": "choice", "values": ["adam", "sgd"]},
        "layers": {"type": "randint", "upper": 3},
        "batch": {"type": "quniform", "min_value": 16, "max_value": 64, "q": 16},  # 16, 32, 48, 64
    }
    space = parse_search_space(raw)
    assert space_size(space) == 24
    sampler = make_sampler("random", space, seed=0)
    drawn = [sampler.suggest() for _ in range(24)]
    assert len({tuple(sorted(p.items())) for p in drawn}) == 24
    assert sampler.suggest() is None
    assert sampler.suggest() is None


def test_random_reaches_edge_values_rounding_almost_never_produces() -> None:
    # round(u / 10) for u in [5, 15]: n=1 almost always; 0 and 2 only at the exact ends
    space = parse_search_space({"x": {"type": "quniform", "min_value": 5.000001, "max_value": 14.999999, "q": 10}})
    assert space_size(space) == 1
    space = parse_search_space({"x": {"type": "quniform", "min_value": 4.9, "max_value": 15.1, "q": 10}})
    assert space_size(space) == 3
    sampler = make_sampler("random", space, seed=0)
    assert sorted(sampler.suggest()["x"] for _ in range(3)) == [0, 10, 20]
    assert sampler.suggest() is None


def test_an_infinite_space_has_no_size_and_random_never_exhausts_it() -> None:
    raw = {"opt": {"type": "choice", "values": [1, 2]}, "w": {"type": "qnormal", "mu": 0, "sigma": 1, "q": 1}}
    space = parse_search_space(raw)
    assert space_size(space) is None
    sampler = make_sampler("random", space, seed=0)
    assert all(sampler.suggest() is not None for _ in range(100))


def test_space_size_of_huge_finite_spaces() -> None:
    space = parse_search_space({"seed": {"type": "randint", "upper": 2**70},
                                "opt": {"type": "choice", "values": ["a", "b", "c"]}})
    assert space_size(space) == 3 * 2**70
    sampler = make_sampler("random", space, seed=1)
    assert len({sampler.suggest()["seed"] for _ in range(50)}) == 50


def test_grid_walks_the_product_first_parameter_slowest_then_stops() -> None:
    space = parse_search_space({
        "opt": {"type": "choice", "values": ["adam", "sgd"]},
        "layers": {"type": "randint", "upper": 3},
    })
    sampler = make_sampler("grid", space)
    walked = []
    while (params := sampler.suggest()) is not None:
        walked.append(params)
    assert walked == [
        {"opt": "adam", "layers": 0}, {"opt": "adam", "layers": 1}, {"opt": "adam", "layers": 2},
        {"opt": "sgd", "layers": 0}, {"opt": "sgd", "layers": 1}, {"opt": "sgd", "layers": 2},
    ]
    assert sampler.suggest() is None
    sampler.observe({"opt": "adam", "layers": 0}, 0.5)  # ignored


@pytest.mark.parametrize("kind", ["uniform", "quniform", "loguniform", "normal", "qlognormal"])
def test_grid_refuses_what_it_cannot_enumerate(kind: str) -> None:
    args = {"min_value": 0, "max_value": 1} if "uniform" in kind else {"mu": 0, "sigma": 1}
    if kind.startswith("q"):
        args["q"] = 1
    space = parse_search_space({"opt": {"type": "choice", "values": [1]}, "lr": {"type": kind, **args}})
    for call in (lambda: check_algorithm_allows("grid", space), lambda: make_sampler("grid", space)):
        with pytest.raises(SearchSpaceError) as caught:
            call()
        assert caught.value.message == (f"parameter 'lr' is {kind}, which grid sampling cannot enumerate "
                                        "(it takes choice and randint parameters)")
        assert caught.value.hint == "grid sampling needs choice parameters; use random or bayesian"
        assert caught.value.path == ("lr", "type")


@pytest.mark.parametrize("kind", ["randint", "loguniform", "qloguniform", "normal", "qnormal", "lognormal",
                                  "qlognormal"])
def test_bayesian_takes_only_choice_uniform_and_quniform(kind: str) -> None:
    raw = {"upper": 3} if kind == "randint" else (
        {"min_value": 0, "max_value": 1} if "uniform" in kind else {"mu": 0, "sigma": 1})
    if kind.startswith("q"):
        raw["q"] = 1
    space = parse_search_space({"x": {"type": kind, **raw}})
    with pytest.raises(SearchSpaceError) as caught:
        check_algorithm_allows("bayesian", space)
    assert caught.value.message == (f"parameter 'x' is {kind}, which bayesian sampling does not support "
                                    "(it takes choice, uniform and quniform parameters)")
    assert caught.value.hint == "use choice, uniform or quniform, or sampling_algorithm: random"
    assert caught.value.path == ("x", "type")
    check_algorithm_allows("random", space)  # random takes every kind


def run_bayesian(goal: str, objective, seed: int = 1, trials: int = 30) -> list[float]:
    space = parse_search_space({"x": {"type": "uniform", "min_value": 0, "max_value": 1}})
    sampler = make_sampler("bayesian", space, goal=goal, seed=seed)
    xs = []
    for _ in range(trials):
        params = sampler.suggest()
        sampler.observe(params, objective(params["x"]))
        xs.append(params["x"])
    return xs


def test_bayesian_converges_when_minimizing() -> None:
    xs = run_bayesian("minimize", lambda x: (x - 0.3) ** 2)
    assert min(abs(x - 0.3) for x in xs[-10:]) < 0.1
    assert xs == run_bayesian("minimize", lambda x: (x - 0.3) ** 2)  # seeded: deterministic


def test_bayesian_converges_when_maximizing() -> None:
    xs = run_bayesian("maximize", lambda x: -((x - 0.7) ** 2))
    assert min(abs(x - 0.7) for x in xs[-10:]) < 0.1


def test_bayesian_samples_choice_and_quniform_values_and_takes_failures() -> None:
    space = parse_search_space({
        "opt": {"type": "choice", "values": ["adam", "sgd", 1]},
        "batch": {"type": "quniform", "min_value": 16, "max_value": 128, "q": 16},
    })
    sampler = make_sampler("bayesian", space, goal="maximize", seed=0)
    seen = []
    for i in range(25):
        params = sampler.suggest()
        assert params["opt"] in ("adam", "sgd", 1)
        assert type(params["batch"]) is int and params["batch"] % 16 == 0 and 16 <= params["batch"] <= 128
        # a failed trial (None) and a NaN are told as failures; a reversed dict is the same params
        value = None if i % 5 == 0 else (math.nan if i % 7 == 0 else params["batch"] / 128)
        sampler.observe(dict(reversed(list(params.items()))), value)
        seen.append(params)
    sampler.observe({"opt": "adam", "batch": 999}, 1.0)  # never suggested: ignored
    study = sampler._study  # the states optuna recorded
    states = [t.state.name for t in study.trials]
    assert states.count("FAIL") == 8 and states.count("COMPLETE") == 17


def test_bayesian_handles_concurrent_suggestions_observed_out_of_order() -> None:
    space = parse_search_space({"x": {"type": "uniform", "min_value": 0, "max_value": 1}})
    sampler = make_sampler("bayesian", space, seed=2)
    pending = [sampler.suggest() for _ in range(4)]
    for params in reversed(pending):
        sampler.observe(params, params["x"])
    assert [t.state.name for t in sampler._study.trials] == ["COMPLETE"] * 4
    assert sampler.suggest() is not None


def test_optuna_is_imported_only_for_bayesian() -> None:
    import subprocess

    code = ("import sys; from engine.specs.search_space import parse_search_space; "
            "from engine.sweeps.space import make_sampler; "
            "s = parse_search_space({'x': {'type': 'uniform', 'min_value': 0, 'max_value': 1}}); "
            "make_sampler('random', s).suggest(); assert 'optuna' not in sys.modules; "
            "make_sampler('bayesian', s).suggest(); assert 'optuna' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_algorithm_and_goal() -> None:
    space = parse_search_space({"x": {"type": "choice", "values": [1]}})
    with pytest.raises(ValueError, match=r"unknown sampling algorithm 'sobol' \(use random, grid or bayesian\)"):
        make_sampler("sobol", space)
    with pytest.raises(ValueError, match=r"unknown goal 'up' \(use minimize or maximize\)"):
        make_sampler("random", space, goal="up")
    assert make_sampler("Grid", space, goal="Maximize").suggest() == {"x": 1}  # Azure capitalizes them


# ------------------------------------------------------------------------------------------------
# errors: message, hint and path, exactly


@pytest.mark.parametrize(("raw", "message", "hint", "path"), [
    (
        [1, 2],
        "search_space must be a mapping of parameter names to distributions, found a list",
        "write one entry per parameter, e.g. `lr: {type: uniform, min_value: 0.001, max_value: 0.1}`",
        (),
    ),
    (
        {},
        "search_space has no parameters",
        "add at least one, e.g. `lr: {type: uniform, min_value: 0.001, max_value: 0.1}`",
        (),
    ),
    (
        {"learning rate": {"type": "choice", "values": [1]}},
        "parameter name 'learning rate' must start with a letter or _ and hold only letters, digits, _, - and .",
        "rename it, e.g. learning_rate (the command refers to it as ${{search_space.learning_rate}})",
        ("learning rate",),
    ),
    (
        {"lr": 0.01},
        "parameter 'lr' must be a mapping with a type, found 0.01",
        ("write e.g. `lr: {type: choice, values: [16, 32, 64]}` or "
        "`lr: {type: uniform, min_value: 0.001, max_value: 0.1}`"),
        ("lr",),
    ),
    (
        {"lr": {"min_value": 0, "max_value": 1}},
        "parameter 'lr' has no type",
        ("add `type:`, one of: choice, randint, uniform, quniform, loguniform, qloguniform, normal, qnormal, "
        "lognormal, qlognormal"),
        ("lr", "type"),
    ),
    (
        {"lr": {"type": "unifrom", "min_value": 0, "max_value": 1}},
        "parameter 'lr' has an unknown type 'unifrom'",
        ("did you mean 'uniform'? The types are: choice, randint, uniform, quniform, loguniform, qloguniform, "
        "normal, qnormal, lognormal, qlognormal"),
        ("lr", "type"),
    ),
    (
        {"lr": {"type": "gaussian", "mu": 0, "sigma": 1}},
        "parameter 'lr' has an unknown type 'gaussian'",
        ("the types are: choice, randint, uniform, quniform, loguniform, qloguniform, normal, qnormal, "
        "lognormal, qlognormal"),
        ("lr", "type"),
    ),
    (
        {"lr": {"type": 3}},
        "parameter 'lr': type must be a string, found 3",
        "one of: choice, randint, uniform, quniform, loguniform, qloguniform, normal, qnormal, lognormal, qlognormal",
        ("lr", "type"),
    ),
    (
        {"lr": {"type": "uniform", "min_value": 0.001}},
        "parameter 'lr' (uniform) is missing 'max_value'",
        ("a uniform parameter needs min_value and max_value, e.g. "
        "`lr: {type: uniform, min_value: 0.001, max_value: 0.1}`"),
        ("lr", "max_value"),
    ),
    (
        {"batch": {"type": "quniform", "min_value": 16, "max_value": 128}},
        "parameter 'batch' (quniform) is missing 'q'",
        ("a quniform parameter needs min_value, max_value and q, e.g. "
        "`batch: {type: quniform, min_value: 16, max_value: 128, q: 16}`"),
        ("batch", "q"),
    ),
    (
        {"lr": {"type": "uniform", "min_value": 0.001, "max": 0.1}},
        "parameter 'lr' (uniform) has an unknown key 'max'",
        "did you mean 'max_value'? A uniform parameter takes min_value and max_value",
        ("lr", "max"),
    ),
    (
        {"lr": {"type": "uniform", "min_value": 0, "max_value": 1, "q": 0.1}},
        "parameter 'lr' (uniform) has an unknown key 'q'",
        "q is only for quniform: write `type: quniform` to round the values, or remove q",
        ("lr", "q"),
    ),
    (
        {"opt": {"type": "choice", "options": ["a"]}},
        "parameter 'opt' (choice) has an unknown key 'options'",
        "a choice parameter takes values",
        ("opt", "options"),
    ),
    (
        {"lr": {"type": "uniform", "min_value": 0.1, "max_value": 0.01}},
        "parameter 'lr' (uniform): min_value (0.1) must be less than max_value (0.01)",
        "swap them",
        ("lr", "min_value"),
    ),
    (
        {"lr": {"type": "quniform", "min_value": 8, "max_value": 8, "q": 2}},
        "parameter 'lr' (quniform): min_value (8) must be less than max_value (8)",
        "widen the range, or use `lr: {type: choice, values: [8]}`",
        ("lr", "min_value"),
    ),
    (
        {"lr": {"type": "loguniform", "min_value": 0.0001, "max_value": 1000}},
        ("parameter 'lr' (loguniform): max_value 1000 is an exponent (the values run from e**min_value to "
        "e**max_value) and e**1000 is too large"),
        "the bounds are natural logs: for 0.0001 .. 0.1 write min_value: -9.21, max_value: -2.3",
        ("lr", "max_value"),
    ),
    (
        {"batch": {"type": "quniform", "min_value": 16, "max_value": 128, "q": 0}},
        "parameter 'batch' (quniform): q must be greater than 0, found 0",
        "q is the step the values are rounded to, e.g. q: 1 for whole numbers",
        ("batch", "q"),
    ),
    (
        {"w": {"type": "normal", "mu": 0, "sigma": -1}},
        "parameter 'w' (normal): sigma must be greater than 0, found -1",
        "sigma is the standard deviation, e.g. sigma: 1",
        ("w", "sigma"),
    ),
    (
        {"lr": {"type": "uniform", "min_value": "1e-3", "max_value": 0.1}},
        "parameter 'lr' (uniform): min_value must be a number, found the text '1e-3'",
        "YAML reads 1e-3 as text; write 0.001 (or put a dot in it: 1.0e-3)",
        ("lr", "min_value"),
    ),
    (
        {"lr": {"type": "uniform", "min_value": 0, "max_value": "0.5"}},
        "parameter 'lr' (uniform): max_value must be a number, found the text '0.5'",
        "remove the quotes around the number",
        ("lr", "max_value"),
    ),
    (
        {"lr": {"type": "uniform", "min_value": True, "max_value": 2}},
        "parameter 'lr' (uniform): min_value must be a number, found true",
        "write a number, e.g. `lr: {type: uniform, min_value: 0.001, max_value: 0.1}`",
        ("lr", "min_value"),
    ),
    (
        {"w": {"type": "normal", "mu": math.inf, "sigma": 1}},
        "parameter 'w' (normal): mu must be a finite number, found inf",
        "write a number, e.g. `w: {type: normal, mu: 0, sigma: 1}`",
        ("w", "mu"),
    ),
    (
        {"n": {"type": "randint", "upper": 0}},
        "parameter 'n' (randint): upper must be a whole number >= 1, found 0",
        "randint draws a whole number from 0 to upper - 1, e.g. upper: 10",
        ("n", "upper"),
    ),
    (
        {"n": {"type": "randint", "upper": 2.5}},
        "parameter 'n' (randint): upper must be a whole number >= 1, found 2.5",
        "randint draws a whole number from 0 to upper - 1, e.g. upper: 10",
        ("n", "upper"),
    ),
    (
        {"n": {"type": "randint", "upper": True}},
        "parameter 'n' (randint): upper must be a whole number >= 1, found true",
        "randint draws a whole number from 0 to upper - 1, e.g. upper: 10",
        ("n", "upper"),
    ),
    (
        {"opt": {"type": "choice", "values": "adam"}},
        "parameter 'opt' (choice): values must be a list, found the text 'adam'",
        "e.g. values: [16, 32, 64]",
        ("opt", "values"),
    ),
    (
        {"opt": {"type": "choice", "values": []}},
        "parameter 'opt' (choice): values is empty",
        "list at least one value, e.g. values: [16, 32, 64]",
        ("opt", "values"),
    ),
    (
        {"opt": {"type": "choice", "values": ["adam", {"type": "uniform"}]}},
        "parameter 'opt' (choice): values[1] must be a string, a number or true/false, found a mapping",
        "nested search spaces are not supported; list plain values",
        ("opt", "values"),
    ),
    (
        {"opt": {"type": "choice", "values": ["adam", None]}},
        "parameter 'opt' (choice): values[1] must be a string, a number or true/false, found an empty value",
        "quote it ('null') if you mean the text, or remove it",
        ("opt", "values"),
    ),
    (
        {"opt": {"type": "choice", "values": [16, 32, 16]}},
        "parameter 'opt' (choice): 16 appears twice in values",
        "list each value once",
        ("opt", "values"),
    ),
])
def test_errors_say_what_is_wrong_what_to_write_and_where(raw: object, message: str, hint: str,
                                                          path: tuple[str, ...]) -> None:
    error = error_of(raw)
    assert (error.message, error.hint, error.path) == (message, hint, path)
    assert str(error) == f"{message}\n  hint: {hint}"


def test_choice_values_of_different_types_are_different() -> None:
    space = parse_search_space({"x": {"type": "choice", "values": [1, 1.0, True, "1"]}})
    assert space_size(space) == 4
    sampler = make_sampler("random", space, seed=0)
    drawn = [sampler.suggest()["x"] for _ in range(4)]
    assert sorted(repr(v) for v in drawn) == ["'1'", "1", "1.0", "True"]
    assert sampler.suggest() is None
