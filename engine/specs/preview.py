"""The Azure ML CLI v2 preview spellings of 2021 (the seeds' job files), read as today's.

A pre-pass over the raw YAML mapping of a job file, before the schema sees it: each old
spelling is rewritten in place to its current one, the line map follows the moved values (so
later errors still name the line the user wrote), and one note per rewrite says what was read
as what. `--set` overrides are applied before this pass, so `--set compute.target=local` works
on either spelling, and a value given with `--set` (it has no line) wins over the file's.

May 2021 (the seed)                           today
  type: sweep_job / command_job                 type: sweep / command
  code: {local_path: src}                       code: src
  {inputs.x} / {search_space.x} in command     ${{inputs.x}} / ${{search_space.x}}
  inputs.x: {data: {path|local_path}, mode}     inputs.x: {type, path, mode}  (mount -> ro_mount)
  inputs.x: {data: azureml:NAME:V}              inputs.x: {path: azureml:NAME:V}
  environment: {docker: {image}, conda_file:   environment: {image, conda_file: env.yml}
                file:env.yml}
  environment.docker.build.dockerfile: file:F   environment.build: {path: DIR, dockerfile_path: F}
  compute: {target: T, instance_count: N}       compute: T, resources.instance_count: N
  distribution.process_count (all processes)    distribution.process_count_per_instance
  trial.inputs / trial.compute (sweeps)         inputs / compute
  algorithm, max_total_trials, ...,             sampling_algorithm, limits.max_total_trials, ...,
  timeout_minutes                               limits.timeout (seconds)
November 2021
  inputs.x: {file|folder: URI}                  inputs.x: {type: uri_file|uri_folder, path: URI}
  inputs.x: {dataset: azureml:N:V | {local_path}} inputs.x: {path: ...}
  environment.build.local_path                  environment.build.path
Today's, not a preview spelling: `environment: file:env.yml` (an environment YAML) is read inline.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import InvalidSpec
from engine.specs.uris import classify, local_path
from engine.specs.yamlfile import Lines, line_of, load_yaml_with_lines

__all__ = ["modernise"]

Note = Callable[[str], None]

# `{inputs.x}` not inside `${{...}}`.
_SINGLE_BRACE = re.compile(r"(?<![{$])\{\s*(inputs|outputs|search_space)\.([A-Za-z_][\w.-]*)\s*\}(?!\})")
_OLD_SWEEP_LIMITS = ("max_total_trials", "max_concurrent_trials", "timeout_minutes")
_MODES = {"mount": "ro_mount"}


class _Pass:
    """One file's rewrite: the mapping, its line map, and how to note and refuse."""

    def __init__(self, data: dict[str, Any], lines: Lines, path: Path, note: Note) -> None:
        self.data = data
        self.lines = lines
        self.path = path
        self.base = path.parent.resolve()
        self._note = note

    def dotted(self, loc: tuple[Any, ...]) -> str:
        return ".".join(str(p) for p in loc)

    def from_file(self, loc: tuple[Any, ...]) -> bool:
        """Whether the value at `loc` was written in the file (a `--set` value has no line)."""
        return loc in self.lines

    def note(self, loc: tuple[Any, ...], old: str, new: str) -> None:
        line = line_of(self.lines, loc, key=True)
        where = f"{self.path}:{line}" if line else str(self.path)
        self._note(f"{where}: `{old}` (Azure ML preview schema) read as `{new}`")

    def error(self, message: str, hint: str, loc: tuple[Any, ...]) -> InvalidSpec:
        return InvalidSpec(
            message,
            hint,
            file=str(self.path),
            line=line_of(self.lines, loc, key=True),
            field=self.dotted(loc),
        )

    def move_lines(self, src: tuple[Any, ...], dst: tuple[Any, ...]) -> None:
        for key in [k for k in self.lines if k[: len(src)] == src]:
            self.lines[dst + key[len(src) :]] = self.lines[key]

    def put(
        self, mapping: dict[str, Any], at: tuple[Any, ...], key: str, value: Any, src: tuple[Any, ...]
    ) -> bool:
        """Set mapping[key] (at `at`) to a value that came from `src`, unless a `--set` gave it
        (then False: nothing was read as anything)."""
        if key in mapping and self.from_file((*at, key)) and (*at, key) != src:
            raise self.error(
                f"both `{self.dotted(src)}` and `{self.dotted((*at, key))}` are given",
                f"keep `{self.dotted((*at, key))}` only",
                src,
            )
        if key in mapping and not self.from_file((*at, key)):
            return False  # given with --set: it wins
        mapping[key] = value
        self.move_lines(src, (*at, key))
        return True


