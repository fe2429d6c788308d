"""Sweep limits and early termination enforced end to end: a real controller, real trials. No outcome
depends on how fast this machine is: the trials that must be stopped never end by themselves (they
wait for a file the test writes only afterwards), and the policies judge trials only on reports
every trial has made, whatever order they arrive in."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from test_sweeps import children, driver_log, write_sweep

from engine.api import Engine


def _load(path: Path) -> Any:
    from engine.specs.jobs import load_job

    return load_job(path)


def test_the_sweep_timeout_cancels_its_running_trials_and_starts_no_more(eng: Engine, tmp_path: Path) -> None:
    never = tmp_path / "never"
    path = write_sweep(tmp_path / "proj", f"""
        type: sweep
        trial:
          code: src
          command: python train.py --lr ${{{{search_space.lr}}}} --hold {never}
        sampling_algorithm: grid
        search_space:
          lr: {{type: choice, values: [0.1, 0.2, 0.3, 0.4]}}
        objective: {{goal: minimize, primary_metric: loss}}
        limits: {{max_total_trials: 4, max_concurrent_trials: 2, timeout: 4}}
        """)
    started = time.monotonic()
    sweep = eng.submit(_load(path))
    final = eng.wait(sweep.name, timeout=90)
    assert time.monotonic() - started >= 4
    log = driver_log(final)
    assert "the sweep reached its timeout (4 s): canceling the running trials" in log, log
    assert final.status == "Completed", (final.error, log)
    trials = children(eng, sweep.name)
    assert len(trials) == 2, [t.name for t in trials]  # held trials never free a slot: no third one starts
    for t in trials:
        assert t.status == "Canceled", (t.name, t.status, t.error)
        assert t.error == "the sweep reached its timeout (4 s)"


def test_trial_timeout_ends_each_trial_and_the_sweep_goes_on(eng: Engine, tmp_path: Path) -> None:
    never = tmp_path / "never"
    path = write_sweep(tmp_path / "proj", f"""
        type: sweep
        trial:
          code: src
          command: python train.py --lr ${{{{search_space.lr}}}} --hold {never}
        sampling_algorithm: grid
        search_space:
          lr: {{type: choice, values: [0.1, 0.2]}}
        objective: {{goal: minimize, primary_metric: loss}}
        limits: {{max_total_trials: 2, max_concurrent_trials: 1, trial_timeout: 2}}
        """)
    sweep = eng.submit(_load(path))
    final = eng.wait(sweep.name, timeout=90)
    trials = children(eng, sweep.name)
    assert [t.params["lr"] for t in trials] == [0.1, 0.2]  # the second started once the first timed out
    for t in trials:
        assert t.status == "Canceled", (t.name, t.status, t.error)
        assert t.error.startswith("the run exceeded its maximum duration (max_run_duration_seconds=2"), t.error
        took = t.end_time - t.start_time
        assert took >= 2, took
    assert final.status == "Completed", (final.error, driver_log(final))


def _policy_sweep(eng: Engine, tmp_path: Path, policy: str) -> tuple[Any, Path]:
    """Three trials (loss offset 0, 0.1 and 5) that report twice at once and then wait for `release`:
    the one with offset 5 is worst at both reports, so a policy evaluated at report 2 stops it."""
    release = tmp_path / "release"
    path = write_sweep(tmp_path / "proj", f"""
        type: sweep
        trial:
          code: src
          command: python train.py --offset ${{{{search_space.offset}}}} --reports 2 --hold {release}
        sampling_algorithm: grid
        search_space:
          offset: {{type: choice, values: [0.0, 0.1, 5.0]}}
        objective: {{goal: minimize, primary_metric: loss}}
        limits: {{max_total_trials: 3, max_concurrent_trials: 3}}
        early_termination: {policy}
        """)
    return eng.submit(_load(path)), release


def _stopped_then_release(eng: Engine, sweep: Any, release: Path, policy: str) -> None:
    deadline = time.monotonic() + 90
    while True:
        trials = {t.params.get("offset"): t for t in children(eng, sweep.name)}  # params come just after
        bad = trials.get(5.0)
        if bad is not None and bad.is_terminal:
            break
        assert time.monotonic() < deadline, {o: t.status for o, t in trials.items()}
        time.sleep(0.1)
    # It was stopped while the others still waited: none of them had ended.
    assert all(not trials[o].is_terminal for o in (0.0, 0.1)), {o: t.status for o, t in trials.items()}
    release.write_text("")
    final = eng.wait(sweep.name, timeout=60)
    trials = {t.params["offset"]: eng.get_run(t.name) for t in children(eng, sweep.name)}
    assert final.status == "Completed", driver_log(final)
    bad = trials[5.0]
    assert bad.status == "Canceled"
    words = policy.replace("_", " ")
    assert bad.error.startswith(f"early termination: {words} policy"), bad.error
    assert f"stopping {bad.name}: {words} policy" in driver_log(final)
    assert eng.metric_history(bad.name, "loss").values.tolist() == [6.016, 5.016]  # both reports, no more
    assert trials[0.0].status == "Completed" and trials[0.1].status == "Completed"
    assert final.properties["best_child_run_id"] == trials[0.0].name


def test_median_stopping_stops_a_real_trial_worse_than_the_median(eng: Engine, tmp_path: Path) -> None:
    # At report 2 the running averages are 0.516, 0.616 and 5.516 (median 0.616); the worst trial's
    # best value, 5.016, is worse than it.
    sweep, release = _policy_sweep(eng, tmp_path, "{type: median_stopping, evaluation_interval: 1, "
                                                  "delay_evaluation: 1}")
    _stopped_then_release(eng, sweep, release, "median_stopping")


def test_truncation_selection_stops_the_worst_real_trial(eng: Engine, tmp_path: Path) -> None:
    # 34% of three trials cuts one: the worst at report 2, strictly worse than the best kept one.
    sweep, release = _policy_sweep(eng, tmp_path, "{type: truncation_selection, truncation_percentage: 34, "
                                                  "evaluation_interval: 1, delay_evaluation: 1}")
    _stopped_then_release(eng, sweep, release, "truncation_selection")
