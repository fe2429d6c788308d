"""A distributed run's request: how many processes, and how they find each other (`distribution:
{type: pytorch|mpi|tensorflow}` + `resources.instance_count`; the SDK's PyTorchConfiguration,
MpiConfiguration and TensorflowConfiguration). Part of the launch spec; engine.compute.distributed
starts the processes.

Each process writes its own driver log, named as Azure ML names them: `70_driver_log_<rank>.txt`
for pytorch and mpi (rank 0 is the main process), `70_driver_log_worker_<i>.txt` and
`70_driver_log_ps_<i>.txt` for tensorflow (worker 0 is the chief)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidSpec

__all__ = ["KINDS", "Distribution", "make_distribution"]

KINDS = ("pytorch", "mpi", "tensorflow")


@dataclass(frozen=True)
class Distribution:
    """How many processes, and how they find each other."""

    kind: str  # pytorch | mpi | tensorflow
    process_count_per_instance: int = 1
    instance_count: int = 1
    # tensorflow only: the TF_CONFIG cluster's workers and parameter servers (one process each)
    worker_count: int = 0
    parameter_server_count: int = 0

    @property
    def world_size(self) -> int:
        """How many processes the run starts."""
        if self.kind == "tensorflow":
            return self.worker_count + self.parameter_server_count
        return self.process_count_per_instance * self.instance_count

    def role(self, index: int) -> tuple[str, int]:
        """Process `index` (0 .. world_size-1) as (task type, index within its type): tensorflow's
        workers come first, then its parameter servers; every other kind's are ("rank", index)."""
        if self.kind != "tensorflow":
            return "rank", index
        if index < self.worker_count:
            return "worker", index
        return "ps", index - self.worker_count

    def log_name(self, index: int) -> str:
        """The driver log of process `index` (in the run's azureml-logs/)."""
        kind, i = self.role(index)
        return f"70_driver_log_{i}.txt" if kind == "rank" else f"70_driver_log_{kind}_{i}.txt"

    @property
    def main_log_name(self) -> str:
        """The log of the process whose output `job stream` shows (rank 0, or TensorFlow's chief)."""
        return self.log_name(0)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.kind,
            "process_count_per_instance": self.process_count_per_instance,
            "instance_count": self.instance_count,
        }
        if self.kind == "tensorflow":
            d.update(worker_count=self.worker_count, parameter_server_count=self.parameter_server_count)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Distribution:
        return cls(
            d["kind"],
            int(d["process_count_per_instance"]),
            int(d["instance_count"]),
            int(d.get("worker_count") or 0),
            int(d.get("parameter_server_count") or 0),
        )


def make_distribution(
    kind: str,
    process_count_per_instance: int | None,
    instance_count: int | None,
    *,
    worker_count: int | None = None,
    parameter_server_count: int | None = None,
    source: str | None = None,
) -> Distribution:
    """Validate a job's request; InvalidSpec says what to write instead.

    tensorflow: `worker_count` defaults to the instance count (as in Azure ML), and
    `parameter_server_count` to 0."""
    if kind not in KINDS:
        raise InvalidSpec(
            f"unknown distribution type {kind!r}",
            f"one of: {', '.join(KINDS)}",
            file=source,
            field="distribution.type",
        )
    per = 1 if process_count_per_instance is None else process_count_per_instance
    nodes = 1 if instance_count is None else instance_count
    if per < 1:
        raise InvalidSpec(
            f"`process_count_per_instance` must be 1 or more, not {per}",
            "e.g. 2",
            file=source,
            field="distribution.process_count_per_instance",
        )
    if nodes < 1:
        raise InvalidSpec(
            f"`instance_count` must be 1 or more, not {nodes}",
            "e.g. 1",
            file=source,
            field="resources.instance_count",
        )
    if kind != "tensorflow":
        for key, value in (
            ("worker_count", worker_count),
            ("parameter_server_count", parameter_server_count),
        ):
            if value is not None:
                raise InvalidSpec(
                    f"`{key}` is for `type: tensorflow`, not `type: {kind}`",
                    "remove it, or use `process_count_per_instance`",
                    file=source,
                    field=f"distribution.{key}",
                )
        return Distribution(kind, per, nodes)
    workers = nodes if worker_count is None else worker_count
    servers = 0 if parameter_server_count is None else parameter_server_count
    if workers < 1:
        raise InvalidSpec(
            f"`worker_count` must be 1 or more, not {workers}",
            "e.g. worker_count: 2",
            file=source,
            field="distribution.worker_count",
        )
    if servers < 0:
        raise InvalidSpec(
            f"`parameter_server_count` must be 0 or more, not {servers}",
            "e.g. parameter_server_count: 1",
            file=source,
            field="distribution.parameter_server_count",
        )
    return Distribution(kind, 1, nodes, workers, servers)
