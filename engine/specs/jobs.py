"""Job YAML file -> validated JobSpec or SweepSpec, with errors that name the file, the line and
the key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from engine.errors import InvalidSpec, NotFound
from engine.jobs.command import referenced_names
from engine.jobs.datatypes import type_problem
from engine.jobs.spec import (
    LITERAL_TYPES,
    OUTPUT_TYPES,
    SHM_SIZE_HINT,
    DataInput,
    DataOutput,
    JobSpec,
    SweepSpec,
    check_shm_size,
)
from engine.names import NAME_HINT, is_valid_name, parse_reference
from engine.runtime.distribution import make_distribution
from engine.specs import accepted, preview, yamlfile
from engine.specs.early_termination import PolicyError, parse_policy
from engine.specs.environment import spec_from_inline
from engine.specs.explain import explain
from engine.specs.gpus import normalise_gpus
from engine.specs.schema import (
    CodeSpec,
    CommandJobSchema,
    InlineEnvironment,
    InputSpec,
    OutputSpec,
    SweepJobSchema,
)
from engine.specs.search_space import SearchSpaceError, check_algorithm_allows, parse_search_space
from engine.specs.uris import classify, cloud_input_hint, describe_cloud, local_path
from engine.specs.yamlfile import Lines, line_of, load_yaml_with_lines


def load_job(path: str | Path, overrides: list[str] | None = None,
             on_note: Callable[[str], None] | None = None) -> JobSpec | SweepSpec:
    """Read a command-job or sweep-job YAML (Azure ML CLI v2 schema, or its 2021 preview
    spelling). `overrides` are `--set key.sub=value`; `on_note` gets one line for each key read
    as another (engine.specs.preview) or accepted and not used (engine.specs.accepted)."""
    path = Path(path)
    data, lines = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise InvalidSpec("a job file must be a YAML mapping (key: value lines)", file=str(path), line=1)
    for item in overrides or []:
        _apply_override(data, item, str(path))
    notes: list[str] = []
    preview.modernise(data, lines, path, notes.append)
    accepted.set_aside(data, lines, path, notes.append)
    for note in dict.fromkeys(notes):
        (on_note or (lambda _msg: None))(note)
    job_type = data.get("type", "command")
    if job_type == "sweep":
        return load_sweep(data, lines, path)
    if job_type != "command":
        raise InvalidSpec(
            f"job type {job_type!r} is not supported by this version of Trainyard (supported: command, sweep)",
            _OTHER_JOB_TYPES.get(str(job_type), "write a command job (`type: command`) or a sweep job (`type: sweep`)"),
            file=str(path), line=line_of(lines, ("type",)), field="type",
        )
    try:
        job = CommandJobSchema.model_validate(data)
    except ValidationError as exc:
        raise explain(exc, lines, path) from None
    return to_job_spec(job, path, lines)


# What to do instead, for the Azure ML job types Trainyard does not run.
_OTHER_JOB_TYPES = {
    "pipeline": "a pipeline job is read by engine.specs.pipeline.load_pipeline_file (`trainyard job create -f` "
                "reads every type)",
    "automl": "AutoML is not available here: write a command job that trains the model with the library of "
              "your choice (e.g. scikit-learn, LightGBM) and log its metrics",
    "spark": "Spark jobs are not available here: run the script as a command job whose environment has pyspark "
             "(it runs Spark in local mode on this machine)",
    "parallel": "parallel jobs are not available here: run the script as a command job over the data folder",
}


def _apply_override(data: dict[str, Any], item: str, source: str) -> None:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise InvalidSpec(f"--set {item!r}: expected key=value (e.g. inputs.lr=0.01)", file=source)
    value = yamlfile.load(raw) if raw.strip() else ""
    parts = key.strip().split(".")
    target = data
    for part in parts[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            target[part] = nxt
        target = nxt
    target[parts[-1]] = value


def to_job_spec(job: CommandJobSchema, path: Path, lines: Lines) -> JobSpec:
    base = path.parent.resolve()
    code_dir = None
    if job.code is not None:
        local = job.code.local_path if isinstance(job.code, CodeSpec) else job.code
        code_dir = (base / local).resolve()
        if not code_dir.is_dir():
            raise NotFound(f"{path}:{line_of(lines, ('code',))}: the code folder {code_dir} does not exist",
                           "`code:` is relative to the job file")
    inputs: dict[str, Any] = {}
    data_inputs: dict[str, DataInput] = {}
    for name, value in job.inputs.items():
        if not isinstance(value, InputSpec):
            inputs[name] = value
            continue
        resolved = resolve_input(name, value, base, path, lines)
        if isinstance(resolved, DataInput):
            data_inputs[name] = resolved
        elif resolved is not None:
            inputs[name] = resolved
    outputs = _outputs(job, data_inputs, inputs, path, lines)
    interpreter = None
    environment = None
    environment_spec = None
    if isinstance(job.environment, InlineEnvironment):
        inline = job.environment.model_dump(by_alias=True, exclude_none=True)
        environment_spec = spec_from_inline(inline, base, str(path), lines=lines, at=("environment",))
        if environment_spec.kind == "user":
            interpreter = environment_spec.interpreter_path
    elif isinstance(job.environment, str):
        try:
            parse_reference(job.environment)  # resolved at submit; only its form is checked here
        except InvalidSpec as exc:
            raise InvalidSpec(exc.message, exc.hint, file=str(path), line=line_of(lines, ("environment",)),
                              field="environment") from None
        environment = job.environment
    timeout = job.limits.timeout if job.limits else None
    gpus = None
    if job.resources is not None and job.resources.gpus is not None:
        try:
            gpus = normalise_gpus(job.resources.gpus)
        except ValueError as exc:
            raise InvalidSpec(f"`resources.gpus` {job.resources.gpus!r}: {exc}",
                              "e.g. gpus: 1, gpus: all or gpus: \"device=0,1\"", file=str(path),
                              line=line_of(lines, ("resources", "gpus")), field="resources.gpus") from None
    shm_size = None
    if job.resources is not None and job.resources.shm_size is not None:
        try:
            shm_size = check_shm_size(job.resources.shm_size)
        except ValueError as exc:
            raise InvalidSpec(f"`resources.shm_size`: {exc}", SHM_SIZE_HINT, file=str(path),
                              line=line_of(lines, ("resources", "shm_size")), field="resources.shm_size") from None
    distribution = None
    instance_count = job.resources.instance_count if job.resources is not None else 1
    if job.distribution is not None or instance_count != 1:
        if job.distribution is None:
            raise InvalidSpec(f"`resources.instance_count: {instance_count}` needs a `distribution:` that says "
                              "how the processes work together",
                              "add `distribution: {type: pytorch, process_count_per_instance: 1}` (or mpi)",
                              file=str(path), line=line_of(lines, ("resources", "instance_count")),
                              field="resources.instance_count")
        try:
            distribution = make_distribution(job.distribution.type, job.distribution.process_count_per_instance,
                                             instance_count, worker_count=job.distribution.worker_count,
                                             parameter_server_count=job.distribution.parameter_server_count)
        except InvalidSpec as exc:
            loc = tuple(exc.field.split(".")) if exc.field else ("distribution",)
            raise InvalidSpec(exc.message, exc.hint, file=str(path), line=line_of(lines, loc),
                              field=exc.field) from None
    return JobSpec(
        distribution=distribution,
        shm_size=shm_size,
        experiment_name=job.experiment_name or base.name,
        code_dir=code_dir,
        command=job.command,
        name=job.name,
        display_name=job.display_name,
        description=job.description or "",
        tags={k: v for k, v in job.tags.items()},
        inputs=inputs,
        data_inputs=data_inputs,
        outputs=outputs,
        environment_variables={k: yamlfile.env_str(v) for k, v in job.environment_variables.items()},
        compute=job.compute or "local",
        environment=environment,
        interpreter_path=interpreter,
        max_run_duration_seconds=float(timeout) if timeout else None,
        source_file=str(path),
        properties=dict(job.properties),
        environment_spec=environment_spec,
        gpus=gpus,
        instance_type=job.resources.instance_type if job.resources is not None else None,
    )


_LITERAL_CHECKS: dict[str, tuple[tuple[type, ...], str]] = {
    "integer": ((int,), "a whole number"), "number": ((int, float), "a number"),
    "boolean": ((bool,), "true or false"), "string": ((str, int, float, bool), "text"),
}


def resolve_input(name: str, spec: InputSpec, base: Path, path: Path, lines: Lines) -> Any:
    """A literal's value, a DataInput, or None for an optional input that is not given."""
    def error(message: str, hint: str | None, *loc: str) -> InvalidSpec:
        at = ("inputs", name, *loc)
        return InvalidSpec(message, hint, file=str(path), line=line_of(lines, at), field=".".join(at))

    if spec.type in LITERAL_TYPES:
        value = spec.value if spec.value is not None else spec.default
        if value is None:
            if spec.optional:
                return None
            raise error(f"input {name!r} ({spec.type}) has no value", "give it `value:` or `default:`, or "
                        "mark it `optional: true` and put what uses it in a $[[ ... ]] segment of the command")
        kinds, words = _LITERAL_CHECKS[spec.type]
        if isinstance(value, bool) and spec.type in ("integer", "number") or not isinstance(value, kinds):
            key = "value" if spec.value is not None else "default"
            raise error(f"input {name!r} is of type {spec.type}, but its {key} {value!r} is not {words}",
                        f"give {words}, or change `type:`", key)
        return str(value) if spec.type == "string" and not isinstance(value, str) else value
    if spec.path is None:
        if spec.optional:
            return None
        raise error(f"input {name!r} of type {spec.type} needs a `path:`",
                    "give a local path (relative to the job file), azureml:NAME:VERSION, azureml:NAME@latest "
                    "or an http(s) URL; or mark it `optional: true`")
    mode = {"eval_mount": "ro_mount", "eval_download": "download"}.get(spec.mode or "", spec.mode or "ro_mount")
    if mode == "rw_mount":
        raise error(f"input {name!r}: mode rw_mount would let the script change your data",
                    "use `mode: download` for a private writable copy (or ro_mount, the default)", "mode")
    p = spec.path
    kind = classify(p)
    if kind == "cloud":
        raise InvalidSpec(f"input {name!r} is in {describe_cloud(p)} ({p}), which this machine does not reach",
                          cloud_input_hint(name), file=str(path), line=line_of(lines, ("inputs", name, "path")),
                          field=f"inputs.{name}.path")
    if kind == "http":
        return DataInput(spec.type, p, mode)
    if kind == "azureml_asset":
        ref = p.removeprefix("azureml:")
        asset, sep, version = ref.partition(":")
        if "@" in asset:
            asset, _, label = asset.partition("@")
            if label != "latest" or sep:
                raise error(f"input {name!r}: {p!r} names the label {label!r}", "use azureml:NAME@latest or "
                            "azureml:NAME:VERSION", "path")
        elif not sep or not version.isdigit():
            raise error(f"input {name!r}: {p!r} does not say which version",
                        "use azureml:NAME:VERSION (a number) or azureml:NAME@latest", "path")
        if not asset:
            raise error(f"input {name!r}: {p!r} names no asset", "use azureml:NAME:VERSION or azureml:NAME@latest",
                        "path")
        return DataInput(spec.type, p, mode)  # resolved at submit (engine.data.resolve)
    local = (base / local_path(p)).resolve()
    if not local.exists():
        raise NotFound(f"{path}:{line_of(lines, ('inputs', name, 'path'))}: input {name!r}: {local} does not exist",
                       "paths are relative to the job file")
    problem = type_problem(spec.type, local)
    if problem is not None:
        raise error(f"input {name!r}: {local} {problem}", "fix `type:` or `path:`", "type")
    return DataInput(spec.type, str(local), mode)


