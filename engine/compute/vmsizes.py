"""Azure ML compute clusters (`AmlCompute`, `compute create --type amlcompute`) mapped onto this machine.

A cluster becomes a `type: local` target that records what was asked (`vm_size`, `min_nodes`,
`max_nodes`, `idle_seconds_before_scaledown`), runs up to `max_nodes` runs at a time
(`max_concurrent_runs`), and asks each run for the GPUs one VM of that size has, as far as this
machine has them. Whatever it cannot honour is said in one line, never refused: a script written
for a GPU cluster still runs here on the CPU. docs/compute.md shows the table.

Plain Python: the SDK, the CLI and the compute manager all call `amlcompute_target`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.entities import BUILTIN_COMPUTE, ComputeTarget
from engine.errors import InvalidSpec
from engine.names import check_name

__all__ = ["AZURE_GPUS", "AmlComputeMapping", "amlcompute_target", "canonical_size", "gpus_of_size"]

# GPUs per VM of the Azure sizes people name in their scripts and job files (lower case, without
# the `standard_` prefix). Sizes of the CPU families (A, B, D, E, F, H, L, M, ...) have none.
AZURE_GPUS: dict[str, int] = {
    # NC: K80
    "nc6": 1,
    "nc12": 2,
    "nc24": 4,
    "nc24r": 4,
    # NCv2: P100
    "nc6s_v2": 1,
    "nc12s_v2": 2,
    "nc24s_v2": 4,
    "nc24rs_v2": 4,
    # NCv3: V100
    "nc6s_v3": 1,
    "nc12s_v3": 2,
    "nc24s_v3": 4,
    "nc24rs_v3": 4,
    # NCasT4_v3: T4
    "nc4as_t4_v3": 1,
    "nc8as_t4_v3": 1,
    "nc16as_t4_v3": 1,
    "nc64as_t4_v3": 4,
    # NC A100 v4 / H100 v5
    "nc24ads_a100_v4": 1,
    "nc48ads_a100_v4": 2,
    "nc96ads_a100_v4": 4,
    "nc40ads_h100_v5": 1,
    "nc80adis_h100_v5": 2,
    # ND: P40, V100 (NDv2), A100 (NDv4), H100 (NDv5)
    "nd6s": 1,
    "nd12s": 2,
    "nd24s": 4,
    "nd24rs": 4,
    "nd40rs_v2": 8,
    "nd96asr_v4": 8,
    "nd96amsr_a100_v4": 8,
    "nd96isr_h100_v5": 8,
    # NV: M60 (NV, NVv3)
    "nv6": 1,
    "nv12": 2,
    "nv24": 4,
    "nv12s_v3": 1,
    "nv24s_v3": 2,
    "nv48s_v3": 4,
}
# Families without GPUs: A (Av2), B, D (all versions, DS), E, F, H, L, M.
_CPU_FAMILY = re.compile(r"^(a|b|d|ds|e|es|f|fs|fx|h|hb|hc|l|ls|m)\d", re.IGNORECASE)


def canonical_size(vm_size: str) -> str:
    """`STANDARD_NC24S_V3`, `nc24s_v3` -> `Standard_NC24s_v3` (how Azure writes it: the family in
    capitals, the feature letters in lower case, `_v3` versions in lower case, `_A100` in capitals)."""
    bare = re.sub(r"^standard_", "", vm_size.strip(), flags=re.IGNORECASE)
    first, *rest = bare.split("_")
    m = re.fullmatch(r"([A-Za-z]+)(\d+)([A-Za-z-]*)", first)
    head = f"{m.group(1).upper()}{m.group(2)}{m.group(3).lower()}" if m else first.upper()
    tail = [p.lower() if re.fullmatch(r"v\d+", p, re.IGNORECASE) else p.upper() for p in rest]
    return "_".join(["Standard", head, *tail])


def gpus_of_size(vm_size: str) -> int | None:
    """The GPUs one VM of `vm_size` has; None when the size is not in the table."""
    bare = re.sub(r"^standard_", "", vm_size.strip(), flags=re.IGNORECASE).lower()
    if bare in AZURE_GPUS:
        return AZURE_GPUS[bare]
    if _CPU_FAMILY.match(bare):
        return 0
    return None


@dataclass(frozen=True)
class AmlComputeMapping:
    """The target to register, and the one line that says what was not honoured (or "")."""

    target: ComputeTarget
    note: str = ""


def amlcompute_target(
    name: str,
    *,
    vm_size: str | None,
    min_nodes: int = 0,
    max_nodes: int = 4,
    idle_seconds_before_scaledown: int | None = None,
    description: str = "",
    gpus_here: int = 0,
) -> AmlComputeMapping:
    """An Azure ML compute cluster as a local target of this machine, which has `gpus_here` GPUs."""
    check_name(name, "compute target", reserved=BUILTIN_COMPUTE, length_note=False)
    for field, value, least in (("min_nodes", min_nodes, 0), ("max_nodes", max_nodes, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InvalidSpec(
                f"{field} must be a whole number >= {least}, not {value!r}",
                "e.g. max_nodes=4 (at most 4 runs on it at a time here)",
                field=field,
            )
    if min_nodes > max_nodes:
        raise InvalidSpec(
            f"min_nodes ({min_nodes}) is more than max_nodes ({max_nodes})",
            "make min_nodes at most max_nodes",
            field="min_nodes",
        )
    config: dict[str, object] = {
        "max_concurrent_runs": max_nodes,
        "min_nodes": min_nodes,
        "max_nodes": max_nodes,
    }
    if idle_seconds_before_scaledown is not None:
        config["idle_seconds_before_scaledown"] = int(idle_seconds_before_scaledown)
    note = ""
    size = (vm_size or "").strip()
    if size:
        shown = canonical_size(size)
        config["vm_size"] = shown
        wanted = gpus_of_size(size)
        if wanted is None:
            note = (
                f"{shown} is not a VM size Trainyard knows: runs on {name} ask for no GPU "
                "(see docs/compute.md for the sizes it knows)"
            )
        elif wanted > 0:
            given = min(wanted, gpus_here)
            if given:
                config["gpus"] = given
            has = f"{wanted} GPU" + ("s" if wanted > 1 else "")
            if gpus_here == 0:
                note = f"{shown} has {has}; this machine has none, so runs on {name} use the CPU"
            elif gpus_here < wanted:
                note = f"{shown} has {has}; this machine has {gpus_here}, so runs on {name} get {given}"
    kind = f"{config.get('vm_size', 'AmlCompute')} cluster"
    text = description or f"{kind} mapped to this machine (up to {max_nodes} runs at a time)"
    return AmlComputeMapping(ComputeTarget(name, "local", config, text), note)
