"""Sweep jobs (Azure ML CLI v2 `type: sweep`) through the real engine and CLI: every trial is a
real child run with its own supervisor, driven by the sweep's detached controller process."""

from __future__ import annotations

import itertools
import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.runs.files import RunFiles
from engine.runtime.sweepresults import SweepRecord, stopped_early

# A trial: loss = (lr - 0.5)^2 + batch / 1000 + offset, reported `--reports` times (decaying to it).
TRAIN = """
import argparse, sys, time
from azureml.core import Run

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.5)
p.add_argument("--batch", type=int, default=16)
p.add_argument("--offset", type=float, default=0.0)
p.add_argument("--reports", type=int, default=3)
p.add_argument("--pause", type=float, default=0.0)
p.add_argument("--hold", default=None)
p.add_argument("--gate", default=None,
               help="slow trials (--pause >= 0.1) report only once a fast one with --offset 0 created this file")
a = p.parse_args()
print(f"lr={a.lr} batch={a.batch} offset={a.offset}", flush=True)
run = Run.get_context()
final = (a.lr - 0.5) ** 2 + a.batch / 1000 + a.offset
slow = a.pause >= 0.1
if a.gate and slow:
    import os
    while not os.path.exists(a.gate):
        time.sleep(0.02)
for k in range(a.reports):
    run.log("loss", final + 1.0 / (k + 1) ** 2 if k < a.reports - 1 else final)
    run.flush()
    time.sleep(a.pause)
if a.gate and not slow and a.offset == 0:
    open(a.gate, "w").close()
if a.hold:
    import os
    while not os.path.exists(a.hold):
        time.sleep(0.05)
"""


def write_sweep(folder: Path, body: str) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "train.py").write_text(textwrap.dedent(TRAIN))
    path = folder / "sweep.yml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def children(eng: Engine, parent: str) -> list[Any]:
    return sorted((r for r in eng.list_runs() if r.parent_name == parent), key=lambda r: int(r.name.rsplit("_", 1)[1]))


def driver_log(run: Any) -> str:
    path = RunFiles(Path(run.run_dir)).driver_log
    return path.read_text() if path.exists() else ""


def sweep_with_two_trials_running(eng: Engine, tmp_path: Path) -> Any:
    """A random sweep of trials that never end by themselves, once two (its limit) are Running."""
    from engine.specs.jobs import load_job

    hold = tmp_path / "never"
    path = write_sweep(tmp_path / "proj", f"""
        type: sweep
        trial:
          code: src
          command: python train.py --lr ${{{{search_space.lr}}}} --hold {hold}
        search_space:
          lr: {{type: uniform, min_value: 0.0, max_value: 1.0}}
        objective: {{goal: minimize, primary_metric: loss}}
        limits: {{max_total_trials: 10, max_concurrent_trials: 2}}
        """)
    sweep = eng.submit(load_job(path))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(t.status == "Running" for t in children(eng, sweep.name)) < 2:
        time.sleep(0.1)
    return sweep


