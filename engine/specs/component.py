"""Command component YAML (Azure ML CLI v2 `commandComponent`) -> ComponentSpec, with errors that
name the file, the line and the key. A component file is read for `trainyard component create -f`
and for a pipeline step's `component: ./file.yml`; a step's inline `component:` mapping the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.errors import InvalidSpec
from engine.jobs.command import referenced_names
from engine.jobs.pipeline import ComponentInput, ComponentSpec
from engine.jobs.spec import LITERAL_TYPES
from engine.specs.explain import explain
from engine.specs.jobs import to_job_spec
from engine.specs.pipelineschema import ComponentYamlSchema
from engine.specs.schema import CommandJobSchema
from engine.specs.yamlfile import Lines, line_of, load_yaml_with_lines

__all__ = ["load_component", "load_component_file"]


def load_component_file(path: str | Path) -> ComponentSpec:
    """Read a command component YAML file."""
    path = Path(path)
    data, lines = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise InvalidSpec(
            "a component file must be a YAML mapping (key: value lines)", file=str(path), line=1
        )
    return load_component(data, path, lines)


def load_component(
    data: dict[str, Any], path: Path, lines: Lines | None = None, at: tuple[Any, ...] = ()
) -> ComponentSpec:
    """`data` (a component mapping found at `at` in the file `path`) -> ComponentSpec. Relative
    paths (code, conda files) are relative to `path`'s folder."""
    lines = lines or {}
    sub = {k[len(at) :]: v for k, v in lines.items() if k[: len(at)] == at}
    kind = data.get("type", "command")
    if kind != "command":
        raise InvalidSpec(
            f"component type {kind!r} is not supported by this version of Trainyard (command components are)",
            "write a command component (`type: command`)",
            file=str(path),
            line=line_of(lines, (*at, "type")),
            field=".".join((*map(str, at), "type")),
        )
    try:
        comp = ComponentYamlSchema.model_validate(data)
    except ValidationError as exc:
        raise explain(exc, sub, path, root=ComponentYamlSchema) from None
    job = CommandJobSchema.model_validate(
        {
            "command": comp.command,
            "code": comp.code,
            "environment": comp.environment,
            "environment_variables": comp.environment_variables,
            "outputs": {n: (o.model_dump(exclude_none=True) if o else None) for n, o in comp.outputs.items()},
            "resources": comp.resources,
            "distribution": comp.distribution,
            "experiment_name": "component",
        }
    )
    spec = to_job_spec(job, path, sub)
    inputs: dict[str, ComponentInput] = {}
    for name, inp in comp.inputs.items():
        if (
            inp.type in LITERAL_TYPES
            and inp.default is not None
            and inp.enum is not None
            and inp.default not in inp.enum
        ):
            raise InvalidSpec(
                f"input {name!r}: its default {inp.default!r} is not one of its enum values",
                "fix `default:` or `enum:`",
                file=str(path),
                line=line_of(sub, ("inputs", name, "default")),
                field=f"inputs.{name}.default",
            )
        inputs[name] = ComponentInput(
            inp.type,
            inp.default if inp.default is not None else inp.value,
            bool(inp.optional),
            tuple(inp.enum) if inp.enum is not None else None,
            inp.description or "",
            inp.min,
            inp.max,
        )
    for kind_, ref in referenced_names(comp.command):
        table = inputs if kind_ == "inputs" else spec.outputs if kind_ == "outputs" else None
        if table is not None and ref not in table:
            raise InvalidSpec(
                f"the command refers to {kind_}.{ref}, which the component does not declare "
                f"(declared: {', '.join(sorted(table)) or 'none'})",
                f"add `{ref}:` under `{kind_}:` or fix the reference",
                file=str(path),
                line=line_of(sub, ("command",)),
                field="command",
            )
    return ComponentSpec(
        name=comp.name or (at[-1] if at else path.stem),
        command=comp.command,
        version=str(comp.version) if comp.version is not None else None,
        display_name=comp.display_name,
        description=comp.description or "",
        tags={k: v for k, v in comp.tags.items()},
        inputs=inputs,
        outputs=spec.outputs,
        code_dir=spec.code_dir,
        environment=spec.environment,
        environment_spec=spec.environment_spec,
        environment_variables=spec.environment_variables,
        is_deterministic=comp.is_deterministic is not False,
        source_file=str(path),
        gpus=spec.gpus,
        shm_size=spec.shm_size,
        instance_type=spec.instance_type,
        distribution=spec.distribution,
    )