def modernise(data: dict[str, Any], lines: Lines, path: Path, note: Note) -> None:
    """Rewrite the 2021 preview spellings in `data` (a job file's mapping, `--set` applied) to
    today's, in place; `lines` follows. `note` gets one line per rewrite."""
    p = _Pass(data, lines, path, note)
    job_type = data.get("type")
    if job_type in ("sweep_job", "command_job"):
        data["type"] = job_type.removesuffix("_job")
        p.note(("type",), f"type: {job_type}", f"type: {data['type']}")
    if data.get("type") == "sweep":
        _sweep(p)
        trial = data.get("trial")
        if isinstance(trial, dict):
            _command_part(p, trial, ("trial",))
    _command_part(p, data, ())
    _compute(p)


def _sweep(p: _Pass) -> None:
    data = p.data
    if "algorithm" in data and p.put(data, (), "sampling_algorithm", data.pop("algorithm"), ("algorithm",)):
        p.note(("sampling_algorithm",), "algorithm", "sampling_algorithm")
    old = {k: data.pop(k) for k in _OLD_SWEEP_LIMITS if k in data}
    if old:
        limits = data.setdefault("limits", {})
        if not isinstance(limits, dict):
            return  # the schema says what is wrong with `limits:`
        for key, value in old.items():
            new = "timeout" if key == "timeout_minutes" else key
            is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if p.put(
                limits,
                ("limits",),
                new,
                value * 60 if key == "timeout_minutes" and is_number else value,
                (key,),
            ):
                p.note(
                    ("limits", new),
                    key,
                    f"limits.{new}" + (" (minutes x 60 seconds)" if new == "timeout" else ""),
                )
    # The preview's trial was a whole command job: its inputs and compute are the sweep's now.
    trial = data.get("trial")
    if isinstance(trial, dict):
        for key in ("inputs", "outputs", "compute"):
            if key in trial and p.put(data, (), key, trial.pop(key), ("trial", key)):
                p.note((key,), f"trial.{key}", key)


def _command_part(p: _Pass, job: dict[str, Any], at: tuple[Any, ...]) -> None:
    """What a command job (or a sweep's trial) spells differently: code, command, inputs,
    environment, distribution."""
    code = job.get("code")
    if isinstance(code, dict) and set(code) == {"local_path"}:
        job["code"] = code["local_path"]
        p.move_lines((*at, "code", "local_path"), (*at, "code"))
        p.note((*at, "code"), "code.local_path", "code")
    command = job.get("command")
    if isinstance(command, str) and _SINGLE_BRACE.search(command):
        refs = dict.fromkeys(f"{m.group(1)}.{m.group(2)}" for m in _SINGLE_BRACE.finditer(command))
        job["command"] = _SINGLE_BRACE.sub(lambda m: "${{" + m.group(1) + "." + m.group(2) + "}}", command)
        p.note(
            (*at, "command"),
            ", ".join("{" + r + "}" for r in refs),
            ", ".join("${{" + r + "}}" for r in refs),
        )
    inputs = job.get("inputs")
    if isinstance(inputs, dict):
        for name, value in inputs.items():
            if isinstance(value, dict):
                _input(p, value, (*at, "inputs", name))
    if "environment" in job:
        _environment(p, job, (*at, "environment"))
    distribution = job.get("distribution")
    if isinstance(distribution, dict) and "process_count" in distribution:
        _process_count(p, job, distribution, at)