def test_a_grid_sweep_runs_every_combination_as_child_runs_and_records_the_best(
        eng: Engine, tmp_path: Path, cli: Any) -> None:
    path = write_sweep(tmp_path / "proj", """
        $schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
        type: sweep
        experiment_name: lr-grid
        trial:
          code: src
          command: >-
            python train.py --lr ${{search_space.lr}} --batch ${{search_space.batch}} --pause 0.2
        sampling_algorithm: grid
        search_space:
          lr:
            type: choice
            values: [0.1, 0.5, 0.9]
          batch:
            type: choice
            values: [16, 32]
        objective:
          goal: minimize
          primary_metric: loss
        limits:
          max_total_trials: 10
          max_concurrent_trials: 2
        """)
    res = cli("job", "create", "-f", str(path), "--stream", timeout=180)
    assert res.returncode == 0, res.stdout + res.stderr
    (sweep,) = [r for r in eng.list_runs() if r.parent_name is None]
    assert sweep.status == "Completed" and sweep.experiment_name == "lr-grid"
    trials = children(eng, sweep.name)
    # Grid: each combination once (the space has 6, fewer than max_total_trials), first parameter slowest.
    assert [t.name for t in trials] == [f"{sweep.name}_{i}" for i in range(6)]
    assert [t.params for t in trials] == [{"lr": lr, "batch": b} for lr, b in itertools.product([0.1, 0.5, 0.9],
                                                                                                  [16, 32])]
    for t in trials:
        assert t.status == "Completed" and t.experiment_name == "lr-grid"
        # The values reached the script as its arguments.
        assert f"lr={t.params['lr']} batch={t.params['batch']} offset=0.0" in driver_log(t)
    # Never more than max_concurrent_trials at once.
    spans = [(t.start_time, t.end_time) for t in trials]
    assert max(sum(1 for s, e in spans if s <= at < e) for at, _ in spans) <= 2
    best = sweep.properties["best_child_run_id"]
    assert best == f"{sweep.name}_2"  # lr 0.5, batch 16
    assert sweep.properties["best_metric_value"] == pytest.approx(0.016)
    assert sweep.properties["best_params"] == {"lr": 0.5, "batch": 16}
    assert sweep.properties["trials"] == {"Completed": 6}
    # The sweep run's best_loss: the best finished trial after each trial ended, ending at the best.
    best_curve = eng.metric_history(sweep.name, "best_loss").values.tolist()
    assert best_curve == sorted(best_curve, reverse=True) and best_curve[-1] == pytest.approx(0.016)
    log = res.stdout
    assert "grid sampling of lr, batch; minimize loss; up to 10 trials, 2 at a time" in log
    assert f"started {sweep.name}_0: lr=0.1, batch=16" in log
    assert "the search space is exhausted after 6 trials" in log
    assert f"best trial: {best} (loss 0.016; lr=0.5, batch=16)" in log
    # job show tells the best trial; job list shows the trials under the sweep.
    shown = json.loads(cli("job", "show", "-n", sweep.name, "-o", "json").stdout)
    assert shown["properties"]["best_child_run_id"] == best
    human = cli("job", "show", "-n", sweep.name).stdout.splitlines()
    assert f"best trial:       {best} (loss 0.016; lr=0.5, batch=16)" in human
    assert "trials:           6 completed (see `trainyard job list`; " + f"trials are {sweep.name}_N)" in human
    trial = cli("job", "show", "-n", f"{sweep.name}_0").stdout.splitlines()
    assert f"parent:           {sweep.name}" in trial and "  lr: 0.1" in trial


def test_bandit_early_termination_cancels_trials_that_fall_behind(eng: Engine, tmp_path: Path) -> None:
    from engine.specs.jobs import load_job

    # The good trial reports fast; the slow ones start reporting only once it has ended (a gate file,
    # not the pace of a loaded machine), so each of their reports meets the good trial's value at the
    # same report number. The slow bad trial is stopped at its 3rd report, 5 reports (4 s) before its end.
    gate = tmp_path / "fast-good-trial-done"
    path = write_sweep(tmp_path / "proj", """
        type: sweep
        trial:
          code: src
          command: >-
            python train.py --offset ${{search_space.offset}} --reports 8 --pause ${{search_space.pause}}
            --gate GATE
        sampling_algorithm: grid
        search_space:
          offset: {type: choice, values: [0.0, 3.0]}
          pause: {type: choice, values: [0.02, 0.8]}
        objective: {goal: minimize, primary_metric: loss}
        limits: {max_total_trials: 4, max_concurrent_trials: 4}
        early_termination: {type: bandit, slack_factor: 0.2, evaluation_interval: 1, delay_evaluation: 2}
        """.replace("GATE", str(gate)))
    sweep = eng.submit(load_job(path))
    final = eng.wait(sweep.name, timeout=120)
    assert final.status == "Completed", driver_log(final)
    trials = {(t.params["offset"], t.params["pause"]): t for t in children(eng, sweep.name)}
    assert trials[(0.0, 0.02)].status == "Completed" and trials[(0.0, 0.8)].status == "Completed"
    slow_bad = trials[(3.0, 0.8)]
    assert slow_bad.status == "Canceled"
    assert slow_bad.error.startswith("early termination: bandit policy"), slow_bad.error
    # The front ends know a stopped trial by its mark (engine.runtime.sweepresults), not by its words.
    assert stopped_early(slow_bad.status, slow_bad.properties, None)
    assert len(eng.metric_history(slow_bad.name, "loss").values) < 8  # stopped before its end
    assert f"stopping {slow_bad.name}: bandit policy" in driver_log(final)
    assert final.properties["best_child_run_id"] in (trials[(0.0, 0.02)].name, trials[(0.0, 0.8)].name)
    record = SweepRecord.from_properties(final.properties)
    assert record is not None and record.result.best_child_run_id == final.properties["best_child_run_id"]


