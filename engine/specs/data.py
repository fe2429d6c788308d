"""`trainyard data create -f data.yml`: the az ml data asset YAML (name, version, type, path,
description, tags) -> a DataAssetRequest, with errors that name the file, the line and the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.errors import InvalidSpec
from engine.specs.explain import explain
from engine.specs.schema import DataYamlSchema
from engine.specs.yamlfile import line_of, load_yaml_with_lines

__all__ = ["DataAssetRequest", "load_data_asset"]


@dataclass(frozen=True)
class DataAssetRequest:
    name: str
    path: str  # absolute local path (relative ones are relative to the YAML), or a URL as given
    type: str
    version: int | None = None
    description: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    source_file: str | None = None


def load_data_asset(path: str | Path) -> DataAssetRequest:
    path = Path(path)
    data, lines = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise InvalidSpec(
            "a data asset file must be a YAML mapping (key: value lines)", file=str(path), line=1
        )
    try:
        spec = DataYamlSchema.model_validate(data)
    except ValidationError as exc:
        raise explain(exc, lines, path, root=DataYamlSchema) from None
    version = None
    if spec.version is not None:
        if not str(spec.version).isdigit() or int(spec.version) < 1:
            raise InvalidSpec(
                f"version {spec.version!r} is not a positive whole number",
                "Trainyard numbers versions 1, 2, 3...: give one, or leave `version:` out for the next",
                file=str(path),
                line=line_of(lines, ("version",)),
                field="version",
            )
        version = int(spec.version)
    where = spec.path
    if "://" not in where and not where.startswith("azureml:"):
        where = str((path.parent / where).resolve())
    return DataAssetRequest(
        name=spec.name,
        path=where,
        type=spec.type,
        version=version,
        description=spec.description or "",
        tags={k: v for k, v in spec.tags.items()},
        source_file=str(path),
    )
