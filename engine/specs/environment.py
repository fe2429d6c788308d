"""Environment YAML (the az ml schema plus `pip_requirements`), conda files and requirements
files -> a normalised `EnvironmentSpec`, with errors that name the file, the line and the key.

Also the reverse, `write_spec_directory`: a spec as an environment YAML plus the conda or
requirements file (and Docker build context) it points to, which `load_environment_yaml` reads
back.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine import names
from engine.entities import EnvironmentSpec
from engine.errors import InvalidSpec, NotFound
from engine.specs import yamlfile
from engine.specs.explain import explain
from engine.specs.schema import ENVIRONMENT_KEYS as KNOWN_KEYS
from engine.specs.schema import BuildSpec, EnvironmentYamlSchema, PythonSpec
from engine.specs.yamlfile import Lines, Where, line_of, load_yaml_with_lines

ANONYMOUS_NAME = "CliV2AnonymousEnvironment"  # what Azure ML calls an unnamed inline environment


# ------------------------------------------------------------------------------ environment YAML
def load_environment_yaml(path: str | Path) -> EnvironmentSpec:
    """Read `trainyard environment create -f` YAML. Paths in it are relative to the file."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"the environment file {path} does not exist", "check the path given to -f")
    data, lines = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise InvalidSpec("an environment file must be a YAML mapping (key: value lines) with at least `name:`",
                          f"known keys: {', '.join(KNOWN_KEYS)}", file=str(path), line=1)
    where = Where(str(path), lines)
    if "name" not in data:
        raise where.error("the required key 'name' is missing", "add `name: my-env` (letters, digits, - _ .)")
    return _spec(data, path.parent.resolve(), where, anonymous_ok=False)


def spec_from_inline(data: Mapping[str, Any], base_dir: str | Path, source: str | None = None, *,
                     lines: Lines | None = None, at: tuple[Any, ...] = ()) -> EnvironmentSpec:
    """A job's inline `environment:` mapping (or any such mapping) -> spec.

    Args:
        data: the mapping (`image:`, `build:`, `conda_file:`, ...).
        base_dir: what relative paths in it are relative to (the job file's folder).
        source: the file it came from, for messages.
        lines: that file's line map (from `load_yaml_with_lines`), so errors name the line.
        at: where the mapping sits in that file, e.g. ("environment",).
    """
    if not isinstance(data, Mapping):
        raise InvalidSpec(f"an environment must be a mapping, not {type(data).__name__}",
                          f"known keys: {', '.join(KNOWN_KEYS)}", file=source,
                          line=line_of(lines, at) if lines else None, field=".".join(map(str, at)) or None)
    return _spec(dict(data), Path(base_dir).resolve(), Where(source, lines, at), anonymous_ok=True)