def test_canceling_a_sweep_cancels_its_running_trials_and_starts_no_more(
        eng: Engine, tmp_path: Path) -> None:

    sweep = sweep_with_two_trials_running(eng, tmp_path)
    assert sum(t.status == "Running" for t in children(eng, sweep.name)) == 2
    eng.cancel(sweep.name)
    final = eng.wait(sweep.name, timeout=60)
    assert final.status == "Canceled" and final.error == "canceled by the user"
    trials = children(eng, sweep.name)
    assert len(trials) == 2 and all(t.status == "Canceled" for t in trials)
    assert {t.error for t in trials} == {"the sweep was canceled"}
    assert all(0.0 <= t.params["lr"] <= 1.0 for t in trials)


def test_a_sweep_whose_trials_all_fail_fails_and_says_where_to_look(eng: Engine, tmp_path: Path) -> None:
    from engine.specs.jobs import load_job

    path = write_sweep(tmp_path / "proj", """
        type: sweep
        trial:
          code: src
          command: python train.py --lr ${{search_space.lr}} --batch not-a-number
        search_space:
          lr: {type: choice, values: [0.1, 0.2]}
        sampling_algorithm: grid
        objective: {goal: maximize, primary_metric: accuracy}
        """)
    sweep = eng.submit(load_job(path))
    final = eng.wait(sweep.name, timeout=60)
    assert final.status == "Failed"
    assert final.error == f"every trial failed; see the driver log of {sweep.name}_0"
    assert [t.status for t in children(eng, sweep.name)] == ["Failed", "Failed"]
    assert "best_child_run_id" not in final.properties


@pytest.mark.parametrize(("body", "line", "message"), [
    ("""
     type: sweep
     trial: {code: src, command: python train.py, enviroment: x}
     search_space: {lr: {type: choice, values: [1]}}
     objective: {goal: minimize, primary_metric: loss}
     """, 2, "unknown key 'trial.enviroment'"),
    ("""
     type: sweep
     trial:
       code: src
       command: python train.py --lr ${{search_space.learning_rate}}
     search_space:
       lr: {type: choice, values: [1]}
     objective: {goal: minimize, primary_metric: loss}
     """, 4, "trial.command refers to search_space.learning_rate, which is not defined (defined: lr)"),
    ("""
     type: sweep
     trial: {code: src, command: python train.py}
     sampling_algorithm: bayesian
     search_space: {lr: {type: uniform, min_value: 0, max_value: 1}}
     objective: {goal: minimize, primary_metric: loss}
     early_termination: {type: bandit, slack_factor: 0.1}
     """, 6, "bayesian sampling learns from every trial's final result"),
    ("""
     type: sweep
     trial: {code: src, command: python train.py}
     search_space: {lr: {type: uniform, min_value: 0, max_value: 1}}
     objective: {goal: minimize, primary_metric: loss}
     limits:
       max_concurrent_trials: 0
     """, 6, "`limits.max_concurrent_trials` must be positive, found 0"),
    ("""
     type: sweep
     trial: {code: src, command: python train.py}
     search_space: {lr: {type: uniform, min_value: 0, max_value: 1}}
     objective: {goal: fastest, primary_metric: loss}
     """, 4, "'objective.goal' has the wrong type: expected one of minimize or maximize"),
])
def test_bad_sweep_files_fail_at_submit_with_file_and_line_and_leave_nothing(
        body: str, line: int, message: str, eng: Engine, tmp_path: Path, cli: Any) -> None:
    path = write_sweep(tmp_path / "proj", body)
    res = cli("job", "create", "-f", str(path))
    assert res.returncode != 0
    assert f"{path}:{line}: {message}" in res.stderr, res.stderr
    assert eng.list_runs() == []


