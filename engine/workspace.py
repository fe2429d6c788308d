"""Where a workspace lives on disk and how the one to use is chosen.

A workspace is a folder; Trainyard keeps everything in its ``.trainyard/`` sub-folder:
``store.db`` (unless ``config.json`` names another SQLAlchemy URL), ``snapshots/``, ``runs/``,
``models/`` and ``data/``.

A team workspace (docs/team-workspace.md) is one folder per person or machine whose
``config.json`` names a database server (``store_url``) and a folder on a shared filesystem
(``shared_dir``) that every member mounts at the same path: the runs, snapshots, models, data and
datastores live there instead, so every engine sees every run folder; the build cache stays per
user on each machine (env_cache_dir).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from engine.errors import WorkspaceError
from engine.tracking.inject.trainyard_run.envvars import ENV_HOME, ENV_STORE_URL, ENV_WORKSPACE

# Overrides the per-user environment build cache (env_cache_dir).
ENV_ENV_CACHE = "TRAINYARD_ENV_CACHE"
STORAGE_DIR = ".trainyard"
CONFIG_FILE = "config.json"
# config.json keys
STORE_URL_KEY = "store_url"
SHARED_DIR_KEY = "shared_dir"


def default_workspace_dir() -> Path:
    """The per-user default workspace ($TRAINYARD_HOME, else the XDG data dir)."""
    home = os.environ.get(ENV_HOME)
    if home:
        return Path(home).expanduser() / "default"
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "trainyard" / "default"


def env_cache_dir() -> Path:
    """Where built environments are cached: per user, shared by every workspace (a second
    workspace reuses a build): $TRAINYARD_ENV_CACHE, else `envs` in the user's cache dir
    (XDG_CACHE_HOME, ~/.cache/trainyard on Linux)."""
    chosen = os.environ.get(ENV_ENV_CACHE)
    if chosen:
        return Path(chosen).expanduser().absolute()
    import platformdirs  # only the commands that build or list environments ask

    return platformdirs.user_cache_path("trainyard") / "envs"


def find_upward(start: Path) -> Path | None:
    """The nearest folder at or above `start` that holds a `.trainyard/` workspace."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / STORAGE_DIR / CONFIG_FILE).is_file():
            return folder
    return None


