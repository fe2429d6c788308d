"""Unit tests of the Slurm target's own logic: the compute YAML into settings, the batch script
Trainyard writes, and Slurm's answers read into Trainyard's terms (recorded answers; the real
Slurm is in tests/integration/test_slurm.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.compute.slurm.script import batch_script
from engine.compute.slurm.status import failure_message, job_state, overview
from engine.compute.slurm.target import CommandResult, Login, SlurmTarget, slurm_time
from engine.compute.targets import run_settings
from engine.errors import InvalidSpec
from engine.runtime.distribution import Distribution
from engine.specs.compute import load_compute_yaml


def test_compute_yaml_to_run_settings(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(
        "name: hpc\ntype: slurm\nhost: login1\nuser: ada\npartition: gpu\naccount: ml\nqos: high\n"
        'time_limit: 90\ngpu_request: gres\nsbatch: ["#SBATCH --constraint=a100", "--mem=8G"]\n'
        "work_dir: /shared/ty\n"
    )
    target = load_compute_yaml(path)
    assert target.type == "slurm"
    settings = run_settings(target, 2)
    assert settings["compute"] == "slurm" and settings["gpus"] is None  # Slurm hands out the GPUs
    slurm = settings["slurm"]
    assert slurm["gpus"] == 2 and slurm["sbatch"] == ["--constraint=a100", "--mem=8G"]
    assert slurm["ssh"] == {"host": "login1", "port": 22, "user": "ada"} and slurm["work_dir"] == "/shared/ty"
    assert SlurmTarget.from_settings("hpc", slurm).time_limit == "90"


def target(**kw: object) -> SlurmTarget:
    return SlurmTarget.from_settings("hpc", {"local": True, "partition": "gpu", **kw})


def test_batch_script_one_process() -> None:
    text = batch_script(
        target(gpus=2, account="ml", sbatch=["--mem=8G"]),
        "run1",
        "/s/run1",
        ["/usr/bin/python3", "train.py", "--lr", "0.1 x"],
        {"A": "b c", "bad-name": "x"},
        61,
    )
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    for opt in (
        "--job-name=run1",
        "--output=/s/run1/driver.log",
        "--chdir=/s/run1/wd",
        "--partition=gpu",
        "--account=ml",
        "--time=0:01:01",
        "--nodes=1",
        "--ntasks=1",
        "--gpus-per-node=2",
        "--mem=8G",
    ):
        assert f"#SBATCH {opt}" in lines
    assert "export A='b c'" in lines and not any("bad-name" in ln for ln in lines)
    assert "/usr/bin/python3 train.py --lr '0.1 x'" in lines
    assert "srun" not in text and "mv /s/run1/exit.tmp /s/run1/exit_code" in text


def test_batch_script_distributed_and_gres() -> None:
    text = batch_script(
        target(gpus=1, gpu_request="gres", time_limit="2:00:00"),
        "r",
        "/s/r",
        ["python", "x.py"],
        {},
        None,
        Distribution("pytorch", 4, 2),
    )
    assert "#SBATCH --gres=gpu:1" in text and "#SBATCH --time=2:00:00" in text
    assert "#SBATCH --nodes=2" in text and "#SBATCH --ntasks-per-node=4" in text
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1' in text
    assert "srun --kill-on-bad-exit=1" in text and "70_driver_log_$SLURM_PROCID.txt" in text
    assert "--mpi=" not in text  # torch's ranks meet through MASTER_ADDR, not PMI


def test_an_mpi_job_asks_srun_for_pmix_unless_the_target_says_otherwise(tmp_path: Path) -> None:
    def script(**kw: object) -> str:
        return batch_script(target(**kw), "r", "/s/r", ["python", "x.py"], {}, None, Distribution("mpi", 2, 1))

    assert "srun --kill-on-bad-exit=1 --export=ALL --mpi=pmix /bin/sh" in script()
    assert "--mpi=pmi2 " in script(mpi="pmi2")
    assert "--mpi" not in script(mpi="default")  # the cluster's MpiDefault
    path = tmp_path / "c.yml"
    path.write_text("name: hpc\ntype: slurm\nlocal: true\nmpi: pmi2\n")
    assert run_settings(load_compute_yaml(path))["slurm"]["mpi"] == "pmi2"
    path.write_text("name: hpc\ntype: slurm\nlocal: true\nmpi: pm ix\n")
    with pytest.raises(InvalidSpec, match=r"`mpi:` 'pm ix' is not one of srun's MPI plugins") as err:
        load_compute_yaml(path)
    assert err.value.line == 4 and err.value.field == "mpi" and "pmix" in (err.value.hint or "")


TRY_WRITE = """
import sys
try:
    open(sys.argv[1] + "/rows.csv", "a").write("evil")
    print("write SUCCEEDED")
