"""An environment spec written back as environment YAML files (pydantic-free, so the studio's
environment views can show a spec's files without loading the YAML schemas)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.entities import EnvironmentSpec
from engine.specs import yamlfile

ENV_FILE = "env.yml"
CONDA_FILE = "conda_dependencies.yml"
REQUIREMENTS_FILE = "requirements.txt"
CONTEXT_DIR = "docker-context"


def environment_document(spec: EnvironmentSpec, *, conda_file: str = CONDA_FILE,
                         pip_file: str = REQUIREMENTS_FILE, build: dict[str, str] | None = None,
                         with_version: bool = False) -> dict[str, Any]:
    """`spec` as the mapping of an environment YAML, naming `conda_file` or `pip_file` for its
    packages and `build` as its `build:` section (the caller knows where those files are)."""
    doc: dict[str, Any] = {"name": spec.name}
    if with_version and spec.version is not None:
        doc["version"] = spec.version
    if spec.description:
        doc["description"] = spec.description
    if spec.image:
        doc["image"] = spec.image
    if build is not None:
        doc["build"] = build
    if spec.conda is not None:
        doc["conda_file"] = conda_file
    elif spec.pip_requirements is not None:
        doc["pip_requirements"] = pip_file
    if spec.environment_variables:
        doc["environment_variables"] = dict(spec.environment_variables)
    if spec.user_managed or spec.interpreter_path:
        doc["python"] = {"user_managed_dependencies": bool(spec.user_managed)}
        if spec.interpreter_path:
            doc["python"]["interpreter_path"] = spec.interpreter_path
    return doc


def conda_text(conda: Mapping[str, Any]) -> str:
    """A normalised conda dict as the text of a conda environment file."""
    return yamlfile.dump({k: v for k, v in conda.items() if v is not None})


def requirements_text(lines: tuple[str, ...]) -> str:
    return "".join(f"{line}\n" for line in lines)


def write_spec_directory(spec: EnvironmentSpec, folder: str | Path) -> Path:
    """Write `spec` as `env.yml` (+ `conda_dependencies.yml` or `requirements.txt`, + a copy of
    the Docker build context) into `folder`; returns the env YAML's path. The caller decides
    whether an existing folder may be overwritten."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    build = None
    if spec.build_context:
        target = folder / CONTEXT_DIR
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(spec.build_context, target, symlinks=True)
        build = {"path": CONTEXT_DIR}
        if spec.dockerfile != "Dockerfile":
            build["dockerfile_path"] = spec.dockerfile
    if spec.conda is not None:
        (folder / CONDA_FILE).write_text(conda_text(spec.conda))
    elif spec.pip_requirements is not None:
        (folder / REQUIREMENTS_FILE).write_text(requirements_text(spec.pip_requirements))
    path = folder / ENV_FILE
    path.write_text(yamlfile.dump(environment_document(spec, build=build)))
    return path
