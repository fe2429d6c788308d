"""What an environment is, independent of where it came from (YAML, SDK, curated, inline job).

A spec is normalised (file contents read in, lists sorted where order does not matter) so that
its hash identifies a build: two runs whose specs hash the same share one cached build.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class EnvironmentSpec:
    """A resolved environment.

    Exactly one build kind applies (see `kind`):
    - user-managed: run with `interpreter_path` (or Trainyard's own interpreter), nothing built;
    - venv: `pip_requirements` only, built with uv;
    - conda: `conda` (the parsed conda YAML: channels, dependencies incl. a `pip:` section);
    - docker: `image` (base image) plus optional conda/pip on top, or `build_context`.
    """

    name: str
    version: int | None = None
    description: str = ""
    image: str | None = None
    build_context: str | None = None  # absolute path of a folder with a Dockerfile
    dockerfile: str = "Dockerfile"  # relative to build_context
    conda: dict[str, Any] | None = None  # parsed conda YAML: {name, channels, dependencies}
    conda_source: str | None = None  # the file it came from, for messages
    pip_requirements: tuple[str, ...] | None = None  # requirement lines, comments stripped
    pip_source: str | None = None
    environment_variables: dict[str, str] = field(default_factory=dict)
    user_managed: bool = False
    interpreter_path: str | None = None
    curated: bool = False

    @property
    def kind(self) -> str:
        if self.image or self.build_context:
            return "docker"
        if self.user_managed or (self.conda is None and self.pip_requirements is None):
            return "user"
        if self.conda is not None:
            return "conda"
        return "venv"

    @property
    def needs_docker(self) -> bool:
        return self.kind == "docker"

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.version}" if self.version is not None else self.name

    def build_inputs(self) -> dict[str, Any]:
        """What determines the built result (not names, versions or descriptions)."""
        return {
            "kind": self.kind,
            "image": self.image,
            "build_context": self.build_context,
            "dockerfile": self.dockerfile if self.build_context else None,
            "conda": self.conda,
            "pip": list(self.pip_requirements) if self.pip_requirements is not None else None,
            "interpreter": self.interpreter_path,
        }

    def build_hash(self, extra: dict[str, Any] | None = None) -> str:
        """sha256 of the normalised build inputs + platform (+ e.g. a build context's content hash)."""
        payload = {**self.build_inputs(), "platform": f"{platform.system()}-{platform.machine()}",
                   **(extra or {})}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pip_requirements"] = list(self.pip_requirements) if self.pip_requirements is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EnvironmentSpec:
        d = dict(d)
        if d.get("pip_requirements") is not None:
            d["pip_requirements"] = tuple(d["pip_requirements"])
        return cls(**d)
