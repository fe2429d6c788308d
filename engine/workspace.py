"""Where a workspace lives on disk and how the one to use is chosen.

A workspace is a folder; Trainyard keeps everything in its ``.trainyard/`` sub-folder:
``store.db`` (unless ``config.json`` names another SQLAlchemy URL), ``snapshots/``, ``runs/``,
``models/`` and ``data/``.
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
        return self.folder / STORAGE_DIR

    @property
    def runs_dir(self) -> Path:
        return self.storage / "runs"

    @property
    def snapshots_dir(self) -> Path:
        return self.storage / "snapshots"

    @property
    def envs_dir(self) -> Path:
        """Built environments (venvs, conda prefixes), one folder per spec hash: the per-user
        cache every workspace shares (env_cache_dir)."""
        return env_cache_dir()

    @property
    def models_dir(self) -> Path:
        return self.storage / "models"

    @property
    def data_dir(self) -> Path:
        return self.storage / "data"

    @property
    def name(self) -> str:
        return self.folder.name

    def config(self) -> dict[str, object]:
        path = self.storage / CONFIG_FILE
        try:
            return json.loads(path.read_text()) if path.is_file() else {}
        except (OSError, ValueError) as exc:
            raise WorkspaceError(f"{path}: cannot read the workspace config: {exc}",
                                 "fix or delete the file (it only holds the store URL)") from exc

    @property
    def store_url(self) -> str:
        url = os.environ.get(ENV_STORE_URL) or self.config().get("store_url")
        return str(url) if url else f"sqlite:///{self.storage / 'store.db'}"

    def ensure(self, store_url: str | None = None) -> WorkspaceLocation:
        """Create the folders (and config) if missing; a clear error if the place is unwritable."""
        try:
            for d in (self.storage, self.runs_dir, self.snapshots_dir, self.models_dir, self.data_dir):
                d.mkdir(parents=True, exist_ok=True)
            cfg_path = self.storage / CONFIG_FILE
            if not cfg_path.exists() or store_url:
                cfg = self.config()
                cfg.setdefault("version", 1)
                if store_url:
                    cfg["store_url"] = store_url
                # unique temp names: several commands may make the same new workspace at once
                tmp = cfg_path.with_name(f".{CONFIG_FILE}.{os.getpid()}.{threading.get_ident()}.tmp")
                tmp.write_text(json.dumps(cfg, indent=2) + "\n")
                os.replace(tmp, cfg_path)
            fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=self.storage)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise WorkspaceError(
                f"cannot use {self.folder} as a workspace: {exc.strerror or exc} ({exc.filename or self.storage})",
                "pick a folder you can write to with -w PATH or $TRAINYARD_WORKSPACE, or fix its permissions",
            ) from exc
        return self


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