def _outputs(job: CommandJobSchema, data_inputs: dict[str, DataInput], inputs: dict[str, Any], path: Path,
             lines: Lines) -> dict[str, DataOutput]:
    outputs: dict[str, DataOutput] = {}
    registered: dict[tuple[str, int | None], str] = {}
    collected: dict[str, str] = {}
    for name, spec in job.outputs.items():
        def error(message: str, hint: str | None, *loc: str) -> InvalidSpec:
            at = ("outputs", name, *loc)  # noqa: B023 - used at once, in this iteration
            return InvalidSpec(message, hint, file=str(path), line=line_of(lines, at), field=".".join(at))

        spec = spec or OutputSpec()
        if name in data_inputs or name in inputs:
            raise error(f"{name!r} is both an input and an output", "give the output another name")
        if spec.type not in OUTPUT_TYPES:
            raise error(f"output {name!r}: type {spec.type} is not an output type here",
                        f"use one of {', '.join(OUTPUT_TYPES)}", "type")
        if spec.mode == "direct":
            raise error(f"output {name!r}: mode direct is not available for outputs",
                        "use rw_mount (the default) or upload", "mode")
        rel = f"outputs/{name}"
        if spec.path is not None:
            problem = (f"in {describe_cloud(spec.path)}" if classify(spec.path) == "cloud" else
                       "an absolute path" if PurePosixPath(spec.path).is_absolute() else None)
            parts = PurePosixPath(spec.path).parts
            if problem is None and (".." in parts or not parts):
                problem = "a path that leaves the run's folder"
            if problem is not None:
                raise error(f"output {name!r}: `path: {spec.path}` is {problem}; an output is collected into "
                            "the run's folder", "give a path inside the run (e.g. outputs/model), or leave "
                            "`path:` out (outputs/NAME)", "path")
            rel = str(PurePosixPath(*[p for p in parts if p != "."]))
        if rel in collected:
            raise error(f"outputs {collected[rel]!r} and {name!r} are both collected at {rel}",
                        "give each output its own `path:`", "path")
        collected[rel] = name
        version: int | None = None
        if spec.version is not None:
            if spec.name is None:
                raise error(f"output {name!r} has a `version:` but no `name:` to register it under",
                            "add `name:`, or remove `version:`", "version")
            if not str(spec.version).isdigit() or int(spec.version) < 1:
                raise error(f"output {name!r}: version {spec.version!r} is not a positive whole number",
                            "give e.g. `version: 1`, or leave it out for the next version", "version")
            version = int(spec.version)
        if spec.name is not None:
            if not is_valid_name(spec.name):
                raise error(f"output {name!r}: {spec.name!r} is not a valid asset name", NAME_HINT, "name")
            key = (spec.name, version)
            if key in registered:
                raise error(f"outputs {registered[key]!r} and {name!r} would both register {spec.name!r}"
                            + (f" version {version}" if version is not None else ""),
                            "give each output its own `name:` (or versions)", "name")
            registered[key] = name
        outputs[name] = DataOutput(type=spec.type, mode=spec.mode or "rw_mount", path=rel,
                                   asset_name=spec.name, asset_version=version, description=spec.description or "")
    return outputs


