"""A team workspace (docs/team-workspace.md): two machines, each with its own workspace folder,
sharing one real PostgreSQL store and one shared folder.

Machine A is the real `trainyard` CLI in subprocesses with TRAINYARD_HOST_ID=machine-a (its
supervisors inherit it); machine B is an Engine in this process with TRAINYARD_HOST_ID=machine-b.
Both machines are this one, so a pid of A is alive here too: what tells them apart is the host
each run records, exactly as on two real machines."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from engine.api import Engine
from engine.errors import InvalidState
from engine.jobs.spec import JobSpec
from engine.runs.ingest import RecordIngestor
from engine.runtime.files import RunFiles
from engine.store.sql import SqlStore

pytestmark = pytest.mark.postgres

HOLD = textwrap.dedent("""
    import os, sys, time
    from azureml.core import Run
    release, pidfile = sys.argv[1], sys.argv[2]
    with open(pidfile, "w") as f:
        f.write(str(os.getpid()))
    run = Run.get_context()
    print("hello from", os.environ["TRAINYARD_RUN_ID"], flush=True)
    i = 0
    while not os.path.exists(release) and i < 3000:
        run.log("loss", 1.0 / (i + 1))
        i += 1
        time.sleep(0.05)
    print(f"logged {i} points", flush=True)
""")
QUICK = textwrap.dedent("""
    from azureml.core import Run
    run = Run.get_context()
    for i in range(3):
        run.log("loss", 1.0 / (i + 1))
    print("quick done", flush=True)
""")
MANY = textwrap.dedent("""
    from azureml.core import Run
    run = Run.get_context()
    for i in range(3000):
        run.log("loss", float(i))
    run.log_list("seen", [1, 2, 3])
""")
WAIT = 90.0


@dataclass
class Team:
    shared: Path
    ws_a: Path
    ws_b: Path
    project: Path
    env_a: dict[str, str]
    env_b: dict[str, str]
    b: Engine
    tmp: Path

    def cli(self, env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "engine.cli.main", *args],
            cwd=self.project,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "engine.cli.main", *args],
            cwd=self.project,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def a(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The `trainyard` command on machine A."""
        return self.cli(self.env_a, *args)

    def submit_on_a(self, tag: str) -> str:
        """A holding run submitted on machine A: logs until its release file exists."""
        job = self.project / f"hold-{tag}.yml"
        job.write_text(
            f"command: python hold.py {self.tmp / ('release-' + tag)} {self.tmp / ('pid-' + tag)}\n"
            "code: .\nexperiment_name: team\ncompute: local\n"
        )
        proc = self.a("job", "create", "-f", str(job), "-o", "json")
        assert proc.returncode == 0, proc.stderr
        return str(json.loads(proc.stdout)["name"])

    def submit_on_b(self, tag: str) -> str:
        spec = JobSpec(
            experiment_name="team",
            code_dir=self.project,
            script="hold.py",
            arguments=(str(self.tmp / f"release-{tag}"), str(self.tmp / f"pid-{tag}")),
        )
        return self.b.submit(spec).name

    def release(self, tag: str) -> None:
        (self.tmp / f"release-{tag}").write_text("")

    def script_pid(self, tag: str) -> int:
        path = self.tmp / f"pid-{tag}"
        wait_for(lambda: path.exists() and path.read_text().strip().isdigit(), f"the script of {tag} started")
        return int(path.read_text())


