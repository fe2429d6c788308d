"""The seed "train PyTorch models at scale" (seeds/002) as a user runs it, with a control script of
our own making the same calls in the same order: the compute try/except idiom creates the GPU
cluster here (no GPU: a note), the curated GPU environment is saved and cloned (no GPU: a note, the
CPU build runs), the DDP argument list with `$AZ_BATCHAI_*` and a 2-node
PyTorchConfiguration(communication_backend='Nccl') trains with real PyTorch (gloo on the CPU), and
the model is registered and downloaded after the run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sdk_support import SCRIPTS, trainyard


def test_the_seed_pytorch_control_script_trains_ddp_and_registers_the_model(
    tmp_path: Path, ws_dir: Path, no_gpus: None
) -> None:
    (tmp_path / "ddp-project").mkdir()
    shutil.copy(SCRIPTS / "ddp_train.py", tmp_path / "ddp-project")
    shutil.copy(SCRIPTS / "control_pytorch.py", tmp_path)
    # The curated environment is built once (a venv with PyTorch): allow for a cold, slow machine.
    res = trainyard("python", "control_pytorch.py", cwd=tmp_path, timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert "Creating a new compute target..." in out
    assert "Note: Standard_NC6 has 1 GPU; this machine has none, so runs on gpu-cluster use the CPU" in out
    assert "Note: pytorch-1.6-gpu is a GPU environment and this machine has no GPU" in out
    assert "rank 0: no CUDA device, using gloo instead of nccl" in out  # rank 0's log, streamed
    assert "rank 0 of 2 joining tcp://" in out
    assert "Status: Completed" in out and "STATUS Completed" in out
    assert "MODEL pytorch-ddp 1" in out
    assert "CUSTOM docker 3.6.2" in out  # the seed's conda + CUDA image environment, as built
    assert "torch==" in (tmp_path / "AzureML-PyTorch-1.6-GPU" / "requirements.txt").read_text()

    import torch

    state = torch.load(tmp_path / "model" / "model.pt", weights_only=True)
    assert float(state["weight"]) == pytest.approx(3.0, abs=0.5)
    assert float(state["bias"]) == pytest.approx(-1.0, abs=0.5)

    models = json.loads(trainyard("model", "list", "-o", "json").stdout)
    assert [(m["name"], m["version"]) for m in models] == [("pytorch-ddp", 1)]
    shown = json.loads(trainyard("job", "show", "-n", models[0]["run"], "-o", "json").stdout)
    assert (shown["status"], shown["compute"]) == ("Completed", "gpu-cluster")
    logs = sorted(p.name for p in Path(shown["run_dir"], "azureml-logs").glob("70_driver_log*"))
    assert len(logs) >= 2  # one per process
