"""Early termination policies on hand-made metric histories, and the exact parse errors."""

from __future__ import annotations

import math
import random

import pytest

from engine.specs.early_termination import Policy, PolicyError, parse_policy
from engine.sweeps.termination import is_evaluation_point, latest_evaluation_point, trials_to_stop

BANDIT = Policy(type="bandit", slack_factor=0.1)


def stops(policy: Policy, histories: dict[str, list[float]], running: set[str] | None = None,
          goal: str = "minimize", **kwargs: str) -> dict[str, str]:
    return trials_to_stop(policy, goal, histories, set(histories) if running is None else running, **kwargs)


# ------------------------------------------------------------------------------------------------
# when a policy is evaluated


@pytest.mark.parametrize(("delay", "interval", "points"), [
    (0, 1, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    (0, 3, [1, 4, 7, 10]),
    (5, 1, [6, 7, 8, 9, 10]),
    (5, 2, [6, 8, 10]),
    (2, 4, [3, 7]),
])
def test_evaluation_points_start_after_the_delay_then_come_every_interval(delay: int, interval: int,
                                                                          points: list[int]) -> None:
    policy = Policy(type="median_stopping", evaluation_interval=interval, delay_evaluation=delay)
    assert [k for k in range(1, 11) if is_evaluation_point(policy, k)] == points
    latest = [latest_evaluation_point(policy, n) for n in range(11)]
    assert latest == [max((k for k in points if k <= n), default=None) for n in range(11)]


def test_a_trial_is_judged_at_its_latest_evaluation_point_only() -> None:
    policy = Policy(type="bandit", slack_factor=0.1, evaluation_interval=2, delay_evaluation=2)  # 3, 5, 7
    good = [1.0, 1.0, 1.0, 1.0, 1.0]
    # bad at reports 1, 2 (the delay) and 4 (not an evaluation point): left alone
    assert stops(policy, {"good": good, "late": [9.0, 9.0]}) == {}
    assert stops(policy, {"good": good, "late": [9.0, 9.0, 1.0, 9.0]}) == {}
    # bad at report 3: judged there while it sits at report 3 or 4
    for history in ([1.0, 1.0, 9.0], [1.0, 1.0, 9.0, 1.0]):
        assert stops(policy, {"good": good, "late": history}) == {
            "late": "bandit policy: primary metric 9 at report 3 is worse than 1 * (1 + 0.1) = 1.1 "
                    "(1 is the best at report 3)"}
    # at report 5 only report 5 counts: good again, so it stays
    assert stops(policy, {"good": good, "late": [1.0, 1.0, 9.0, 9.0, 1.0]}) == {}


# ------------------------------------------------------------------------------------------------
# bandit


def test_bandit_slack_factor_minimize() -> None:
    histories = {"a": [0.6, 0.52], "b": [0.7, 0.91], "c": [0.9, 0.57]}
    assert stops(BANDIT, histories, metric="loss") == {
        "b": "bandit policy: loss 0.91 at report 2 is worse than 0.52 * (1 + 0.1) = 0.572 "
             "(0.52 is the best at report 2)"}


def test_bandit_slack_factor_maximize() -> None:
    histories = {"a": [0.9], "b": [0.8], "c": [0.82]}
    assert stops(BANDIT, histories, goal="maximize", metric="accuracy") == {
        "b": "bandit policy: accuracy 0.8 at report 1 is worse than 0.9 / (1 + 0.1) = 0.8182 "
             "(0.9 is the best at report 1)"}
    assert stops(BANDIT, histories, goal="Maximize") == stops(BANDIT, histories, goal="maximize")


def test_bandit_slack_amount_both_ways_and_a_tie_with_the_bar_stays() -> None:
    policy = Policy(type="bandit", slack_amount=0.2)
    assert stops(policy, {"a": [1.0], "b": [1.25], "c": [1.2]}) == {
        "b": "bandit policy: primary metric 1.25 at report 1 is worse than 1 + 0.2 = 1.2 (1 is the best at report 1)"}
    assert stops(policy, {"a": [0.9], "b": [0.6], "c": [0.75]}, goal="maximize") == {
        "b": "bandit policy: primary metric 0.6 at report 1 is worse than 0.9 - 0.2 = 0.7 "
             "(0.9 is the best at report 1)"}


def test_bandit_slack_factor_with_a_negative_best_widens_the_range() -> None:
    histories = {"a": [-1.0], "b": [-0.85], "c": [-0.95]}
    assert stops(BANDIT, histories) == {
        "b": "bandit policy: primary metric -0.85 at report 1 is worse than -1 + 1 * 0.1 = -0.9 "
             "(-1 is the best at report 1)"}
    assert set(stops(BANDIT, {"a": [-1.0], "b": [-1.2], "c": [-1.05]}, goal="maximize")) == {"b"}  # bar -1.09


def test_bandit_never_stops_a_lone_trial_or_one_ahead_of_the_others() -> None:
    assert stops(BANDIT, {"a": [5.0, 9.0, 30.0]}) == {}
    # a is alone at report 2: its 0.9 is not compared with b's report 1
    assert stops(BANDIT, {"a": [0.5, 0.9], "b": [0.4]}) == {}


def test_finished_trials_count_as_reference_but_are_never_stopped() -> None:
    histories = {"done_good": [0.1, 0.1], "done_bad": [9.0, 9.0], "a": [0.5, 0.5], "b": [0.1, 0.105]}
    assert set(stops(BANDIT, histories, running={"a", "b"})) == {"a"}
    assert stops(BANDIT, histories, running=set()) == {}


def test_a_nan_is_the_worst_value() -> None:
    assert stops(BANDIT, {"a": [0.5], "b": [math.nan]}) == {
        "b": "bandit policy: primary metric nan at report 1 is worse than 0.5 * (1 + 0.1) = 0.55 "
             "(0.5 is the best at report 1)"}
    assert set(stops(BANDIT, {"a": [0.5], "b": [math.nan]}, goal="maximize")) == {"b"}
    assert stops(BANDIT, {"a": [math.nan], "b": [math.nan]}) == {}


# ------------------------------------------------------------------------------------------------
# median stopping


MEDIAN = Policy(type="median_stopping")


def test_median_stopping_minimize_compares_the_best_so_far_with_the_median_running_average() -> None:
    histories = {
        "a": [1.0, 1.0],  # average 1
        "b": [2.0, 2.0],  # average 2, best 2
        "c": [4.0, 3.0],  # average 3.5, best 3
        "d": [5.0, 0.5],  # average 2.75, best 0.5: its best so far saves it
    }
    assert stops(MEDIAN, histories) == {
        "c": "median stopping policy: the best primary metric of reports 1-2, 3, is worse than 2.375, "
             "the median of the running averages of the 4 trials at report 2"}
    # b's best (2) equals the median of a, b, c (2): a tie stays
    assert set(stops(MEDIAN, {k: histories[k] for k in "abc"})) == {"c"}


def test_median_stopping_maximize() -> None:
    histories = {"a": [0.9, 0.9], "b": [0.5, 0.6], "c": [0.7, 0.8]}  # averages 0.9, 0.55, 0.75
    assert stops(MEDIAN, histories, goal="maximize", metric="accuracy") == {
        "b": "median stopping policy: the best accuracy of reports 1-2, 0.6, is worse than 0.75, "
             "the median of the running averages of the 3 trials at report 2"}


def test_median_stopping_uses_reports_up_to_the_evaluation_point_and_trials_that_reached_it() -> None:
    policy = Policy(type="median_stopping", evaluation_interval=2, delay_evaluation=1)  # 2, 4, 6
    histories = {"a": [1.0, 1.0, 1.0, 1.0], "b": [3.0, 3.0, 3.0, 3.0], "c": [2.0, 2.0, 0.1], "d": [9.0]}
    # c (at report 3) is judged at report 2 (best 2 vs median of 1, 3, 2 = 2: stays) though its 0.1
    # came after; b at report 4 is judged among a and b (c and d did not reach 4): median 2 < 3
    assert set(stops(policy, histories)) == {"b"}
    assert stops(MEDIAN, {"a": [3.0, 2.0, 1.0]}) == {}  # alone: never
    assert stops(MEDIAN, {"a": [1.0], "b": [2.0]}) == {
        "b": "median stopping policy: the best primary metric of report 1, 2, is worse than 1.5, "
             "the median of the running averages of the 2 trials at report 1"}


# ------------------------------------------------------------------------------------------------
# truncation selection


def truncation(percentage: int, exclude: bool = False) -> Policy:
    return Policy(type="truncation_selection", truncation_percentage=percentage, exclude_finished_jobs=exclude)


def test_truncation_stops_the_worst_percentage_rounded_down() -> None:
    histories = {f"t{i}": [float(i)] for i in range(1, 9)}  # 8 trials, t8 worst
    assert stops(truncation(25), histories) == {
        "t8": "truncation selection policy: primary metric 8 at report 1 is among the worst 25% of the "
              "8 trials at report 1 (the worst 2 are stopped)",
        "t7": "truncation selection policy: primary metric 7 at report 1 is among the worst 25% of the "
              "8 trials at report 1 (the worst 2 are stopped)",
    }
    four = {f"t{i}": [float(i)] for i in range(1, 5)}
    assert stops(truncation(20), four) == {}  # 20% of 4 rounds down to 0
    assert stops(truncation(20), {**four, "t5": [5.0]}) == {
        "t5": "truncation selection policy: primary metric 5 at report 1 is among the worst 20% of the "
              "5 trials at report 1 (the worst 1 is stopped)"}
    assert stops(truncation(99), {"alone": [5.0]}) == {}


def test_truncation_maximize_and_ties_at_the_cut() -> None:
    histories = {"a": [0.9], "b": [0.2], "c": [0.5], "d": [0.7]}
    assert set(stops(truncation(50), histories, goal="maximize")) == {"b", "c"}
    # the cut falls between two equal values: neither is stopped
    assert stops(truncation(25), {"a": [1.0], "b": [2.0], "c": [3.0], "d": [3.0]}) == {}


def test_truncation_counts_finished_trials_unless_excluded() -> None:
    histories = {"f1": [0.1], "f2": [0.2], "r1": [1.0], "r2": [2.0], "r3": [3.0], "r4": [4.0]}
    running = {"r1", "r2", "r3", "r4"}
    assert set(stops(truncation(50), histories, running)) == {"r4", "r3", "r2"}  # 3 of 6
    assert set(stops(truncation(50, exclude=True), histories, running)) == {"r4", "r3"}  # 2 of 4
    # a finished trial in the worst part takes its slot: it cannot be stopped, and no one else is instead
    assert set(stops(truncation(25), {**histories, "f3": [9.0], "f4": [8.0]}, running)) == set()


# ------------------------------------------------------------------------------------------------
# asking as the reports come in stops what one look at the end stops

PLANS = {  # what each trial would report if left alone
    "a": [1.0, 0.8, 0.6, 0.5, 0.4, 0.35, 0.3, 0.3],
    "b": [1.2, 1.1, 1.0, 0.95, 0.9, 0.9, 0.9, 0.9],
    "c": [0.9, 0.85, 0.85, 0.9, 1.0, 1.1, 1.2, 1.3],
    "d": [2.0, 1.5, 1.0, 0.6, 0.45, 0.4, 0.3, 0.25],
    "e": [1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 2.1, 2.2],
    "f": [1.1, 0.9, 0.7, 0.6, 0.55, 0.5, 0.5, 0.5],
}
POLICIES = [
    Policy(type="bandit", slack_factor=0.5),
    Policy(type="bandit", slack_amount=0.3, evaluation_interval=2, delay_evaluation=1),
    Policy(type="median_stopping", delay_evaluation=1),
    Policy(type="median_stopping", evaluation_interval=3),
    Policy(type="truncation_selection", truncation_percentage=30),
    Policy(type="truncation_selection", truncation_percentage=40, evaluation_interval=2, delay_evaluation=2),
]


def run_sweep(policy: Policy, batches: list[list[str]]) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Feed the planned reports batch by batch (a batch names the trials that report next), asking
    after each batch; a stopped trial reports no more. Returns the final histories and every stop."""
    histories: dict[str, list[float]] = {name: [] for name in PLANS}
    stopped: dict[str, str] = {}
    for batch in batches:
        for name in batch:
            if name not in stopped and len(histories[name]) < len(PLANS[name]):
                histories[name].append(PLANS[name][len(histories[name])])
        stopped.update(trials_to_stop(policy, "minimize", histories, set(PLANS) - set(stopped)))
    return histories, stopped


ROUNDS = [list(PLANS)] * 8  # every trial reports, then the question


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: f"{p.type}-{p.evaluation_interval}-{p.delay_evaluation}")
def test_asking_after_every_round_stops_what_one_look_at_the_end_stops(policy: Policy) -> None:
    histories, stopped = run_sweep(policy, ROUNDS)
    assert stopped, "the plans are meant to stop someone"
    # the look at the end still counts the stopped trials as running: it must stop them again
    assert trials_to_stop(policy, "minimize", histories, set(PLANS)) == stopped


def test_bandit_stops_the_same_trials_whatever_the_order_of_reports_and_questions() -> None:
    policy = POLICIES[0]
    histories, stopped = run_sweep(policy, ROUNDS)
    assert {name: len(h) for name, h in histories.items() if name in stopped} == {
        "d": 1, "e": 1, "b": 3, "c": 4, "f": 7}
    for seed in range(20):
        reports = [name for name in PLANS for _ in range(8)]
        random.Random(seed).shuffle(reports)
        histories, stopped = run_sweep(policy, [[name] for name in reports])  # ask after every report
        assert stopped
        assert set(stopped) == set(trials_to_stop(policy, "minimize", histories, set(PLANS)))


def test_asking_twice_gives_the_same_answer() -> None:
    histories = {"a": [0.6, 0.52], "b": [0.7, 0.91]}
    assert stops(BANDIT, histories) == stops(BANDIT, histories) == {"b": stops(BANDIT, histories)["b"]}


def test_unknown_goal() -> None:
    with pytest.raises(ValueError, match=r"unknown goal 'lower' \(use minimize or maximize\)"):
        trials_to_stop(BANDIT, "lower", {}, set())


# ------------------------------------------------------------------------------------------------
# parsing


def test_parse_policies() -> None:
    assert parse_policy(None) is None
    assert parse_policy({}) is None
    assert parse_policy({"type": "bandit", "slack_factor": 0.1, "evaluation_interval": 2, "delay_evaluation": 5}) \
        == Policy(type="bandit", evaluation_interval=2, delay_evaluation=5, slack_factor=0.1)
    assert parse_policy({"type": "bandit", "slack_amount": 1}) == Policy(type="bandit", slack_amount=1.0)
    assert parse_policy({"type": "median_stopping"}) == Policy(type="median_stopping")
    # 0 is the Azure SDK v2 default for evaluation_interval: every report
    assert parse_policy({"type": "median_stopping", "evaluation_interval": 0}).evaluation_interval == 1
    assert parse_policy({"type": "truncation_selection", "truncation_percentage": 20,
                         "exclude_finished_jobs": True}) \
        == Policy(type="truncation_selection", truncation_percentage=20, exclude_finished_jobs=True)


POLICY_TYPES_TEXT = "bandit, median_stopping, truncation_selection"


@pytest.mark.parametrize(("raw", "message", "hint", "path"), [
    (
        ["bandit"],
        "early_termination must be a mapping, found a list",
        "e.g. early_termination: {type: bandit, slack_factor: 0.1, evaluation_interval: 1, delay_evaluation: 5}",
        (),
    ),
    (
        {"slack_factor": 0.1},
        "early_termination has no type",
        f"add `type:`, one of: {POLICY_TYPES_TEXT}",
        ("type",),
    ),
    (
        {"type": "median"},
        "unknown early termination policy 'median'",
        f"did you mean 'median_stopping'? The policies are: {POLICY_TYPES_TEXT}",
        ("type",),
    ),
    (
        {"type": "Bandit", "slack_factor": 0.1},
        "unknown early termination policy 'Bandit'",
        f"did you mean 'bandit'? The policies are: {POLICY_TYPES_TEXT}",
        ("type",),
    ),
    (
        {"type": "hyperband"},
        "unknown early termination policy 'hyperband'",
        f"the policies are: {POLICY_TYPES_TEXT}",
        ("type",),
    ),
    (
        {"type": 3},
        "early_termination type must be a string, found 3",
        f"one of: {POLICY_TYPES_TEXT}",
        ("type",),
    ),
    (
        {"type": "bandit", "slack": 0.1},
        "bandit policy: unknown key 'slack'",
        ("did you mean 'slack_factor'? A bandit policy takes evaluation_interval, delay_evaluation, slack_factor, "
        "slack_amount"),
        ("slack",),
    ),
    (
        {"type": "median_stopping", "slack_factor": 0.1},
        "median_stopping policy: unknown key 'slack_factor'",
        "slack_factor belongs to the bandit policy; remove it, or write `type: bandit`",
        ("slack_factor",),
    ),
    (
        {"type": "bandit"},
        "bandit policy: give exactly one of slack_factor and slack_amount",
        "slack_factor: 0.1 allows 10% from the best trial; slack_amount: 0.05 allows an absolute 0.05",
        ("type",),
    ),
    (
        {"type": "bandit", "slack_factor": 0.1, "slack_amount": 0.2},
        "bandit policy: give exactly one of slack_factor and slack_amount, not both",
        "slack_factor: 0.1 allows 10% from the best trial; slack_amount: 0.05 allows an absolute 0.05",
        ("slack_amount",),
    ),
    (
        {"type": "bandit", "slack_factor": -0.1},
        "bandit policy: slack_factor must be a number >= 0, found -0.1",
        "e.g. slack_factor: 0.1",
        ("slack_factor",),
    ),
    (
        {"type": "bandit", "slack_amount": "10%"},
        "bandit policy: slack_amount must be a number >= 0, found the text '10%'",
        "e.g. slack_amount: 0.1",
        ("slack_amount",),
    ),
    (
        {"type": "bandit", "slack_factor": 0.1, "evaluation_interval": 1.5},
        "bandit policy: evaluation_interval must be a whole number >= 0, found 1.5",
        "evaluation_interval: 1 applies the policy at every report",
        ("evaluation_interval",),
    ),
    (
        {"type": "median_stopping", "delay_evaluation": -2},
        "median_stopping policy: delay_evaluation must be a whole number >= 0, found -2",
        "delay_evaluation: 5 leaves every trial alone for its first 5 reports",
        ("delay_evaluation",),
    ),
    (
        {"type": "median_stopping", "delay_evaluation": True},
        "median_stopping policy: delay_evaluation must be a whole number >= 0, found true",
        "delay_evaluation: 5 leaves every trial alone for its first 5 reports",
        ("delay_evaluation",),
    ),
    (
        {"type": "truncation_selection"},
        "truncation_selection policy is missing 'truncation_percentage'",
        "the percentage of worst trials to stop at each evaluation, e.g. truncation_percentage: 20",
        ("truncation_percentage",),
    ),
    (
        {"type": "truncation_selection", "truncation_percentage": 100},
        "truncation_selection policy: truncation_percentage must be a whole number from 1 to 99, found 100",
        "e.g. truncation_percentage: 20 stops the worst 20% at each evaluation",
        ("truncation_percentage",),
    ),
    (
        {"type": "truncation_selection", "truncation_percentage": 20, "exclude_finished_jobs": "yes"},
        "truncation_selection policy: exclude_finished_jobs must be true or false, found the text 'yes'",
        "exclude_finished_jobs: true ranks only the trials still running",
        ("exclude_finished_jobs",),
    ),
])
def test_parse_errors_say_what_is_wrong_what_to_write_and_where(raw: object, message: str, hint: str,
                                                                path: tuple[str, ...]) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(raw)
    assert (caught.value.message, caught.value.hint, caught.value.path) == (message, hint, path)
    assert str(caught.value) == f"{message}\n  hint: {hint}"
