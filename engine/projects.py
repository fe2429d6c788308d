"""What is in a project folder, and the job a user submits from it (the studio's Submit dialog).

`scan_project` walks the folder once and finds:
- entry scripts: `.py` files with a `__main__` guard, train.py and main.py first;
- environment files: pip requirements, conda YAMLs, Dockerfiles and Azure ML environment YAMLs,
  each already read into the `EnvironmentSpec` it would run with (or the error that stops it);
- job YAMLs (Azure ML CLI v2 command, sweep and pipeline jobs), each loaded (or the error, with file:line).

`script_job` turns the dialog's plain values into a validated `JobSpec`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.entities import EnvironmentSpec
from engine.errors import InvalidSpec, NotFound, TrainyardError
from engine.jobs.pipeline import PipelineSpec
from engine.jobs.spec import JobSpec, SweepSpec
from engine.names import check_name
from engine.specs import environment as environment_yaml
from engine.specs.pipeline import load_any_job

PREFERRED_SCRIPTS = ("train.py", "main.py")
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules",
             "site-packages", ".tox", ".mypy_cache", ".pytest_cache", ".ipynb_checkpoints", "build",
             "dist", ".trainyard", "outputs", "logs", "mlruns", "wandb"}
MAX_DEPTH = 3
MAX_FILES = 2000
MAX_BYTES = 1024 * 1024

_MAIN_GUARD = re.compile(r"""^if\s+__name__\s*==\s*['"]__main__['"]\s*:""", re.MULTILINE)
_TOP_KEY = re.compile(r"^(['\"]?)(?P<key>[$A-Za-z_][\w$-]*)\1\s*:(?P<value>.*)$", re.MULTILINE)
_REQUIREMENTS = re.compile(r"^requirements([-_.][\w.-]+)?\.(txt|in)$", re.IGNORECASE)
_DOCKERFILE = re.compile(r"^(Dockerfile([-_.][\w.-]+)?|[\w.-]+\.Dockerfile)$")
_ENV_YAML_KEYS = {"image", "conda_file", "build", "pip_requirements"}
_ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# kinds of environment files, in the order they are offered
ENV_KINDS = ("environment", "conda", "pip", "docker")
ENV_KIND_LABELS = {"environment": "environment YAML", "conda": "conda", "pip": "pip requirements",
                   "docker": "Dockerfile"}


@dataclass(frozen=True)
class EnvironmentFile:
    """An environment file of the project, read into the spec a run would use.

    Attributes:
        path: '/'-separated, relative to the project folder.
        kind: 'environment' (Azure ML env YAML), 'conda', 'pip' or 'docker'.
        spec: The environment, or None when the file cannot be used (see `error`).
        error: Why the file cannot be used (file:line where known), or None.
    """

    path: str
    kind: str
    spec: EnvironmentSpec | None = None
    error: str | None = None

    @property
    def summary(self) -> str:
        """One line for a menu: what the file is and what it installs."""
        what = ENV_KIND_LABELS[self.kind]
        spec = self.spec
        if spec is None:
            return f"{what}: cannot be used"
        if spec.kind == "docker":
            return f"{what}: Docker build" if spec.build_context else f"{what}: image {spec.image}"
        if spec.kind == "conda":
            n = len((spec.conda or {}).get("dependencies", []))
            return f"{what}: {n} dependenc{'y' if n == 1 else 'ies'}, built with conda"
        if spec.kind == "venv":
            n = len(spec.pip_requirements or ())
            return f"{what}: {n or 'no'} package{'' if n == 1 else 's'}, built with uv"
        return f"{what}: {spec.interpreter_path or 'this Python'}, nothing built"


@dataclass(frozen=True)
class JobFile:
    """A job YAML of the project (command, sweep or pipeline), loaded as `trainyard job create -f` would.

    Attributes:
        path: '/'-separated, relative to the project folder.
        spec: The job, or None when it does not load (see `error`).
        error: The loader's message (it names the file and line), or None.
    """

    path: str
    spec: JobSpec | SweepSpec | PipelineSpec | None = None
    error: str | None = None


@dataclass(frozen=True)
class ProjectScan:
    """What `scan_project` found in a folder."""

    folder: Path
    scripts: tuple[str, ...] = ()
    environment_files: tuple[EnvironmentFile, ...] = ()
    job_files: tuple[JobFile, ...] = ()
    experiment_name: str = "default"
    warnings: tuple[str, ...] = field(default_factory=tuple)