def _spec(data: dict[str, Any], base: Path, where: Where, *, anonymous_ok: bool) -> EnvironmentSpec:
    try:
        env = EnvironmentYamlSchema.model_validate(data)
    except ValidationError as exc:
        sub = {k[len(where.at):]: v for k, v in where.lines.items() if k[:len(where.at)] == where.at}
        err = explain(exc, sub, Path(where.source or "<environment>"), EnvironmentYamlSchema)
        if where.at and err.field:
            err.field = ".".join(map(str, where.at)) + "." + err.field
        if where.source is None:  # no file: drop the placeholder location from the message
            err = InvalidSpec(err.message.split(": ", 1)[-1], err.hint, field=err.field)
        raise err from None

    name = env.name if env.name is not None else (ANONYMOUS_NAME if anonymous_ok else "")
    check_name(name, where)
    version = _version(env.version, where)

    if env.image is not None and env.build is not None:
        raise where.error("give either `image:` or `build:`, not both",
                          "a build context's Dockerfile names its own base image (FROM ...)", "build", key=True)
    if env.build is not None and (env.conda_file or env.pip_requirements):
        key = "conda_file" if env.conda_file else "pip_requirements"
        raise where.error(f"`{key}:` cannot be combined with `build:`",
                          "install the packages in the Dockerfile, or use `image:` plus the file", key, key=True)
    if env.conda_file and env.pip_requirements:
        raise where.error("give either `conda_file:` or `pip_requirements:`, not both",
                          "put the pip packages in the conda file's `- pip:` section", "pip_requirements", key=True)

    python = env.python or PythonSpec()
    user_managed = (python.user_managed_dependencies if python.user_managed_dependencies is not None
                    else python.interpreter_path is not None)
    if python.interpreter_path is not None and python.user_managed_dependencies is False:
        raise where.error("`python.interpreter_path` is only used when `user_managed_dependencies` is true",
                          "remove interpreter_path, or set user_managed_dependencies: true",
                          "python", "interpreter_path")
    if user_managed and (env.conda_file or env.pip_requirements):
        key = "conda_file" if env.conda_file else "pip_requirements"
        raise where.error(f"a user-managed environment (python.interpreter_path / user_managed_dependencies) "
                          f"cannot also have `{key}:`",
                          f"remove `{key}:` to use your own interpreter as it is, or remove the `python:` "
                          "section to have Trainyard build the environment", key, key=True)

    image = None
    if env.image is not None:
        image = env.image.strip()
        if not image or any(c.isspace() for c in image):
            raise where.error(f"`image:` {env.image!r} is not an image name",
                              "e.g. python:3.11-slim or mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04",
                              "image")

    build_context = None
    dockerfile = "Dockerfile"
    if env.build is not None:
        build_context, dockerfile = _build_context(env.build, base, where)

    conda = conda_source = None
    if env.conda_file is not None:
        conda_path = _local_file(env.conda_file, base, where, "conda_file", "conda file")
        conda = read_conda_file(conda_path)
        conda_source = str(conda_path)

    pip = pip_source = None
    if env.pip_requirements is not None:
        req_path = _local_file(env.pip_requirements, base, where, "pip_requirements", "requirements file")
        pip = read_requirements(req_path)
        pip_source = str(req_path)

    interpreter = python.interpreter_path
    if interpreter is not None and image is None and build_context is None:
        interpreter = _local_interpreter(interpreter, base)

    return EnvironmentSpec(
        name=name,
        version=version,
        description=env.description or "",
        image=image,
        build_context=build_context,
        dockerfile=dockerfile,
        conda=conda,
        conda_source=conda_source,
        pip_requirements=pip,
        pip_source=pip_source,
        environment_variables={k: yamlfile.env_str(v) for k, v in (env.environment_variables or {}).items()},
        user_managed=bool(user_managed),
        interpreter_path=interpreter,
    )


def check_name(name: str, where: Where | None = None) -> None:
    """Environment names (engine.names; they may start with `_`); the error names file and line."""
    try:
        names.check_name(name, "environment", underscore_first=True)
    except InvalidSpec as exc:
        raise (where or Where(None, None)).error(exc.message, exc.hint, "name") from None


def _version(raw: str | int | None, where: Where) -> int | None:
    if raw is None:
        return None
    text = str(raw).strip()
    if not text.isdigit() or int(text) < 1:
        raise where.error(f"version {raw!r} is not a whole number of 1 or more",
                          "Trainyard environment versions are 1, 2, 3, ...; leave `version:` out to get the next one",
                          "version")
    return int(text)


def _local_file(raw: str, base: Path, where: Where, key: str, what: str) -> Path:
    if raw.startswith(("http://", "https://", "azureml:", "git+")):
        raise where.error(f"`{key}:` must be a local file, not {raw!r}",
                          "download it next to the environment YAML and give its relative path", key)
    path = (base / Path(raw).expanduser()).resolve()
    if not path.is_file():
        raise where.not_found(f"the {what} {path} does not exist",
                              f"`{key}:` is relative to the file that names it ({base})", key)
    return path


