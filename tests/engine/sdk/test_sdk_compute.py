"""Azure ML compute clusters here: `AmlCompute.provisioning_configuration` + `ComputeTarget.create`
(the seed's try/except idiom) and `trainyard compute create --type AmlCompute` become local targets
that run `max_nodes` runs at a time and ask for the GPUs of their VM size as far as this machine
has them, saying in one line what it cannot honour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sdk_support import trainyard

from engine.compute.vmsizes import amlcompute_target, canonical_size, gpus_of_size
from engine.errors import InvalidSpec, NotFound
from engine.sdk import (
    AmlCompute,
    ComputeTarget,
    ComputeTargetException,
    Experiment,
    ScriptRunConfig,
    Workspace,
)


@pytest.mark.parametrize(
    ("size", "gpus"),
    [
        ("STANDARD_NC6", 1),
        ("Standard_NC12", 2),
        ("standard_nc24", 4),
        ("Standard_NC6s_v3", 1),
        ("Standard_NC24s_v3", 4),
        ("Standard_ND40rs_v2", 8),
        ("Standard_NV6", 1),
        ("NC24rs_v3", 4),
        ("Standard_D2_v2", 0),
        ("STANDARD_DS3_V2", 0),
        ("Standard_F4s_v2", 0),
        ("Standard_E8s_v3", 0),
        ("Standard_NC999", None),
        ("Standard_QX1", None),
    ],
)
def test_the_gpus_of_azure_vm_sizes(size: str, gpus: int | None) -> None:
    assert gpus_of_size(size) == gpus


def test_sizes_are_written_as_azure_writes_them() -> None:
    assert canonical_size("STANDARD_NC6") == "Standard_NC6"
    assert canonical_size("standard_nc24s_V3") == "Standard_NC24s_v3"
    assert canonical_size("STANDARD_DS3_V2") == "Standard_DS3_v2"
    assert canonical_size("nc24ads_a100_v4") == "Standard_NC24ads_A100_v4"


@pytest.mark.parametrize(
    ("size", "here", "gpus", "note"),
    [
        ("Standard_NC12", 4, 2, ""),
        ("Standard_NC24", 2, 2, "Standard_NC24 has 4 GPUs; this machine has 2, so runs on c get 2"),
        ("STANDARD_NC6", 0, None, "Standard_NC6 has 1 GPU; this machine has none, so runs on c use the CPU"),
        ("Standard_D2_v2", 4, None, ""),
        (
            "Standard_NC999",
            4,
            None,
            (
                "Standard_NC999 is not a VM size Trainyard knows: runs on c ask for no GPU "
                "(see docs/compute.md for the sizes it knows)"
            ),
        ),
    ],
)
def test_a_cluster_maps_to_a_local_target(size: str, here: int, gpus: int | None, note: str) -> None:
    made = amlcompute_target("c", vm_size=size, min_nodes=0, max_nodes=3, gpus_here=here)
    assert made.target.type == "local" and made.note == note
    assert made.target.config["max_concurrent_runs"] == 3
    assert made.target.config["vm_size"] == canonical_size(size)
    assert made.target.config.get("gpus") == gpus


def test_bad_cluster_shapes_are_refused_with_the_field() -> None:
    with pytest.raises(InvalidSpec) as info:
        amlcompute_target("c", vm_size=None, min_nodes=5, max_nodes=2)
    assert info.value.field == "min_nodes" and "more than max_nodes" in info.value.message
    with pytest.raises(InvalidSpec) as info:
        amlcompute_target("c", vm_size=None, max_nodes=0)
    assert info.value.field == "max_nodes"
    with pytest.raises(InvalidSpec, match="built-in"):
        amlcompute_target("local", vm_size=None)


def test_the_seed_idiom_creates_the_cluster_once(
    ws: Workspace, no_gpus: None, capsys: pytest.CaptureFixture[str]
) -> None:
    def find_or_create() -> ComputeTarget:
        try:
            target = ComputeTarget(workspace=ws, name="gpu-cluster")
            print("Found existing compute target")
        except ComputeTargetException:
            config = AmlCompute.provisioning_configuration(
                vm_size="STANDARD_NC6", max_nodes=4, idle_seconds_before_scaledown=1200
            )
            target = ComputeTarget.create(ws, "gpu-cluster", config)
            target.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)
        return target

    created = find_or_create()
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Note: Standard_NC6 has 1 GPU; this machine has none, so runs on gpu-cluster use the CPU",
        "Compute target gpu-cluster (local, Standard_NC6, up to 4 runs at a time): Succeeded",
    ]
    assert (created.name, created.type, created.vm_size, created.max_nodes) == (
        "gpu-cluster",
        "local",
        "Standard_NC6",
        4,
    )
    assert created.get_status() == created.provisioning_state == "Succeeded"
    assert created.config["idle_seconds_before_scaledown"] == 1200 and "gpus" not in created.config

    again = find_or_create()
    assert capsys.readouterr().out == "Found existing compute target\n"
    assert again.serialize() == created.serialize()
    assert "gpu-cluster" in ws.compute_targets and ws.compute_targets["gpu-cluster"].vm_size == "Standard_NC6"
    assert [t.name for t in ComputeTarget.list(ws)] == ["local", "docker", "gpu-cluster"]
    assert isinstance(AmlCompute(ws, "gpu-cluster"), ComputeTarget)


def test_an_unknown_target_is_a_compute_target_exception_naming_the_known_ones(ws: Workspace) -> None:
    with pytest.raises(ComputeTargetException) as info:
        ComputeTarget(workspace=ws, name="gpu-clustr")
    assert isinstance(info.value, NotFound)
    assert "gpu-clustr" in info.value.message and "local" in str(info.value)


def test_a_cluster_on_a_gpu_machine_asks_for_its_sizes_gpus(
    ws: Workspace, four_gpus: None, capsys: pytest.CaptureFixture[str]
) -> None:
    config = AmlCompute.provisioning_configuration(vm_size="Standard_NC12", min_nodes=0, max_nodes=2)
    target = ComputeTarget.create(ws, "nc12", config)
    assert target.config["gpus"] == 2 and target.config["max_concurrent_runs"] == 2
    assert capsys.readouterr().out == ""  # everything honoured: nothing to say


def test_compute_create_type_amlcompute_on_the_command_line(ws_dir: Path, four_gpus: None) -> None:
    res = trainyard(
        "compute",
        "create",
        "-n",
        "cpu-cluster",
        "--type",
        "AmlCompute",
        "--min-instances",
        "0",
        "--max-instances",
        "40",
        "-o",
        "json",
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert (doc["type"], doc["max_concurrent_runs"], doc["min_nodes"], doc["max_nodes"]) == (
        "local",
        40,
        0,
        40,
    )
    assert "vm_size" not in doc and "gpus" not in doc and res.stderr == ""

    res = trainyard(
        "compute",
        "create",
        "-n",
        "gpu-cluster",
        "--type",
        "amlcompute",
        "--size",
        "Standard_NC24s_v3",
        "--max-instances",
        "2",
    )
    assert res.returncode == 0, res.stderr
    assert (
        res.stdout.strip()
        == "Created compute target gpu-cluster (amlcompute as local: up to 2 runs at a time)"
    )
    shown = json.loads(trainyard("compute", "show", "-n", "gpu-cluster", "-o", "json").stdout)
    assert (shown["vm_size"], shown["gpus"]) == ("Standard_NC24s_v3", 4)

    res = trainyard("compute", "create", "-n", "big", "--type", "amlcompute", "--size", "Standard_ND40rs_v2")
    assert res.returncode == 0, res.stderr
    assert res.stderr == "note: Standard_ND40rs_v2 has 8 GPUs; this machine has 4, so runs on big get 4\n"


def test_cluster_options_without_the_cluster_type_are_refused(ws_dir: Path) -> None:
    res = trainyard("compute", "create", "-n", "x", "--type", "local", "--size", "Standard_NC6")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith("error: --size only apply to --type amlcompute")
    res = trainyard("compute", "create", "-n", "x", "--type", "amlcompute", "--gpus", "1")
    assert res.returncode == 1 and "--gpus cannot be combined with --type amlcompute" in res.stderr
    res = trainyard(
        "compute", "create", "-n", "x", "--type", "amlcompute", "--min-instances", "3", "--max-instances", "1"
    )
    assert res.returncode == 1 and "min_nodes (3) is more than max_nodes (1)" in res.stderr


def test_an_uncaught_sdk_error_in_a_control_script_reads_like_the_cli(tmp_path: Path, ws_dir: Path) -> None:
    (tmp_path / "control.py").write_text(
        "from azureml.core import Workspace\n"
        "from azureml.core.compute import ComputeTarget\n"
        "ws = Workspace.from_config()\n"
        "target = ComputeTarget(workspace=ws, name='gpu-cluster')\n"
    )
    res = trainyard("python", "control.py", cwd=tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith(
        "error: control.py:4: unknown compute target 'gpu-cluster'\n  hint: known compute"
    )
    # The script's own bug keeps its traceback (the SDK is loaded: the hook is in place).
    (tmp_path / "bug.py").write_text("from azureml.core import Workspace\n1 / 0\n")
    res = trainyard("python", "bug.py", cwd=tmp_path)
    assert res.returncode == 1 and "ZeroDivisionError" in res.stderr and "Traceback" in res.stderr


def test_an_az_ml_cluster_yaml_maps_the_same_way(ws_dir: Path, tmp_path: Path, no_gpus: None) -> None:
    cluster = tmp_path / "cluster.yml"
    cluster.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json\n"
        "name: gpu-nodes\n"
        "type: amlcompute\n"
        "size: STANDARD_NC6s_v3\n"
        "min_instances: 0\n"
        "max_instances: 3\n"
        "idle_time_before_scale_down: 120\n"
        "tier: low_priority\n"
        "location: westeurope\n"
    )
    res = trainyard("compute", "create", "-f", str(cluster), "-o", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert (doc["name"], doc["type"], doc["vm_size"], doc["max_concurrent_runs"]) == (
        "gpu-nodes",
        "local",
        "Standard_NC6s_v3",
        3,
    )
    assert doc["idle_seconds_before_scaledown"] == 120
    assert (
        res.stderr
        == "note: Standard_NC6s_v3 has 1 GPU; this machine has none, so runs on gpu-nodes use the CPU\n"
    )

    cluster.write_text("name: c2\ntype: amlcompute\nmax_instances: two\n")
    res = trainyard("compute", "create", "-f", str(cluster))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith(f"error: {cluster}:3: `max_instances:` must be a whole number, not 'two'")
    cluster.write_text("name: c2\ntype: amlcompute\nsizes: Standard_NC6\n")
    res = trainyard("compute", "create", "-f", str(cluster))
    assert res.returncode == 1 and f"{cluster}:3: unknown key 'sizes' for `type: amlcompute`" in res.stderr


def test_runs_on_a_gpu_cluster_get_the_gpus_of_its_size(
    ws: Workspace, tmp_path: Path, four_gpus: None
) -> None:
    """On a machine with four GPUs (a test-only nvidia-smi printing a recorded inventory), a run on
    a Standard_NC12 cluster is given two of them through CUDA_VISIBLE_DEVICES."""
    target = ComputeTarget.create(ws, "nc12", AmlCompute.provisioning_configuration(vm_size="Standard_NC12"))
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "gpus.py").write_text(
        "import os\nprint('GPUS', os.environ.get('CUDA_VISIBLE_DEVICES'))\n"
    )
    run = Experiment(ws, "gpus").submit(
        ScriptRunConfig(source_directory=str(tmp_path / "code"), script="gpus.py", compute_target=target)
    )
    run.wait_for_completion()
    log = Path(ws.engine.get_run(run.id).run_dir, "azureml-logs", "70_driver_log.txt").read_text()
    (line,) = [x for x in log.splitlines() if x.startswith("GPUS ")]
    assert len(line.split(" ", 1)[1].split(",")) == 2, line
