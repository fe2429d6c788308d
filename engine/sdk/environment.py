"""`Environment` as control scripts build it (Azure ML SDK v1): from a conda file, a pip
requirements file, an existing conda environment, a Docker image or Dockerfile, or a curated
or registered environment by name. `to_spec()` gives the normalised `EnvironmentSpec` that
jobs carry and builders build."""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.entities import EnvironmentSpec
from engine.environments.resolve import (
    same_build,
)
from engine.errors import InvalidSpec, InvalidState, NotFound, TrainyardError
from engine.specs import yamlfile
from engine.specs.environment import (
    check_name,
    conda_packages,
    conda_pip,
    load_environment_yaml,
    normalise_conda,
    read_conda_file,
    read_requirements,
)
from engine.specs.envwrite import ENV_FILE, write_spec_directory
from engine.tracking.inject.trainyard_run.envvars import ENV_HOME


class CondaDependencies:
    """A conda specification: channels, conda packages and a pip section (azureml.core's class).

    `CondaDependencies(path)` reads and validates a conda YAML (errors name file and line)."""

    def __init__(self, conda_dependencies_file_path: str | os.PathLike[str] | None = None,
                 **_ignored: Any) -> None:
        self.name: str | None = None
        self.channels: list[str] = []
        self.conda_packages: list[str] = []
        self.pip_packages: list[str] = []
        self.variables: dict[str, str] = {}
        self.source: str | None = None
        self._pip_section = False
        if conda_dependencies_file_path is not None:
            path = Path(conda_dependencies_file_path).expanduser().resolve()
            self._load(read_conda_file(path))
            self.source = str(path)

    def _load(self, conda: dict[str, Any]) -> None:
        self.name = conda.get("name")
        self.channels = list(conda.get("channels") or [])
        self.conda_packages = conda_packages(conda)
        self.pip_packages = conda_pip(conda)
        self._pip_section = any(isinstance(d, dict) for d in conda.get("dependencies") or [])
        self.variables = dict(conda.get("variables") or {})

    @classmethod
    def create(cls, pip_packages: list[str] | None = None, conda_packages: list[str] | None = None,
               python_version: str | None = None, channels: list[str] | None = None,
               **_ignored: Any) -> CondaDependencies:
        dep = cls()
        dep.conda_packages = list(conda_packages or [])
        if python_version:
            dep.set_python_version(python_version)
        dep.pip_packages = list(pip_packages or [])
        dep._pip_section = bool(dep.pip_packages)
        dep.channels = list(channels or [])
        return dep

    @classmethod
    def from_dict(cls, conda: dict[str, Any], source: str | None = None) -> CondaDependencies:
        dep = cls()
        dep._load(conda)
        dep.source = source
        return dep

    def add_conda_package(self, conda_package: str) -> None:
        if conda_package not in self.conda_packages:
            self.conda_packages.append(conda_package)

    def add_pip_package(self, pip_package: str) -> None:
        self._pip_section = True
        if pip_package not in self.pip_packages:
            self.pip_packages.append(pip_package)

    def remove_conda_package(self, conda_package: str) -> None:
        self.conda_packages = [p for p in self.conda_packages if p != conda_package]

    def remove_pip_package(self, pip_package: str) -> None:
        self.pip_packages = [p for p in self.pip_packages if p != pip_package]

    def add_channel(self, channel: str) -> None:
        if channel not in self.channels:
            self.channels.append(channel)

    def set_python_version(self, version: str) -> None:
        self.conda_packages = [p for p in self.conda_packages if not _is_python(p)] + [f"python={version}"]

    def get_python_version(self) -> str | None:
        for p in self.conda_packages:
            if _is_python(p):
                return p[len("python"):].lstrip("=<>!~ ") or None
        return None

    def as_dict(self) -> dict[str, Any]:
        """The normalised conda dict (what `EnvironmentSpec.conda` holds)."""
        deps: list[Any] = list(self.conda_packages)
        if self._pip_section or self.pip_packages:
            deps.append({"pip": list(self.pip_packages)})
        raw: dict[str, Any] = {"name": self.name, "channels": list(self.channels), "dependencies": deps}
        if self.variables:
            raw["variables"] = dict(self.variables)
        return normalise_conda(raw, source=self.source)

    def serialize_to_string(self) -> str:
        return yamlfile.dump({k: v for k, v in self.as_dict().items() if v is not None})

    def save(self, path: str | os.PathLike[str]) -> str:
        Path(path).write_text(self.serialize_to_string())
        return str(path)

    def save_to_file(self, base_directory: str, conda_file_path: str | None = None) -> str:
        return self.save(Path(base_directory) / (conda_file_path or "conda_dependencies.yml"))

    def __repr__(self) -> str:
        return (f"CondaDependencies(channels={self.channels!r}, conda_packages={self.conda_packages!r}, "
                f"pip_packages={self.pip_packages!r})")