except OSError as e:
    print("write FAILED", e.errno)
"""


def _run_batch_script(tmp_path: Path, env: dict[str, str]) -> tuple[str, Path]:
    """The batch script of a run with a ro_mount input, run by bash as the node would (no Slurm
    needed for one process): (its output, the input's folder)."""
    remote = tmp_path / "remote"
    data = remote / "inputs" / "data"
    data.mkdir(parents=True)
    (data / "rows.csv").write_text("x\n1\n")
    text = batch_script(target(), "r", str(remote), [sys.executable, "-c", TRY_WRITE, str(data)], {},
                        read_only={"data": str(data)})
    res = subprocess.run(["bash", "-c", text], capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (remote / "exit_code").read_text().strip() == "0"
    return res.stdout, data


def test_batch_script_mounts_ro_inputs_read_only_on_the_node(tmp_path: Path) -> None:
    """The node allows a mount namespace (as root here, or a user namespace): a write fails with
    EROFS even for root, and the input is unchanged."""
    out, data = _run_batch_script(tmp_path, dict(os.environ))
    assert "write FAILED 30" in out, out
    assert "permission bits only" not in out
    assert (data / "rows.csv").read_text() == "x\n1\n"


def test_batch_script_says_when_the_node_refuses_namespaces(tmp_path: Path) -> None:
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "unshare").write_text("#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n")
    (fake / "unshare").chmod(0o755)
    out, _data = _run_batch_script(tmp_path, {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    host = os.uname().nodename
    line = next(ln for ln in out.splitlines() if "permission bits only" in ln)
    assert line.startswith(f"[trainyard] input data: read-only by permission bits only on the Slurm node {host}, ")
    assert "(unshare: unshare failed: Operation not permitted" in line
    assert "write " in out  # the script still ran


def test_slurm_time() -> None:
    assert slurm_time(20) == "0:00:20" and slurm_time(3600.5) == "1:00:01" and slurm_time(0.2) == "0:00:01"


class FakeLogin(Login):
    def __init__(self, answers: dict[str, CommandResult]) -> None:
        super().__init__(target())
        self.answers = answers

    def run(self, argv: list[str], timeout: float = 60) -> CommandResult:  # type: ignore[override]
        return self.answers.get(argv[0], CommandResult(1, "", "no"))


def test_job_state_from_squeue_then_sacct_then_scontrol() -> None:
    pending = job_state(FakeLogin({"squeue": CommandResult(0, "PENDING|Resources|\n", "")}), "7")
    assert (pending.state, pending.reason, pending.final) == ("PENDING", "Resources", False)
    running = job_state(FakeLogin({"squeue": CommandResult(0, "RUNNING|None|n1\n", "")}), "7")
    assert running.running and running.reason == "" and running.nodes == "n1"
    acct = job_state(
        FakeLogin(
            {
                "squeue": CommandResult(0, "", ""),
                "sacct": CommandResult(0, "CANCELLED by 0|0:15|None|n1\n", ""),
            }
        ),
        "7",
    )
    assert (acct.state, acct.exit_code, acct.signal) == ("CANCELLED", 0, 15)
    ctl = job_state(
        FakeLogin(
            {
                "squeue": CommandResult(1, "", "Invalid job id"),
                "sacct": CommandResult(1, "", "accounting storage is disabled"),
                "scontrol": CommandResult(
                    0, "JobId=7 JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15 NodeList=n1\n", ""
                ),
            }
        ),
        "7",
    )
    assert (ctl.state, ctl.reason, ctl.final) == ("TIMEOUT", "TimeLimit", True)
    assert "time limit (--time=1)" in (failure_message("7", ctl, "--time=1") or "")
    assert job_state(FakeLogin({}), "7").state == ""


def test_overview_counts_nodes_by_state() -> None:
    view = overview(
        FakeLogin(
            {
                "sinfo": CommandResult(0, "n1|gpu|mixed|8|4/4/0/8|gpu:2\nn2|gpu|idle|8|0/8/0/8|gpu:2\n", ""),
                "squeue": CommandResult(0, "9|train|PENDING|Priority|gpu|0:00|1:00:00|1|ada\n", ""),
            }
        ),
        user="ada",
    )
    # FakeLogin answers every sinfo alike: the partition rows are the node rows here.
    assert view.node_counts() == {"mixed": 1, "idle": 1}
    assert view.queue[0]["reason"] == "Priority" and view.error is None
