"""Step reuse, as Azure ML does it but exact: a step's key hashes what determines its outputs (its
code snapshot, its environment's build hash, its command, its parameters, the content hashes of its
inputs, its outputs' declarations and environment variables, its distribution and the resources its
processes see: shm_size, gpus). A completed step recorded under the same key, whose outputs are
still there, stands in for the step."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from engine.runtime.pipelineplan import PlannedStep

__all__ = ["outputs_exist", "step_key"]


def step_key(step: PlannedStep, input_hashes: dict[str, str]) -> str:
    """The key of `step` run with inputs whose contents hash to `input_hashes` (data inputs and
    other steps' outputs, by input name); literals come from the plan."""
    payload: dict[str, Any] = {
        "kind": step.kind,
        "command": step.command,
        "code": step.snapshot_id,
        "environment": step.environment_hash,
        "environment_variables": step.environment_variables,
        "literals": {n: i.value for n, i in step.inputs.items() if i.kind == "literal"},
        "data": {
            n: [input_hashes.get(n), i.type, i.mode] for n, i in step.inputs.items() if i.kind != "literal"
        },
        "outputs": {n: [o.get("type"), o.get("path")] for n, o in step.outputs.items()},
        "distribution": step.distribution,
        "sweep": step.sweep,
    }
    # what the step's processes see of the machine (/dev/shm's size, the GPUs they are given); left
    # out when unset so that keys recorded before these counted still match
    seen = {k: v for k, v in (("shm_size", step.shm_size), ("gpus", step.gpus)) if v is not None}
    if seen:
        payload["resources"] = seen
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def outputs_exist(outputs: dict[str, Any]) -> bool:
    """Whether every output a cached step recorded ({name: {"path", "hash"}}) is still on disk."""
    return all(Path(str(o.get("path"))).exists() for o in outputs.values())
