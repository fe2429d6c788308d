"""`Environment` as control scripts build it. This version runs user-managed environments only:
Trainyard's own interpreter, or `python.interpreter_path`."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InvalidSpec


@dataclass
class PythonSection:
    user_managed_dependencies: bool = False
    interpreter_path: str = "python"
    conda_dependencies_file: str | None = None
    conda_dependencies: Any = None


@dataclass
class DockerSection:
    enabled: bool = False
    base_image: str | None = None
    base_dockerfile: str | None = None
    arguments: list[str] = field(default_factory=list)


class CondaDependencies:
    """A conda specification (kept as written; building it is not part of this version)."""

    def __init__(self, conda_dependencies_file_path: str | None = None) -> None:
        self.conda_packages: list[str] = []
        self.pip_packages: list[str] = []
        self.source = conda_dependencies_file_path

    @classmethod
    def create(cls, conda_packages: list[str] | None = None, pip_packages: list[str] | None = None,
               **_ignored: Any) -> CondaDependencies:
        dep = cls()
        dep.conda_packages = list(conda_packages or [])
        dep.pip_packages = list(pip_packages or [])
        return dep

    def add_conda_package(self, spec: str) -> None:
        self.conda_packages.append(spec)

    def add_pip_package(self, spec: str) -> None:
        self.pip_packages.append(spec)


class Environment:
    def __init__(self, name: str) -> None:
        self.name = name
        self.version: str | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {}
        self._source: str | None = None

    @classmethod
    def from_conda_specification(cls, name: str, file_path: str) -> Environment:
        if not Path(file_path).is_file():
            raise InvalidSpec(f"the conda specification {file_path!r} does not exist", "check the path",
                              file=file_path)
        env = cls(name)
        env.python.conda_dependencies_file = file_path
        env._source = f"conda file {file_path}"
        return env

    @classmethod
    def from_pip_requirements(cls, name: str, file_path: str) -> Environment:
        if not Path(file_path).is_file():
            raise InvalidSpec(f"the requirements file {file_path!r} does not exist", "check the path",
                              file=file_path)
        env = cls(name)
        env._source = f"pip requirements {file_path}"
        return env

    @classmethod
    def get(cls, workspace: Any, name: str, version: str | None = None) -> Environment:
        return workspace.environments[name]

    def clone(self, new_name: str) -> Environment:
        env = copy.deepcopy(self)
        env.name = new_name
        return env

    def register(self, workspace: Any) -> Environment:
        return self

    def needs_build(self) -> str | None:
        """What would have to be built for this environment, or None if it is user-managed."""
        if self.docker.base_image or self.docker.base_dockerfile or self.docker.enabled:
            return f"a Docker image ({self.docker.base_image or 'Dockerfile'})"
        if self.python.user_managed_dependencies:
            return None
        if self._source or self.python.conda_dependencies_file or self.python.conda_dependencies:
            return self._source or "a conda environment"
        return None

    def interpreter(self) -> str | None:
        """The interpreter to run with: None means Trainyard's own."""
        if self.python.user_managed_dependencies and self.python.interpreter_path not in ("python", "", None):
            return self.python.interpreter_path
        return None

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r})"