def _build_context(build: BuildSpec, base: Path, where: Where) -> tuple[str, str]:
    if build.path.startswith(("http://", "https://", "git@", "git+")):
        raise where.error(f"`build.path` must be a local folder, not {build.path!r}",
                          "clone it next to the environment YAML and give the folder's relative path",
                          "build", "path")
    context = (base / Path(build.path).expanduser()).resolve()
    if not context.is_dir():
        raise where.not_found(f"the build context folder {context} does not exist",
                              f"`build.path` is relative to the file that names it ({base})", "build", "path")
    dockerfile = build.dockerfile_path or "Dockerfile"
    df = (context / dockerfile).resolve()
    if not df.is_relative_to(context):
        raise where.error(f"`build.dockerfile_path` {dockerfile!r} is outside the build context {context}",
                          "give the Dockerfile's path relative to `build.path`", "build", "dockerfile_path")
    if not df.is_file():
        raise where.not_found(f"there is no Dockerfile at {df}",
                              "add one to the build context, or set `build.dockerfile_path` (relative to "
                              "`build.path`)", "build", "dockerfile_path" if build.dockerfile_path else "path")
    return str(context), df.relative_to(context).as_posix()


def _local_interpreter(raw: str, base: Path) -> str:
    """`./venv/bin/python` is relative to the YAML; `python3` is looked up on PATH at run time."""
    expanded = Path(raw).expanduser()
    if expanded.is_absolute():
        return str(expanded)
    if "/" in raw or raw.startswith("."):
        return str((base / expanded).absolute())
    return raw


# ------------------------------------------------------------------------------ conda files
CONDA_KEYS = ("name", "channels", "dependencies", "variables", "prefix")


