"""Jobs on `type: ssh` compute targets, against a real throwaway sshd on 127.0.0.1 (tests/engine/runs/sshd.py):
real supervisors, real remote processes, really dropped connections. `sshd` and `test_local_runs` are
imported as pytest imports test modules: this folder is on sys.path."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sshd import Sshd, start_sshd
from test_local_runs import LOGGER, wait_file_contains, wait_status

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles

MARKED = """
import sys, time
from azureml.core import Run
run = Run.get_context()
print("started", flush=True)
for i in range(100000):
    run.log("tick", i)
    time.sleep(0.05)
"""

DENSE = """
import os, sys, time
from azureml.core import Run
run = Run.get_context()
n = int(sys.argv[1])
for i in range(n):
    run.log("x", float(i))
    run.flush()
    time.sleep(0.02)
print("done", n, flush=True)
"""


@pytest.fixture
def sshd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sshd]:
    # The supervisor reads ~/.ssh (known_hosts, config): give it an empty home of its own.
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


@pytest.fixture
def target(eng: Engine, sshd: Sshd, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Register an SSH target on the throwaway sshd: target(name, **overrides) -> its work_dir."""

    def make(name: str = "far", **overrides: object) -> Path:
        work = tmp_path / f"remote-{name}"
        # The host's cache (blobs, environments) too: this sshd's sessions have the real home.
        config = {"host": sshd.host, "port": sshd.port, "user": sshd.user, "key_file": str(sshd.key),
                  "known_hosts": str(sshd.known_hosts), "work_dir": str(work), "docker": False,
                  "cache_dir": str(tmp_path / "host-cache"), **overrides}
        eng.store.add_compute_target(name, "ssh", {k: v for k, v in config.items() if v is not None})
        return work

    return make


def test_a_job_on_an_ssh_target_completes_with_logs_metrics_outputs(eng: Engine, project, target,  # type: ignore[no-untyped-def]
                                                                     sshd: Sshd, cli, tmp_path: Path) -> None:
    work = target()
    code = project({"train.py": LOGGER})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="train.py", arguments=("40", "0.01"),
                             compute="far", tags={"kind": "ssh"}))
    final = eng.wait(run.name, timeout=60)
    assert final.status == "Completed", final.error
    assert final.exit_code == 0
    assert [e.status for e in final.status_history] == [
        "NotStarted", "Queued", "Preparing", "Starting", "Running", "Finalizing", "Completed"]
    assert final.compute == "far" and final.tags["kind"] == "ssh"
    assert final.properties["ssh_host"] == f"{sshd.user}@127.0.0.1:{sshd.port}"
    assert final.properties["interpreter"].startswith("/")  # python3 found on the remote
    loss = eng.metric_history(run.name, "loss")
    assert loss.values.tolist() == [1.0 / (i + 1) for i in range(40)]
    assert loss.steps.tolist() == list(range(40))
    files = RunFiles(Path(final.run_dir))
    log = files.driver_log.read_text()
    assert "started" in log and "finished" in log and "step 30" in log
    assert (files.logs / "train.log").read_text() == "user log line\n"
    assert (files.outputs / "result.txt").read_text() == "40 steps"
    down = cli("job", "download", "-n", run.name, "--output", str(tmp_path / "dl"))
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "dl" / run.name / "outputs" / "result.txt").read_text() == "40 steps"
    assert not (work / run.name).exists()  # the remote folder is removed


def test_params_tags_and_python_in_a_command(eng: Engine, project, target) -> None:  # type: ignore[no-untyped-def]
    target()
    code = project({"p.py": """
        import sys
        from azureml.core import Run
        run = Run.get_context()
        run.tag("where", "remote")
        run.log("lr", 0.5)
        import trainyard_run
        print("exe", sys.executable, flush=True)
        """})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, command="python p.py && python3 --version",
                             compute="far"))
    final = eng.wait(run.name, timeout=60)
    assert final.status == "Completed", final.error
    assert final.tags["where"] == "remote"
    assert eng.metric_history(run.name, "lr").values.tolist() == [0.5]
    log = RunFiles(Path(final.run_dir)).driver_log.read_text()
    assert "exe /" in log and "Python 3" in log


def test_a_failing_script_fails_the_run_with_its_last_line(eng: Engine, project, target) -> None:  # type: ignore[no-untyped-def]
    target()
    code = project({"bad.py": "print('about to fail', flush=True)\nraise ValueError('boom on the remote')\n"})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="bad.py", compute="far"))
    final = eng.wait(run.name, timeout=60)
    assert final.status == "Failed"
    assert final.exit_code == 1
    assert final.error == "the script exited with code 1: ValueError: boom on the remote"


