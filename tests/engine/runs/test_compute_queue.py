"""A compute target's `max_concurrent_runs`: runs beyond it wait Queued, first come first
served, start as slots free up, and can be canceled while they wait. Real runs, real supervisors."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles

HOLD = """
import os, sys, time
print("started", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
"""


def _driver_log(run: Any) -> str:
    path = RunFiles(Path(run.run_dir)).driver_log
    return path.read_text() if path.exists() else ""


def _until(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_runs_beyond_a_targets_limit_wait_queued_and_start_in_submission_order(
        eng: Engine, project: Any, tmp_path: Path) -> None:
    eng.store.add_compute_target("cpu-cluster", "local", {"max_concurrent_runs": 2})
    code = project({"hold.py": HOLD})
    releases = [tmp_path / f"release-{i}" for i in range(4)]
    names = [eng.submit(JobSpec(experiment_name="q", code_dir=code, script="hold.py", arguments=(str(r),),
                                compute="cpu-cluster")).name for r in releases]
    _until(lambda: [eng.get_run(n).status for n in names[:2]] == ["Running", "Running"])
    # The others' supervisors looked, found no free slot and wait: Queued, their scripts not started.
    _until(lambda: all("waiting for a free slot" in _driver_log(eng.get_run(n)) for n in names[2:]))
    assert [eng.get_run(n).status for n in names[2:]] == ["Queued", "Queued"]
    for n in names[2:]:  # (how many ran and waited ahead when it first looked)
        log = _driver_log(eng.get_run(n))
        assert log.startswith("[trainyard] queued: compute target cpu-cluster runs at most 2 job(s) at once (")
        assert log.rstrip().endswith("queued ahead); waiting for a free slot") and "started" not in log
    # A run on another target is not held back.
    free = eng.submit(JobSpec(experiment_name="q", code_dir=code, script="hold.py", arguments=(str(releases[0]),)))

    releases[1].touch()  # the second run ends: the third (not the fourth) takes its slot
    _until(lambda: eng.get_run(names[2]).status == "Running")
    assert eng.get_run(names[3]).status == "Queued"
    assert "a slot on cpu-cluster is free: starting" in _driver_log(eng.get_run(names[2]))
    for r in releases:
        r.touch()
    runs = [eng.wait(n, timeout=60) for n in [*names, free.name]]
    assert all(r.status == "Completed" for r in runs)
    spans = [(r.start_time, r.end_time) for r in runs[:4]]
    assert max(sum(1 for s, e in spans if s <= at < e) for at, _ in spans) <= 2
    assert runs[2].start_time < runs[3].start_time


def test_a_run_canceled_while_queued_never_starts(eng: Engine, project: Any, tmp_path: Path) -> None:
    eng.store.add_compute_target("one-at-a-time", "local", {"max_concurrent_runs": 1})
    code = project({"hold.py": HOLD})
    release = tmp_path / "release"
    first = eng.submit(JobSpec(experiment_name="q", code_dir=code, script="hold.py", arguments=(str(release),),
                               compute="one-at-a-time"))
    waiting = eng.submit(JobSpec(experiment_name="q", code_dir=code, script="hold.py", arguments=(str(release),),
                                 compute="one-at-a-time"))
    _until(lambda: eng.get_run(first.name).status == "Running")
    _until(lambda: "waiting for a free slot" in _driver_log(eng.get_run(waiting.name)))
    eng.cancel(waiting.name)
    final = eng.wait(waiting.name, timeout=30)
    assert final.status == "Canceled" and final.error == "canceled by the user"
    assert final.start_time is None and "started" not in _driver_log(final)
    release.touch()
    assert eng.wait(first.name, timeout=30).status == "Completed"