def read_conda_file(path: str | Path) -> dict[str, Any]:
    """Read and validate a conda environment YAML -> normalised dict (see `normalise_conda`)."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"the conda file {path} does not exist", "check the path")
    data, lines = load_yaml_with_lines(path)
    return normalise_conda(data, lines=lines, source=str(path), base_dir=path.parent)


def normalise_conda(data: Any, *, lines: Lines | None = None, source: str | None = None,
                    base_dir: str | Path | None = None) -> dict[str, Any]:
    """Validate a parsed conda environment and normalise it.

    Returns `{"name", "channels", "dependencies"}` (+ `"variables"` when given): channels in
    their order (it is their priority), conda packages sorted (order does not matter to the
    solver), then one `{"pip": [...]}` entry with the pip lines in order (`-r file` includes
    read in). `prefix:` (written by `conda env export`) is dropped: it is machine-specific.
    """
    where = Where(source, lines)
    if data is None:
        raise where.error("the conda file is empty", "it needs at least `dependencies:` (a list of packages)")
    if not isinstance(data, dict):
        raise where.error(f"a conda file must be a mapping with `dependencies:`, not a {type(data).__name__}",
                          "see https://docs.conda.io/ (environment.yml): name, channels, dependencies")
    for key in data:
        if key not in CONDA_KEYS:
            close = difflib.get_close_matches(str(key), CONDA_KEYS, n=1)
            raise where.error(f"unknown key {key!r} in the conda file",
                              f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(CONDA_KEYS)}",
                              key, key=True)
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise where.error(f"`name` must be a string, found {type(name).__name__} {name!r}",
                          "quote it", "name")
    channels = data.get("channels")
    if channels is None:
        channels = []
    if not isinstance(channels, list):
        raise where.error(f"`channels` must be a list of channel names, found {type(channels).__name__}",
                          "write one `- conda-forge` line per channel", "channels")
    for i, ch in enumerate(channels):
        if not isinstance(ch, str) or not ch.strip():
            raise where.error(f"channel {ch!r} is not a channel name", "e.g. `- conda-forge`", "channels", i)
    if "dependencies" not in data:
        raise where.error("the conda file has no `dependencies:`", "add `dependencies:` with a list of packages, "
                          "e.g. `- python=3.11` and `- pip:` for pip packages")
    deps = data["dependencies"]
    if not isinstance(deps, list):
        raise where.error(f"`dependencies` must be a list, found {type(deps).__name__} {deps!r}",
                          "write one `- package=version` line per package", "dependencies")
    conda_pkgs: list[str] = []
    pip: list[str] | None = None
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    for i, dep in enumerate(deps):
        if isinstance(dep, str) and dep.strip():
            conda_pkgs.append(dep.strip())
        elif isinstance(dep, dict) and list(dep) == ["pip"]:
            if pip is not None:
                raise where.error("the conda file has a second `- pip:` section", "merge them into one",
                                  "dependencies", i)
            items = dep["pip"]
            if items is None:
                items = []
            if not isinstance(items, list):
                raise where.error(f"`pip:` must be a list of requirements, found {type(items).__name__} {items!r}",
                                  "write one `- package==version` line per package", "dependencies", i, "pip")
            pip = []
            for j, req in enumerate(items):
                if not isinstance(req, str) or not req.strip():
                    raise where.error(f"pip requirement {req!r} is not a string",
                                      "quote it, e.g. `- \"torch==2.3\"`", "dependencies", i, "pip", j)
                pip.extend(_requirement_line(req.strip(), base, source, where.line("dependencies", i, "pip", j),
                                             chain=()))
        elif isinstance(dep, dict):
            keys = ", ".join(map(str, dep))
            raise where.error(f"dependency entry with key(s) {keys} is not a package",
                              "write packages as `- numpy=1.26` (a string) and pip packages under one `- pip:` list",
                              "dependencies", i)
        else:
            raise where.error(f"dependency {dep!r} is not a package spec",
                              "write it as a string, e.g. `- python=3.11` (quote numbers)", "dependencies", i)
    out: dict[str, Any] = {
        "name": name,
        "channels": [c.strip() for c in channels],
        "dependencies": [*sorted(conda_pkgs), *([{"pip": pip}] if pip is not None else [])],
    }
    variables = data.get("variables")
    if variables is not None:
        if not isinstance(variables, dict):
            raise where.error("`variables` must be a mapping of NAME: value", "fix the value", "variables")
        out["variables"] = {str(k): yamlfile.env_str(v) for k, v in variables.items()}
    return out


def conda_pip(conda: Mapping[str, Any]) -> list[str]:
    """The pip lines of a normalised conda dict."""
    for dep in conda.get("dependencies", []):
        if isinstance(dep, dict):
            return list(dep.get("pip") or [])
    return []


def conda_packages(conda: Mapping[str, Any]) -> list[str]:
    """The conda package specs of a normalised conda dict."""
    return [d for d in conda.get("dependencies", []) if isinstance(d, str)]


# ------------------------------------------------------------------------------ requirements files
_COMMENT = re.compile(r"(^|\s)#.*$")
_INCLUDE = re.compile(r"^(-r|--requirement)(\s*=\s*|\s+|(?=[^\s-]))(?P<path>.+)$")
_CONSTRAINT = re.compile(r"^(-c|--constraint)(\s*=\s*|\s+|(?=[^\s-]))(?P<path>.+)$")


def read_requirements(path: str | Path) -> tuple[str, ...]:
    """Requirement lines of a pip requirements file, in order: comments and blank lines dropped,
    continuation lines joined, `-r other.txt` includes read in (relative to the including file),
    `-c constraints.txt` made absolute."""
    path = Path(path).resolve()
    if not path.is_file():
        raise NotFound(f"the requirements file {path} does not exist", "check the path")
    return tuple(_read_requirements(path, chain=()))


def _read_requirements(path: Path, chain: tuple[Path, ...]) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSpec(f"cannot read the requirements file: {exc}", file=str(path)) from exc
    out: list[str] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = _COMMENT.sub("", pending + line).strip()
        pending = ""
        if line:
            out.extend(_requirement_line(line, path.parent, str(path), start, chain=(*chain, path)))
    if pending.strip():
        out.extend(_requirement_line(_COMMENT.sub("", pending).strip(), path.parent, str(path), start,
                                     chain=(*chain, path)))
    return out


def _requirement_line(line: str, base: Path, source: str | None, lineno: int | None,
                      chain: tuple[Path, ...]) -> list[str]:
    m = _INCLUDE.match(line)
    if m:
        target = (base / Path(m.group("path").strip()).expanduser()).resolve()
        if target in chain:
            raise InvalidSpec(f"{line!r} includes {target}, which includes this file again",
                              "remove the circular -r include", file=source, line=lineno)
        if not target.is_file():
            where = f"{source}:{lineno}: " if source and lineno else (f"{source}: " if source else "")
            raise NotFound(f"{where}the included requirements file {target} does not exist",
                           "`-r` paths are relative to the file that includes them")
        return _read_requirements(target, chain)
    m = _CONSTRAINT.match(line)
    if m:
        return [f"-c {(base / Path(m.group('path').strip()).expanduser()).resolve()}"]
    return [line]