def _input(p: _Pass, spec: dict[str, Any], at: tuple[Any, ...]) -> None:
    for old in ("data", "dataset", "file", "folder"):
        if old not in spec:
            continue
        value = spec.pop(old)
        src = (*at, old)
        if isinstance(value, dict):
            given = [k for k in ("path", "local_path") if k in value]
            if "datastore" in value and "path" in value:  # a path on a named datastore
                store = str(value["datastore"]).removeprefix("azureml:")
                value = {"path": f"azureml://datastores/{store}/paths/{str(value['path']).lstrip('/')}"}
                given = ["path"]
            if len(given) != 1:
                raise p.error(
                    f"`{p.dotted(src)}` needs one of `path:` (a URL or data asset) or `local_path:`",
                    f"write `{p.dotted(at)}: {{type: uri_folder, path: ./data}}`",
                    src,
                )
            uri = value[given[0]]
            src = (*src, given[0])
            old = f"{old}.{given[0]}"
        else:
            uri = value
        read = p.put(spec, at, "path", uri, src)
        if "type" not in spec:
            spec["type"] = (
                "uri_file" if old == "file" else ("uri_folder" if old == "folder" else _kind_of(p, uri))
            )
        if read:
            p.note((*at, "path"), f"{p.dotted(at)}.{old}", f"{p.dotted(at)}.path (type: {spec['type']})")
        break
    mode = spec.get("mode")
    if isinstance(mode, str) and mode in _MODES:
        spec["mode"] = _MODES[mode]
        p.note((*at, "mode"), f"mode: {mode}", f"mode: {spec['mode']}")


def _kind_of(p: _Pass, uri: Any) -> str:
    """The preview did not say file or folder: a local path says itself; a URL whose last part
    has an extension (iris.csv) is a file."""
    text = str(uri)
    if classify(text) == "local":
        return "uri_file" if (p.base / local_path(text)).is_file() else "uri_folder"
    if classify(text) == "azureml_asset":
        return "uri_folder"
    last = text.rstrip("/").rsplit("/", 1)[-1]
    return "uri_file" if "." in last and not text.endswith("/") else "uri_folder"


def _environment(p: _Pass, job: dict[str, Any], at: tuple[Any, ...]) -> None:
    env = job["environment"]
    if isinstance(env, str) and env.startswith("file:"):
        job["environment"] = env = _environment_file(p, env, at)
    if not isinstance(env, dict):
        return
    docker = env.get("docker")
    if isinstance(docker, dict):
        env.pop("docker")
        for key, value in docker.items():
            if key == "build" and isinstance(value, dict) and "dockerfile" in value:
                dockerfile = (p.base / local_path(str(value["dockerfile"]))).resolve()
                context = {"path": str(dockerfile.parent), "dockerfile_path": dockerfile.name}
                if p.put(env, at, "build", context, (*at, "docker", "build", "dockerfile")):
                    p.note(
                        (*at, "build"),
                        "environment.docker.build.dockerfile",
                        "environment.build: {path: DIR, dockerfile_path: FILE}",
                    )
            else:
                if p.put(env, at, key, value, (*at, "docker", key)):
                    p.note((*at, key), f"environment.docker.{key}", f"environment.{key}")
    build = env.get("build")
    if isinstance(build, dict) and "local_path" in build and "path" not in build:
        build["path"] = build.pop("local_path")
        p.move_lines((*at, "build", "local_path"), (*at, "build", "path"))
        p.note((*at, "build", "path"), "environment.build.local_path", "environment.build.path")
    for key in ("conda_file", "pip_requirements"):
        value = env.get(key)
        if isinstance(value, str) and value.startswith("file:"):
            env[key] = local_path(value)
            p.note((*at, key), f"{key}: {value}", f"{key}: {env[key]}")


