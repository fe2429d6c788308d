"""Pipeline job YAML (`type: pipeline`, Azure ML CLI v2) -> PipelineSpec, with errors that name the
file, the line and the key (the step's, for a step).

Each `type: command` step is read as a command job is (engine.specs.jobs), after taking out the
inputs bound to the pipeline (`${{parent.inputs.x}}`, `${{parent.jobs.STEP.outputs.y}}`); a step
with `component:` takes its command, code, environment, inputs and outputs from the component
(`./file.yml`, inline, or `azureml:NAME@latest|:VERSION`, resolved at submit). `type: sweep` steps
are read as sweep jobs. Other step types are refused, naming the step and its line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.errors import InvalidSpec
from engine.jobs.command import referenced_names
from engine.jobs.pipeline import (
    Binding,
    ComponentSpec,
    PipelineSettings,
    PipelineSpec,
    StepSpec,
    parse_binding,
)
from engine.jobs.spec import LITERAL_TYPES, DataInput, DataOutput, JobSpec, SweepSpec
from engine.names import is_valid_name
from engine.specs.component import load_component, load_component_file
from engine.specs.explain import explain
from engine.specs.jobs import load_job, load_sweep, resolve_input, to_job_spec
from engine.specs.pipelineschema import CommandStepSchema, PipelineJobSchema, SweepStepSchema
from engine.specs.pipelineset import apply_pipeline_overrides
from engine.specs.schema import CommandJobSchema, InputSpec, OutputSpec
from engine.specs.uris import local_path
from engine.specs.yamlfile import Lines, line_of, load_yaml_with_lines

# re-exported: the SDK builders and the studio import the pipeline's types from here
__all__ = [
    "Binding",
    "PipelineSettings",
    "PipelineSpec",
    "StepSpec",
    "load_any_job",
    "load_pipeline",
    "load_pipeline_file",
]

_REFUSED_STEPS = {
    "parallel": "run the script as a command step over the data folder",
    "spark": "run the script as a command step whose environment has pyspark (Spark's local mode)",
    "automl": "write a command step that trains the model with the library of your choice",
    "pipeline": "nested pipeline components are not available yet: put their steps into this pipeline",
}


def load_pipeline_file(path: str | Path) -> PipelineSpec:
    """Read a pipeline job YAML file."""
    path = Path(path)
    data, lines = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise InvalidSpec("a job file must be a YAML mapping (key: value lines)", file=str(path), line=1)
    return load_pipeline(data, path.parent, str(path), lines=lines)


def load_pipeline(
    data: dict[str, Any], base_dir: Path, source: str | None = None, *, lines: Lines | None = None
) -> PipelineSpec:
    """A pipeline job mapping (as the YAML gives it) -> PipelineSpec. Relative paths are relative
    to `base_dir`; `source` (the file) and `lines` (its line map) go into error messages."""
    lines = lines or {}
    path = Path(source) if source else Path(base_dir) / "pipeline.yml"
    if Path(base_dir).resolve() != path.parent.resolve():
        path = Path(base_dir) / path.name  # relative paths follow base_dir
    where = str(source) if source else None
    try:
        job = PipelineJobSchema.model_validate(data)
    except ValidationError as exc:
        raise explain(exc, lines, path, root=PipelineJobSchema) from None
    if not job.jobs:
        raise InvalidSpec(
            "the pipeline has no steps",
            "add steps under `jobs:`",
            file=where,
            line=line_of(lines, ("jobs",)),
            field="jobs",
        )
    inputs: dict[str, Any] = {}
    for name, value in job.inputs.items():
        if isinstance(value, InputSpec):
            resolved = resolve_input(name, value, path.parent.resolve(), path, lines)
            if resolved is not None:
                inputs[name] = resolved
        else:
            inputs[name] = value
    outputs = {
        n: DataOutput(
            type=o.type if o else "uri_folder",
            mode=(o.mode if o and o.mode else "rw_mount"),
            asset_name=o.name if o else None,
            asset_version=int(o.version) if o and o.version is not None else None,
            description=(o.description or "") if o else "",
        )
        for n, o in job.outputs.items()
    }
    s = job.settings
    settings = PipelineSettings(
        default_compute=(s.default_compute if s and s.default_compute else job.compute),
        default_datastore=s.default_datastore if s else None,
        continue_on_step_failure=not (s is not None and s.continue_on_step_failure is False),
        force_rerun=bool(s and s.force_rerun),
    )
    steps: dict[str, StepSpec] = {}
    for name, step_data in job.jobs.items():
        try:
            steps[name] = _step(name, step_data, path, lines)
        except InvalidSpec as exc:
            raise _in_step(exc, name) from None
    pipeline = PipelineSpec(
        experiment_name=job.experiment_name or Path(base_dir).resolve().name,
        steps=steps,
        name=job.name,
        display_name=job.display_name,
        description=job.description or "",
        tags=dict(job.tags),
        inputs=inputs,
        outputs=outputs,
        settings=settings,
        source_file=where,
        properties=dict(job.properties),
    )
    _check_bindings(pipeline, lines)
    return pipeline


def _in_step(exc: InvalidSpec, step: str) -> InvalidSpec:
    """`exc`, raised while reading one step, naming that step."""
    raw = exc.message
    prefix = f"{exc.file}:{exc.line}: " if exc.file and exc.line else f"{exc.file}: " if exc.file else ""
    raw = raw.removeprefix(prefix)
    if raw.startswith(f"step {step!r}"):
        return exc
    field = f"jobs.{step}.{exc.field}" if exc.field and not exc.field.startswith("jobs.") else exc.field
    return InvalidSpec(f"step {step!r}: {raw}", exc.hint, file=exc.file, line=exc.line, field=field)


def _step(name: str, data: dict[str, Any], path: Path, lines: Lines) -> StepSpec:
    at = ("jobs", name)
    sub = {k[2:]: v for k, v in lines.items() if k[:2] == at}
    line = line_of(lines, at)
    if not is_valid_name(name):
        raise InvalidSpec(
            f"{name!r} is not a valid step name",
            "use letters, digits, '-' and '_'",
            file=str(path),
            line=line,
            field=f"jobs.{name}",
        )
    kind = data.get("type", "command")
    if kind in _REFUSED_STEPS or kind not in ("command", "sweep"):
        raise InvalidSpec(
            f"step {name!r} is a {kind} step, which this version of Trainyard does not run "
            "(command and sweep steps are)",
            _REFUSED_STEPS.get(str(kind), "use `type: command` or `type: sweep`"),
            file=str(path),
            line=line_of(lines, (*at, "type")),
            field=f"jobs.{name}.type",
        )
    if kind == "sweep":
        return _sweep_step(name, data, path, sub, line)
    try:
        step = CommandStepSchema.model_validate(data)
    except ValidationError as exc:
        raise explain(exc, sub, path, root=CommandStepSchema) from None
    component: ComponentSpec | None = None
    ref: str | None = None
    comp_data: dict[str, Any] = {}  # the component's mapping as written: its resources, distribution
    if isinstance(step.component, str):
        ref = step.component
        if not ref.startswith("azureml:"):
            comp_path = (path.parent / local_path(ref)).resolve()  # `file:./c.yml` as az ml takes it
            if not comp_path.is_file():
                raise InvalidSpec(
                    f"the component file {comp_path} does not exist",
                    "`component:` is relative to the pipeline file (or azureml:NAME@latest)",
                    file=str(path),
                    line=line_of(sub, ("component",)),
                    field="component",
                )
            component = load_component_file(comp_path)
            comp_data = load_yaml_with_lines(comp_path)[0]
    elif step.component is not None:
        component = load_component(data["component"], path, {**sub}, ("component",))
        comp_data = data["component"]
    if component is None and ref is None and step.command is None:
        raise InvalidSpec(
            "the step has neither `command:` nor `component:`",
            "give the command to run, or `component: ./component.yml`",
            file=str(path),
            line=line,
            field="command",
        )
    if (component is not None or ref is not None) and (step.command is not None or step.code is not None):
        raise InvalidSpec(
            "the step has both a `component:` and its own `command:`/`code:`",
            "keep one: the component's command runs",
            file=str(path),
            line=line_of(sub, ("command",) if step.command else ("code",)),
            field="command",
        )
    bindings, plain_inputs = _split_inputs(step.inputs, sub, path)
    outputs, to_parent = _split_outputs(step.outputs)
    resources = {**(comp_data.get("resources") or {}), **(data.get("resources") or {})}
    own_count: int | None = None
    if component is None and ref is not None:
        # a registered component's distribution is known at submit (engine.jobs.pipeline.with_component)
        own_count = (data.get("resources") or {}).get("instance_count")
        if not data.get("distribution"):
            resources.pop("instance_count", None)
    job_dict: dict[str, Any] = {
        "command": step.command or (component.command if component else "true"),
        "code": step.code,
        "inputs": plain_inputs,
        "outputs": outputs,
        "environment": step.environment,
        "environment_variables": step.environment_variables,
        "compute": step.compute,
        # the step's resources override the component's key by key, its distribution as a whole (az ml)
        "resources": resources or None,
        "distribution": data.get("distribution") or comp_data.get("distribution"),
        "limits": step.limits,
        "experiment_name": "pipeline",
    }
    try:
        command_job = CommandJobSchema.model_validate(job_dict)
    except ValidationError as exc:
        raise explain(exc, sub, path) from None
    spec = to_job_spec(command_job, path, sub)
    inputs: dict[str, Any] = {**spec.inputs, **spec.data_inputs, **bindings}
    step_outputs = dict(spec.outputs)
    if component is not None:
        inputs = _component_inputs(name, component, inputs, path, sub)
        step_outputs = {
            **component.outputs,
            **{
                n: o
                for n, o in spec.outputs.items()
                if n in step.outputs and step.outputs[n] is not None and not isinstance(step.outputs[n], str)
            },
        }
        for out in step.outputs:
            if out not in component.outputs:
                raise InvalidSpec(
                    f"the step sets output {out!r}, which its component {component.name!r} does "
                    f"not declare (declared: {', '.join(sorted(component.outputs)) or 'none'})",
                    "fix the output's name",
                    file=str(path),
                    line=line_of(sub, ("outputs", out)),
                    field=f"outputs.{out}",
                )
    else:
        for kind_, ref_name in referenced_names(spec.command or ""):
            table = inputs if kind_ == "inputs" else step_outputs if kind_ == "outputs" else None
            if table is not None and ref_name not in table:
                raise InvalidSpec(
                    f"the command refers to {kind_}.{ref_name}, which the step does not define "
                    f"(defined: {', '.join(sorted(table)) or 'none'})",
                    f"add `{ref_name}:` under the step's `{kind_}:` or fix the reference",
                    file=str(path),
                    line=line_of(sub, ("command",)),
                    field="command",
                )
    deterministic = (
        step.is_deterministic
        if step.is_deterministic is not None
        else (component.is_deterministic if component is not None else True)
    )
    return StepSpec(
        name=name,
        kind="command",
        component=ref
        if ref is not None
        else (component.source_file if component is not None and isinstance(step.component, str) else None),
        component_spec=component,
        display_name=step.display_name or name,
        description=step.description or (component.description if component else ""),
        tags={k: v for k, v in step.tags.items()},
        command=component.command if component is not None else spec.command,
        code_dir=component.code_dir if component is not None else spec.code_dir,
        inputs=inputs,
        outputs=step_outputs,
        to_parent=to_parent,
        compute=step.compute,
        environment=spec.environment or (component.environment if component else None),
        environment_spec=spec.environment_spec or (component.environment_spec if component else None),
        environment_variables={
            **(component.environment_variables if component else {}),
            **spec.environment_variables,
        },
        gpus=spec.gpus,
        shm_size=spec.shm_size,
        instance_type=spec.instance_type,
        distribution=spec.distribution,
        instance_count=own_count,
        timeout_seconds=spec.max_run_duration_seconds,
        is_deterministic=deterministic,
        line=line,
    )


def _split_inputs(given: dict[str, Any], sub: Lines, path: Path) -> tuple[dict[str, Binding], dict[str, Any]]:
    """(the inputs bound to the pipeline, the others as a command job's `inputs:`)."""
    bindings: dict[str, Binding] = {}
    plain: dict[str, Any] = {}
    for name, value in given.items():
        if isinstance(value, InputSpec):
            bound = parse_binding(value.path) or parse_binding(value.value)
            if bound is not None:
                bindings[name] = replace(
                    bound, type=value.type if "type" in value.model_fields_set else None, mode=value.mode
                )
                continue
            if isinstance(value.path, str) and "${{" in value.path:
                raise _bad_binding(name, value.path, sub, path, ("inputs", name, "path"))
            plain[name] = value
            continue
        bound = parse_binding(value)
        if bound is not None:
            bindings[name] = bound
        elif isinstance(value, str) and "${{" in value:
            raise _bad_binding(name, value, sub, path, ("inputs", name))
        else:
            plain[name] = value
    for name, b in bindings.items():
        if b.kind == "parent_output":
            raise InvalidSpec(
                f"input {name!r} is bound to {b.text()}, a pipeline output",
                "bind it to a pipeline input (${{parent.inputs.x}}) or to another step's output "
                "(${{parent.jobs.STEP.outputs.y}})",
                file=str(path),
                line=line_of(sub, ("inputs", name)),
                field=f"inputs.{name}",
            )
    return bindings, plain


def _bad_binding(name: str, text: str, sub: Lines, path: Path, loc: tuple[str, ...]) -> InvalidSpec:
    return InvalidSpec(
        f"input {name!r}: {text!r} is not a binding this version of Trainyard reads",
        "use ${{parent.inputs.NAME}} or ${{parent.jobs.STEP.outputs.NAME}}",
        file=str(path),
        line=line_of(sub, loc),
        field=".".join(loc),
    )


def _split_outputs(given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(the outputs as a command job's `outputs:`, step output -> the pipeline output it publishes)."""
    outputs: dict[str, Any] = {}
    to_parent: dict[str, str] = {}
    for name, value in given.items():
        target = value if isinstance(value, str) else None
        if isinstance(value, OutputSpec) and value.path is not None and parse_binding(value.path) is not None:
            target = value.path
            value = value.model_copy(update={"path": None})
        if target is not None:
            bound = parse_binding(target)
            if bound is None or bound.kind != "parent_output":
                raise InvalidSpec(
                    f"output {name!r}: {target!r} is not a pipeline output binding",
                    "write ${{parent.outputs.NAME}}, or give the output's `type:`/`mode:`",
                    field=f"outputs.{name}",
                )
            to_parent[name] = bound.name
            outputs[name] = value.model_dump(exclude_none=True) if isinstance(value, OutputSpec) else None
        else:
            outputs[name] = value.model_dump(exclude_none=True) if isinstance(value, OutputSpec) else None
    return outputs, to_parent


def _component_inputs(
    step: str, comp: ComponentSpec, given: dict[str, Any], path: Path, sub: Lines
) -> dict[str, Any]:
    """The step's inputs: what it gives, else the component's defaults; checked against the
    component's declarations (names, required, enum)."""
    for name in given:
        if name not in comp.inputs:
            raise InvalidSpec(
                f"the step gives input {name!r}, which its component {comp.name!r} does not declare "
                f"(declared: {', '.join(sorted(comp.inputs)) or 'none'})",
                "fix the input's name",
                file=str(path),
                line=line_of(sub, ("inputs", name)),
                field=f"inputs.{name}",
            )
    out: dict[str, Any] = {}
    for name, decl in comp.inputs.items():
        value = given.get(name, decl.default)
        if value is None:
            if decl.optional:
                continue
            raise InvalidSpec(
                f"input {name!r} of component {comp.name!r} is required, and the step gives none",
                f"add `{name}:` under the step's `inputs:`",
                file=str(path),
                line=line_of(sub, ("inputs",)),
                field="inputs",
            )
        if (
            decl.type in LITERAL_TYPES
            and not isinstance(value, (Binding, DataInput))
            and decl.enum is not None
            and value not in decl.enum
        ):
            raise InvalidSpec(
                f"input {name!r} is {value!r}, not one of {list(decl.enum)}",
                "give one of the component's enum values",
                file=str(path),
                line=line_of(sub, ("inputs", name)),
                field=f"inputs.{name}",
            )
        if isinstance(value, Binding) and value.type is None:
            value = replace(value, type=decl.type)
        out[name] = value
    return out


def _sweep_step(name: str, data: dict[str, Any], path: Path, sub: Lines, line: int | None) -> StepSpec:
    try:
        step = SweepStepSchema.model_validate(data)
    except ValidationError as exc:
        raise explain(exc, sub, path, root=SweepStepSchema) from None
    bindings, plain = _split_inputs(step.inputs, sub, path)
    outputs, to_parent = _split_outputs(step.outputs)
    sweep_data: dict[str, Any] = {
        k: v for k, v in data.items() if k not in ("inputs", "outputs", "trial", "is_deterministic")
    }
    if isinstance(step.trial, str):
        comp_path = (path.parent / step.trial).resolve()
        if not comp_path.is_file():
            raise InvalidSpec(
                f"the trial's component file {comp_path} does not exist",
                "`trial:` is relative to the pipeline file",
                file=str(path),
                line=line_of(sub, ("trial",)),
                field="trial",
            )
        comp = load_component_file(comp_path)
        trial: dict[str, Any] = {"command": comp.command}
        if comp.code_dir is not None:
            trial["code"] = str(comp.code_dir)
        if comp.environment is not None:
            trial["environment"] = comp.environment
        comp_data = load_yaml_with_lines(comp_path)[0]  # its resources and distribution, as written
        trial.update({k: comp_data[k] for k in ("resources", "distribution") if comp_data.get(k)})
        if data.get("resources"):
            # as for a command step, the step's resources override the component's key by key
            trial["resources"] = {**(trial.get("resources") or {}), **data["resources"]}
            del sweep_data["resources"]
        defaults = {
            n: d.default
            for n, d in comp.inputs.items()
            if d.default is not None and n not in bindings and n not in plain
        }
        plain = {**defaults, **plain}
        outputs = {**dict.fromkeys(comp.outputs), **outputs}
    else:
        trial = data["trial"]
    sweep_data.update(trial=trial, inputs=plain, outputs=outputs, type="sweep")
    sweep = load_sweep(sweep_data, sub, path)
    if isinstance(step.trial, str) and comp.environment_spec is not None:
        sweep = replace(sweep, trial=replace(sweep.trial, environment_spec=comp.environment_spec))
    t: JobSpec = sweep.trial
    return StepSpec(
        name=name,
        kind="sweep",
        component=step.trial if isinstance(step.trial, str) else None,
        display_name=step.display_name or name,
        description=step.description or "",
        tags={k: v for k, v in step.tags.items()},
        command=t.command,
        code_dir=t.code_dir,
        inputs={**t.inputs, **t.data_inputs, **bindings},
        outputs=dict(t.outputs),
        to_parent=to_parent,
        compute=step.compute,
        environment=t.environment,
        environment_spec=t.environment_spec,
        environment_variables=dict(t.environment_variables),
        gpus=t.gpus,
        shm_size=t.shm_size,
        instance_type=t.instance_type,
        distribution=t.distribution,
        is_deterministic=step.is_deterministic is not False,
        sweep=sweep,
        line=line,
    )


def _check_bindings(p: PipelineSpec, lines: Lines) -> None:
    """Every binding names an input, step and output that exist; no step reads from itself or
    (through others) from a step after it; each pipeline output is published by one step."""

    def error(step: str, message: str, hint: str, *loc: str) -> InvalidSpec:
        at = ("jobs", step, *loc)
        return InvalidSpec(
            f"step {step!r}: {message}", hint, file=p.source_file, line=line_of(lines, at), field=".".join(at)
        )

    published: dict[str, str] = {}
    for step in p.steps.values():
        for inp, b in step.bindings().items():
            if b.kind == "parent_input" and b.name not in p.inputs:
                raise error(
                    step.name,
                    f"input {inp!r} is bound to {b.text()}, but the pipeline has no input "
                    f"{b.name!r} (its inputs: {', '.join(sorted(p.inputs)) or 'none'})",
                    f"add `{b.name}:` under the pipeline's `inputs:`",
                    "inputs",
                    inp,
                )
            if b.kind == "step_output":
                if b.step not in p.steps:
                    raise error(
                        step.name,
                        f"input {inp!r} is bound to {b.text()}, but there is no step "
                        f"{b.step!r} (steps: {', '.join(p.steps)})",
                        "fix the step's name",
                        "inputs",
                        inp,
                    )
                if b.step == step.name:
                    raise error(
                        step.name,
                        f"input {inp!r} is bound to the step's own output",
                        "a step cannot read what it writes",
                        "inputs",
                        inp,
                    )
                producer = p.steps[b.step]
                if b.name not in producer.outputs:
                    raise error(
                        step.name,
                        f"input {inp!r} is bound to {b.text()}, but step {b.step!r} has no "
                        f"output {b.name!r} (its outputs: {', '.join(sorted(producer.outputs)) or 'none'})",
                        "fix the output's name, or declare it under that step's `outputs:`",
                        "inputs",
                        inp,
                    )
        for out, target in step.to_parent.items():
            if target not in p.outputs:
                raise error(
                    step.name,
                    f"output {out!r} is bound to ${{{{parent.outputs.{target}}}}}, but the "
                    f"pipeline has no output {target!r}",
                    f"add `{target}:` under the pipeline's `outputs:`",
                    "outputs",
                    out,
                )
            if target in published:
                raise error(
                    step.name,
                    f"output {out!r} publishes pipeline output {target!r}, which step "
                    f"{published[target]!r} publishes already",
                    "give each pipeline output one step",
                    "outputs",
                    out,
                )
            published[target] = step.name
    order = p.order()
    seen: set[str] = set()
    for name in order:
        if not p.steps[name].upstream() <= seen:
            raise InvalidSpec(
                f"the steps' bindings form a cycle (through step {name!r})",
                "a step can only read the outputs of steps that do not read its own",
                file=p.source_file,
                line=line_of(lines, ("jobs", name)),
                field=f"jobs.{name}",
            )
        seen.add(name)


def load_any_job(
    path: str | Path, overrides: list[str] | None = None, on_note: Callable[[str], None] | None = None
) -> PipelineSpec | JobSpec | SweepSpec:
    """A job file of any type: a PipelineSpec for `type: pipeline` (`overrides` applied by
    engine.specs.pipelineset), else what engine.specs.jobs.load_job reads (a command or sweep job)."""
    path = Path(path)
    data, lines = load_yaml_with_lines(path)
    if isinstance(data, dict) and data.get("type") == "pipeline":
        if overrides:
            apply_pipeline_overrides(data, overrides, str(path))
        return load_pipeline(data, path.parent, str(path), lines=lines)
    return load_job(path, overrides, on_note)
