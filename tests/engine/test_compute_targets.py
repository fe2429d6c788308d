"""Compute targets: the compute YAML (errors name file, line and key), the registry in the store
(SQLite and PostgreSQL), `trainyard compute create/list/show/delete` through the real CLI, jobs
placed on registered targets (a `type: local` alias runs here, an SSH target with `docker: true`
refuses a job it has no image for, an unknown name lists the known ones), GPU requests into the run's spec, the SDK's
ComputeTarget, and `trainyard environment prune`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.api import Engine
from engine.compute.targets import resolve_compute, run_settings
from engine.entities import ComputeTarget, EnvironmentSpec
from engine.errors import InvalidSpec, NotFound
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles
from engine.specs.compute import load_compute_yaml
from engine.specs.gpus import normalise_gpus
from engine.specs.jobs import load_job
from engine.store.sql import SqlStore

_SCRIPT = Path(sys.executable).with_name("trainyard")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "engine.cli.main"]


def trainyard(*args: str, workspace: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRAINYARD_WORKSPACE": str(workspace)}
    return subprocess.run([*CLI, *args], check=False, capture_output=True, text=True, env=env, timeout=timeout)


def ok_json(res: subprocess.CompletedProcess[str]) -> Any:
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def user_error(res: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert res.returncode != 0, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.stderr.startswith("error: "), res.stderr
    assert res.stdout == ""
    for needle in needles:
        assert needle in res.stderr, (needle, res.stderr)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# --------------------------------------------------------------------------- compute YAML
@pytest.mark.parametrize(("text", "line", "field", "needle"), [
    ("name: box\ntype: docker\nnetwrk: none\n", 3, "netwrk", "did you mean 'network'"),
    ("name: box\ntype: docker\ngpus: 1.5\n", 3, "gpus", "wrong type"),
    ("name: box\ntype: docker\ngpus: lots\n", 3, "gpus", "device=0,1"),
    ("name: box\ntype: k8s\n", 2, "type", "local, docker, ssh or slurm"),
    ("name: hpc\ntype: slurm\n", 1, None, "`local: true`"),
    ("name: hpc\ntype: slurm\nlocal: true\nhost: login1\n", 4, "host", "not both"),
    ("name: hpc\ntype: slurm\nlocal: true\ntime_limit: soon\n", 4, "time_limit", "H:MM:SS"),
    ("name: hpc\ntype: slurm\nlocal: true\ngpu_request: mig\n", 4, "gpu_request", "--gres=gpu:N"),
    ("name: hpc\ntype: slurm\nlocal: true\nsbatch: [exclusive]\n", 4, "sbatch", "not an sbatch option"),
    ("name: hpc\ntype: slurm\nlocal: true\nimage: x\n", 4, "image", "not a setting of `type: slurm`"),
    ("name: box\ntype: docker\npartition: gpu\n", 3, "partition", "only for `type: slurm`"),
    ("name: box\ntype: amlcompute\n", 2, "type", "type: local"),
    ("name: box\ntype: docker\nhost: 10.0.0.7\n", 3, "host", "only for `type: ssh`"),
    ("name: box\ntype: local\nnetwork: none\n", 3, "network", "type: docker"),
    ("name: box\ntype: ssh\nport: 22\n", 1, None, "needs `host:`"),
    ("name: box\ntype: ssh\nhost: h\nport: 70000\n", 4, "port", "not a TCP port"),
    ("name: box\ntype: docker\nnetwork: 'not a net'\n", 3, "network", "not a Docker network"),
    ("name: box\ntype: local\nmax_concurrent_runs: 0\n", 3, "max_concurrent_runs", "1 or more"),
    ("type: local\n", 1, "name", "'name' is missing"),
    ("\nname: local\ntype: local\n", 2, "name", "built-in"),
    ("name: a/b\ntype: local\n", 1, "name", "not a valid compute target name"),
])
def test_compute_yaml_errors_name_file_line_and_key(tmp_path: Path, text: str, line: int, field: str | None,
                                                    needle: str) -> None:
    path = write(tmp_path / "compute.yml", text)
    with pytest.raises(InvalidSpec) as info:
        load_compute_yaml(path)
    err = info.value
    assert err.file == str(path) and err.line == line, err
    assert err.field == field
    assert str(err.message).startswith(f"{path}:{line}: ")
    assert needle in str(err), err


def test_malformed_compute_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "compute.yml", "name: box\ntype: docker\n\tnetwork: none\n")
    with pytest.raises(InvalidSpec) as info:
        load_compute_yaml(path)
    assert info.value.line == 3 and "malformed YAML" in info.value.message


def test_compute_yaml_is_normalised(tmp_path: Path) -> None:
    docker = load_compute_yaml(write(tmp_path / "d.yml", "name: gpu-box\ntype: docker\ngpus: all\n"))
    assert docker == ComputeTarget("gpu-box", "docker", {"network": "host", "gpus": -1})
    ssh = load_compute_yaml(write(tmp_path / "s.yml", """\
        $schema: https://azuremlschemas.azureedge.net/latest/compute.schema.json
        name: far-box
        type: ssh
        description: the box under the desk
        host: 10.0.0.7
        user: alice
        key_file: ~/.ssh/id_ed25519
        max_concurrent_runs: 2
    """))
    assert ssh == ComputeTarget("far-box", "ssh", {"host": "10.0.0.7", "port": 22, "docker": False, "user": "alice",
                                                   "key_file": "~/.ssh/id_ed25519", "max_concurrent_runs": 2},
                                "the box under the desk")
    far = load_compute_yaml(write(tmp_path / "f.yml", "name: far\ntype: ssh\nhost: gpu1\nknown_hosts: ~/kh\n"
                                                      "work_dir: /scratch/ty\nkeep_remote_files: true\n"))
    assert far.config == {"host": "gpu1", "port": 22, "docker": False, "known_hosts": "~/kh",
                          "work_dir": "/scratch/ty", "keep_remote_files": True}
    with pytest.raises(InvalidSpec, match="only for `type: ssh`"):
        load_compute_yaml(write(tmp_path / "w.yml", "name: a\ntype: local\nwork_dir: /x\n"))
    renamed = load_compute_yaml(write(tmp_path / "l.yml", "name: a\ntype: local\n"), name="cpu-cluster")
    assert renamed.name == "cpu-cluster"


@pytest.mark.parametrize(("given", "normal"), [
    (None, None), (0, 0), (2, 2), (-1, -1), ("all", -1), ("ALL", -1), ("3", 3), ("device=0,2", "device=0,2"),
    ("0, 1", "device=0,1"), ("device=GPU-abc", "device=GPU-abc"),
])
def test_gpu_requests_are_normalised(given: Any, normal: Any) -> None:
    assert normalise_gpus(given) == normal


@pytest.mark.parametrize("bad", [True, -2, "lots", "device=", ""])
def test_bad_gpu_requests_say_what_is_expected(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"expected|0 or more"):
        normalise_gpus(bad)


# --------------------------------------------------------------------------- the registry
@pytest.fixture
def fresh_pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    server_url: str = request.getfixturevalue("postgres_url")
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    db = f"c_{uuid.uuid4().hex[:16]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
    try:
        yield sa.engine.make_url(server_url).set(database=db).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    url = f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite" else request.getfixturevalue("fresh_pg_url")
    s = SqlStore(url)
    yield s
    s.close()


def test_the_store_registers_lists_and_deletes_targets(store: SqlStore) -> None:
    assert [t.name for t in store.list_compute_targets()] == ["local", "docker"]
    assert store.list_compute_targets(builtin=False) == []
    made = store.add_compute_target("gpu-box", "docker", {"network": "none", "gpus": "device=0,1"}, "desk box")
    assert made.created_at is not None and not made.builtin
    store.add_compute_target("cpu-cluster", "local", {})
    got = store.get_compute_target("gpu-box")
    assert (got.type, got.config, got.description) == ("docker", {"network": "none", "gpus": "device=0,1"}, "desk box")
    assert [t.name for t in store.list_compute_targets()] == ["local", "docker", "cpu-cluster", "gpu-box"]
    assert store.get_compute_target("local").builtin
    with pytest.raises(InvalidSpec, match="already exists"):
        store.add_compute_target("gpu-box", "local", {})
    for reserved in ("local", "docker"):
        with pytest.raises(InvalidSpec, match="built-in"):
            store.add_compute_target(reserved, "local", {})
    with pytest.raises(InvalidSpec, match="unknown compute type"):
        store.add_compute_target("k", "k8s", {})
    with pytest.raises(NotFound) as info:
        store.get_compute_target("gpu-bx")
    assert "did you mean gpu-box" in str(info.value.hint)
    assert "local, docker, cpu-cluster, gpu-box" in str(info.value.hint)
    assert store.delete_compute_target("gpu-box").name == "gpu-box"
    with pytest.raises(NotFound):
        store.delete_compute_target("gpu-box")
    with pytest.raises(InvalidSpec, match="built in"):
        store.delete_compute_target("docker")
    assert [t.name for t in store.list_compute_targets(builtin=False)] == ["cpu-cluster"]


def test_job_names_resolve_to_targets_and_their_run_settings(store: SqlStore) -> None:
    store.add_compute_target("gpu-box", "docker", {"network": "none", "gpus": 2, "image": "base:1"})
    store.add_compute_target("far", "ssh", {"host": "10.0.0.7", "port": 22, "docker": False})
    assert resolve_compute(store, None).name == "local"
    assert resolve_compute(store, "azureml:docker").type == "docker"
    box = resolve_compute(store, "azureml:gpu-box")
    assert run_settings(box) == {"compute": "docker", "compute_target": "gpu-box", "max_concurrent_runs": None,
                                 "docker_network": "none", "gpus": 2, "default_image": "base:1"}
    assert run_settings(box, gpus="device=1")["gpus"] == "device=1"  # the job's request wins
    assert run_settings(resolve_compute(store, "local")) == {
        "compute": "local", "compute_target": "local", "max_concurrent_runs": None, "docker_network": "host",
        "gpus": None, "default_image": None}
    assert resolve_compute(store, "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices"
                                  "/workspaces/w/computes/gpu-box").name == "gpu-box"
    assert run_settings(resolve_compute(store, "far")) == {
        "compute": "ssh", "compute_target": "far", "max_concurrent_runs": None, "docker_network": "host",
        "gpus": None, "default_image": None, "ssh": {"host": "10.0.0.7", "port": 22}}
    store.add_compute_target("far-docker", "ssh", {"host": "10.0.0.7", "port": 22, "docker": True})
    assert run_settings(resolve_compute(store, "far-docker"))["ssh"] == {"host": "10.0.0.7", "port": 22,
                                                                        "docker": True}
    with pytest.raises(NotFound) as info:
        resolve_compute(store, "azureml:nope", "job.yml")
    assert info.value.message == "unknown compute target 'nope' (in job.yml)"


# --------------------------------------------------------------------------- the CLI
def test_compute_create_list_show_delete_through_the_cli(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    yml = write(tmp_path / "gpu-box.yml", """\
        name: gpu-box
        type: docker
        network: none
        gpus: "device=0,1"
        image: python:3.11-slim
        max_concurrent_runs: 2
    """)
    made = ok_json(trainyard("compute", "create", "-f", str(yml), "-o", "json", workspace=ws))
    assert made["name"] == "gpu-box" and made["type"] == "docker" and made["network"] == "none"
    assert made["gpus"] == "device=0,1" and made["image"] == "python:3.11-slim" and made["max_concurrent_runs"] == 2
    assert made["built_in"] is False and made["creation_time"]
    alias = ok_json(trainyard("compute", "create", "--name", "cpu-cluster", "--type", "local", "-o", "json",
                              workspace=ws))
    assert (alias["name"], alias["type"]) == ("cpu-cluster", "local")
    net = ok_json(trainyard("compute", "create", "--name", "boxed", "--type", "docker", "--network", "none",
                            "-o", "json", workspace=ws))
    assert net["network"] == "none"

    listed = ok_json(trainyard("compute", "list", "-o", "json", workspace=ws))
    assert [(t["name"], t["type"], t["built_in"]) for t in listed] == [
        ("local", "local", True), ("docker", "docker", True), ("boxed", "docker", False),
        ("cpu-cluster", "local", False), ("gpu-box", "docker", False)]
    shown = ok_json(trainyard("compute", "show", "-n", "azureml:gpu-box", "-o", "json", workspace=ws))
    here = shown.pop("gpus_here")  # show adds the GPUs of the machine the target's runs use
    assert shown == made and set(here) == {"gpus", "note", "runs_waiting"}
    assert ok_json(trainyard("compute", "show", "-n", "docker", "-o", "json", workspace=ws))["built_in"] is True
    table = trainyard("compute", "list", workspace=ws)
    assert table.returncode == 0 and "built-in" in table.stdout and "gpu-box" in table.stdout

    user_error(trainyard("compute", "create", "-f", str(yml), workspace=ws), "'gpu-box' already exists",
               "compute delete -n gpu-box")
    user_error(trainyard("compute", "create", "--name", "local", "--type", "local", workspace=ws), "built-in")
    user_error(trainyard("compute", "create", "--name", "x", workspace=ws), "--name and --type")
    user_error(trainyard("compute", "create", "-f", str(yml), "--type", "local", workspace=ws), "-f")
    bad = write(tmp_path / "bad.yml", "name: b\ntype: docker\nnetwrk: none\n")
    user_error(trainyard("compute", "create", "-f", str(bad), workspace=ws), f"{bad}:3:", "'netwrk'",
               "did you mean 'network'?")
    user_error(trainyard("compute", "show", "-n", "gpu-bx", workspace=ws), "unknown compute target 'gpu-bx'",
               "did you mean gpu-box", "local, docker, boxed, cpu-cluster, gpu-box")

    gone = ok_json(trainyard("compute", "delete", "-n", "gpu-box", "-o", "json", workspace=ws))
    assert gone["name"] == "gpu-box" and gone["deleted"] is True
    user_error(trainyard("compute", "delete", "-n", "gpu-box", workspace=ws), "unknown compute target 'gpu-box'")
    user_error(trainyard("compute", "delete", "-n", "local", workspace=ws), "built in")
    listed = ok_json(trainyard("compute", "list", "-o", "json", workspace=ws))
    assert [t["name"] for t in listed] == ["local", "docker", "boxed", "cpu-cluster"]


def test_a_job_on_a_local_alias_runs_here_and_records_the_alias(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ok_json(trainyard("compute", "create", "--name", "cpu-cluster", "--type", "local", "-o", "json", workspace=ws))
    write(tmp_path / "exp" / "src" / "train.py", "import os\nprint('trained in', os.getcwd())\n")
    job = write(tmp_path / "exp" / "job.yml", """\
        command: python train.py
        code: src
        compute: azureml:cpu-cluster
    """)
    created = ok_json(trainyard("job", "create", "-f", str(job), "--stream", "-o", "json", workspace=ws))
    assert created["status"] == "Completed", created
    shown = ok_json(trainyard("job", "show", "-n", created["name"], "-o", "json", workspace=ws))
    assert shown["status"] == "Completed" and shown["compute"] == "cpu-cluster"
    assert "trained in" in (Path(shown["run_dir"]) / "azureml-logs" / "70_driver_log.txt").read_text()
    spec = json.loads((Path(shown["run_dir"]) / "spec.json").read_text())
    assert spec["compute"] == "local"  # what the supervisor does: the target's type


def test_docker_on_an_ssh_target_without_an_image_is_refused_clearly_and_records_no_job(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ssh = write(tmp_path / "far.yml", "name: gpu-cluster\ntype: ssh\nhost: 10.0.0.7\nuser: alice\ndocker: true\n")
    ok_json(trainyard("compute", "create", "-f", str(ssh), "-o", "json", workspace=ws))
    job = write(tmp_path / "exp" / "job.yml", "command: echo hi\ncompute: azureml:gpu-cluster\n")
    user_error(trainyard("job", "create", "-f", str(job), workspace=ws),
               "that runs jobs in Docker (`docker: true`); the job has no environment",
               "give the job a Docker environment (`image:` or `build:`), or the compute target an `image:`")
    assert ok_json(trainyard("job", "list", "-o", "json", workspace=ws)) == []


def test_an_unknown_compute_lists_the_known_targets(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ok_json(trainyard("compute", "create", "--name", "cpu-cluster", "--type", "local", "-o", "json", workspace=ws))
    job = write(tmp_path / "exp" / "job.yml", "command: echo hi\ncompute: azureml:gpu-clustr\n")
    user_error(trainyard("job", "create", "-f", str(job), workspace=ws),
               "unknown compute target 'gpu-clustr'", str(job), "known compute targets: local, docker, cpu-cluster",
               "compute: local")
    assert ok_json(trainyard("job", "list", "-o", "json", workspace=ws)) == []


# --------------------------------------------------------------------------- GPUs, SDK
def test_resources_gpus_reaches_the_run_spec_over_the_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = write(tmp_path / "exp" / "job.yml", "command: echo hi\ncompute: boxed\nresources:\n  gpus: \"0,1\"\n")
    spec = load_job(job)
    assert spec.gpus == "device=0,1" and spec.compute == "boxed"
    assert load_job(write(tmp_path / "exp" / "plain.yml", "command: echo hi\n")).gpus is None
    bad = write(tmp_path / "exp" / "bad.yml", "command: echo hi\nresources:\n  instance_count: 1\n  gpus: lots\n")
    with pytest.raises(InvalidSpec) as info:
        load_job(bad)
    assert info.value.line == 4 and info.value.field == "resources.gpus"

    eng = Engine.open(tmp_path / "ws")
    try:
        # `type: local`: the job runs here as a process on the GPUs it asked for (this machine's
        # four, as the FAKE nvidia-smi of tests/fixtures prints them); the spec carries the request.
        fake = tmp_path / "fake-gpu-bin"
        fake.mkdir()
        root = Path(__file__).resolve().parents[2]
        shutil.copy(root / "tests" / "fixtures" / "fake_nvidia_smi", fake / "nvidia-smi")
        shutil.copy(root / "tests" / "engine" / "fixtures" / "nvidia_smi_query_gpu.csv", fake)
        monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("TRAINYARD_GPU_LEASES", str(tmp_path / "leases"))
        eng.store.add_compute_target("boxed", "local", {})
        run = eng.submit(spec)
        written = json.loads(RunFiles(Path(run.run_dir)).spec.read_text())
        assert (written["compute"], written["gpus"], written["docker_network"]) == ("local", "device=0,1", "host")
        assert run.compute == "boxed"
        final = eng.wait(run.name, timeout=60)
        assert final.status == "Completed" and final.properties["gpus_assigned"] == "0,1"
    finally:
        eng.close()


def test_sdk_compute_target_resolves_created_targets(tmp_path: Path) -> None:
    from engine.sdk import ComputeTarget as SdkComputeTarget
    from engine.sdk import Workspace

    ws = Workspace(tmp_path / "ws")
    ws.engine.store.add_compute_target("cpu-cluster", "local", {}, "alias")
    target = SdkComputeTarget(workspace=ws, name="cpu-cluster")
    assert (target.name, target.type, target.description) == ("cpu-cluster", "local", "alias")
    target.wait_for_completion(show_output=False)
    assert SdkComputeTarget(ws, "azureml:docker").type == "docker"
    assert set(ws.compute_targets) == {"local", "docker", "cpu-cluster"}
    with pytest.raises(NotFound, match="gpu-cluster"):
        SdkComputeTarget(ws, "gpu-cluster")


# --------------------------------------------------------------------------- environment prune
def test_environment_prune_removes_unused_builds_and_keeps_those_of_active_runs(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    code = write(tmp_path / "p" / "main.py", "import sys, time\nprint(sys.prefix, flush=True)\n"
                                             "time.sleep(float(sys.argv[1]))\n").parent
    eng = Engine.open(ws)
    try:
        unused = EnvironmentSpec(name="unused", pip_requirements=(f"# unused {time.time_ns()}",))
        busy = EnvironmentSpec(name="busy", pip_requirements=(f"# busy {time.time_ns()}",))
        done = eng.wait(eng.submit(JobSpec(experiment_name="p", code_dir=code, script="main.py", arguments=("0",),
                                           environment_spec=unused)).name, timeout=120)
        assert done.status == "Completed", done.error
        unused_hash = done.properties["environment_hash"]
        assert (eng.location.envs_dir / unused_hash).is_dir()
        running = eng.submit(JobSpec(experiment_name="p", code_dir=code, script="main.py", arguments=("120",),
                                     environment_spec=busy))
        deadline = time.monotonic() + 120
        while eng.get_run(running.name).status != "Running":
            assert time.monotonic() < deadline and not eng.get_run(running.name).is_terminal
            time.sleep(0.1)
        busy_hash = eng.get_run(running.name).properties["environment_hash"]

        pruned = ok_json(trainyard("environment", "prune", "-o", "json", workspace=ws))
        assert [r["hash"] for r in pruned["removed"]] == [unused_hash]
        assert pruned["removed"][0]["kind"] == "venv"
        assert busy_hash in pruned["in_use"]
        assert not (eng.location.envs_dir / unused_hash).exists()
        assert (eng.location.envs_dir / busy_hash).is_dir()
        again = trainyard("environment", "prune", workspace=ws)
        assert again.returncode == 0 and "Nothing to remove" in again.stdout, again.stderr

        eng.cancel(running.name)
        assert eng.wait(running.name, timeout=60).status == "Canceled"
        pruned = ok_json(trainyard("environment", "prune", "-o", "json", workspace=ws))
        assert [r["hash"] for r in pruned["removed"]] == [busy_hash] and pruned["in_use"] == []
    finally:
        eng.close()


def test_a_workspace_from_before_compute_targets_is_upgraded(tmp_path: Path) -> None:
    from alembic import command

    from engine.store.schema import HEAD_REVISION, alembic_config, current_revision
    from engine.store.sql import make_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    eng = make_engine(url)
    with eng.begin() as conn:
        command.upgrade(alembic_config(conn), "0002_environments")
    eng.dispose()
    store = SqlStore(url)  # opening migrates
    try:
        assert current_revision(store.engine) == HEAD_REVISION
        assert store.add_compute_target("cpu-cluster", "local", {}).name == "cpu-cluster"
    finally:
        store.close()