# ---------------------------------------------------------------------------------- scanning
def scan_project(folder: str | os.PathLike[str]) -> ProjectScan:
    """Walk `folder` (at most MAX_DEPTH levels, skipping virtual environments, caches, outputs)
    and report its scripts, environment files and job YAMLs, best first.

    Raises:
        NotFound: `folder` is not a folder.
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise NotFound(f"the project folder {root} does not exist", "drop or open a folder that exists")
    experiment = default_experiment_name(root)
    guarded: list[str] = []
    top_level_py: list[str] = []
    env_files: list[EnvironmentFile] = []
    job_files: list[JobFile] = []
    for rel, path in _walk(root):
        name = path.name
        if name.endswith(".py"):
            if "/" not in rel:
                top_level_py.append(rel)
            if is_entry_script(path):
                guarded.append(rel)
        elif _REQUIREMENTS.match(name):
            env_files.append(_environment_file(root, rel, "pip", experiment))
        elif _DOCKERFILE.match(name):
            env_files.append(_environment_file(root, rel, "docker", experiment))
        elif name.endswith((".yml", ".yaml")):
            kind = classify_yaml(path)
            if kind == "job":
                job_files.append(_job_file(root, rel))
            elif kind is not None:
                env_files.append(_environment_file(root, rel, kind, experiment))
    return ProjectScan(
        folder=root,
        scripts=tuple(sorted(guarded or top_level_py, key=_script_rank)),
        environment_files=tuple(sorted(env_files, key=_env_rank)),
        job_files=tuple(sorted(job_files, key=lambda j: (j.spec is None, j.path.count("/"), j.path.lower()))),
        experiment_name=experiment,
    )


def find_scripts(folder: str | os.PathLike[str]) -> list[str]:
    """Paths (relative, '/'-separated) of the .py files with a `__main__` guard, best first:
    train.py and main.py at the top, then top-level scripts, then deeper ones.
    If none has a guard, every top-level .py file (a script may simply run at import)."""
    return list(scan_project(folder).scripts)


def default_experiment_name(folder: str | os.PathLike[str]) -> str:
    """The folder's name, made into a valid experiment name."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(folder).resolve().name).strip("-._")
    return name or "default"


def is_entry_script(path: Path) -> bool:
    text = _read_small(path)
    return text is not None and bool(_MAIN_GUARD.search(text))


def classify_yaml(path: Path) -> str | None:
    """'job', 'environment' (Azure ML env YAML), 'conda', or None, from the top-level keys alone:
    a job file that does not parse is still offered, so that its error (file:line) is shown."""
    text = _read_small(path)
    if text is None:
        return None
    keys = {m.group("key"): m.group("value").strip() for m in _TOP_KEY.finditer(text)}
    schema = keys.get("$schema", "").lower()
    if "command" in keys and ("$schema" in keys or keys.get("type", "").strip("'\"") == "command"):
        return "job"
    if "trial" in keys and (keys.get("type", "").strip("'\"") == "sweep" or "sweepjob" in schema):
        return "job"
    if "jobs" in keys and (keys.get("type", "").strip("'\"") == "pipeline" or "pipelinejob" in schema):
        return "job"
    if "command" in keys:
        return None
    if "environment" in schema or ("name" in keys and _ENV_YAML_KEYS & keys.keys()):
        return "environment"
    if "dependencies" in keys:
        return "conda"
    return None


def _walk(root: Path) -> Iterable[tuple[str, Path]]:
    seen = 0
    for dirpath, dirs, names in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        depth = len(rel_dir.parts)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")
                         and depth + 1 <= MAX_DEPTH and not _is_python_env(Path(dirpath, d)))
        for n in sorted(names):
            seen += 1
            if seen > MAX_FILES:
                return
            yield (rel_dir / n).as_posix(), Path(dirpath, n)


def _is_python_env(path: Path) -> bool:
    """A virtual or conda environment inside the project (named env/, .conda/, ...)."""
    return (path / "pyvenv.cfg").is_file() or (path / "conda-meta").is_dir()


