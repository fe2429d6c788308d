"""MLflow's tracking store for ``trainyard://`` URIs: MLflow's runs are the Trainyard run and its
child runs, and everything they log goes through ``trainyard_run``'s record writer.

- The run (``MLFLOW_RUN_ID``, set by Trainyard) is the Trainyard run. ``start_run()`` resumes it,
  and so does a run started again after ``end_run()``: a Trainyard run holds one top-level MLflow
  run (it belongs to one experiment, which ``set_experiment`` cannot change; a note says so).
- ``start_run(nested=True)`` makes a child run of the active run: Trainyard creates it in the
  store (``RUN-1``, ``RUN-2``...) with its own metrics, params, tags and outputs.
- Metrics keep MLflow's steps and timestamps; params are MLflow's strings. Tags that MLflow sets
  for itself (``mlflow.user``, ``mlflow.source.*``...) stay in this process, except the run's name
  and description.
- Datasets (``log_input``) are kept as tags ``dataset.<name>`` (digest, source, context).
- Logged models (MLflow 3) live in the run's ``outputs/<name>``.
"""

import json
import os
import uuid
from typing import Any

from mlflow.entities import (
    Experiment,
    LifecycleStage,
    LoggedModel,
    LoggedModelStatus,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
    RunStatus,
    RunTag,
    ViewType,
)
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.tracking.abstract_store import AbstractStore
from mlflow.utils.search_utils import SearchUtils
from trainyard_run.envvars import ENV_EXPERIMENT, ENV_TRACKING_DIR
from trainyard_run.recordformat import CHILDREN_DIR

from trainyard_mlflow.state import RunState, artifact_uri, lock, main_run, note, now_ms, runs

__all__ = ["TrainyardStore"]

DEFAULT_EXPERIMENT = "0"
RUN_EXPERIMENT = "1"  # the Trainyard run's experiment
# MLflow's own tags that are not worth a column in Trainyard (they stay readable through get_run).
_KEPT_SYSTEM_TAGS = frozenset({"mlflow.runName", "mlflow.note.content"})
_STATUS = {
    "RUNNING": "Running",
    "SCHEDULED": "Queued",
    "FINISHED": "Completed",
    "FAILED": "Failed",
    "KILLED": "Canceled",
}

_experiments: "dict[str, Experiment]" = {}
_models: "dict[str, LoggedModel]" = {}
_model_paths: "dict[str, str]" = {}  # model id -> its folder in the run (outputs/NAME)


def _not_found(what: str) -> "MlflowException":
    return MlflowException(what, error_code=RESOURCE_DOES_NOT_EXIST)


def _experiment(experiment_id: str, name: str) -> "Experiment":
    exp = Experiment(
        experiment_id,
        name,
        artifact_uri(main_run().run_id, "outputs"),
        LifecycleStage.ACTIVE,
        creation_time=now_ms(),
        last_update_time=now_ms(),
    )
    _experiments[experiment_id] = exp
    return exp


def _ensure_experiments() -> None:
    if not _experiments:
        with lock:
            if not _experiments:
                _experiment(DEFAULT_EXPERIMENT, "Default")
                _experiment(
                    RUN_EXPERIMENT, os.environ.get(ENV_EXPERIMENT) or str(main_run().writer.experiment)
                )
                main_run().experiment_id = RUN_EXPERIMENT


def _status_text(status: object) -> str:
    return status if isinstance(status, str) else RunStatus.to_string(int(status))  # type: ignore[call-overload]


