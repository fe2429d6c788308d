"""A team workspace's SSH run outlives its machine: machine A's supervisor of a run on an SSH
host dies, machine B notices A's silence (the heartbeat) and takes the run over with a
supervisor of its own, which reattaches to the script still running on the host; no point is
lost or doubled. Real PostgreSQL, the real throwaway sshd (tests/engine/runs/sshd.py), A as the
real CLI with its own host identity."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_team_workspace
from sshd import Sshd, start_sshd
from test_team_workspace import WAIT, Team, wait_for

pytestmark = pytest.mark.postgres

team = test_team_workspace.team

COUNT = """
import sys, time
from azureml.core import Run
run = Run.get_context()
for i in range(600):
    run.log("x", float(i))
    print("line", i, flush=True)
    time.sleep(0.03)
"""


@pytest.fixture
def sshd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sshd]:
    home = tmp_path / "home"  # both machines' supervisors read ~/.ssh: an empty home of their own
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


def test_b_takes_over_a_s_ssh_run_when_a_s_supervisor_dies(
    sshd: Sshd, team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINYARD_HEARTBEAT_TIMEOUT", "4")
    config = {
        "host": sshd.host,
        "port": sshd.port,
        "user": sshd.user,
        "key_file": str(sshd.key),
        "known_hosts": str(sshd.known_hosts),
        "work_dir": str(tmp_path / "remote"),
        "docker": False,
        "cache_dir": str(tmp_path / "host-cache"),
    }
    team.b.store.add_compute_target("far", "ssh", config)  # the team's target: A sees it too
    (team.project / "count.py").write_text(COUNT)
    job = team.project / "far.yml"
    job.write_text("command: python3 count.py\ncode: .\nexperiment_name: team\ncompute: far\n")
    created = team.a("job", "create", "-f", str(job), "-o", "json")
    assert created.returncode == 0, created.stderr
    name = json.loads(created.stdout)["name"]
    wait_for(lambda: len(team.b.metric_history(name, "x").values) >= 30, "A's SSH run is under way")
    first = team.b.get_run(name).supervisor_pid
    assert first is not None and team.b.get_run(name).properties["host"] == "machine-a"
    os.kill(first, signal.SIGKILL)

    def taken_over() -> bool:
        assert team.b.reconcile() == []  # reattached, never failed
        return bool(team.b.get_run(name).properties["host"] == "machine-b")

    wait_for(taken_over, "B takes A's SSH run over", timeout=60)
    second = team.b.get_run(name).supervisor_pid
    assert second is not None and second != first
    final = team.b.wait(name, timeout=WAIT)
    assert final.status == "Completed", final.error
    assert team.b.metric_history(name, "x").values.tolist() == [float(i) for i in range(600)]
    lines = [
        ln for ln in team.b.run_files(name).driver_log.read_text().splitlines() if ln.startswith("line ")
    ]
    assert lines == [f"line {i}" for i in range(600)]