def _read_small(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _script_rank(rel: str) -> tuple[bool, int, int, str]:
    p = Path(rel)
    depth = len(p.parts) - 1
    preferred = PREFERRED_SCRIPTS.index(p.name) if p.name in PREFERRED_SCRIPTS else len(PREFERRED_SCRIPTS)
    return (depth > 0, preferred, depth, rel.lower())


def _env_rank(f: EnvironmentFile) -> tuple[int, bool, int, str]:
    # usable files first, shallow before deep, then by kind
    return (f.path.count("/"), f.spec is None, ENV_KINDS.index(f.kind), f.path.lower())


# ---------------------------------------------------------------------------------- reading files
def environment_from_file(folder: str | os.PathLike[str], path: str, kind: str | None = None,
                          experiment_name: str | None = None) -> EnvironmentSpec:
    """The environment a project file describes, named `<experiment>-<file>` unless the file
    names it (an Azure ML env YAML). `kind` is guessed from the file when not given.

    Raises:
        NotFound, InvalidSpec: the file is missing or malformed (the message names file:line).
    """
    root = Path(folder).expanduser().resolve()
    file = (root / path).resolve()
    if not file.is_file():
        raise NotFound(f"the environment file {file} does not exist", "pick another environment")
    if kind is None:
        kind = ("pip" if _REQUIREMENTS.match(file.name) else "docker" if _DOCKERFILE.match(file.name)
                else classify_yaml(file) or "conda")
    if kind == "environment":
        return environment_yaml.load_environment_yaml(file)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(path).as_posix().replace("/", "-")).strip("-._")
    name = f"{experiment_name or default_experiment_name(root)}-{stem}"[:255]
    if kind == "pip":
        return EnvironmentSpec(name=name, pip_requirements=environment_yaml.read_requirements(file),
                               pip_source=str(file))
    if kind == "conda":
        return EnvironmentSpec(name=name, conda=environment_yaml.read_conda_file(file), conda_source=str(file))
    if kind == "docker":
        return EnvironmentSpec(name=name, build_context=str(file.parent), dockerfile=file.name)
    raise InvalidSpec(f"unknown environment file kind {kind!r}", f"one of: {', '.join(ENV_KINDS)}")


def _environment_file(root: Path, rel: str, kind: str, experiment: str) -> EnvironmentFile:
    try:
        spec = environment_from_file(root, rel, kind, experiment)
    except TrainyardError as exc:
        return EnvironmentFile(rel, kind, None, exc.one_line())
    return EnvironmentFile(rel, kind, spec)


def _job_file(root: Path, rel: str) -> JobFile:
    try:
        return JobFile(rel, load_any_job(root / rel))
    except TrainyardError as exc:
        return JobFile(rel, None, exc.one_line())


# ---------------------------------------------------------------------------------- the job
def script_job(
    folder: str | os.PathLike[str],
    script: str,
    *,
    experiment_name: str,
    arguments: Iterable[str] = (),
    compute: str = "local",
    environment: str | None = None,
    environment_file: str | None = None,
    environment_variables: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    max_run_duration_seconds: float | None = None,
) -> JobSpec:
    """The job of the Submit dialog: run `script` of `folder` with `arguments` (an argv list).

    Args:
        environment: A registered or curated reference (NAME:VERSION, NAME@latest), or None.
        environment_file: A file of the folder to build the environment from (see
            `environment_from_file`); wins over `environment`. Neither: Trainyard's own Python.
        environment_variables: NAME -> value (or (NAME, value) rows) set for the script.
        max_run_duration_seconds: The run is canceled after this long; None for no limit.

    Raises:
        InvalidSpec: a bad experiment name, variable name or duration; NotFound, InvalidSpec
            from reading the environment file.
    """
    root = Path(folder).expanduser().resolve()
    experiment_name = check_experiment_name(experiment_name)
    if max_run_duration_seconds is not None and not max_run_duration_seconds > 0:
        raise InvalidSpec(f"the maximum duration must be more than 0 seconds, not {max_run_duration_seconds}",
                          "leave it empty for no limit", field="max_run_duration_seconds")
    env_vars = check_environment_variables(environment_variables)
    env_spec = None
    if environment_file:
        env_spec = environment_from_file(root, environment_file, experiment_name=experiment_name)
    return JobSpec(
        experiment_name=experiment_name,
        code_dir=root,
        script=script.strip(),
        arguments=tuple(str(a) for a in arguments),
        compute=compute,
        environment=None if env_spec is not None else (environment or None),
        environment_spec=env_spec,
        environment_variables=env_vars,
        max_run_duration_seconds=max_run_duration_seconds,
    )


