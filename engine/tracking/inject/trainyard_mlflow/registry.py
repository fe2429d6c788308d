"""MLflow's model registry store for ``trainyard://``: ``registered_model_name=`` (or
``mlflow.register_model``) registers the model folder in Trainyard's model registry, as a new
version of the model, with the tag ``type: mlflow_model``.

The engine registers it once the folder has reached the run (it is uploaded first); the version
number this process returns counts the versions registered from this process, and Trainyard's
registry gives the final one (`trainyard model list`).
"""

import re

from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry.abstract_store import AbstractStore

from trainyard_mlflow.state import lock, main_run, now_ms, parse_artifact_uri, runs
from trainyard_mlflow.store import logged_model, model_path

__all__ = ["TrainyardRegistryStore"]

MODEL_TYPE = "mlflow_model"
_RUNS_URI = re.compile(r"^runs:/(?P<run>[^/]+)/(?P<path>.+)$")
_MODELS_URI = re.compile(r"^models:/(?P<id>m-[0-9a-f]+)$")
_registered: "dict[str, RegisteredModel]" = {}
_versions: "dict[str, list[ModelVersion]]" = {}


class TrainyardRegistryStore(AbstractStore):
    def __init__(self, store_uri: "str | None" = None, tracking_uri: "str | None" = None) -> None:
        super().__init__(store_uri, tracking_uri)

    def create_registered_model(
        self,
        name: str,
        tags: "list | None" = None,
        description: "str | None" = None,
        deployment_job_id: "str | None" = None,
    ) -> "RegisteredModel":
        with lock:
            if name in _registered:
                raise MlflowException(
                    f"Registered Model (name={name}) already exists.", error_code=RESOURCE_ALREADY_EXISTS
                )
            model = _registered[name] = RegisteredModel(
                name, now_ms(), now_ms(), description, tags=tags or []
            )
        return model

    def get_registered_model(self, name: str) -> "RegisteredModel":
        try:
            return _registered[name]
        except KeyError:
            raise MlflowException(
                f"Registered Model with name={name} not found", error_code=RESOURCE_DOES_NOT_EXIST
            ) from None

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: "str | None" = None,
        tags: "list | None" = None,
        run_link: "str | None" = None,
        description: "str | None" = None,
        local_model_path: "str | None" = None,
        model_id: "str | None" = None,
    ) -> "ModelVersion":
        run_id, path = _locate(source, run_id, model_id)
        st = runs.get(run_id) or main_run()
        info = {
            "type": MODEL_TYPE,
            "description": description or "",
            "tags": {"type": MODEL_TYPE, **{t.key: t.value for t in tags or []}},
        }
        st.writer._register_model(name, path, info)
        st.writer.flush()
        with lock:
            versions = _versions.setdefault(name, [])
            version = ModelVersion(
                name,
                str(len(versions) + 1),
                now_ms(),
                now_ms(),
                description,
                source=source,
                run_id=run_id,
                tags=tags or [],
                run_link=run_link,
                model_id=model_id,
            )
            versions.append(version)
        return version

    def get_model_version(self, name: str, version: str) -> "ModelVersion":
        for v in _versions.get(name, []):
            if v.version == str(version):
                return v
        raise MlflowException(
            f"Model Version (name={name}, version={version}) not found", error_code=RESOURCE_DOES_NOT_EXIST
        )

    def get_latest_versions(self, name: str, stages: "list | None" = None) -> "list[ModelVersion]":
        versions = _versions.get(name, [])
        return versions[-1:]

    def search_model_versions(
        self,
        filter_string: "str | None" = None,
        max_results: "int | None" = None,
        order_by: "list | None" = None,
        page_token: "str | None" = None,
    ) -> "PagedList":
        found = [v for vs in _versions.values() for v in vs]
        return PagedList(found, None)

    def set_model_version_tag(self, name: str, version: str, tag: object) -> None:
        self.get_model_version(name, version)  # tags set after registration stay in this process

    def set_registered_model_tag(self, name: str, tag: object) -> None:
        self.get_registered_model(name)


def _locate(source: str, run_id: "str | None", model_id: "str | None") -> "tuple[str, str]":
    """(run id, folder in the run) of the model MLflow asks to register."""
    main = main_run().run_id
    if model_id is None:
        m = _MODELS_URI.match(source)
        model_id = m.group("id") if m else None
    path = model_path(model_id) if model_id is not None else None
    if model_id is not None and path is not None:
        logged = logged_model(model_id)
        return (logged.source_run_id if logged is not None and logged.source_run_id else run_id or main), path
    if source.startswith("trainyard://"):
        return parse_artifact_uri(source)
    m = _RUNS_URI.match(source)
    if m:
        return m.group("run"), "outputs/" + m.group("path").strip("/")
    raise MlflowException(
        f"register_model({source!r}): inside a Trainyard run a model is registered from a model this run "
        "logged (models:/m-..., runs:/RUN/path)",
        error_code=INVALID_PARAMETER_VALUE,
    )