def _marked(marker: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if marker in " ".join(p.info["cmdline"] or []):
            found.append(p)
    return found


def test_cancel_ends_the_remote_process_group(eng: Engine, project, target) -> None:  # type: ignore[no-untyped-def]
    work = target()
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    code = project({"spin.py": MARKED})
    # A child of the script in the same group, which must end too.
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, compute="far",
                             command=f"sleep 300 {marker} & python spin.py {marker}"))
    wait_status(eng, run.name, {"Running"}, timeout=30)
    files = RunFiles(Path(eng.get_run(run.name).run_dir))
    wait_file_contains(files.driver_log, "started")
    assert len(_marked(marker)) >= 2
    eng.cancel(run.name)
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Canceled"
    assert final.error == "canceled by the user"
    deadline = time.monotonic() + 5
    while _marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _marked(marker) == []
    assert eng.metric_history(run.name, "tick").values.size > 0
    assert not (work / run.name).exists()


def test_a_dropped_connection_loses_and_duplicates_nothing(eng: Engine, project, target, sshd: Sshd) -> None:  # type: ignore[no-untyped-def]
    target()
    n = 150  # a point every 20 ms: about 3 s
    code = project({"dense.py": DENSE})
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="dense.py", arguments=(str(n),),
                             compute="far"))
    wait_status(eng, run.name, {"Running"}, timeout=30)
    deadline = time.monotonic() + 20
    while eng.metric_history(run.name, "x").values.size < 20:
        assert time.monotonic() < deadline, "no points arrived"
        time.sleep(0.05)
    assert sshd.drop_connections() >= 1
    final = eng.wait(run.name, timeout=90)
    assert final.status == "Completed", final.error
    history = eng.metric_history(run.name, "x")
    assert history.values.tolist() == [float(i) for i in range(n)]
    log = RunFiles(Path(final.run_dir)).driver_log.read_text()
    assert "lost the connection to 127.0.0.1; reconnecting" in log
    assert "reconnected to 127.0.0.1" in log
    assert f"done {n}" in log


def test_an_unreachable_host_fails_the_run_after_the_reconnect_timeout(eng: Engine, project, target,  # type: ignore[no-untyped-def]
                                                                        sshd: Sshd,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINYARD_SSH_RECONNECT_TIMEOUT", "2")
    work = target()
    code = project({"spin.py": MARKED})
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="spin.py", arguments=(marker,),
                             compute="far"))
    wait_status(eng, run.name, {"Running"}, timeout=30)
    sessions = sshd.session_processes()
    sshd.stop()  # the listener goes, then the connection's own sshd process
    for p in sessions:
        p.kill()
    final = eng.wait(run.name, timeout=60)
    assert final.status == "Failed"
    assert "has been unreachable since" in final.error and str(work / run.name) in final.error
    for p in _marked(marker):  # the job still runs "there": end it
        p.kill()


def test_an_unknown_host_key_fails_with_the_keyscan_hint(eng: Engine, project, target, sshd: Sshd) -> None:  # type: ignore[no-untyped-def]
    target(known_hosts=None)  # ~/.ssh/known_hosts (empty) only
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=project({"t.py": "print(1)\n"}), script="t.py",
                             compute="far"))
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Failed"
    assert "is unknown" in final.error
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> ~/.ssh/known_hosts" in final.error
    assert [e.status for e in final.status_history][-2:] == ["Preparing", "Failed"]


def test_a_wrong_key_fails_naming_the_key(eng: Engine, project, target, sshd: Sshd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    target(key_file=str(other))
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=project({"t.py": "print(1)\n"}), script="t.py",
                             compute="far"))
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Failed"
    assert f"SSH login to {sshd.user}@127.0.0.1:{sshd.port} failed with the key {other}" in final.error
    assert str(other) in final.error


def test_environments_to_build_are_refused_and_a_remote_interpreter_path_is_used(eng: Engine, project,  # type: ignore[no-untyped-def]
                                                                                  target) -> None:
    from engine.entities import EnvironmentSpec
    from engine.errors import LaunchFailed

    target()
    code = project({"t.py": "import sys\nprint('exe', sys.executable)\n"})
    with pytest.raises(LaunchFailed, match="building the job's docker environment 'e' there is not available"):
        eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="t.py", compute="far",
                           environment_spec=EnvironmentSpec(name="e", image="python:3.11")))
    assert eng.list_runs() == []
    # A path that exists only on the remote would be fine too: it is not checked here.
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=code, command="python t.py", compute="far",
                             interpreter_path="/usr/bin/python3"))
    final = eng.wait(run.name, timeout=60)
    assert final.status == "Completed", final.error
    assert "exe /usr/bin/python3" in RunFiles(Path(final.run_dir)).driver_log.read_text()


def test_outputs_come_back_as_the_script_left_them(eng: Engine, project, target) -> None:  # type: ignore[no-untyped-def]
    """Nested and empty folders and a relative symlink arrive; a link out of ./outputs does not."""
    target()
    code = project({"out.py": """
        import os
        os.makedirs("outputs/sub/deep", exist_ok=True)
        os.makedirs("outputs/empty", exist_ok=True)
        open("outputs/sub/deep/a.txt", "w").write("deep")
        os.symlink("sub/deep/a.txt", "outputs/link.txt")
        os.symlink("/etc/hostname", "outputs/escape.txt")
        """})
    final = eng.wait(eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="out.py",
                                        compute="far")).name, timeout=60)
    assert final.status == "Completed", final.error
    out = RunFiles(Path(final.run_dir)).outputs
    assert (out / "sub" / "deep" / "a.txt").read_text() == "deep"
    assert (out / "empty").is_dir() and not any((out / "empty").iterdir())
    assert (out / "link.txt").is_symlink() and (out / "link.txt").read_text() == "deep"
    assert not (out / "escape.txt").exists() and not (out / "escape.txt").is_symlink()
    assert "not downloaded from outputs: outputs/escape.txt" in RunFiles(Path(final.run_dir)).supervisor_log.read_text()


