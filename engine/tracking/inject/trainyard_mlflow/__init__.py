"""MLflow plugins that make a real MLflow log into the Trainyard run it runs in.

Trainyard puts this package and ``trainyard_mlflow-1.0.dist-info`` (its entry points) on the
run's path, with the rest of the in-run client; nothing is installed in the run's environment.
MLflow finds the plugins through its documented entry points, for the ``trainyard`` scheme of the
run's ``MLFLOW_TRACKING_URI`` (``trainyard://runs/NAME?workspace=...``):

- ``mlflow.tracking_store``: ``store.TrainyardStore``, runs, metrics, params, tags, inputs,
  logged models;
- ``mlflow.artifact_repository``: ``artifacts.TrainyardArtifactRepository``, files under the
  run's ``outputs/``;
- ``mlflow.model_registry_store``: ``registry.TrainyardRegistryStore``, ``registered_model_name=``
  registers the model folder in Trainyard's model registry (as an ``mlflow_model``).

Everything is written through ``trainyard_run``'s record writer (the client's fast path: a call
appends to a buffer that a thread writes out), so it works wherever the client works: locally,
in Docker and on SSH hosts, with no server to reach. Reads (``get_run``, ``search_runs``...)
answer from what this process logged: the run and the child runs it made.

This package is only imported by MLflow itself (MLflow is then installed), so it imports MLflow.
"""