# ---------------------------------------------------------------------------------------- sweeps
DEFAULT_MAX_TOTAL_TRIALS = 20
DEFAULT_MAX_CONCURRENT_TRIALS = 4


def load_sweep(data: dict[str, Any], lines: Lines, path: Path) -> SweepSpec:
    try:
        job = SweepJobSchema.model_validate(data)
    except ValidationError as exc:
        raise explain(exc, lines, path, root=SweepJobSchema) from None

    def error(exc: SearchSpaceError | PolicyError, at: str) -> InvalidSpec:
        loc = (at, *exc.path)
        return InvalidSpec(exc.message, exc.hint, file=str(path), line=line_of(lines, loc),
                           field=".".join(str(p) for p in loc))

    algorithm = job.sampling_algorithm if isinstance(job.sampling_algorithm, str) else job.sampling_algorithm.type
    seed = None if isinstance(job.sampling_algorithm, str) else job.sampling_algorithm.seed
    try:
        space = parse_search_space(job.search_space)
        check_algorithm_allows(algorithm, space)
    except SearchSpaceError as exc:
        raise error(exc, "search_space") from None
    try:
        policy = parse_policy(job.early_termination)
    except PolicyError as exc:
        raise error(exc, "early_termination") from None
    if policy is not None and algorithm == "bayesian":
        raise InvalidSpec("bayesian sampling learns from every trial's final result, so it takes no "
                          "early termination policy (as in Azure ML)",
                          "remove `early_termination:`, or use `sampling_algorithm: random`",
                          file=str(path), line=line_of(lines, ("early_termination",)), field="early_termination")
    referenced = {n for kind, n in referenced_names(job.trial.command) if kind == "search_space"}
    unknown = sorted(referenced - set(space))
    if unknown:
        raise InvalidSpec(f"trial.command refers to search_space.{unknown[0]}, which is not defined "
                          f"(defined: {', '.join(sorted(space)) or 'none'})",
                          f"add `{unknown[0]}:` under `search_space:` or fix the reference",
                          file=str(path), line=line_of(lines, ("trial", "command")), field="trial.command")
    limits = job.limits
    max_total = limits.max_total_trials if limits and limits.max_total_trials is not None else DEFAULT_MAX_TOTAL_TRIALS
    max_concurrent = (limits.max_concurrent_trials if limits and limits.max_concurrent_trials is not None
                      else DEFAULT_MAX_CONCURRENT_TRIALS)
    for key, value in (("max_total_trials", max_total), ("max_concurrent_trials", max_concurrent),
                       ("timeout", limits.timeout if limits else None),
                       ("trial_timeout", limits.trial_timeout if limits else None)):
        if value is not None and value <= 0:
            raise InvalidSpec(f"`limits.{key}` must be positive, found {value!r}", "give a number above 0",
                              file=str(path), line=line_of(lines, ("limits", key)), field=f"limits.{key}")

    # The trial is a command job: read it as one, with the sweep's names, inputs and compute, so
    # that code, environment and inputs resolve (and fail) exactly as a command job's do.
    trial = job.trial
    command_job = CommandJobSchema.model_validate({
        **{k: v for k, v in data.items() if k in ("name", "display_name", "experiment_name", "description",
                                                   "tags", "inputs", "outputs", "compute", "properties", "resources")},
        **{k: v for k, v in (data.get("trial") or {}).items()},
        "type": "command",
    })
    trial_lines = {**lines, **{k[1:]: v for k, v in lines.items() if k[:1] == ("trial",)}}
    spec = to_job_spec(command_job, path, trial_lines)
    spec = replace(spec, name=None, max_run_duration_seconds=float(limits.trial_timeout)
                   if limits and limits.trial_timeout else None)
    del trial
    return SweepSpec(
        trial=spec,
        search_space=space,
        primary_metric=job.objective.primary_metric,
        goal=job.objective.goal,
        sampling_algorithm=algorithm,
        seed=seed,
        max_total_trials=int(max_total),
        max_concurrent_trials=int(max_concurrent),
        timeout_seconds=float(limits.timeout) if limits and limits.timeout else None,
        trial_timeout_seconds=float(limits.trial_timeout) if limits and limits.trial_timeout else None,
        early_termination=policy,
        name=job.name,
    )
