"""`trainyard model create -f model.yml`: the az ml model YAML (name, version, path, type,
description, tags) -> a ModelRequest, with errors that name the file, the line and the key.

`path:` is a local file or folder (relative to the YAML), or a job's output:
`azureml://jobs/NAME/outputs/artifacts/paths/REL` (Azure ML) or `runs:/NAME/REL` (MLflow)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, StrictInt, StrictStr, ValidationError

from engine.errors import InvalidSpec, NotFound
from engine.specs.explain import explain
from engine.specs.schema import Scalar, SchemaKey
from engine.specs.uris import classify, describe_cloud, local_path
from engine.specs.yamlfile import line_of, load_yaml_with_lines

__all__ = ["MODEL_TYPES", "ModelRequest", "load_model_yaml"]

MODEL_TYPES = ("custom_model", "mlflow_model", "triton_model")
_JOB_OUTPUT = re.compile(r"^azureml://jobs/(?P<run>[^/]+)/outputs/artifacts/paths/(?P<rel>.*)$")
_MLFLOW_RUN = re.compile(r"^runs:/(?P<run>[^/]+)/(?P<rel>.*)$")


class ModelYamlSchema(SchemaKey):
    name: StrictStr
    version: StrictStr | StrictInt | None = None
    path: StrictStr
    type: Literal["custom_model", "mlflow_model", "triton_model"] = "custom_model"
    description: StrictStr | None = None
    tags: dict[StrictStr, Scalar | None] = Field(default_factory=dict)
    properties: dict[StrictStr, Any] = Field(default_factory=dict)
    stage: StrictStr | None = None
    flavors: dict[StrictStr, Any] | None = None  # written by MLflow; read from MLmodel here


@dataclass(frozen=True)
class ModelRequest:
    """What to register: `path` is absolute, or relative to job `run_name`'s folder."""

    name: str
    path: str
    type: str = "custom_model"
    run_name: str | None = None
    version: int | None = None  # None: the next one
    description: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # the YAML, for messages
    version_line: int | None = None


def load_model_yaml(path: str | Path) -> ModelRequest:
    path = Path(path)
    data, lines = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise InvalidSpec(
            "a model file must be a YAML mapping with `name:` and `path:`", file=str(path), line=1
        )
    try:
        spec = ModelYamlSchema.model_validate(data)
    except ValidationError as exc:
        raise explain(exc, lines, path, ModelYamlSchema) from None

    def error(message: str, hint: str, *loc: str) -> InvalidSpec:
        return InvalidSpec(message, hint, file=str(path), line=line_of(lines, loc), field=".".join(loc))

    version = None
    if spec.version is not None:
        text = str(spec.version).strip()
        if not text.isdigit() or int(text) < 1:
            raise error(
                f"version {spec.version!r} is not a whole number of 1 or more",
                "model versions are 1, 2, 3, ...; leave `version:` out to get the next one",
                "version",
            )
        version = int(text)
    run_name = None
    target = spec.path
    match = _JOB_OUTPUT.match(target) or _MLFLOW_RUN.match(target)
    if match:
        run_name, target = match.group("run"), match.group("rel").strip("/") or "."
    elif classify(target) in ("cloud", "http"):
        where = describe_cloud(target) if classify(target) == "cloud" else "a URL"
        raise error(
            f"the model path {target!r} is in {where}, which this machine does not read models from",
            "download the model to this machine and give its local file or folder as `path:`",
            "path",
        )
    elif classify(target) == "azureml_asset":
        raise error(
            f"`path: {target}` names a registered asset", "give the model's local file or folder", "path"
        )
    else:
        local = (path.parent.resolve() / local_path(target)).resolve()
        if not local.exists():
            raise NotFound(
                f"{path}:{line_of(lines, ('path',))}: the model path {local} does not exist",
                "`path:` is relative to the model file",
            )
        if spec.type == "mlflow_model" and not (local / "MLmodel").is_file():
            raise error(
                f"an mlflow_model is a folder with an MLmodel file; {local} has none",
                "give the folder MLflow saved (mlflow.<flavor>.save_model), or use `type: custom_model`",
                "path",
            )
        target = str(local)
    tags = {k: v for k, v in spec.tags.items()}
    tags.setdefault("model_type", spec.type)
    return ModelRequest(
        name=spec.name,
        path=target,
        type=spec.type,
        run_name=run_name,
        version=version,
        description=spec.description or "",
        tags=tags,
        source=str(path),
        version_line=line_of(lines, ("version",)),
    )
