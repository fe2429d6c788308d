"""Pipelines under failure and control, with real processes: a failing step fails the pipeline and
cancels what depends on it while independent steps finish (or, with continue_on_step_failure:
false, ends them too); cancelling the pipeline cancels its running step; the pipeline outlives the
CLI that submitted it; a dead controller is found and its steps stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from engine.api import Engine
from engine.specs.pipeline import load_pipeline_file

ROOT = Path(__file__).resolve().parents[3]

STEP = """\
import pathlib, sys, time
name, out, hold, code = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
deadline = time.time() + 120
while hold != "-" and not pathlib.Path(hold).exists() and time.time() < deadline:
    time.sleep(0.1)
pathlib.Path(out).mkdir(parents=True, exist_ok=True)
(pathlib.Path(out) / "made_by.txt").write_text(name)
print(f"step {name} done, exit {code}")
sys.exit(code)
"""


def pipeline(
    root: Path, *, bad_exit: int = 3, slow_hold: str = "-", a_hold: str = "-", settings: str = ""
) -> Path:
    """a -> bad -> after_bad, and slow on its own."""
    (root / "src").mkdir(parents=True)
    (root / "src" / "step.py").write_text(STEP)

    def step(name: str, hold: str = "-", code: int = 0, reads: str | None = None) -> str:
        inputs = f"\n    inputs:\n      upstream: ${{{{parent.jobs.{reads}.outputs.out}}}}" if reads else ""
        return (
            f"  {name}:\n    code: src\n    command: python step.py {name} ${{{{outputs.out}}}} {hold} {code}"
            f"{' ${{inputs.upstream}}' if reads else ''}{inputs}\n    outputs:\n      out:\n"
        )

    text = (
        "type: pipeline\nexperiment_name: control\n"
        + textwrap.dedent(settings)
        + "jobs:\n"
        + step("a", a_hold)
        + step("bad", code=bad_exit, reads="a")
        + step("after_bad", reads="bad")
        + step("slow", slow_hold)
    )
    path = root / "pipeline.yml"
    path.write_text(text)
    return path


def wait_for(what, timeout: float = 90):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (found := what()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def test_a_failing_step_fails_the_pipeline_and_cancels_its_dependents_only(
    eng: Engine, tmp_path: Path
) -> None:
    run = eng.submit_pipeline(load_pipeline_file(pipeline(tmp_path / "p")))
    final = eng.wait(run.name, timeout=180)
    graph = eng.pipeline_graph(run.name)
    states = {s.name: s for s in graph.steps}
    assert final.status == "Failed" and final.error is not None and "step bad failed" in final.error
    assert states["a"].status == "Completed" and states["slow"].status == "Completed"
    assert states["bad"].status == "Failed" and eng.get_run(str(states["bad"].run_name)).exit_code == 3
    # never started: no child run, and why
    assert states["after_bad"].status == "Canceled" and states["after_bad"].run_name is None
    assert "step bad failed" in (states["after_bad"].error or "")
    assert sorted(r.name for r in eng.children(run.name)) == sorted(
        f"{run.name}_{s}" for s in ("a", "bad", "slow")
    )


def test_continue_on_step_failure_false_ends_the_independent_steps_too(eng: Engine, tmp_path: Path) -> None:
    path = pipeline(
        tmp_path / "p",
        slow_hold=str(tmp_path / "never"),
        settings="settings:\n  continue_on_step_failure: false\n",
    )
    run = eng.submit_pipeline(load_pipeline_file(path))
    final = eng.wait(run.name, timeout=180)
    states = {s.name: s for s in eng.pipeline_graph(run.name).steps}
    assert final.status == "Failed"
    assert states["bad"].status == "Failed"
    assert states["slow"].status == "Canceled" and states["slow"].run_name is not None  # stopped while it ran
    assert states["after_bad"].status == "Canceled" and states["after_bad"].run_name is None


def test_cancelling_the_pipeline_cancels_its_running_step_and_starts_nothing_more(
    eng: Engine, tmp_path: Path
) -> None:
    path = pipeline(tmp_path / "p", a_hold=str(tmp_path / "never"), slow_hold=str(tmp_path / "never"))
    run = eng.submit_pipeline(load_pipeline_file(path))
    wait_for(
        lambda: all(
            s.status == "Running" for s in eng.pipeline_graph(run.name).steps if s.name in ("a", "slow")
        )
    )
    eng.cancel(run.name)
    final = eng.wait(run.name, timeout=120)
    states = {s.name: s for s in eng.pipeline_graph(run.name).steps}
    assert final.status == "Canceled"
    assert states["a"].status == "Canceled" and states["slow"].status == "Canceled"
    assert states["bad"].run_name is None and states["after_bad"].run_name is None
    assert len(eng.children(run.name)) == 2


def test_the_pipeline_outlives_the_cli_that_submitted_it(eng: Engine, tmp_path: Path) -> None:
    release = tmp_path / "release"
    path = pipeline(tmp_path / "p", bad_exit=0, a_hold=str(release))
    cli = subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", "job", "create", "-f", str(path), "--stream"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        parent = wait_for(lambda: [r for r in eng.list_runs() if r.parent_name is None])[0]
        wait_for(lambda: eng.pipeline_graph(parent.name).step("a").status == "Running")
        os.killpg(cli.pid, signal.SIGKILL)
        assert cli.wait(15) == -signal.SIGKILL
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(10)
    assert not eng.get_run(parent.name).is_terminal
    release.write_text("")
    final = eng.wait(parent.name, timeout=180)
    assert final.status == "Completed", final.error
    assert all(s.status == "Completed" for s in eng.pipeline_graph(parent.name).steps)


def test_a_dead_controller_is_detected_and_its_steps_stopped(eng: Engine, tmp_path: Path) -> None:
    path = pipeline(tmp_path / "p", a_hold=str(tmp_path / "never"), slow_hold=str(tmp_path / "never"))
    run = eng.submit_pipeline(load_pipeline_file(path))
    wait_for(lambda: eng.pipeline_graph(run.name).step("a").status == "Running")
    pid = eng.get_run(run.name).supervisor_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: run.name in eng.reconcile() or eng.get_run(run.name).is_terminal, timeout=30)
    final = eng.get_run(run.name)
    assert final.status == "Failed" and "the pipeline's controller" in (final.error or "")
    step = eng.wait(f"{run.name}_a", timeout=60)
    assert step.status == "Canceled" and "controller died" in (step.error or "")


def test_job_show_of_a_pipeline_lists_its_steps(eng: Engine, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    run = eng.submit_pipeline(load_pipeline_file(pipeline(tmp_path / "p")))
    eng.wait(run.name, timeout=180)
    shown = cli("job", "show", "-n", run.name, "-o", "json")
    steps = {s["name"]: s for s in json.loads(shown.stdout)["steps"]}
    assert steps["bad"]["status"] == "Failed" and steps["bad"]["job"] == f"{run.name}_bad"
    assert steps["after_bad"]["job"] is None and "step bad failed" in steps["after_bad"]["error"]
    human = cli("job", "show", "-n", run.name).stdout
    assert (
        f"  a: Completed, {run.name}_a" in human
        and "  after_bad: Canceled, no job (not run: step bad failed)" in human
    )