def wait_for(check: object, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def status_of(engine: Engine, name: str) -> str:
    return engine.get_run(name).status


@pytest.fixture
def team(tmp_path: Path, fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Team]:
    shared = tmp_path / "nfs" / "trainyard"
    shared.mkdir(parents=True)
    project = tmp_path / "project"
    project.mkdir()
    (project / "hold.py").write_text(HOLD)
    (project / "quick.py").write_text(QUICK)
    (project / "many.py").write_text(MANY)
    common = {"TRAINYARD_HEARTBEAT_SECONDS": "0.5", "TRAINYARD_CANCEL_GRACE": "2"}
    env_a = {**common, "TRAINYARD_HOST_ID": "machine-a", "TRAINYARD_WORKSPACE": str(tmp_path / "alice")}
    env_b = {**common, "TRAINYARD_HOST_ID": "machine-b", "TRAINYARD_WORKSPACE": str(tmp_path / "bob")}
    for var, value in env_b.items():
        monkeypatch.setenv(var, value)
    team = Team(shared, tmp_path / "alice", tmp_path / "bob", project, env_a, env_b, None, tmp_path)  # type: ignore[arg-type]
    # The documented setup: each machine makes its own workspace folder joined to the team's.
    for env, folder in ((env_a, team.ws_a), (env_b, team.ws_b)):
        proc = team.cli(
            env,
            "init",
            str(folder),
            "--store-url",
            fresh_postgres_url,
            "--shared-dir",
            str(shared),
            "-o",
            "json",
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["shared_dir"] == str(shared)
    team.b = Engine.open(team.ws_b)
    try:
        yield team
    finally:
        for tag_file in tmp_path.glob("pid-*"):  # let every held script end
            team.release(tag_file.name.removeprefix("pid-"))
        for run in team.b.list_runs():
            if not run.is_terminal:
                with contextlib.suppress(InvalidState):  # it ended meanwhile
                    team.b.cancel(run.name)
                team.b.wait(run.name, timeout=60)
        team.b.close()


def test_each_machine_sees_the_other_s_runs_live_in_the_shared_folder(team: Team) -> None:
    ra = team.submit_on_a("a")
    rb = team.submit_on_b("b")
    run_a = team.b.get_run(ra)
    assert run_a.properties["host"] == "machine-a"
    assert Path(run_a.run_dir).parent == team.shared / "runs"  # not in either workspace folder
    # B sees A's run live: its status, its metrics growing, its driver log.
    wait_for(lambda: status_of(team.b, ra) == "Running", "B sees A's run Running")
    wait_for(lambda: len(team.b.metric_history(ra, "loss").values) >= 5, "B sees A's metrics")
    first = len(team.b.metric_history(ra, "loss").values)
    wait_for(lambda: len(team.b.metric_history(ra, "loss").values) > first, "A's metrics keep coming")
    driver = team.b.run_files(ra).driver_log
    wait_for(lambda: driver.exists() and f"hello from {ra}" in driver.read_text(), "B reads A's driver log")
    # A sees B's run, through its own workspace folder.
    wait_for(lambda: status_of(team.b, rb) == "Running", "B's run Running")
    shown = team.a("job", "show", "-n", rb, "-o", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "Running"
    listed = team.a("job", "list", "-o", "json")
    assert {ra, rb} <= {j["name"] for j in json.loads(listed.stdout)}
    team.release("a")
    team.release("b")
    assert team.b.wait(ra, timeout=WAIT).status == "Completed"
    wait_for(
        lambda: json.loads(team.a("job", "show", "-n", rb, "-o", "json").stdout)["status"] == "Completed",
        "A sees B's run Completed",
    )
    assert json.loads(team.a("job", "show", "-n", rb, "-o", "json").stdout)["metrics"].get("loss") is not None
    assert "logged" in team.b.run_files(ra).driver_log.read_text()


def test_b_cancels_a_s_running_run_and_it_really_stops(team: Team) -> None:
    ra = team.submit_on_a("a")
    wait_for(lambda: status_of(team.b, ra) == "Running", "A's run Running")
    script = team.script_pid("a")
    supervisor = team.b.get_run(ra).supervisor_pid
    assert psutil.pid_exists(script)
    team.b.cancel(ra)  # from machine B: only the store's flag reaches A's supervisor
    run = team.b.wait(ra, timeout=WAIT)
    assert run.status == "Canceled", run.error
    wait_for(lambda: not psutil.pid_exists(script), "A's script process is gone")
    assert supervisor is not None
    wait_for(
        lambda: not psutil.pid_exists(supervisor) or psutil.Process(supervisor).status() == "zombie",
        "A's supervisor ended",
    )
    # A's own view says the same.
    assert json.loads(team.a("job", "show", "-n", ra, "-o", "json").stdout)["status"] == "Canceled"


def test_a_cancel_never_signals_a_pid_of_another_machine(team: Team) -> None:
    """A run owned by machine A whose supervisor pid happens to be a live process here: B's
    cancel sets the flag and leaves that process alone (on a real second machine the pid is some
    unrelated process)."""
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        team.b.store.create_run(
            name="owned-by-a",
            experiment_name="team",
            run_dir=str(team.shared / "runs" / "x"),
            status="Running",
            supervisor_pid=bystander.pid,
            properties={"host": "machine-a", "machine": "machine-a"},
        )
        team.b.store.beat("owned-by-a")
        team.b.cancel("owned-by-a")
        time.sleep(1.0)
        assert bystander.poll() is None, "B signalled a pid that belongs to another machine"
        assert team.b.get_run("owned-by-a").cancel_requested
        # Its heartbeat is fresh: B's reconcile leaves it to its machine.
        assert team.b.reconcile() == []
    finally:
        bystander.kill()
        bystander.wait()
        team.b.store.set_status("owned-by-a", "Canceled")


def test_concurrent_submits_from_both_machines_never_collide(team: Team) -> None:
    job = team.project / "quick.yml"
    job.write_text("command: python quick.py\ncode: .\nexperiment_name: team-new\ncompute: local\n")
    procs = [
        team.popen(env, "job", "create", "-f", str(job), "-o", "json") for env in (team.env_a, team.env_b) * 3
    ]
    # Both machines ask for the same name at once: exactly one gets it.
    same = [
        team.popen(env, "job", "create", "-f", str(job), "--name", "the-one", "-o", "json")
        for env in (team.env_a, team.env_b)
    ]
    names = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        names.append(json.loads(out)["name"])
    assert len(set(names)) == len(procs)
    results = [(p.wait(timeout=240), *p.communicate()) for p in same]
    winners = [r for r in results if r[0] == 0]
    losers = [r for r in results if r[0] != 0]
    assert len(winners) == 1 and len(losers) == 1, results
    assert "already exists" in losers[0][2] and "Traceback" not in losers[0][2], losers[0][2]
    for name in [*names, "the-one"]:
        run = team.b.wait(name, timeout=WAIT)
        assert run.status == "Completed", (name, run.error)
        assert [v for v in team.b.metric_history(name, "loss").values] == [1.0, 0.5, 1.0 / 3]
    # One experiment, one snapshot: both machines snapshotted the same code at the same moment.
    assert {team.b.get_run(n).snapshot_id for n in names} == {team.b.get_run(names[0]).snapshot_id}
    assert sum(e.name == "team-new" for e in team.b.list_experiments()) == 1
    hosts = {team.b.get_run(n).properties["host"] for n in names}
    assert hosts == {"machine-a", "machine-b"}


def test_b_leaves_a_live_run_alone_and_fails_it_once_its_supervisor_dies(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINYARD_HEARTBEAT_TIMEOUT", "6")
    ra = team.submit_on_a("a")
    wait_for(lambda: status_of(team.b, ra) == "Running", "A's run Running")
    # Well past B's heartbeat timeout: A's supervisor keeps beating, so B leaves it alone, both
    # when it reconciles and when it opens the workspace.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert team.b.reconcile() == []
        time.sleep(1)
    Engine.open(team.ws_b).close()
    assert status_of(team.b, ra) == "Running"
    # A's supervisor dies for real (its machine's power, an OOM kill): B notices by its silence.
    supervisor = team.b.get_run(ra).supervisor_pid
    assert supervisor is not None
    os.kill(supervisor, signal.SIGKILL)
    wait_for(lambda: team.b.reconcile() == [ra], "B marks A's orphaned run Failed", timeout=60)
    run = team.b.get_run(ra)
    assert run.status == "Failed"
    assert "machine-a" in run.error and "stopped responding" in run.error and "supervisor.log" in run.error
    assert run.cancel_requested  # should A's supervisor only have been cut off, it ends the script


def test_a_reopened_reports_its_dead_supervisor_at_once(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINYARD_HEARTBEAT_TIMEOUT", "600")  # B would wait 10 minutes
    ra = team.submit_on_a("a")
    wait_for(lambda: status_of(team.b, ra) == "Running", "A's run Running")
    supervisor = team.b.get_run(ra).supervisor_pid
    assert supervisor is not None
    os.kill(supervisor, signal.SIGKILL)
    wait_for(
        lambda: not psutil.pid_exists(supervisor) or psutil.Process(supervisor).status() == "zombie",
        "the supervisor is dead",
    )
    assert team.b.reconcile() == []  # too early for B: its heartbeat is only a few seconds old
    # A, reopened, checks its own machine's pid: the run fails as any local run would.
    shown = json.loads(team.a("job", "show", "-n", ra, "-o", "json").stdout)
    assert shown["status"] == "Failed"
    assert f"pid {supervisor}" in shown["error"] and "died" in shown["error"]


def test_two_ingestors_of_one_run_store_each_point_once(team: Team) -> None:
    job = team.project / "many.yml"
    job.write_text("command: python many.py\ncode: .\nexperiment_name: team\ncompute: local\n")
    proc = team.a("job", "create", "-f", str(job), "-o", "json", "--stream")
    assert proc.returncode == 0, proc.stderr
    source = team.b.get_run(json.loads(proc.stdout)["name"])
    for round_ in range(3):
        # The same record files ingested by two ingestors at once, each with its own connections
        # (two engines that both think they own the run).
        name = f"twice-{round_}"
        team.b.store.create_run(name=name, experiment_name="team", run_dir=source.run_dir, status="Running")
        stores = [SqlStore(team.b.store.url, migrate=False) for _ in range(2)]
        ingestors = [RecordIngestor(s, name, RunFiles(Path(source.run_dir))) for s in stores]
        start = threading.Barrier(2)
        errors: list[BaseException] = []
        threads = [threading.Thread(target=_ingest_all, args=(i, start, errors)) for i in ingestors]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        for s in stores:
            s.close()
        assert not errors, errors
        history = team.b.metric_history(name, "loss")
        assert list(history.values) == [float(i) for i in range(3000)]
        assert len(team.b.metric_objects(name, "seen")) == 1
        team.b.store.set_status(name, "Completed")  # no supervisor owns these


def _ingest_all(ingestor: RecordIngestor, start: threading.Barrier, errors: list[BaseException]) -> None:
    try:
        start.wait()
        while ingestor.poll():
            pass
    except BaseException as exc:  # noqa: BLE001 - the test reports it
        errors.append(exc)


def test_a_local_target_s_limit_counts_each_machine_s_own_runs(team: Team) -> None:
    """`max_concurrent_runs` of a local target limits each machine: A's running job holds A's
    only slot, not B's (B's machine is idle), and A's next job waits for A's slot."""
    (team.project / "box.yml").write_text("name: box\ntype: local\nmax_concurrent_runs: 1\n")
    made = team.a("compute", "create", "-f", str(team.project / "box.yml"))
    assert made.returncode == 0, made.stderr
    job = team.project / "hold-box.yml"
    job.write_text(
        f"command: python hold.py {team.tmp / 'release-box'} {team.tmp / 'pid-box'}\n"
        "code: .\nexperiment_name: team\ncompute: box\n"
    )
    first = json.loads(team.a("job", "create", "-f", str(job), "-o", "json").stdout)["name"]
    wait_for(lambda: status_of(team.b, first) == "Running", "A's first job holds A's slot")
    on_b = team.b.submit(
        JobSpec(experiment_name="team", code_dir=team.project, script="quick.py", compute="box")
    )
    assert team.b.wait(on_b.name, timeout=WAIT).status == "Completed"
    quick = team.project / "quick-box.yml"
    quick.write_text("command: python quick.py\ncode: .\nexperiment_name: team\ncompute: box\n")
    second = json.loads(team.a("job", "create", "-f", str(quick), "-o", "json").stdout)["name"]
    time.sleep(3)
    assert status_of(team.b, second) == "Queued"
    assert status_of(team.b, first) == "Running"
    team.release("box")
    assert team.b.wait(second, timeout=WAIT).status == "Completed"
