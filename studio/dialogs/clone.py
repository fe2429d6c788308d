"""Clone & edit: what the Submit dialog is filled with from an earlier run.

Read off the GUI thread (`clone_source`): the run's record and its launch spec. The folder is
the one the run's code came from when it still exists, else the run's snapshot, materialised
into the workspace (so a run whose project folder moved can still be cloned)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InvalidState
from engine.runtime.launchspec import CODE_DIR, read_spec

# Variables the engine sets for every run: not the user's, so not offered for editing.
ENGINE_VARIABLES = ("TRAINYARD_", "MLFLOW_", "AZUREML_", "PYTHONUNBUFFERED")


@dataclass(frozen=True)
class CloneSource:
    run_name: str
    folder: Path
    script: str
    arguments: tuple[str, ...]
    experiment: str
    compute: str
    environment: str | None  # a registered or curated reference
    variables: tuple[tuple[str, str], ...]
    max_run_duration_seconds: float | None
    from_snapshot: bool  # the folder is a copy of the snapshot (the original is gone)


def clone_source(engine: Any, name: str) -> CloneSource:
    """The values of run `name` for a new Submit dialog (call off the GUI thread)."""
    run = engine.get_run(name)
    spec = read_spec(engine.run_files(name).spec)
    if spec.is_sweep or not spec.script:
        raise InvalidState(
            f"{name} is not a script run: it cannot be cloned into the Submit dialog",
            "re-run it, or submit its job file again",
        )
    folder = Path(str(run.properties.get(CODE_DIR) or ""))
    from_snapshot = not (str(folder) not in ("", ".") and folder.is_dir())
    if from_snapshot:
        if not run.snapshot_id:
            raise InvalidState(f"{name} has no code snapshot to clone", "submit its project folder instead")
        folder = engine.location.storage / "clones" / name
        if not folder.is_dir():
            engine.snapshots.materialize(run.snapshot_id, folder)
    variables = tuple((k, v) for k, v in spec.env.items() if not k.startswith(ENGINE_VARIABLES))
    return CloneSource(
        run_name=name,
        folder=folder,
        script=spec.script,
        arguments=tuple(spec.arguments),
        experiment=run.experiment_name,
        compute=run.compute,
        environment=run.environment,
        variables=variables,
        max_run_duration_seconds=run.max_run_duration_seconds,
        from_snapshot=from_snapshot,
    )
