"""GPU assignment on this machine: real runs and supervisors; the machine's GPUs are the four of a
recorded inventory, printed by the test-only FAKE nvidia-smi (tests/fixtures/fake_nvidia_smi) put
first on PATH. Each run sees only its GPUs (CUDA_VISIBLE_DEVICES), runs that want taken GPUs wait
Queued in submission order, and GPUs come back when a supervisor is killed with -9."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from engine.api import Engine
from engine.compute.procs import wait_pid_gone
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles

ROOT = Path(__file__).resolve().parents[3]
FAKE_NVIDIA_SMI = ROOT / "tests" / "fixtures" / "fake_nvidia_smi"
RECORDED = ROOT / "tests" / "engine" / "fixtures" / "nvidia_smi_query_gpu.csv"

HOLD = """
import os, sys, time
print("visible=" + os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"), flush=True)
print("order=" + os.environ.get("CUDA_DEVICE_ORDER", "<unset>"), flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
"""


def install_fake_nvidia_smi(folder: Path) -> Path:
    """A folder holding the FAKE nvidia-smi (and the recording it prints), to put first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(FAKE_NVIDIA_SMI, folder / "nvidia-smi")
    shutil.copy(RECORDED, folder / RECORDED.name)
    return folder


@pytest.fixture
def four_fake_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fake = install_fake_nvidia_smi(tmp_path / "fake-gpu-bin")
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TRAINYARD_GPU_LEASES", str(tmp_path / "gpu-leases"))
    return fake


def _log(eng: Engine, name: str) -> str:
    path = RunFiles(Path(eng.get_run(name).run_dir)).driver_log
    return path.read_text() if path.exists() else ""


def _until(check: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _visible(eng: Engine, name: str) -> set[int]:
    _until(lambda: "visible=" in _log(eng, name), f"{name} to print its GPUs")
    line = next(ln for ln in _log(eng, name).splitlines() if ln.startswith("visible="))
    return {int(i) for i in line.removeprefix("visible=").split(",")}


def _submit(eng: Engine, code: Path, release: Path, gpus: int | str | None, compute: str = "local") -> str:
    return eng.submit(
        JobSpec(
            experiment_name="gpus",
            code_dir=code,
            script="hold.py",
            arguments=(str(release),),
            gpus=gpus,
            compute=compute,
        )
    ).name


def test_runs_get_disjoint_gpus_and_wait_for_taken_ones_in_submission_order(
    eng: Engine, project: Any, tmp_path: Path, four_fake_gpus: Path
) -> None:
    code = project({"hold.py": HOLD})
    release = {k: tmp_path / f"release-{k}" for k in "abcd"}
    a = _submit(eng, code, release["a"], 2)
    b = _submit(eng, code, release["b"], 2)
    ga, gb = _visible(eng, a), _visible(eng, b)
    assert len(ga) == 2 and len(gb) == 2 and ga.isdisjoint(gb) and ga | gb == {0, 1, 2, 3}
    assert "order=PCI_BUS_ID" in _log(eng, a)  # nvidia-smi's numbering is the one CUDA uses then
    _until(lambda: "gpus_assigned" in eng.get_run(a).properties, "the run to record its GPUs")
    assert eng.get_run(a).properties["gpus_assigned"] == ",".join(map(str, sorted(ga)))

    c = _submit(eng, code, release["c"], 3)  # more than are free: waits
    _until(lambda: "queued: waiting for 3 GPUs" in _log(eng, c), "c to say it waits")
    d = _submit(eng, code, release["d"], 1)  # came after c
    _until(lambda: "queued: waiting for 1 GPU" in _log(eng, d), "d to say it waits")
    assert eng.get_run(c).status == "Queued" and eng.get_run(d).status == "Queued"
    log_c = _log(eng, c)
    # (a and b's supervisors raced for the table: either may hold GPUs 0 and 1)
    assert "0 of 4 free (GPU " in log_c, log_c
    for name, held in ((a, ga), (b, gb)):
        assert f"GPU {', '.join(map(str, sorted(held)))} used by {name}" in log_c, log_c
    assert f"1 run queued ahead ({c})" in _log(eng, d)

    release["a"].touch()  # 2 GPUs free: not enough for c, and d must not overtake it
    assert eng.wait(a, timeout=60).status == "Completed"
    time.sleep(2.0)  # several rounds of d's supervisor looking at the table
    assert eng.get_run(c).status == "Queued" and eng.get_run(d).status == "Queued"
    assert "visible=" not in _log(eng, d)

    release["b"].touch()  # all four free: c takes three, then d the last one
    gc = _visible(eng, c)
    gd = _visible(eng, d)
    assert len(gc) == 3 and len(gd) == 1 and gc.isdisjoint(gd)
    assert "3 GPUs free on this machine: starting" in _log(eng, c)
    # The scripts print their GPUs as they start; the supervisors record the start just after.
    _until(lambda: None not in (eng.get_run(c).start_time, eng.get_run(d).start_time), "c and d to be Running")
    assert eng.get_run(c).start_time <= eng.get_run(d).start_time
    for r in release.values():
        r.touch()
    assert all(eng.wait(n, timeout=60).status == "Completed" for n in (b, c, d))


def test_gpus_come_back_when_a_supervisor_is_killed(
    eng: Engine, project: Any, tmp_path: Path, four_fake_gpus: Path
) -> None:
    code = project({"hold.py": HOLD})
    release = {k: tmp_path / f"release-{k}" for k in ("a", "waiter", "after")}
    a = _submit(eng, code, release["a"], 2)
    assert len(_visible(eng, a)) == 2
    waiter = _submit(eng, code, release["waiter"], 4)
    _until(lambda: "queued: waiting for 4 GPUs" in _log(eng, waiter), "the 4-GPU run to wait")
    after = _submit(eng, code, release["after"], 1)
    _until(lambda: "1 run queued ahead" in _log(eng, after), "the 1-GPU run to wait behind it")

    # A waiting run's supervisor dies: the run behind it no longer waits for it.
    pid = eng.get_run(waiter).supervisor_pid
    assert pid
    os.kill(pid, signal.SIGKILL)
    assert wait_pid_gone(pid, 10)
    assert len(_visible(eng, after)) == 1

    # A running run's supervisor dies: its script still runs on its GPUs, so they stay taken...
    late = _submit(eng, code, release["waiter"], 3)
    _until(lambda: "queued: waiting for 3 GPUs" in _log(eng, late), "the 3-GPU run to wait")
    pid = eng.get_run(a).supervisor_pid
    assert pid
    os.kill(pid, signal.SIGKILL)
    assert wait_pid_gone(pid, 10)
    time.sleep(2.0)
    assert eng.get_run(late).status == "Queued"
    # ...until the script ends too: then they come back, with no one releasing them.
    release["a"].touch()
    release["after"].touch()
    assert len(_visible(eng, late)) == 3
    release["waiter"].touch()
    assert eng.wait(late, timeout=60).status == "Completed"


def test_requests_that_can_never_be_met_fail_at_once(
    eng: Engine, project: Any, tmp_path: Path, four_fake_gpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = project({"hold.py": HOLD})
    go = tmp_path / "go"
    go.touch()
    too_many = eng.wait(_submit(eng, code, go, 5), timeout=60)
    assert too_many.status == "Failed"
    assert too_many.error == (
        "the run could not start: the job asks for 5 GPUs, but this machine has 4 "
        "(ask for at most 4, or run it on a compute target with more GPUs)"
    )
    missing = eng.wait(_submit(eng, code, go, "device=1,7"), timeout=60)
    assert (
        missing.status == "Failed"
        and "asks for GPU 7, which this machine does not have (its GPUs: 0, 1, 2, 3)" in (missing.error or "")
    )

    none = eng.wait(_submit(eng, code, go, 0), timeout=60)  # gpus: 0 hides them all
    assert none.status == "Completed" and "visible=\n" in _log(eng, none.name)

    monkeypatch.setenv("PATH", str(tmp_path / "empty") + os.pathsep + "/usr/bin:/bin")
    no_gpus = eng.wait(_submit(eng, code, go, 1), timeout=60)
    assert no_gpus.status == "Failed"
    assert "the job asks for 1 GPU, but nvidia-smi finds no GPUs on this machine (nvidia-smi not found)" in (
        no_gpus.error or ""
    )


def test_a_queued_run_can_be_canceled_and_leaves_the_queue(
    eng: Engine, project: Any, tmp_path: Path, four_fake_gpus: Path
) -> None:
    code = project({"hold.py": HOLD})
    release = tmp_path / "release"
    a = _submit(eng, code, release, 4)
    _visible(eng, a)
    big = _submit(eng, code, release, 4)
    _until(lambda: "queued: waiting" in _log(eng, big), "the second run to wait")
    small = _submit(eng, code, release, 1)
    _until(lambda: "queued: waiting" in _log(eng, small), "the third run to wait")
    eng.cancel(big)
    assert eng.wait(big, timeout=30).status == "Canceled"
    release.touch()
    assert eng.wait(small, timeout=60).status == "Completed"
    assert eng.wait(a, timeout=60).status == "Completed"


def _write(folder: Path, script: str, job: str) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "hold.py").write_text(script)
    (folder / "job.yml").write_text(job)
    return folder / "job.yml"


def test_sweep_trials_and_distributed_runs_draw_from_the_same_pool(
    eng: Engine, tmp_path: Path, four_fake_gpus: Path
) -> None:
    from engine.specs.jobs import load_job

    release = tmp_path / "release"
    # A distributed run of two processes asks for 2 GPUs: both processes see the same two.
    dist = eng.submit(
        load_job(
            _write(
                tmp_path / "dist",
                HOLD,
                f"""\
command: python hold.py {release}
code: src
distribution: {{type: pytorch, process_count_per_instance: 2}}
resources: {{gpus: 2}}
""",
            )
        )
    ).name
    files = RunFiles(Path(eng.get_run(dist).run_dir))

    def rank_lines() -> list[str]:  # each process's first line, from its own driver log
        found = []
        for p in sorted(files.system_logs.glob("70_driver_log*.txt")):
            found += [ln for ln in p.read_text().splitlines() if ln.startswith("visible=")]
        return found

    _until(lambda: len(rank_lines()) == 2, "both ranks' GPUs")
    seen = set(rank_lines())
    assert len(seen) == 1
    held = {int(i) for i in seen.pop().removeprefix("visible=").split(",")}
    assert len(held) == 2

    # A sweep of three trials, each asking for 2 GPUs, three at a time: with 2 GPUs left only one
    # trial runs; the others wait Queued for GPUs, not for a trial slot.
    sweep = eng.submit(
        load_job(
            _write(
                tmp_path / "sweep",
                HOLD,
                f"""\
type: sweep
trial:
  code: src
  command: python hold.py {release} --lr ${{{{search_space.lr}}}}
  resources: {{gpus: 2}}
sampling_algorithm: grid
search_space:
  lr: {{type: choice, values: [0.1, 0.2, 0.3]}}
objective: {{goal: minimize, primary_metric: loss}}
limits: {{max_total_trials: 3, max_concurrent_trials: 3}}
""",
            )
        )
    ).name

    def trials() -> list[Any]:
        return sorted(eng.children(sweep), key=lambda r: r.created_at)

    _until(
        lambda: (
            len(trials()) == 3
            and sum("queued: waiting for 2 GPUs" in _log(eng, t.name) for t in trials()) == 2
            and any("visible=" in _log(eng, t.name) for t in trials())
        ),
        "one trial to run and two to wait for GPUs",
    )
    time.sleep(1.0)  # several rounds of the waiting trials' supervisors looking at the table
    running = [t for t in trials() if "visible=" in _log(eng, t.name)]
    assert len(running) == 1 and _visible(eng, running[0].name).isdisjoint(held)
    release.touch()
    final = eng.wait(sweep, timeout=120)
    assert final.status == "Completed", final.error
    assert eng.wait(dist, timeout=60).status == "Completed"
    assert all(t.status == "Completed" and len(_visible(eng, t.name)) == 2 for t in trials())


def test_compute_show_lists_the_gpus_with_the_run_holding_each(
    eng: Engine, project: Any, tmp_path: Path, four_fake_gpus: Path, cli: Any, ws_dir: Path
) -> None:
    code = project({"hold.py": HOLD})
    release = tmp_path / "release"
    held = _submit(eng, code, release, 2)
    mine = sorted(_visible(eng, held))
    waiting = _submit(eng, code, release, 4)
    _until(lambda: "queued: waiting for 4 GPUs" in _log(eng, waiting), "the 4-GPU run to wait")
    shown = cli("compute", "show", "-n", "local", "--workspace", str(ws_dir))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    gpu_lines = [
        ln.split(":", 1)[1].strip() if ln.startswith("GPUs") else ln.strip()
        for ln in lines[next(i for i, ln in enumerate(lines) if ln.startswith("GPUs (this machine):")) :]
    ]
    expected = {
        0: "0: NVIDIA A100-SXM4-80GB (1.2 / 80.0 GiB, 35%)",
        1: "1: NVIDIA A100-SXM4-80GB (0.0 / 80.0 GiB, 0%)",
        2: "2: NVIDIA GeForce RTX 3090 (21.5 / 24.0 GiB, 98%)",
        3: "3: Tesla K80 (11.2 GiB)",
    }
    assert gpu_lines[:4] == [
        expected[i] + (f" - used by {held}" if i in mine else " - free") for i in range(4)
    ]
    assert f"waiting for GPUs:     {waiting}" in shown.stdout
    release.touch()
    assert eng.wait(waiting, timeout=60).status == "Completed"
    # Nothing holds or waits any more: every GPU is free again (once the supervisors have exited).
    assert eng.wait(held, timeout=60).status == "Completed"

    def all_free() -> bool:
        after = cli("compute", "show", "-n", "local", "-o", "json", "--workspace", str(ws_dir))
        assert after.returncode == 0, after.stderr
        here = json.loads(after.stdout)["gpus_here"]
        return [g["used_by"] for g in here["gpus"]] == [None] * 4 and here["runs_waiting"] == []

    _until(all_free, "every GPU to be free")
