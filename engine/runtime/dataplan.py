"""A run's data in its launch spec: where each input comes from and where the script finds it,
and where each output is collected (engine.runs.submit writes it, the supervisor and the compute
backends read it). Paths in the run are relative to the run's folder, which is the run folder on
this machine, CONTAINER_RUN_ROOT in a container and REMOTE_RUN_ROOT (replaced by the remote run
folder when the script starts) on an SSH host."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CONTAINER_RUN_ROOT", "REMOTE_RUN_ROOT", "DataPlan", "InputPlacement", "OutputPlacement"]

CONTAINER_RUN_ROOT = "/trainyard/run"  # engine.compute.docker.RUN_MOUNT
REMOTE_RUN_ROOT = "__TRAINYARD_REMOTE_RUN__"


@dataclass(frozen=True)
class InputPlacement:
    name: str
    type: str
    mode: str  # ro_mount | download | direct
    source: str  # a path on this machine (or, direct, the path or URL as given)
    rel: str | None  # where the script finds it, relative to the run folder; None for direct
    is_file: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "mode": self.mode,
            "source": self.source,
            "rel": self.rel,
            "is_file": self.is_file,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> InputPlacement:
        return cls(
            str(d["name"]),
            str(d["type"]),
            str(d["mode"]),
            str(d["source"]),
            d.get("rel"),
            bool(d.get("is_file")),
        )


@dataclass(frozen=True)
class OutputPlacement:
    name: str
    type: str
    mode: str
    rel: str  # where it is collected, relative to the run folder (outputs/NAME by default)
    asset_name: str | None = None
    asset_version: int | None = None
    description: str = ""

    @property
    def is_file(self) -> bool:
        return self.type == "uri_file"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "mode": self.mode,
            "rel": self.rel,
            "asset_name": self.asset_name,
            "asset_version": self.asset_version,
            "description": self.description,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> OutputPlacement:
        v = d.get("asset_version")
        return cls(
            str(d["name"]),
            str(d["type"]),
            str(d.get("mode") or "rw_mount"),
            str(d["rel"]),
            d.get("asset_name"),
            int(v) if v is not None else None,
            str(d.get("description") or ""),
        )


@dataclass(frozen=True)
class DataPlan:
    inputs: tuple[InputPlacement, ...] = ()
    outputs: tuple[OutputPlacement, ...] = ()
    data_root: str = ""  # the workspace's data folder (registered outputs go there)
    models_root: str = ""

    @property
    def read_only_inputs(self) -> list[InputPlacement]:
        return [i for i in self.inputs if i.mode == "ro_mount" and i.rel is not None]

    def to_json(self) -> dict[str, Any]:
        return {
            "inputs": [i.to_json() for i in self.inputs],
            "outputs": [o.to_json() for o in self.outputs],
            "data_root": self.data_root,
            "models_root": self.models_root,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DataPlan:
        return cls(
            tuple(InputPlacement.from_json(i) for i in d.get("inputs") or []),
            tuple(OutputPlacement.from_json(o) for o in d.get("outputs") or []),
            str(d.get("data_root") or ""),
            str(d.get("models_root") or ""),
        )