class TrainyardStore(AbstractStore):
    """The tracking store; MLflow builds it from the ``mlflow.tracking_store`` entry point."""

    def __init__(self, store_uri: "str | None" = None, artifact_uri: "str | None" = None) -> None:
        super().__init__()
        self.store_uri = store_uri
        _ensure_experiments()

    # ---- runs ---------------------------------------------------------------------------------

    def _run(self, run_id: str) -> "RunState":
        found = runs.get(run_id)
        if found is not None:
            return found
        main = main_run()
        if run_id == main.run_id:
            return main
        raise _not_found(
            f"Run '{run_id}' not found: inside Trainyard run {main.run_id!r} MLflow sees that "
            "run and the child runs this process started"
        )

    def _entity(self, st: "RunState") -> "Run":
        info = RunInfo(
            st.run_id,
            st.experiment_id or RUN_EXPERIMENT,
            st.tags.get("mlflow.user", ""),
            st.status,
            st.start_time,
            st.end_time,
            st.lifecycle_stage,
            st.artifact_uri,
            st.name,
        )
        data = RunData(
            list(st.latest.values()),
            [Param(k, v) for k, v in st.params.items()],
            [RunTag(k, v) for k, v in st.tags.items()],
        )
        return Run(info, data, RunInputs(list(st.datasets)), RunOutputs(list(st.model_outputs)))

    def get_run(self, run_id: str) -> "Run":
        return self._entity(self._run(run_id))

    def create_run(self, experiment_id: str, user_id: str, start_time: int, tags: list, run_name: str) -> "Run":
        wanted = {t.key: t.value for t in tags or []}
        parent_id = wanted.get("mlflow.parentRunId")
        main = main_run()
        if parent_id is None:
            # One top-level MLflow run per Trainyard run: it goes on.
            if main.status != "RUNNING":
                note(
                    f"mlflow.start_run(): logging goes on in Trainyard run {main.run_id!r} (a Trainyard run "
                    "holds one top-level MLflow run; use start_run(nested=True) for child runs)"
                )
            main.status, main.end_time = "RUNNING", None
            self._set_tags(main, wanted)
            return self._entity(main)
        parent = self._run(parent_id)
        with lock:
            child_id = self._child_id(parent)
            name = run_name or wanted.get("mlflow.runName") or child_id
            wanted["mlflow.runName"] = name
            writer = parent.writer._child(child_id, {"display_name": name, "status": "Running", "tags": {}})
            st = RunState(child_id, parent.experiment_id or RUN_EXPERIMENT, writer, name, parent.run_id)
            st.start_time = start_time or st.start_time
            runs[child_id] = st
        self._set_tags(st, wanted)
        return self._entity(st)

    @staticmethod
    def _child_id(parent: "RunState") -> str:
        tracking = os.environ.get(ENV_TRACKING_DIR) or ""
        while True:
            parent.children += 1
            child_id = f"{parent.run_id}-{parent.children}"
            # Another process of the run (or an earlier life of this one) may have made it already.
            if child_id not in runs and not os.path.exists(os.path.join(tracking, CHILDREN_DIR, child_id)):
                return child_id

    def update_run_info(
        self, run_id: str, run_status: object, end_time: "int | None", run_name: "str | None"
    ) -> "RunInfo":
        st = self._run(run_id)
        st.status = _status_text(run_status)
        st.end_time = end_time
        if run_name:
            st.name = run_name
            self._set_tags(st, {"mlflow.runName": run_name})
        if st.parent is not None:
            info = {"status": _STATUS.get(st.status, "Running"), "display_name": st.name}
            runs[st.parent].writer._child(st.run_id, info)
        if st.status != "RUNNING":
            st.writer.flush()
        return self._entity(st).info

    def delete_run(self, run_id: str) -> None:
        st = self._run(run_id)
        st.lifecycle_stage = LifecycleStage.DELETED
        note(f"mlflow.delete_run({run_id!r}): Trainyard keeps the run; archive it in the studio or the CLI")

    def restore_run(self, run_id: str) -> None:
        self._run(run_id).lifecycle_stage = LifecycleStage.ACTIVE

    def _search_runs(
        self,
        experiment_ids: list,
        filter_string: str,
        run_view_type: int,
        max_results: int,
        order_by: list,
        page_token: "str | None",
    ) -> "tuple[list[Run], str | None]":
        wanted = {str(e) for e in experiment_ids}
        found = []
        for st in list(runs.values()):
            if (st.experiment_id or RUN_EXPERIMENT) not in wanted:
                continue
            if not LifecycleStage.matches_view_type(run_view_type, st.lifecycle_stage):
                continue
            found.append(self._entity(st))
        found = SearchUtils.filter(found, filter_string)
        found = SearchUtils.sort(found, order_by)
        return SearchUtils.paginate(found, page_token, max_results)

    # ---- logging ------------------------------------------------------------------------------

    def log_metric(self, run_id: str, metric: "Metric") -> None:
        st = runs.get(run_id) or self._run(run_id)
        self._metric(st, metric)

    @staticmethod
    def _metric(st: "RunState", metric: "Metric") -> None:
        key, value, step, ts = metric.key, metric.value, metric.step, metric.timestamp
        st.writer._log_at(key, value if type(value) is float else float(value), step, ts / 1000.0)
        try:
            st.history[key].append((value, ts, step))
        except KeyError:
            st.history[key] = [(value, ts, step)]
        last = st.latest.get(key)
        if last is None or (step, ts) >= (last.step, last.timestamp):
            st.latest[key] = metric

    def log_param(self, run_id: str, param: "Param") -> None:
        self._params(self._run(run_id), [param])

    @staticmethod
    def _params(st: "RunState", params: list) -> None:
        items = {p.key: str(p.value) for p in params}
        for k, v in items.items():
            old = st.params.get(k)
            if old is not None and old != v:
                raise MlflowException(
                    f"Changing param values is not allowed. Param with key='{k}' was already logged with "
                    f"value='{old}' for run ID='{st.run_id}'. Attempted logging new value '{v}'.",
                    error_code=INVALID_PARAMETER_VALUE,
                )
        st.params.update(items)
        if items:
            st.writer.log_params(items)

    def set_tag(self, run_id: str, tag: "RunTag") -> None:
        self._set_tags(self._run(run_id), {tag.key: tag.value})

    @staticmethod
    def _set_tags(st: "RunState", tags: dict) -> None:
        items = {str(k): str(v) for k, v in tags.items()}
        st.tags.update(items)
        shown = {k: v for k, v in items.items() if not k.startswith("mlflow.") or k in _KEPT_SYSTEM_TAGS}
        if "mlflow.runName" in items:
            st.name = items["mlflow.runName"]
        if shown:
            st.writer.set_tags(shown)

    def delete_tag(self, run_id: str, key: str) -> None:
        st = self._run(run_id)
        if key not in st.tags:
            raise _not_found(f"No tag with name: {key} in run with id {run_id}")
        del st.tags[key]
        st.writer.set_tags({key: ""})  # Trainyard's tags cannot be removed from a run: emptied

    def log_batch(self, run_id: str, metrics: list, params: list, tags: list) -> None:
        st = self._run(run_id)
        if params:
            self._params(st, params)
        if tags:
            self._set_tags(st, {t.key: t.value for t in tags})
        for m in metrics:
            self._metric(st, m)

    def get_metric_history(
        self, run_id: str, metric_key: str, max_results: "int | None" = None, page_token: "str | None" = None
    ) -> "PagedList":
        points = self._run(run_id).history.get(metric_key, [])
        out = [Metric(metric_key, v, ts, step, run_id=run_id) for v, ts, step in points]
        return PagedList(out[:max_results] if max_results else out, None)

    def log_inputs(self, run_id: str, datasets: "list | None" = None, models: "list | None" = None) -> None:
        st = self._run(run_id)
        tags = {}
        for d in datasets or []:
            st.datasets.append(d)
            ds = d.dataset
            context = next((t.value for t in d.tags if t.key == "mlflow.data.context"), "")
            tags[f"dataset.{ds.name}"] = json.dumps(
                {"digest": ds.digest, "source_type": ds.source_type, "source": ds.source, "context": context}
            )
        if tags:
            st.writer.set_tags(tags)

    def log_outputs(self, run_id: str, models: list) -> None:
        self._run(run_id).model_outputs.extend(models)

    def record_logged_model(self, run_id: str, mlflow_model: "Any") -> None:
        # MLflow 2's record of a logged model: kept with the run's tags, as MLflow does.
        st = self._run(run_id)
        history = json.loads(st.tags.get("mlflow.log-model.history", "[]"))
        history.append(mlflow_model.get_tags_dict())
        st.tags["mlflow.log-model.history"] = json.dumps(history)

    # ---- experiments --------------------------------------------------------------------------

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: "str | None" = None,
        order_by: "list | None" = None,
        page_token: "str | None" = None,
    ) -> "PagedList":
        return PagedList(list(_experiments.values())[:max_results], None)

    def create_experiment(
        self, name: str, artifact_location: "str | None" = None, tags: "list | None" = None
    ) -> str:
        if self.get_experiment_by_name(name) is not None:
            raise MlflowException(f"Experiment '{name}' already exists.", error_code=RESOURCE_ALREADY_EXISTS)
        with lock:
            experiment_id = str(len(_experiments))
            _experiment(experiment_id, name)
        note(
            f"mlflow: experiment {name!r} exists in this process only; run {main_run().run_id!r} stays in "
            f"experiment {_experiments[RUN_EXPERIMENT].name!r} and logs there"
        )
        return experiment_id

    def get_experiment(self, experiment_id: str) -> "Experiment":
        try:
            return _experiments[str(experiment_id)]
        except KeyError:
            raise _not_found(f"No Experiment with id={experiment_id} exists") from None

    def get_experiment_by_name(self, experiment_name: str) -> "Experiment | None":
        return next((e for e in _experiments.values() if e.name == experiment_name), None)

    def set_experiment_tag(self, experiment_id: str, tag: "Any") -> None:
        self.get_experiment(experiment_id)._add_tag(tag)

    def delete_experiment(self, experiment_id: str) -> None:
        raise MlflowException("Trainyard's experiments are deleted in the studio or the CLI, not from a run")

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        raise MlflowException("Trainyard's experiments cannot be renamed from inside a run")

    # ---- logged models (MLflow 3) -------------------------------------------------------------

    def create_logged_model(
        self,
        experiment_id: str,
        name: "str | None" = None,
        source_run_id: "str | None" = None,
        tags: "list | None" = None,
        params: "list | None" = None,
        model_type: "str | None" = None,
    ) -> "LoggedModel":
        run = self._run(source_run_id) if source_run_id else main_run()
        model_id = f"m-{uuid.uuid4().hex}"
        name = name or "model"
        with lock:
            used = set(_model_paths.values())
            path, n = f"outputs/{name}", 1
            while path in used:
                n += 1
                path = f"outputs/{name}-{n}"
            _model_paths[model_id] = path
            model = LoggedModel(
                experiment_id,
                model_id,
                name,
                artifact_uri(run.run_id, path),
                now_ms(),
                now_ms(),
                model_type=model_type,
                source_run_id=source_run_id,
                status=LoggedModelStatus.PENDING,
                tags={t.key: t.value for t in tags or []},
                params={p.key: p.value for p in params or []},
            )
            _models[model_id] = model
        return model

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> "LoggedModel":
        try:
            return _models[model_id]
        except KeyError:
            raise _not_found(f"Logged model with ID '{model_id}' not found") from None

    def finalize_logged_model(self, model_id: str, status: "LoggedModelStatus") -> "LoggedModel":
        model = self.get_logged_model(model_id)
        model.status = status
        model.last_updated_timestamp = now_ms()
        return model

    def set_logged_model_tags(self, model_id: str, tags: list) -> None:
        model = self.get_logged_model(model_id)
        model.tags.update({t.key: t.value for t in tags})

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self.get_logged_model(model_id).tags.pop(key, None)

    def log_logged_model_params(self, model_id: str, params: list) -> None:
        self.get_logged_model(model_id).params.update({p.key: p.value for p in params})

    def search_logged_models(
        self,
        experiment_ids: list,
        filter_string: "str | None" = None,
        datasets: "list | None" = None,
        max_results: "int | None" = None,
        order_by: "list | None" = None,
        page_token: "str | None" = None,
    ) -> "PagedList":
        wanted = {str(e) for e in experiment_ids}
        found = [m for m in _models.values() if str(m.experiment_id) in wanted]
        if filter_string:
            found = [m for m in found if _model_matches(m, filter_string)]
        return PagedList(found[:max_results] if max_results else found, None)


def _model_matches(model: "LoggedModel", filter_string: str) -> bool:
    # The filters MLflow itself uses when it looks up a run's models: source_run_id and name.
    for clause in filter_string.split(" AND "):
        key, _, value = clause.partition("=")
        value = value.strip().strip("'\"")
        key = key.strip()
        if key == "source_run_id" and model.source_run_id != value:
            return False
        if key == "name" and model.name != value:
            return False
    return True


def logged_model(model_id: str) -> "LoggedModel | None":
    """A model this process logged."""
    return _models.get(model_id)


def model_path(model_id: str) -> "str | None":
    """The folder in the run of a model this process logged (``outputs/NAME``)."""
    return _model_paths.get(model_id)
