"""Two runs side by side: what differs between them, differences first (`trainyard job diff`, and
the studio's Compare).

Sections: code (the snapshot diff), environment (reference, lock ids, and the packages added,
removed and changed between the two runs' locks), parameters (logged params, inputs, command and
arguments), compute (target, instance, GPUs). Each section lists its differing fields first,
then how many fields are the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine import entities as E
from engine.environments.lock import Lock, PackageChange, diff_packages
from engine.errors import NotFound
from engine.snapshots.diff import SnapshotDiff

__all__ = ["FieldDiff", "RunDiff", "diff_runs"]

#: The run properties that describe where a run ran (the compute section).
COMPUTE_PROPERTIES = (
    "host",
    "instance_type",
    "instance_count",
    "gpus_assigned",
    "gpu_model",
    "image",
    "interpreter",
    "distribution",
)


@dataclass(frozen=True)
class FieldDiff:
    section: str  # parameters | inputs | command | compute | environment
    key: str
    a: Any
    b: Any

    def to_dict(self) -> dict[str, Any]:
        return {"section": self.section, "key": self.key, "a": self.a, "b": self.b}


@dataclass(frozen=True)
class RunDiff:
    a: str
    b: str
    fields: tuple[FieldDiff, ...]  # only the differing ones
    same: dict[str, int]  # per section, how many fields are equal
    packages: tuple[PackageChange, ...]
    locks: tuple[str | None, str | None]
    code: SnapshotDiff | None
    code_note: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def identical(self) -> bool:
        return not self.fields and not self.packages and not (self.code and self.code.changes)

    def to_dict(self) -> dict[str, Any]:
        code: dict[str, Any] = (
            {"note": self.code_note}
            if self.code is None
            else {
                "old_snapshot": self.code.old_id,
                "new_snapshot": self.code.new_id,
                "unchanged_files": self.code.unchanged,
                "changes": [
                    {
                        "path": c.path,
                        "change": c.change,
                        "added_lines": c.added_lines,
                        "removed_lines": c.removed_lines,
                        "diff": c.diff,
                    }
                    for c in self.code.changes
                ],
            }
        )
        return {
            "a": self.a,
            "b": self.b,
            "identical": self.identical,
            "differences": [f.to_dict() for f in self.fields],
            "environment": {
                "lock_a": self.locks[0],
                "lock_b": self.locks[1],
                "packages": [c.to_dict() for c in self.packages],
            },
            "code": code,
            "same": self.same,
            "notes": list(self.notes),
        }


def _compare(
    section: str, a: dict[str, Any], b: dict[str, Any], out: list[FieldDiff], same: dict[str, int]
) -> None:
    for key in sorted(a.keys() | b.keys()):
        va, vb = a.get(key), b.get(key)
        if va == vb:
            same[section] = same.get(section, 0) + 1
        else:
            out.append(FieldDiff(section, key, va, vb))


def diff_runs(
    a: E.Run,
    b: E.Run,
    lock_a: Lock | None,
    lock_b: Lock | None,
    code: SnapshotDiff | None,
    code_note: str = "",
) -> RunDiff:
    """The differences from run ``a`` to run ``b`` (their locks and code diff already read)."""
    fields: list[FieldDiff] = []
    same: dict[str, int] = {}
    notes: list[str] = []
    _compare(
        "command",
        {"command": a.command, "arguments": list(a.arguments)},
        {"command": b.command, "arguments": list(b.arguments)},
        fields,
        same,
    )
    _compare("parameters", dict(a.params), dict(b.params), fields, same)
    _compare(
        "inputs",
        {k: _plain(v) for k, v in a.inputs.items()},
        {k: _plain(v) for k, v in b.inputs.items()},
        fields,
        same,
    )
    _compare(
        "compute",
        {"compute": a.compute, **{k: a.properties.get(k) for k in COMPUTE_PROPERTIES}},
        {"compute": b.compute, **{k: b.properties.get(k) for k in COMPUTE_PROPERTIES}},
        fields,
        same,
    )
    _compare(
        "environment",
        {
            "environment": a.environment,
            "environment_hash": a.properties.get("environment_hash"),
            "lock": lock_a.id if lock_a else None,
        },
        {
            "environment": b.environment,
            "environment_hash": b.properties.get("environment_hash"),
            "lock": lock_b.id if lock_b else None,
        },
        fields,
        same,
    )
    packages: list[PackageChange] = []
    if lock_a is not None and lock_b is not None:
        packages = diff_packages(lock_a.packages, lock_b.packages)
        if lock_a.image_id != lock_b.image_id:
            fields.append(FieldDiff("environment", "image_id", lock_a.image_id, lock_b.image_id))
    else:
        missing = [r.name for r, lk in ((a, lock_a), (b, lock_b)) if lk is None]
        notes.append(
            f"no environment lock recorded for {', '.join(missing)} (a run from before locks, or one "
            "that never started): packages not compared"
        )
    order = {"environment": 0, "command": 1, "parameters": 2, "inputs": 3, "compute": 4}
    fields.sort(key=lambda f: (order.get(f.section, 9), f.key))
    return RunDiff(
        a.name,
        b.name,
        tuple(fields),
        same,
        tuple(packages),
        (lock_a.id if lock_a else None, lock_b.id if lock_b else None),
        code,
        code_note,
        tuple(notes),
    )


def _plain(value: Any) -> Any:
    """An input's value as comparable data (a data input is a mapping with path/type/version)."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


def code_diff_or_note(snapshot_diff: Any, a: E.Run, b: E.Run) -> tuple[SnapshotDiff | None, str]:
    """The code diff of two runs, or why there is none (a run without a snapshot, a pruned one)."""
    if a.snapshot_id is None or b.snapshot_id is None:
        return None, "a run has no code snapshot: code not compared"
    if a.snapshot_id == b.snapshot_id:
        return None, f"same code snapshot {a.snapshot_id}"
    try:
        return snapshot_diff(a.name, b.name), ""
    except NotFound as exc:
        return None, f"code not compared: {exc.message}"