def test_the_seed_style_preview_spelling_is_read(tmp_path: Path) -> None:
    """`algorithm:`, top-level trial limits and `timeout_minutes:` (the seeds' preview schema)."""
    from engine.specs.jobs import load_job

    path = write_sweep(tmp_path / "proj", """
        type: sweep
        trial:
          code: src
          command: python train.py --lr ${{search_space.lr}}
        algorithm: random
        search_space: {lr: {type: loguniform, min_value: -6, max_value: -1}}
        objective: {goal: minimize, primary_metric: loss}
        max_total_trials: 7
        max_concurrent_trials: 3
        timeout_minutes: 2
        """)
    sweep = load_job(path)
    assert (sweep.sampling_algorithm, sweep.max_total_trials, sweep.max_concurrent_trials, sweep.timeout_seconds) \
        == ("random", 7, 3, 120.0)
    assert sweep.experiment_name == "proj" and sweep.trial.code_dir == (tmp_path / "proj" / "src").resolve()


def test_a_bayesian_sweep_learns_from_finished_trials_within_its_bounds(eng: Engine, tmp_path: Path) -> None:
    from engine.specs.jobs import load_job

    path = write_sweep(tmp_path / "proj", """
        type: sweep
        trial:
          code: src
          command: python train.py --lr ${{search_space.lr}} --batch ${{search_space.batch}} --reports 1
        sampling_algorithm: {type: bayesian, seed: 3}
        search_space:
          lr: {type: uniform, min_value: 0.0, max_value: 1.0}
          batch: {type: quniform, min_value: 16, max_value: 64, q: 16}
        objective: {goal: minimize, primary_metric: loss}
        limits: {max_total_trials: 5, max_concurrent_trials: 2, trial_timeout: 60}
        """)
    sweep = eng.submit(load_job(path))
    final = eng.wait(sweep.name, timeout=120)
    assert final.status == "Completed", driver_log(final)
    trials = children(eng, sweep.name)
    assert len(trials) == 5 and all(t.status == "Completed" for t in trials)
    for t in trials:
        assert 0.0 <= t.params["lr"] <= 1.0 and t.params["batch"] in (16, 32, 48, 64)
        assert t.max_run_duration_seconds == 60
    values = {t.name: eng.metric_history(t.name, "loss").values[-1] for t in trials}
    assert final.properties["best_child_run_id"] == min(values, key=values.__getitem__)


def test_killing_the_cli_that_submitted_a_sweep_does_not_stop_it(
        eng: Engine, tmp_path: Path, cli_popen: Any) -> None:
    import os
    import signal

    path = write_sweep(tmp_path / "proj", """
        type: sweep
        trial:
          code: src
          command: python train.py --lr ${{search_space.lr}} --reports 4 --pause 0.3
        sampling_algorithm: grid
        search_space:
          lr: {type: choice, values: [0.2, 0.4, 0.6]}
        objective: {goal: minimize, primary_metric: loss}
        limits: {max_concurrent_trials: 1}
        """)
    proc = cli_popen("job", "create", "-f", str(path), "--stream")
    deadline = time.monotonic() + 60
    sweeps: list[Any] = []
    while time.monotonic() < deadline and not (sweeps and children(eng, sweeps[0].name)):
        sweeps = [r for r in eng.list_runs() if r.parent_name is None]
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)  # the terminal goes away mid-sweep
    proc.wait(10)
    final = eng.wait(sweeps[0].name, timeout=120)
    assert final.status == "Completed", driver_log(final)
    trials = children(eng, final.name)
    assert [t.params["lr"] for t in trials] == [0.2, 0.4, 0.6] and all(t.status == "Completed" for t in trials)
    # Every trial's points arrived exactly once.
    assert all(len(eng.metric_history(t.name, "loss").values) == 4 for t in trials)


def test_a_sweep_whose_controller_is_killed_fails_and_stops_its_trials(eng: Engine, tmp_path: Path) -> None:
    import os
    import signal


    sweep = sweep_with_two_trials_running(eng, tmp_path)
    pid = eng.get_run(sweep.name).supervisor_pid
    os.kill(pid, signal.SIGKILL)  # the controller dies (OOM killer, a crash): nothing it could clean up
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not eng.reconcile(sweep.name):
        time.sleep(0.1)
    final = eng.get_run(sweep.name)
    assert final.status == "Failed" and final.error.startswith(f"the sweep's controller process (pid {pid}) died")
    trials = [eng.wait(t.name, timeout=30) for t in children(eng, sweep.name)]
    assert len(trials) == 2 and all(t.status == "Canceled" for t in trials)
    assert {t.error for t in trials} == {f"its sweep {sweep.name} failed: the sweep's controller died"}