@dataclass(frozen=True)
class WorkspaceLocation:
    """The folders and store URL of one workspace."""

    folder: Path

    @property
    def storage(self) -> Path:
        """This folder's own `.trainyard/`: the config, and what stays per person (the studio's
        logs, TensorBoard's, clones)."""
        return self.folder / STORAGE_DIR

    @property
    def shared_dir(self) -> Path | None:
        """The shared folder of a team workspace (config.json's `shared_dir`), else None."""
        return self._shared_of(self.config())

    def _shared_of(self, cfg: dict[str, object]) -> Path | None:
        given = cfg.get(SHARED_DIR_KEY)
        if given is None:
            return None
        if not isinstance(given, str) or not given.strip() or not Path(given).expanduser().is_absolute():
            raise WorkspaceError(
                f"{self.storage / CONFIG_FILE}: `{SHARED_DIR_KEY}` must be an absolute path, got {given!r}",
                "name the folder on the shared filesystem, mounted at the same path on every machine "
                "(e.g. \"/mnt/team/trainyard\"), or remove the key for a one-machine workspace")
        return Path(given).expanduser()

    @property
    def data_root(self) -> Path:
        """Where runs, snapshots, models and data live: the shared folder of a team workspace,
        else `.trainyard/`."""
        return self.shared_dir or self.storage

    @property
    def runs_dir(self) -> Path:
        return self.data_root / "runs"

    @property
    def snapshots_dir(self) -> Path:
        return self.data_root / "snapshots"

    @property
    def envs_dir(self) -> Path:
        """Built environments (venvs, conda prefixes), one folder per spec hash: the per-user
        cache every workspace shares (env_cache_dir)."""
        return env_cache_dir()

    @property
    def models_dir(self) -> Path:
        return self.data_root / "models"

    @property
    def data_dir(self) -> Path:
        return self.data_root / "data"

    @property
    def datastores_dir(self) -> Path:
        """The SDK's datastores (files that v1 datasets refer to)."""
        return self.data_root / "datastores"

    @property
    def name(self) -> str:
        return self.folder.name

    def config(self) -> dict[str, object]:
        path = self.storage / CONFIG_FILE
        try:
            return json.loads(path.read_text()) if path.is_file() else {}
        except (OSError, ValueError) as exc:
            raise WorkspaceError(f"{path}: cannot read the workspace config: {exc}",
                                 "fix or delete the file (it holds the store URL and the shared folder)") from exc

    @property
    def store_url(self) -> str:
        url = os.environ.get(ENV_STORE_URL) or self.config().get(STORE_URL_KEY)
        return str(url) if url else f"sqlite:///{self.storage / 'store.db'}"

    def _check_team(self, cfg: dict[str, object]) -> None:
        """A team workspace's shared folder is mounted, and its store is a database server."""
        shared = self._shared_of(cfg)
        if shared is None:
            return
        cfg_path = self.storage / CONFIG_FILE
        if not shared.is_dir():
            raise WorkspaceError(
                f"{cfg_path}: the shared folder {shared} (`{SHARED_DIR_KEY}`) does not exist",
                "mount the shared filesystem (or create the folder) and try again; it is not created "
                "here so that an unmounted share never fills this machine's disk")
        url = str(os.environ.get(ENV_STORE_URL) or cfg.get(STORE_URL_KEY) or "sqlite")
        if url.startswith("sqlite"):
            raise WorkspaceError(
                f"{cfg_path}: a team workspace (`{SHARED_DIR_KEY}`) needs a database server as its store, "
                f"but the store is {'SQLite' if url == 'sqlite' else url}",
                "set `store_url` to the team's PostgreSQL URL (trainyard init --store-url URL --shared-dir "
                "DIR), or remove `shared_dir`: SQLite cannot be shared safely between machines")

    def ensure(self, store_url: str | None = None, shared_dir: str | None = None) -> WorkspaceLocation:
        """Create the folders (and config) if missing; a clear error if the place is unwritable,
        or a team workspace's shared folder is missing or its store is not a database server."""
        try:
            self.storage.mkdir(parents=True, exist_ok=True)
            cfg_path = self.storage / CONFIG_FILE
            cfg = self.config()
            if not cfg_path.exists() or store_url or shared_dir:
                cfg.setdefault("version", 1)
                if store_url:
                    cfg[STORE_URL_KEY] = store_url
                if shared_dir:
                    cfg[SHARED_DIR_KEY] = str(Path(shared_dir).expanduser().absolute())
                self._check_team(cfg)  # before writing: a refused setting is not kept
                # unique temp names: several commands may make the same new workspace at once
                tmp = cfg_path.with_name(f".{CONFIG_FILE}.{os.getpid()}.{threading.get_ident()}.tmp")
                tmp.write_text(json.dumps(cfg, indent=2) + "\n")
                os.replace(tmp, cfg_path)
            else:
                self._check_team(cfg)
            for d in (self.runs_dir, self.snapshots_dir, self.models_dir, self.data_dir):
                d.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=self.storage)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise WorkspaceError(
                f"cannot use {self.folder} as a workspace: {exc.strerror or exc} ({exc.filename or self.storage})",
                "pick a folder you can write to with -w PATH or $TRAINYARD_WORKSPACE, or fix its permissions",
            ) from exc
        return self


def models_dir_of_run(run_dir: Path) -> Path:
    """The models folder of the workspace holding run folder `run_dir` (`runs/NAME` beside
    `models/`, in `.trainyard/` or a team workspace's shared folder)."""
    return run_dir.parent.parent / "models"


def resolve_workspace(path: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> WorkspaceLocation:
    """-w PATH, else $TRAINYARD_WORKSPACE, else the nearest `.trainyard/` upward, else the default."""
    chosen = path or os.environ.get(ENV_WORKSPACE)
    if chosen:
        folder = Path(chosen).expanduser().absolute()
        if folder.name == STORAGE_DIR:
            folder = folder.parent
        return WorkspaceLocation(folder)
    found = find_upward(cwd or Path.cwd())
    if found is not None:
        return WorkspaceLocation(found)
    return WorkspaceLocation(default_workspace_dir())
