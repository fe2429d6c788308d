"""`Run` as a control script sees it after `experiment.submit(...)`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from engine import entities as E
from engine.cli.output import run_document
from engine.errors import NotFound, RunFailed
from engine.links import run_link
from engine.sdk.model import Model
from engine.sdk.submission import submit_config


class Run:
    def __init__(self, experiment: Any, run_id: str) -> None:
        self.experiment = experiment
        self._engine = experiment.workspace.engine
        self._id = run_id

    @property
    def id(self) -> str:
        return self._id

    @property
    def name(self) -> str:
        return self._id

    @property
    def display_name(self) -> str:
        return self._engine.get_run(self._id).display_name

    @property
    def status(self) -> str:
        return self.get_status()

    def get_status(self) -> str:
        return self._engine.get_run(self._id).status

    def get_portal_url(self) -> str:
        return run_link(self._id, self._engine.location.folder)

    def wait_for_completion(self, show_output: bool = False, wait_post_processing: bool = False,
                            raise_on_error: bool = True) -> dict[str, Any]:
        if show_output:
            print(f"RunId: {self._id}\nWeb View: {self.get_portal_url()}\n", flush=True)
            final = self._engine.follow_log(self._id, lambda text: (sys.stdout.write(text), sys.stdout.flush()))
            print(f"\nExecution Summary\n=================\nRunId: {self._id}\nStatus: {final.status}", flush=True)
        else:
            final = self._engine.wait(self._id)
        if raise_on_error and final.status != "Completed":
            raise RunFailed(f"run {self._id} {final.status}: {final.error or 'no error recorded'}",
                            f"see its log: trainyard job stream -n {self._id}")
        return self.get_details()

    def get_details(self) -> dict[str, Any]:
        run = self._engine.get_run(self._id)
        doc = run_document(run, self._engine.latest_metrics(self._id))
        doc.update({"runId": run.name, "target": run.compute, "startTimeUtc": E.iso(run.start_time),
                    "endTimeUtc": E.iso(run.end_time)})
        return doc

    def get_metrics(self, name: str | None = None, **_ignored: Any) -> dict[str, Any]:
        """Like Azure ML (and the in-run Run): a scalar logged once gives its value, logged many
        times a list of values; rows merge into {column: [values]}; a list, table or image is its
        last logged value."""
        eng = self._engine
        out: dict[str, Any] = {}
        for s in eng.metric_summaries(self._id):
            if name is not None and s.key != name:
                continue
            if s.kind == "scalar":
                values = eng.metric_history(self._id, s.key).values.tolist()
                out[s.key] = values[0] if len(values) == 1 else values
                continue
            objects = [o.value for o in eng.metric_objects(self._id, s.key)]
            if s.kind == "row":
                merged: dict[str, list[Any]] = {}
                for row in objects:
                    for col, v in row.items():
                        merged.setdefault(col, []).append(v)
                out[s.key] = merged
            elif objects:
                out[s.key] = objects[-1]
        return out

    def get_tags(self) -> dict[str, Any]:
        return self._engine.get_run(self._id).tags

    def tag(self, key: str, value: Any = None) -> None:
        run = self._engine.get_run(self._id)
        self._engine.set_tags(self._id, {**run.tags, key: value})

    def get_file_names(self) -> list[str]:
        root = Path(self._engine.get_run(self._id).run_dir)
        names = []
        for top in ("outputs", "logs", "azureml-logs"):
            base = root / top
            if base.is_dir():
                names += sorted(str(p.relative_to(root)) for p in base.rglob("*") if p.is_file())
        return names

    def download_file(self, name: str, output_file_path: str | None = None, **_ignored: Any) -> None:
        root = Path(self._engine.get_run(self._id).run_dir)
        src = root / name
        if ".." in Path(name).parts or not src.is_file():
            raise NotFound(f"run {self._id} has no file {name!r}",
                           "its files: " + (", ".join(self.get_file_names()[:10]) or "none"))
        dest = Path(output_file_path or Path(name).name)
        if dest.is_dir():
            dest = dest / Path(name).name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)

    def download_files(self, prefix: str = "", output_directory: str = ".", **_ignored: Any) -> None:
        for name in self.get_file_names():
            if name.startswith(prefix):
                self.download_file(name, str(Path(output_directory) / name))

    def register_model(self, model_name: str, model_path: str, tags: dict[str, Any] | None = None,
                       description: str = "", **_ignored: Any) -> Any:
        m = self._engine.register_model(model_name, model_path, run_name=self._id, description=description,
                                        tags=tags)
        return Model(self.experiment.workspace, m.name, m.version)

    def cancel(self) -> None:
        self._engine.cancel(self._id)

    # ------------------------------------------------------------------ child runs
    def submit_child(self, config: Any, tags: dict[str, Any] | None = None, **_ignored: Any) -> Run:
        """Submit `config` (a ScriptRunConfig) as a child of this run, in this run's experiment."""
        run = submit_config(self._engine, self.experiment.name, config, tags, parent_run=self._id)
        return Run(self.experiment, run.name)

    def get_children(self, recursive: bool = False, tags: Any = None, properties: Any = None,
                     type: str | None = None, status: str | None = None, **_ignored: Any) -> list[Run]:
        """The runs submitted with `submit_child` (Azure's filters: `status`, `tags` as a key or
        {key: value}; `recursive` includes grandchildren)."""
        found: list[Run] = []
        for child in self._engine.children(self._id):
            if _matches(child, tags, status):
                found.append(Run(self.experiment, child.name))
            if recursive:
                found += Run(self.experiment, child.name).get_children(True, tags, properties, type, status)
        return found

    @property
    def parent(self) -> Run | None:
        parent = self._engine.get_run(self._id).parent_name
        return Run(self.experiment, parent) if parent else None

    def __repr__(self) -> str:
        return f"Run(id={self._id!r}, status={self.get_status()!r})"


def _matches(run: E.Run, tags: Any, status: str | None) -> bool:
    if status is not None and run.status != status:
        return False
    if isinstance(tags, str):
        return tags in run.tags
    if isinstance(tags, dict):
        return all(run.tags.get(k) == v for k, v in tags.items())
    return True
