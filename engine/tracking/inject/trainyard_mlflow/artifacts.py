"""MLflow's artifact repository for ``trainyard://runs/RUN/files/PATH``: files of a Trainyard run.

Logging uploads through ``trainyard_run`` (``outputs/<artifact_path>/<name>``; the engine moves
them into the run folder). Listing and downloading see the files this process logged and, where
the run folder is on this machine (local and Docker runs), what is already there.
"""

import os
import shutil
import time

from mlflow.entities import FileInfo
from mlflow.store.artifact.artifact_repo import ArtifactRepository
from trainyard_run.envvars import ENV_RUN_DIR

from trainyard_mlflow.state import RunState, main_run, parse_artifact_uri, runs

__all__ = ["TrainyardArtifactRepository"]

_logged: "dict[str, dict[str, int]]" = {}  # run id -> path in the run -> size, of what this process logged
WAIT_PLACED = 10.0  # seconds a download waits for the engine to place a file this process just logged


def _join(*parts: "str | None") -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


class TrainyardArtifactRepository(ArtifactRepository):
    """A Trainyard run's files under one folder (``outputs/...``)."""

    def __init__(
        self, artifact_uri: str, tracking_uri: "str | None" = None, registry_uri: "str | None" = None
    ) -> None:
        super().__init__(artifact_uri, tracking_uri, registry_uri)
        self.run_id, self.root = parse_artifact_uri(artifact_uri)

    def _run(self) -> "RunState":
        found = runs.get(self.run_id)
        return found if found is not None else main_run()

    def _run_folder(self) -> "str | None":
        st = self._run()
        base = os.environ.get(ENV_RUN_DIR)
        if not base:
            return None
        chain = []
        while st.parent is not None:  # a child run's folder is inside its parent's tracking folder
            chain.append(st.run_id)
            st = runs[st.parent]
        for child in reversed(chain):
            base = os.path.join(base, "tracking", "children", child)
        return base

    def log_artifact(self, local_file: str, artifact_path: "str | None" = None) -> None:
        name = _join(self.root, artifact_path, os.path.basename(local_file))
        self._run().writer.upload_file(name, local_file)
        _logged.setdefault(self.run_id, {})[name] = os.path.getsize(local_file)

    def log_artifacts(self, local_dir: str, artifact_path: "str | None" = None) -> None:
        for folder, _dirs, files in os.walk(local_dir):
            rel = os.path.relpath(folder, local_dir).replace(os.sep, "/")
            for file in sorted(files):
                self.log_artifact(os.path.join(folder, file), _join(artifact_path, "" if rel == "." else rel))

    def list_artifacts(self, path: "str | None" = None) -> "list[FileInfo]":
        prefix = _join(self.root, path)
        entries: "dict[str, FileInfo]" = {}
        for name, size in _logged.get(self.run_id, {}).items():
            if not name.startswith(prefix + "/"):
                continue
            rest = name[len(prefix) + 1 :]
            head = rest.split("/", 1)[0]
            rel = _join(path, head)
            entries[rel] = FileInfo(rel, True, None) if "/" in rest else FileInfo(rel, False, size)
        folder = self._run_folder()
        if folder is not None:
            local = os.path.join(folder, prefix)
            if os.path.isdir(local):
                for entry in os.scandir(local):
                    rel = _join(path, entry.name)
                    if rel not in entries:
                        is_dir = entry.is_dir()
                        entries[rel] = FileInfo(rel, is_dir, None if is_dir else entry.stat().st_size)
        return sorted(entries.values(), key=lambda f: f.path)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        name = _join(self.root, remote_file_path)
        folder = self._run_folder()
        if folder is None:
            raise OSError(
                f"{name}: the run's folder is not on this machine, so its files cannot be read from here"
            )
        source = os.path.join(folder, name)
        deadline = time.monotonic() + (WAIT_PLACED if name in _logged.get(self.run_id, {}) else 0.0)
        self._run().writer.flush()
        while not os.path.isfile(source) and time.monotonic() < deadline:
            time.sleep(0.05)  # logged by this process: the engine places it within a poll or two
        if not os.path.isfile(source):
            raise OSError(f"{name}: no such file in Trainyard run {self.run_id!r}")
        shutil.copyfile(source, local_path)

    def delete_artifacts(self, artifact_path: "str | None" = None) -> None:
        raise OSError("Trainyard keeps a run's files; they cannot be deleted from inside the run")
