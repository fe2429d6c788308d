"""A sweep submitted from a terminal outlives it: `trainyard job create -f sweep.yml --stream` runs as
the leader of its own session and process group with a pty as its controlling terminal, like a
command typed into a terminal window. Killing that group (SIGKILL), or closing the terminal (the
kernel hangs it up: SIGHUP), ends the CLI only; the sweep's controller and trials go on, and every
trial's points arrive once."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_sweeps import children, driver_log, write_sweep

from engine.api import Engine

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("how", ["SIGKILL to its process group", "SIGHUP from its closed terminal"])
def test_killing_the_terminal_of_the_cli_that_submitted_a_sweep_does_not_stop_it(
        eng: Engine, ws_dir: Path, tmp_path: Path, how: str) -> None:
    release = tmp_path / "release"
    path = write_sweep(tmp_path / "proj", f"""
        type: sweep
        trial:
          code: src
          command: python train.py --lr ${{{{search_space.lr}}}} --reports 4 --hold {release}
        sampling_algorithm: grid
        search_space:
          lr: {{type: choice, values: [0.2, 0.4, 0.6]}}
        objective: {{goal: minimize, primary_metric: loss}}
        limits: {{max_concurrent_trials: 1}}
        """)
    master, slave = pty.openpty()
    # `setsid -c`: a new session whose controlling terminal is stdin, the pty (what a terminal gives a shell).
    # `env --default-signal=HUP`: a terminal's shell starts it with SIGHUP at its default, even
    # when the tests themselves run with it ignored (under nohup).
    cli = subprocess.Popen(["env", "--default-signal=HUP", "setsid", "-c", sys.executable, "-m", "engine.cli.main",
                            "job", "create", "-f", str(path), "--stream"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                           stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    try:
        os.set_blocking(master, False)
        deadline = time.monotonic() + 90
        sweeps: list = []
        while not (sweeps and (trials := children(eng, sweeps[0].name))
                   and len(eng.metric_history(trials[0].name, "loss")) == 4):
            assert cli.poll() is None, f"the CLI exited ({cli.returncode})"
            assert time.monotonic() < deadline, "the first trial never logged its points"
            try:
                os.read(master, 65536)  # drain what the CLI streams, as a terminal would
            except BlockingIOError:
                pass
            sweeps = [r for r in eng.list_runs() if r.parent_name is None]
            time.sleep(0.05)
        assert os.getsid(cli.pid) == cli.pid == os.getpgid(cli.pid)  # it leads its session and group
        if how.startswith("SIGHUP"):
            os.close(master)  # the terminal window closes: the kernel sends SIGHUP to its session leader
            master = -1
            os.killpg(cli.pid, signal.SIGHUP)  # and a shell would HUP its job's group
            expected = -signal.SIGHUP
        else:
            os.killpg(cli.pid, signal.SIGKILL)
            expected = -signal.SIGKILL
        assert cli.wait(15) == expected
    finally:
        if master >= 0:
            os.close(master)
        if cli.poll() is None:
            cli.kill()
            cli.wait(10)
    sweep = sweeps[0]
    assert not eng.get_run(sweep.name).is_terminal
    release.write_text("")
    final = eng.wait(sweep.name, timeout=120)
    assert final.status == "Completed", driver_log(final)
    trials = children(eng, final.name)
    assert [t.params["lr"] for t in trials] == [0.2, 0.4, 0.6] and all(t.status == "Completed" for t in trials)
    assert all(len(eng.metric_history(t.name, "loss").values) == 4 for t in trials)  # each point once