def _environment_file(p: _Pass, ref: str, at: tuple[Any, ...]) -> dict[str, Any]:
    """`environment: file:env.yml` (an environment YAML next to the job): its mapping, inline,
    with its relative paths made absolute (they are relative to the environment file)."""
    env_path = (p.base / local_path(ref)).resolve()
    if not env_path.is_file():
        raise p.error(
            f"the environment file {env_path} does not exist",
            "`environment: file:PATH` is relative to the job file",
            at,
        )
    env, _ = load_yaml_with_lines(env_path)
    if not isinstance(env, dict):
        raise InvalidSpec("an environment file must be a YAML mapping", file=str(env_path), line=1)
    env.pop("$schema", None)
    folder = env_path.parent
    for key in ("conda_file", "pip_requirements"):
        if isinstance(env.get(key), str):
            env[key] = str(folder / local_path(env[key]))
    build = env.get("build")
    if isinstance(build, dict) and isinstance(build.get("path"), str):
        build["path"] = str(folder / local_path(build["path"]))
    version = env.get("version")
    if version is not None and not str(version).isdigit():
        env.pop("version")  # Azure versions are any text; here they are 1, 2, 3...
        p._note(
            f"{p.path}:{line_of(p.lines, at)}: environment version {version!r} of {env_path.name} is not "
            "a number; the job's environment is read without it"
        )
    p._note(f"{p.path}:{line_of(p.lines, at)}: `environment: {ref}` read inline from {env_path}")
    return env


def _process_count(p: _Pass, job: dict[str, Any], distribution: dict[str, Any], at: tuple[Any, ...]) -> None:
    """The preview's `process_count` was every process of the job; today's count is per instance."""
    total = distribution.pop("process_count")
    src = (*at, "distribution", "process_count")
    resources = job["resources"] if isinstance(job.get("resources"), dict) else {}
    compute = p.data.get("compute")
    nodes = resources.get("instance_count") or (
        compute.get("instance_count") if isinstance(compute, dict) else None
    )
    nodes = nodes if isinstance(nodes, int) and not isinstance(nodes, bool) and nodes > 0 else 1
    if not isinstance(total, int) or isinstance(total, bool) or total < 1 or total % nodes:
        raise p.error(
            f"`distribution.process_count: {total!r}` (all the job's processes) does not divide "
            f"evenly over {nodes} instance(s)",
            "give `process_count_per_instance:` instead (processes on each instance)",
            src,
        )
    if p.put(distribution, (*at, "distribution"), "process_count_per_instance", total // nodes, src):
        p.note(
            (*at, "distribution", "process_count_per_instance"),
            f"distribution.process_count: {total}",
            f"distribution.process_count_per_instance: {total // nodes} (over {nodes} instance(s))",
        )


def _compute(p: _Pass) -> None:
    compute = p.data.get("compute")
    if not isinstance(compute, dict):
        return
    if "target" not in compute:
        raise p.error(
            "`compute:` is a mapping without `target:`",
            "write `compute: local` or `compute: azureml:NAME`",
            ("compute",),
        )
    extra = {k: v for k, v in compute.items() if k != "target"}
    target = compute["target"]
    p.data["compute"] = target
    p.move_lines(("compute", "target"), ("compute",))
    p.note(("compute",), "compute.target", "compute")
    unknown = sorted(set(extra) - {"instance_count", "instance_type"})
    if unknown:
        raise p.error(
            f"unknown key 'compute.{unknown[0]}'",
            "known keys here: target, instance_count",
            ("compute", unknown[0]),
        )
    if extra:
        resources = p.data.setdefault("resources", {})
        if not isinstance(resources, dict):
            return
        for key, value in extra.items():
            if p.put(resources, ("resources",), key, value, ("compute", key)):
                p.note(("resources", key), f"compute.{key}", f"resources.{key}")
