"""The run's sitecustomize lets PyTorch's gloo worker threads finish before the interpreter shuts
down (see its docstring: without it about one distributed run in a hundred aborted at exit after
all its work was done). Checked against a real gloo process group: the hook must find torch's
worker threads by name, and leave processes without them alone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

INJECT = Path(__file__).resolve().parents[3] / "engine" / "tracking" / "inject"

ASK = """
import sitecustomize
print("gloo workers before:", sitecustomize._gloo_workers_running(), flush=True)
import torch.distributed as dist
print("torch imported:", sitecustomize._gloo_workers_running(), flush=True)
store = dist.FileStore({store!r}, 1)
dist.init_process_group("gloo", store=store, rank=0, world_size=1)
import torch
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(1, 1)) if {ddp} else None
dist.all_reduce(torch.ones(1))
print("group up:", sitecustomize._gloo_workers_running(), flush=True)
dist.destroy_process_group()
print("group destroyed:", sitecustomize._gloo_workers_running(), flush=True)
"""


@pytest.mark.parametrize("ddp", [False, True], ids=["plain-group", "ddp-model"])
def test_the_exit_hook_finds_a_real_gloo_group_s_worker_threads(tmp_path: Path, ddp: bool) -> None:
    code = textwrap.dedent(ASK).format(store=str(tmp_path / "store"), ddp=ddp)
    env = dict(os.environ, PYTHONPATH=str(INJECT))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.splitlines() == [
        "gloo workers before: False",
        "torch imported: False",
        "group up: True",
        # a DDP model keeps the group, and its threads, after destroy_process_group: the hook
        # must still wait then (the runs that aborted were DDP runs)
        f"group destroyed: {ddp}",
    ], res.stdout + res.stderr
