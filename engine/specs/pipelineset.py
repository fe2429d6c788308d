"""`--set KEY=VALUE` on a pipeline job file, as `az ml job create --set` takes it: a dotted path
into the YAML mapping (`inputs.raw.path=./other`, `settings.default_compute=gpu-box`,
`jobs.train.compute=local`, `jobs.train.environment_variables.SEED=1`, `display_name=...`).

The value is read as YAML (`true`, `3`, `{a: 1}`), as for command jobs. Unlike a command job's
`--set`, which makes whatever it names, a pipeline's is checked against what a pipeline has, so
that a misspelt step or key is an error naming it (and what exists) before anything is submitted:
a wrong path would otherwise add a step-less key or a new, empty step.
"""

from __future__ import annotations

from typing import Any

from engine.errors import InvalidSpec
from engine.specs import yamlfile
from engine.specs.pipelineschema import (
    CommandStepSchema,
    PipelineJobSchema,
    PipelineSettingsSchema,
    SweepStepSchema,
)

__all__ = ["apply_pipeline_overrides"]

_TEXT_KEYS = ("name", "display_name", "experiment_name", "description", "compute")
_EXAMPLE = "e.g. --set settings.default_compute=local or --set jobs.STEP.compute=local"


def apply_pipeline_overrides(data: dict[str, Any], overrides: list[str], source: str) -> None:
    """Apply each `KEY=VALUE` of `overrides` to `data` (a pipeline job's mapping, changed in place);
    an InvalidSpec names the first that does not fit the pipeline."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        parts = key.split(".")
        if not sep or not key or not all(parts):
            raise InvalidSpec(f"--set {item!r}: expected KEY=VALUE", _EXAMPLE, file=source)
        _check_path(data, parts, key, source)
        value = yamlfile.load(raw) if raw.strip() else ""
        target = data
        for i, part in enumerate(parts[:-1]):
            nxt = target.get(part)
            if nxt is None:
                nxt = target[part] = {}
            elif not isinstance(nxt, dict):
                where = ".".join(parts[: i + 1])
                raise InvalidSpec(
                    f"--set {key}: {where} is {nxt!r} in the file, not a mapping, so it has no {parts[i + 1]!r}",
                    f"set {where} itself (--set {where}=VALUE)",
                    file=source,
                    field=key,
                )
            target = nxt
        target[parts[-1]] = value


def _check_path(data: dict[str, Any], parts: list[str], key: str, source: str) -> None:
    def error(message: str, hint: str) -> InvalidSpec:
        return InvalidSpec(f"--set {key}: {message}", hint, file=source, field=key)

    top = parts[0]
    if top not in PipelineJobSchema.model_fields or top in ("type", "schema_"):
        settable = sorted(set(PipelineJobSchema.model_fields) - {"type", "schema_"})
        raise error(f"a pipeline job has no key {top!r} that --set can change", f"keys: {', '.join(settable)}")
    if top == "jobs" and len(parts) == 1:
        raise error("the steps cannot be replaced as a whole", "set a step's key: --set jobs.STEP.KEY=VALUE")
    if top in _TEXT_KEYS and len(parts) > 1:
        raise error(f"{top} is text, not a mapping", f"set it as a whole: --set {top}=VALUE")
    if top == "settings" and len(parts) > 1 and parts[1] not in PipelineSettingsSchema.model_fields:
        raise error(
            f"a pipeline's settings have no {parts[1]!r}",
            f"settings: {', '.join(PipelineSettingsSchema.model_fields)}",
        )
    if top != "jobs":
        return
    written_steps = data.get("jobs")
    steps: dict[str, Any] = written_steps if isinstance(written_steps, dict) else {}
    step = parts[1]
    if step not in steps:
        raise error(
            f"the pipeline has no step {step!r} (steps: {', '.join(steps) or 'none'})",
            "fix the step's name: --set jobs.STEP.KEY=VALUE changes a step written in the file",
        )
    if len(parts) == 2:
        raise error(f"this would replace step {step!r} as a whole", f"set one of its keys (--set jobs.{step}.compute=...)")
    written = steps[step] if isinstance(steps[step], dict) else {}
    schema = SweepStepSchema if written.get("type") == "sweep" else CommandStepSchema
    if parts[2] not in schema.model_fields:
        kind = "sweep" if schema is SweepStepSchema else "command"
        raise error(
            f"a {kind} step has no key {parts[2]!r}",
            f"keys of a {kind} step: {', '.join(sorted(schema.model_fields))}",
        )