def _is_python(spec: str) -> bool:
    return spec == "python" or (spec.startswith("python") and spec[6:7] in "=<>!~ ")


@dataclass
class PythonSection:
    user_managed_dependencies: bool = False
    interpreter_path: str = "python"
    conda_dependencies_file: str | None = None
    conda_dependencies: CondaDependencies | None = None


@dataclass
class DockerSection:
    enabled: bool = False
    base_image: str | None = None
    base_dockerfile: str | None = None  # Dockerfile text, or the path of a Dockerfile
    arguments: list[str] = field(default_factory=list)


class Environment:
    """A (possibly registered) environment. Build it with one of the `from_*` class methods, or
    get a registered or curated one with `Environment.get(ws, name)`."""

    def __init__(self, name: str, **_ignored: Any) -> None:
        self.name = name
        self.version: str | None = None
        self.description = ""
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {}
        self._pip_requirements: list[str] | None = None
        self._pip_source: str | None = None
        self._build_context: str | None = None
        self._dockerfile = "Dockerfile"
        self._curated: EnvironmentSpec | None = None  # the curated spec it came from, unchanged
        # The name `Environment.get` was asked for (an Azure ML curated name such as
        # AzureML-PyTorch-1.6-GPU) when it differs from the environment's own name.
        self.requested_name: str | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_conda_specification(cls, name: str, file_path: str | os.PathLike[str]) -> Environment:
        """A conda environment from a conda YAML (channels, dependencies, a `- pip:` section)."""
        env = cls(name)
        env.python.conda_dependencies = CondaDependencies(file_path)
        return env

    @classmethod
    def from_pip_requirements(cls, name: str, file_path: str | os.PathLike[str],
                              pip_version: str | None = None) -> Environment:
        """A virtual environment with the packages of a requirements file (built with uv)."""
        path = Path(file_path).expanduser().resolve()
        env = cls(name)
        env._pip_requirements = list(read_requirements(path))
        env._pip_source = str(path)
        return env

    @classmethod
    def from_existing_conda_environment(cls, name: str, conda_environment_name: str) -> Environment:
        """Run in an existing local conda environment as it is (user-managed): its prefix is
        found with `conda env list` (or mamba / micromamba)."""
        prefix = _find_conda_prefix(conda_environment_name)
        env = cls(name)
        env.python.user_managed_dependencies = True
        env.python.interpreter_path = str(prefix / ("python.exe" if os.name == "nt" else "bin/python"))
        env.description = f"existing conda environment {conda_environment_name} ({prefix})"
        return env

    @classmethod
    def from_docker_image(cls, name: str, image: str, container_registry: Any = None,
                          conda_specification: str | None = None,
                          pip_requirements: str | None = None) -> Environment:
        env = cls._with_packages(name, conda_specification, pip_requirements)
        env.docker.enabled = True
        env.docker.base_image = image
        return env

    @classmethod
    def from_dockerfile(cls, name: str, dockerfile: str, conda_specification: str | None = None,
                        pip_requirements: str | None = None) -> Environment:
        env = cls._with_packages(name, conda_specification, pip_requirements)
        env.docker.enabled = True
        env.docker.base_dockerfile = dockerfile
        return env

    @classmethod
    def from_docker_build_context(cls, name: str, docker_build_context: Any) -> Environment:
        """A Docker build context: a folder with a Dockerfile (or an object with `.location`
        and optionally `.dockerfile_path`)."""
        location = getattr(docker_build_context, "location", docker_build_context)
        dockerfile = getattr(docker_build_context, "dockerfile_path", None) or "Dockerfile"
        context = Path(location).expanduser().resolve()
        if not (context / dockerfile).is_file():
            raise NotFound(f"there is no {dockerfile} in the build context {context}",
                           "give a folder that holds a Dockerfile")
        env = cls(name)
        env.docker.enabled = True
        env._build_context = str(context)
        env._dockerfile = Path(dockerfile).as_posix()
        return env

    @classmethod
    def _with_packages(cls, name: str, conda: str | None, pip: str | None) -> Environment:
        if conda and pip:
            raise InvalidSpec("give either conda_specification or pip_requirements, not both",
                              "put the pip packages in the conda file's `- pip:` section")
        if conda:
            return cls.from_conda_specification(name, conda)
        if pip:
            return cls.from_pip_requirements(name, pip)
        return cls(name)

    @classmethod
    def load_from_directory(cls, path: str | os.PathLike[str]) -> Environment:
        """Read what `save_to_directory` wrote (an `env.yml` and the files it names)."""
        folder = Path(path)
        return cls.from_spec(load_environment_yaml(folder / ENV_FILE if folder.is_dir() else folder))

    @classmethod
    def from_spec(cls, spec: EnvironmentSpec) -> Environment:
        env = cls(spec.name)
        env.version = str(spec.version) if spec.version is not None else None
        env.description = spec.description
        env.docker.base_image = spec.image
        env.docker.enabled = bool(spec.image or spec.build_context)
        env._build_context = spec.build_context
        env._dockerfile = spec.dockerfile
        if spec.conda is not None:
            env.python.conda_dependencies = CondaDependencies.from_dict(spec.conda, spec.conda_source)
        if spec.pip_requirements is not None:
            env._pip_requirements = list(spec.pip_requirements)
            env._pip_source = spec.pip_source
        env.python.user_managed_dependencies = spec.user_managed
        env.python.interpreter_path = spec.interpreter_path or "python"
        env.environment_variables = dict(spec.environment_variables)
        env._curated = spec if spec.curated else None
        return env

    # ------------------------------------------------------------------ workspace
    @classmethod
    def get(cls, workspace: Any, name: str, version: str | int | None = None, label: str | None = None,
            **_ignored: Any) -> Environment:
        """A registered environment (default: its latest version) or a curated one; `name` may
        also be a reference such as `azureml:NAME@latest` or `NAME:3`."""
        if label not in (None, "latest"):
            raise InvalidSpec(f"unknown label {label!r}", "only label='latest' exists")
        ref = name if version is None else f"{name}:{version}"
        env = cls.from_spec(workspace.engine.resolve_environment(ref))
        if env.name != name:
            env.requested_name = name
        return env

    def register(self, workspace: Any) -> Environment:
        """Register this environment in the workspace and return the registered version. An
        environment unchanged since its latest registered version returns that version."""
        check_name(self.name)
        spec = replace(self.to_spec(), version=None, curated=False)
        registered = workspace.engine.register_environment(spec, reuse_identical=True)
        self.version = str(registered.version)
        return Environment.from_spec(registered)

    # ------------------------------------------------------------------ copies and files
    def clone(self, new_name: str) -> Environment:
        env = copy.deepcopy(self)
        env.name = new_name
        env.version = None
        env._curated = None
        env.requested_name = None
        return env

    def save_to_directory(self, path: str | os.PathLike[str], overwrite: bool = False) -> None:
        """Write `env.yml` plus its conda file / requirements file / Docker build context to
        `path`; `trainyard environment create -f PATH/env.yml` registers it."""
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise InvalidState(f"{folder} exists and is not a folder", "give the path of a folder")
        if folder.is_dir() and any(folder.iterdir()) and not overwrite:
            raise InvalidState(f"the folder {folder} already exists and is not empty",
                               "pass overwrite=True to replace the environment files in it, or another path")
        write_spec_directory(self.to_spec(), folder)

    # ------------------------------------------------------------------ spec
    def to_spec(self) -> EnvironmentSpec:
        """The normalised spec of this environment as it is now."""
        user_managed = bool(self.python.user_managed_dependencies)
        interp = self.python.interpreter_path
        interpreter = interp if user_managed and interp not in (None, "", "python") else None
        conda = conda_source = None
        pip = pip_source = None
        if not user_managed:
            deps = self.python.conda_dependencies
            if deps is None and self.python.conda_dependencies_file:
                deps = CondaDependencies(self.python.conda_dependencies_file)
            if deps is not None:
                if self._pip_requirements:
                    deps = copy.deepcopy(deps)
                    for line in self._pip_requirements:
                        deps.add_pip_package(line)
                conda, conda_source = deps.as_dict(), deps.source
            elif self._pip_requirements is not None:
                pip, pip_source = tuple(self._pip_requirements), self._pip_source
        image = (self.docker.base_image or "").strip() or None
        build_context, dockerfile = self._build_context, self._dockerfile
        if self.docker.base_dockerfile:
            if image:
                raise InvalidSpec(f"environment {self.name!r} sets both docker.base_image and "
                                  "docker.base_dockerfile", "keep one (the Dockerfile's FROM names its base image)",
                                  field="docker")
            build_context, dockerfile = str(_dockerfile_context(self.docker.base_dockerfile)), "Dockerfile"
        if build_context and (conda is not None or pip is not None):
            raise InvalidSpec(
                f"environment {self.name!r} has a Dockerfile and conda/pip packages: Trainyard builds the "
                "Dockerfile as it is and adds nothing on top",
                "install the packages in the Dockerfile, or use docker.base_image with the conda/pip file",
                field="docker")
        spec = EnvironmentSpec(
            name=self.name,
            version=int(self.version) if self.version is not None and str(self.version).isdigit() else None,
            description=self.description or "",
            image=image,
            build_context=build_context,
            dockerfile=dockerfile,
            conda=conda,
            conda_source=conda_source,
            pip_requirements=pip,
            pip_source=pip_source,
            environment_variables={str(k): yamlfile.env_str(v) for k, v in self.environment_variables.items()},
            user_managed=user_managed,
            interpreter_path=interpreter,
        )
        if self._curated is not None and spec.name == self._curated.name and same_build(spec, self._curated):
            return self._curated
        return spec

    def __repr__(self) -> str:
        version = f", version={self.version!r}" if self.version is not None else ""
        return f"Environment(name={self.name!r}{version})"

    @classmethod
    def list(cls, workspace: Any) -> dict[str, Environment]:
        """Registered (latest versions) and curated environments by name."""
        return {s.name: cls.from_spec(s) for s in workspace.engine.list_all_environments()}


