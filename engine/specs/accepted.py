"""Keys of today's Azure ML job schema that say how Azure should host a job, which Trainyard
accepts and does not use: each is set aside (or kept, where the schema has it) with a one-line
note, so a job file from Azure loads and runs here instead of failing on them.

A pre-pass over the raw mapping, after engine.specs.preview; notes name the file and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.specs.yamlfile import Lines, line_of

__all__ = ["set_aside"]

# Top-level keys (command and sweep jobs): why each does not apply here.
_JOB_KEYS = {
    "services": "interactive services (VS Code, JupyterLab, TensorBoard, SSH) are not provided; the job runs "
    "without them",
    "identity": "the job runs as your user on this machine, with your credentials; `identity:` is not used",
    "queue_settings": "jobs start when their compute target has room; `queue_settings:` (tier, priority) is "
    "not used",
    "notification_setting": "no e-mail is sent; `trainyard job stream` and the studio show when a job ends",
    "is_deterministic": "every job runs again (no reuse of earlier outputs); `is_deterministic:` is not used",
}
# Under `resources:` (the schema keeps instance_count, instance_type, shm_size, gpus).
_RESOURCE_KEYS = {
    "docker_args": "extra `docker run` arguments are not passed; set the compute target's options instead",
    "properties": "`resources.properties` is not used",
    "locations": "jobs run where their compute target is; `resources.locations` is not used",
    "max_instance_count": "the instance count is fixed here; `resources.max_instance_count` is not used",
}


def set_aside(data: dict[str, Any], lines: Lines, path: Path, note: Callable[[str], None]) -> None:
    """Remove the keys Trainyard does not use from `data` (in place), noting each."""

    def say(loc: tuple[Any, ...], text: str) -> None:
        line = line_of(lines, loc, key=True)
        note(f"{path}:{line}: {text}" if line else f"{path}: {text}")

    for key, why in _JOB_KEYS.items():
        if key in data:
            data.pop(key)
            say((key,), f"`{key}:` accepted and not used: {why}")
    trial = data.get("trial")
    for at, job in (((), data), (("trial",), trial)):
        resources = job.get("resources") if isinstance(job, dict) else None
        if not isinstance(resources, dict):
            continue
        for key, why in _RESOURCE_KEYS.items():
            if key in resources:
                resources.pop(key)
                say((*at, "resources", key), why)
        size = resources.get("instance_type")
        if isinstance(size, str) and "gpus" not in resources:
            say(
                (*at, "resources", "instance_type"),
                f"`resources.instance_type: {size}` is an Azure VM size: here the job asks for the GPUs one such "
                "VM has, as far as this machine has them (`resources.gpus: N` decides instead)",
            )
