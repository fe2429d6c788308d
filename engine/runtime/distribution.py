"""A distributed run's request: how many processes, and how they find each other (`distribution:
{type: pytorch|mpi}` + `resources.instance_count`; the SDK's PyTorchConfiguration and
MpiConfiguration). Part of the launch spec; engine.compute.distributed starts the processes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidSpec

__all__ = ["KINDS", "Distribution", "make_distribution"]

KINDS = ("pytorch", "mpi")


@dataclass(frozen=True)
class Distribution:
    """How many processes, and how they find each other."""

    kind: str  # pytorch | mpi
    process_count_per_instance: int = 1
    instance_count: int = 1

    @property
    def world_size(self) -> int:
        return self.process_count_per_instance * self.instance_count

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "process_count_per_instance": self.process_count_per_instance,
                "instance_count": self.instance_count}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Distribution:
        return cls(d["kind"], int(d["process_count_per_instance"]), int(d["instance_count"]))


def make_distribution(kind: str, process_count_per_instance: int | None, instance_count: int | None,
                      *, source: str | None = None) -> Distribution:
    """Validate a job's request; InvalidSpec says what to write instead."""
    if kind == "tensorflow":
        raise InvalidSpec("TensorFlow distribution (TF_CONFIG workers) is not available in this version "
                          "of Trainyard", "use `type: pytorch` or `type: mpi`, or run one process",
                          file=source, field="distribution.type")
    if kind not in KINDS:
        raise InvalidSpec(f"unknown distribution type {kind!r}", f"one of: {', '.join(KINDS)}",
                          file=source, field="distribution.type")
    per = 1 if process_count_per_instance is None else process_count_per_instance
    nodes = 1 if instance_count is None else instance_count
    if per < 1:
        raise InvalidSpec(f"`process_count_per_instance` must be 1 or more, not {per}", "e.g. 2",
                          file=source, field="distribution.process_count_per_instance")
    if nodes < 1:
        raise InvalidSpec(f"`instance_count` must be 1 or more, not {nodes}", "e.g. 1",
                          file=source, field="resources.instance_count")
    return Distribution(kind, per, nodes)
