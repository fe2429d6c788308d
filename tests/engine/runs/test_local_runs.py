"""Local runs end to end: real supervisor processes, real scripts, really killed."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psutil

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles
from engine.tracking.records import read_writer, writers

LOGGER = """
import os, sys, time
from azureml.core import Run
run = Run.get_context()
n = int(sys.argv[1]); delay = float(sys.argv[2])
print("started", os.getpid(), flush=True)
for i in range(n):
    run.log("loss", 1.0 / (i + 1))
    run.log("acc", i * 0.5)
    if i % 10 == 0:
        print(f"step {i}", flush=True)
    time.sleep(delay)
os.makedirs("outputs", exist_ok=True)
with open("outputs/result.txt", "w") as f:
    f.write(f"{n} steps")
os.makedirs("logs", exist_ok=True)
with open("logs/train.log", "w") as f:
    f.write("user log line\\n")
print("finished", flush=True)
"""


def wait_status(eng: Engine, name: str, statuses: set[str], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = eng.get_run(name).status
        if st in statuses:
            return st
        time.sleep(0.05)
    raise AssertionError(f"{name} never reached {statuses}; it is {eng.get_run(name).status}")


def wait_file_contains(path: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never contained {text!r}")


def flushed_points(files: RunFiles, key: str) -> int:
    """How many points of `key` the in-run client has written to its record files so far."""
    tracking = files.tracking
    if not tracking.is_dir():
        return 0
    return sum(1 for w in writers(tracking) for r in read_writer(tracking, w)[0] if r.key == key)


def script_pid(files: RunFiles) -> int:
    wait_file_contains(files.driver_log, "started ")
    first = files.driver_log.read_text().splitlines()[0]
    return int(first.split()[1])


def test_script_run_completes_with_metrics_outputs_logs(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"train.py": LOGGER})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="train.py", arguments=("30", "0")))
    final = eng.wait(run.name, timeout=60)
    assert final.status == "Completed", final.error
    assert final.exit_code == 0
    assert [e.status for e in final.status_history] == [
        "NotStarted", "Queued", "Preparing", "Starting", "Running", "Finalizing", "Completed"]
    loss = eng.metric_history(run.name, "loss")
    assert loss.values.tolist() == [1.0 / (i + 1) for i in range(30)]
    assert loss.steps.tolist() == list(range(30))
    files = RunFiles(Path(final.run_dir))
    assert (files.outputs / "result.txt").read_text() == "30 steps"
    assert (files.logs / "train.log").read_text() == "user log line\n"
    log = files.driver_log.read_text()
    assert "started" in log and "finished" in log
    assert eng.latest_metrics(run.name) == {"acc": 14.5, "loss": 1.0 / 30}


def test_arguments_are_an_argv_list_not_a_shell(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"args.py": "import sys, json; print(json.dumps(sys.argv[1:]))"})
    tricky = ("a b", "$(touch pwned)", "'quoted'", ";", "*")
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="args.py", arguments=tricky))
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Completed"
    printed = RunFiles(Path(final.run_dir)).driver_log.read_text().strip().splitlines()[-1]
    assert json.loads(printed) == list(tricky)
    assert not (Path(final.run_dir) / "wd" / "pwned").exists()


def test_failing_script_records_exit_code_and_last_error_line(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"bad.py": "print('about to fail')\nraise ValueError('bad learning rate')\n"})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="bad.py"))
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Failed"
    assert final.exit_code == 1
    assert "ValueError: bad learning rate" in (final.error or "")


def test_kill_9_of_the_script_fails_the_run_with_the_signal_and_keeps_logs(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"train.py": LOGGER})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="train.py", arguments=("100000", "0.01")))
    files = RunFiles(Path(run.run_dir))
    pid = script_pid(files)
    wait_file_contains(files.driver_log, "step 20")
    # Once the client has flushed 21 points to its record file (the store may not have them yet),
    # they must survive the kill.
    deadline = time.monotonic() + 30
    while flushed_points(files, "loss") < 21:
        assert time.monotonic() < deadline, "the client never flushed 21 points"
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Failed"
    assert final.exit_code == -9
    assert final.properties["signal"] == "SIGKILL"
    assert "signal 9" in (final.error or "")
    assert "step 20" in files.driver_log.read_text()
    loss = eng.metric_history(run.name, "loss")
    assert len(loss) >= 21
    # Every point stored exactly once, in order, none invented.
    assert loss.steps.tolist() == list(range(len(loss)))
    assert loss.values.tolist() == [1.0 / (i + 1) for i in range(len(loss))]


def test_cancel_mid_run_ends_the_whole_tree(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"spawn.py": """
        import subprocess, sys, time, os
        # a child in the same group, and a grandchild that escapes into its own session
        a = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        b = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
        print("started", os.getpid(), a.pid, b.pid, flush=True)
        time.sleep(600)
    """})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="spawn.py"))
    files = RunFiles(Path(run.run_dir))
    wait_file_contains(files.driver_log, "started")
    pids = [int(p) for p in files.driver_log.read_text().split()[1:4]]
    assert all(psutil.pid_exists(p) for p in pids)
    eng.cancel(run.name)
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Canceled"
    # Ended by the TERM the cancel sends at once, not by the KILL after the 10 s grace.
    assert final.exit_code == -15
    assert "canceled by the user" in (final.error or "")
    for p in pids:
        assert not _alive(p), f"process {p} survived the cancel"


def test_cancel_escalates_to_kill_when_term_is_ignored(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"stubborn.py": """
        import signal, time, os
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("started", os.getpid(), flush=True)
        time.sleep(600)
    """})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="stubborn.py"))
    pid = script_pid(RunFiles(Path(run.run_dir)))
    eng.cancel(run.name)
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Canceled"
    assert final.exit_code == -9  # it ignored TERM, so the grace period ended with KILL
    assert not _alive(pid)


def test_max_run_duration_cancels_in_time(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"slow.py": "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n"})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="slow.py", max_run_duration_seconds=2))
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Canceled"
    assert "max_run_duration_seconds=2" in (final.error or "")
    # The limit counts from the script's start (the recorded start time), so the supervisor's and the
    # interpreter's start-up are not in it: not before 2 s, and ended by TERM at once, not by a limit
    # taken twice (4 s) nor by the KILL after the 10 s grace. The 2 s margin is for the supervisor's
    # loop and the tree's exit on a loaded 2-core machine.
    assert final.start_time is not None and final.end_time is not None
    ran = final.end_time - final.start_time
    assert 2 <= ran < 4, ran
    assert final.exit_code == -15  # SIGTERM


def test_kill_9_of_the_cli_while_streaming_leaves_the_run_going(ws_dir: Path, project, cli, cli_popen) -> None:  # type: ignore[no-untyped-def]
    code = project({"src/train.py": LOGGER, "job.yml": """
        code: src
        command: python train.py 300 0.01
        experiment_name: stream-kill
    """})
    proc = cli_popen("job", "create", "-f", str(code / "job.yml"), "--stream")
    # Wait until the run is streaming, then kill the CLI hard.
    eng = Engine.open(ws_dir)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not eng.list_runs():
        time.sleep(0.05)
    name = eng.list_runs()[0].name
    wait_file_contains(RunFiles(Path(eng.get_run(name).run_dir)).driver_log, "step 10")
    proc.kill()
    proc.wait()
    assert not eng.get_run(name).is_terminal
    final = eng.wait(name, timeout=60)
    assert final.status == "Completed"
    loss = eng.metric_history(name, "loss")
    assert loss.values.tolist() == [1.0 / (i + 1) for i in range(300)]
    # And the CLI can pick the stream up again, exiting 0 because it Completed.
    again = cli("job", "stream", "-n", name)
    assert again.returncode == 0
    assert "finished" in again.stdout


def test_dead_supervisor_is_found_and_the_run_marked_failed(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"slow.py": "import time, os\nprint('started', os.getpid(), flush=True)\ntime.sleep(600)\n"})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="slow.py"))
    files = RunFiles(Path(run.run_dir))
    script = script_pid(files)
    wait_status(eng, run.name, {"Running"})
    sup = eng.get_run(run.name).supervisor_pid
    assert sup is not None
    os.kill(sup, signal.SIGKILL)
    psutil.Process(script).kill()  # the orphaned script: not our concern here
    deadline = time.monotonic() + 10
    while _alive(sup) and time.monotonic() < deadline:
        time.sleep(0.05)
    # A new engine (e.g. the studio or CLI starting up) notices.
    fresh = Engine.open(eng.location.folder)
    final = fresh.get_run(run.name)
    assert final.status == "Failed"
    assert "supervisor process" in (final.error or "") and "died" in (final.error or "")


def test_reopening_the_engine_leaves_live_runs_alone(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"train.py": LOGGER})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="train.py", arguments=("200", "0.01")))
    wait_status(eng, run.name, {"Running"})
    again = Engine.open(eng.location.folder)
    assert again.reconcile() == []
    assert again.wait(run.name, timeout=60).status == "Completed"
    assert len(again.metric_history(run.name, "loss")) == 200


def test_cli_job_lifecycle_metrics_and_download(ws_dir: Path, project, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    code = project({"src/train.py": LOGGER, "job.yml": """
        $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
        code: src
        command: python train.py ${{inputs.n}} 0
        inputs:
          n: 25
        environment_variables:
          MY_FLAG: "on"
        display_name: first try
    """})
    created = cli("job", "create", "-f", str(code / "job.yml"), "--stream", "-o", "json")
    assert created.returncode == 0, created.stderr
    doc = json.loads(created.stdout)
    assert doc["status"] == "Completed" and doc["display_name"] == "first try"
    assert doc["experiment_name"] == "proj"  # default: the YAML's folder name
    name = doc["name"]
    shown = json.loads(cli("job", "show", "-n", name, "-o", "json").stdout)
    for key in ("name", "display_name", "experiment_name", "status", "status_history", "start_time",
                "end_time", "compute", "environment", "snapshot_id", "git", "inputs", "exit_code", "error",
                "metrics"):
        assert key in shown
    assert shown["inputs"] == {"n": 25}
    assert shown["metrics"]["loss"] == 1.0 / 25
    assert shown["start_time"].endswith("+00:00")
    points = json.loads(cli("job", "metrics", "-n", name, "--metric", "loss", "-o", "json").stdout)
    assert [p["value"] for p in points] == [1.0 / (i + 1) for i in range(25)]
    assert set(points[0]) >= {"key", "step", "value", "timestamp"}
    dest = tmp_path / "dl"
    got = cli("job", "download", "-n", name, "--output", str(dest))
    assert got.returncode == 0, got.stderr
    assert (dest / name / "outputs" / "result.txt").read_text() == "25 steps"
    listed = json.loads(cli("job", "list", "-o", "json").stdout)
    assert [r["name"] for r in listed] == [name]


def test_stream_exits_non_zero_when_the_job_fails(ws_dir: Path, project, cli) -> None:  # type: ignore[no-untyped-def]
    code = project({"src/bad.py": "import sys\nprint('oops')\nsys.exit(3)\n", "job.yml": """
        code: src
        command: python bad.py
    """})
    res = cli("job", "create", "-f", str(code / "job.yml"), "--stream")
    assert res.returncode != 0
    assert "oops" in res.stdout
    assert "Failed" in res.stderr and "code 3" in res.stderr


def test_interpreter_path_picks_another_python(eng: Engine, project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    venv = tmp_path / "other-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    code = project({"which.py": "import sys\nprint(sys.prefix)\n"})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="which.py",
                             interpreter_path=str(venv / "bin" / "python")))
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Completed"
    assert RunFiles(Path(final.run_dir)).driver_log.read_text().strip() == str(venv)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_python_in_a_command_job_is_trainyards_interpreter(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    import sys

    code = project({"prefix.py": "import sys\nprint(sys.prefix)\n"})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, command="python prefix.py"))
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Completed", final.error
    assert RunFiles(Path(final.run_dir)).driver_log.read_text().strip() == sys.prefix


def test_a_non_numeric_metric_fails_the_run_with_a_clear_message(eng: Engine, project) -> None:  # type: ignore[no-untyped-def]
    code = project({"bad_metric.py": "from azureml.core import Run\nRun.get_context().log('loss', 'abc')\n"})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="bad_metric.py"))
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Failed"
    assert "run.log('loss', 'abc'): metric values must be numbers" in (final.error or "")


def test_models_register_version_show_and_download_from_the_cli(ws_dir: Path, project, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    code = project({"src/train.py": LOGGER, "job.yml": "code: src\ncommand: python train.py 3 0\n"})
    created = cli("job", "create", "-f", str(code / "job.yml"), "--stream", "-o", "json")
    name = json.loads(created.stdout)["name"]
    first = cli("model", "create", "--name", "net", "--path", "outputs/result.txt", "--run", name, "-o", "json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["version"] == 1
    loose = tmp_path / "weights.bin"
    loose.write_bytes(b"\x00\x01")
    second = cli("model", "create", "--name", "net", "--path", str(loose), "-o", "json")
    assert json.loads(second.stdout)["version"] == 2
    latest = json.loads(cli("model", "show", "-n", "net", "-o", "json").stdout)
    assert latest["version"] == 2 and latest["run"] is None
    v1 = json.loads(cli("model", "show", "-n", "net:1", "-o", "json").stdout)
    assert v1["run"] == name
    got = cli("model", "download", "-n", "net:1", "--output", str(tmp_path / "dl"))
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "dl" / "net" / "1" / "result.txt").read_text() == "3 steps"
    missing = cli("model", "create", "--name", "net", "--path", "outputs/nope.pt", "--run", name)
    assert missing.returncode == 1
    assert "has no file 'outputs/nope.pt'" in missing.stderr