def check_experiment_name(name: str) -> str:
    """`name` without surrounding blanks.

    Raises:
        InvalidSpec: it is empty or has characters an experiment name cannot have.
    """
    name = name.strip()
    if not name:
        raise InvalidSpec("the experiment has no name", "give it a name: runs are grouped by experiment",
                          field="experiment_name")
    check_name(name, "experiment", length_note=False, field="experiment_name")
    return name


def check_environment_variables(rows: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """(NAME, value) rows -> {NAME: value}. Rows with neither a name nor a value are skipped.

    Raises:
        InvalidSpec: a name is empty, not a shell-style identifier, or given twice.
    """
    pairs = list(rows.items()) if isinstance(rows, Mapping) else list(rows)
    out: dict[str, str] = {}
    for raw_name, value in pairs:
        name = raw_name.strip()
        if not name and not value:
            continue
        if not name:
            raise InvalidSpec(f"the value {value!r} has no variable name", "give it a name, or remove the row",
                              field="environment_variables")
        if not _ENV_VAR_NAME.match(name):
            raise InvalidSpec(f"{name!r} is not a valid environment variable name",
                              "use letters, digits and '_', not starting with a digit (e.g. DATA_DIR)",
                              field="environment_variables")
        if name in out:
            raise InvalidSpec(f"the variable {name} is set twice", "keep one of the rows",
                              field="environment_variables")
        out[name] = value
    return out


def with_experiment(spec: JobSpec, experiment_name: str) -> JobSpec:
    """`spec` in another experiment (a job YAML's `experiment_name` overridden)."""
    return replace(spec, experiment_name=experiment_name)


def describe_job(spec: JobSpec | SweepSpec) -> list[tuple[str, str]]:
    """(field, value) rows that show a loaded job file read-only."""
    if isinstance(spec, SweepSpec):
        return _describe_sweep(spec)
    env = spec.environment or (spec.environment_spec.reference if spec.environment_spec else "This Python (no build)")
    rows = [
        ("Command", spec.command or " ".join([spec.script or "", *spec.arguments])),
        ("Experiment", spec.experiment_name),
        ("Compute", spec.compute),
        ("Environment", env),
        ("Code", str(spec.code_dir) if spec.code_dir else "none"),
    ]
    if spec.display_name or spec.name:
        rows.append(("Name", spec.display_name or spec.name or ""))
    if spec.inputs:
        rows.append(("Inputs", ", ".join(f"{k}={_short(v)}" for k, v in spec.inputs.items())))
    if spec.environment_variables:
        rows.append(("Variables", ", ".join(f"{k}={v}" for k, v in spec.environment_variables.items())))
    if spec.max_run_duration_seconds:
        rows.append(("Timeout", f"{spec.max_run_duration_seconds:g} s"))
    return rows


def _describe_sweep(sweep: SweepSpec) -> list[tuple[str, str]]:
    """A sweep: what each trial runs, then how the trials are chosen and stopped."""
    rows = [row for row in describe_job(sweep.trial) if row[0] != "Timeout"]
    if sweep.name:
        rows.append(("Name", sweep.name))
    space = ", ".join(f"{name} {p.kind}({', '.join(map(str, p.args.get('values', p.args.values())))})"
                      for name, p in sweep.search_space.items())
    rows.insert(1, ("Sweep", f"{sweep.sampling_algorithm} sampling, {sweep.goal} {sweep.primary_metric}"))
    rows.insert(2, ("Search space", space))
    limits = f"up to {sweep.max_total_trials} trials, {sweep.max_concurrent_trials} at a time"
    if sweep.trial_timeout_seconds:
        limits += f", {sweep.trial_timeout_seconds:g} s each"
    if sweep.timeout_seconds:
        limits += f", {sweep.timeout_seconds:g} s in all"
    rows.insert(3, ("Trials", limits))
    if sweep.early_termination is not None:
        rows.insert(4, ("Early stop", sweep.early_termination.type.replace("_", " ")))
    return rows


def _short(value: Any) -> str:
    text = str(getattr(value, "path", value))
    return text if len(text) <= 60 else "…" + text[-59:]