def test_a_changed_host_key_is_refused_and_says_how_to_fix_it(eng: Engine, project, target, sshd: Sshd,  # type: ignore[no-untyped-def]
                                                               tmp_path: Path) -> None:
    """The host answers with another key than known_hosts holds for it (a reinstall, or a man in the
    middle): no connection, and the error names the file and the two commands that fix it."""
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kind, body = (tmp_path / "other_host_key.pub").read_text().split()[:2]
    stale = tmp_path / "stale_known_hosts"
    stale.write_text(f"[127.0.0.1]:{sshd.port} {kind} {body}\n")
    target(known_hosts=str(stale))
    marker = tmp_path / "ran"
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=project({"t.py": f"open({str(marker)!r}, 'w')\n"}),
                             script="t.py", compute="far"))
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Failed"
    assert f"the host key of 127.0.0.1:{sshd.port} does not match the one in {stale}" in final.error
    assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}'" in final.error
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {stale}" in final.error
    assert [e.status for e in final.status_history][-2:] == ["Preparing", "Failed"]
    assert not marker.exists()  # nothing ran there


@pytest.mark.parametrize("kind", ["missing", "a folder", "~/.ssh/known_hosts a folder"])
def test_an_unreadable_known_hosts_file_is_a_clear_error(eng: Engine, project, target,  # type: ignore[no-untyped-def]
                                                         tmp_path: Path, kind: str) -> None:
    # (A file without read permission is no test as root, who reads it anyway: a folder fails for everyone.)
    if kind.startswith("~"):
        known = Path.home() / ".ssh" / "known_hosts"  # the sshd fixture's own empty home
        known.mkdir()
        target(known_hosts=None)
        run = eng.submit(JobSpec(experiment_name="exp", code_dir=project({"t.py": "print(1)\n"}), script="t.py",
                                 compute="far"))
        final = eng.wait(run.name, timeout=30)
        assert final.status == "Failed"
        assert f"the known_hosts file {known} cannot be read" in final.error, final.error
        assert "Traceback" not in final.error
        return
    known = tmp_path / "known_hosts_here"
    if kind == "a folder":
        known.mkdir()
    target(known_hosts=str(known))
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=project({"t.py": "print(1)\n"}), script="t.py",
                             compute="far"))
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Failed"
    assert f"the known_hosts file {known} of compute target 'far' cannot be read" in final.error
    assert "fix `known_hosts:` in the compute YAML" in final.error
    assert "Traceback" not in final.error


FAIL_WITH_OUTPUTS = """
import os, sys
os.makedirs("outputs/sub", exist_ok=True)
open("outputs/partial.txt", "w").write("half done")
open("outputs/sub/state.json", "w").write("{}")
print("wrote outputs", flush=True)
raise SystemExit("gave up")
"""

CANCEL_WITH_OUTPUTS = """
import os, time
os.makedirs("outputs", exist_ok=True)
open("outputs/checkpoint.txt", "w").write("step 1")
print("wrote outputs", flush=True)
while True:
    time.sleep(0.05)
"""


def test_the_outputs_of_a_failed_ssh_run_come_back(eng: Engine, project, target) -> None:  # type: ignore[no-untyped-def]
    work = target()
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=project({"f.py": FAIL_WITH_OUTPUTS}), script="f.py",
                             compute="far"))
    final = eng.wait(run.name, timeout=60)
    assert final.status == "Failed"
    assert final.exit_code == 1 and "gave up" in final.error
    out = RunFiles(Path(final.run_dir)).outputs
    assert (out / "partial.txt").read_text() == "half done"
    assert (out / "sub" / "state.json").read_text() == "{}"
    assert not (work / run.name).exists()


def test_the_outputs_of_a_cancelled_ssh_run_come_back(eng: Engine, project, target) -> None:  # type: ignore[no-untyped-def]
    work = target()
    run = eng.submit(JobSpec(experiment_name="exp", code_dir=project({"c.py": CANCEL_WITH_OUTPUTS}), script="c.py",
                             compute="far"))
    wait_status(eng, run.name, {"Running"}, timeout=30)
    wait_file_contains(RunFiles(Path(eng.get_run(run.name).run_dir)).driver_log, "wrote outputs")
    eng.cancel(run.name)
    final = eng.wait(run.name, timeout=30)
    assert final.status == "Canceled"
    assert (RunFiles(Path(final.run_dir)).outputs / "checkpoint.txt").read_text() == "step 1"
    assert not (work / run.name).exists()