def _dockerfile_context(value: str) -> Path:
    """`docker.base_dockerfile` is the Dockerfile's text or its path: put the text alone in a
    content-addressed folder (so the same Dockerfile always gives the same spec and build)."""
    text = value
    if "\n" not in value and len(value) < 4096:
        candidate = Path(value).expanduser()
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8")
        elif not value.lstrip().upper().startswith(("FROM ", "ARG ", "#")):
            raise NotFound(f"docker.base_dockerfile {value!r} is neither a Dockerfile's text nor an existing file",
                           "give the Dockerfile's contents (starting with FROM) or its path")
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    home = os.environ.get(ENV_HOME)
    root = (Path(home).expanduser() if home
            else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trainyard")
    folder = root / "dockerfiles" / digest
    if not (folder / "Dockerfile").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"Dockerfile.tmp-{os.getpid()}"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, folder / "Dockerfile")
    return folder


def _conda_executable() -> str | None:
    for cand in (os.environ.get("CONDA_EXE"), os.environ.get("MAMBA_EXE")):
        if cand and Path(cand).is_file():
            return cand
    for name in ("conda", "mamba", "micromamba"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _find_conda_prefix(env_name: str) -> Path:
    as_path = Path(env_name).expanduser()
    if as_path.is_absolute() and (as_path / "conda-meta").is_dir():
        return as_path
    exe = _conda_executable()
    if exe is None:
        raise NotFound(
            f"conda was not found, so the conda environment {env_name!r} cannot be looked up",
            "install conda (e.g. Miniforge) or mamba/micromamba and put it on PATH (or set CONDA_EXE); "
            "or set env.python.user_managed_dependencies = True and env.python.interpreter_path to the "
            "environment's python",
        )
    cmd = [exe, "env", "list", "--json"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TrainyardError(f"`{' '.join(cmd)}` could not run: {exc}", "check the conda installation") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise TrainyardError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {tail}",
                             "check the conda installation")
    try:
        prefixes = [Path(p) for p in json.loads(proc.stdout).get("envs", [])]
    except (ValueError, AttributeError) as exc:
        raise TrainyardError(f"`{' '.join(cmd)}` printed something that is not its JSON list of environments",
                             "check the conda installation") from exc
    names: dict[str, Path] = {}
    for p in prefixes:
        names.setdefault("base" if p.parent.name != "envs" else p.name, p)
    if env_name in names:
        return names[env_name]
    close = difflib.get_close_matches(env_name, list(names), n=3)
    raise NotFound(f"there is no conda environment named {env_name!r}",
                   f"did you mean {', '.join(close)}?" if close
                   else f"conda environments here: {', '.join(sorted(names)) or 'none'}")
