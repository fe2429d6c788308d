"""`Datastore` and `Dataset` as control scripts use them, over local files.

A datastore is a folder of the workspace (`<workspace>/.trainyard/datastores/<name>`): `upload`
copies files into it. A dataset is a local file or folder (a path, a glob matching one, or
`(datastore, 'path')`); `register` makes it a data asset of the workspace (engine.api), and
`as_mount()` / `as_download()` / `as_named_input(name)` in a ScriptRunConfig's arguments reach
the script as that file's or folder's real path: nothing is copied, nothing is mounted.
"""

from __future__ import annotations

import glob
import hashlib
import shutil
import sys
from pathlib import Path
from typing import Any

from engine.errors import InvalidSpec, NotFound

DEFAULT_DATASTORE = "workspaceblobstore"
DATASTORES = (DEFAULT_DATASTORE, "workspacefilestore", "workspaceworkingdirectory")
_TABULAR_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet")


# ------------------------------------------------------------------------------ datastores
class Datastore:
    """A folder of the workspace standing in for Azure ML's workspace blob/file stores."""

    def __init__(self, workspace: Any, name: str = DEFAULT_DATASTORE) -> None:
        if name not in DATASTORES:
            raise NotFound(
                f"the workspace has no datastore named {name!r}",
                f"its datastores: {', '.join(DATASTORES)} (folders of the workspace); other "
                "storage: copy the files here and use Dataset.File.from_files(path=LOCAL_PATH)",
            )
        self.workspace = workspace
        self.name = name
        self.datastore_type = "AzureBlob" if name != "workspacefilestore" else "AzureFile"
        self.folder = Path(workspace.engine.location.datastores_dir) / name

    @staticmethod
    def get(workspace: Any, datastore_name: str) -> Datastore:
        return Datastore(workspace, datastore_name)

    @staticmethod
    def get_default(workspace: Any) -> Datastore:
        return Datastore(workspace)

    register_azure_blob_container = staticmethod(lambda *_a, **_k: _cloud_datastore())
    register_azure_file_share = staticmethod(lambda *_a, **_k: _cloud_datastore())
    register_azure_data_lake_gen2 = staticmethod(lambda *_a, **_k: _cloud_datastore())

    def _target(self, target_path: str | None) -> Path:
        rel = Path(target_path or ".")
        if rel.is_absolute() or ".." in rel.parts:
            raise InvalidSpec(
                f"target_path {target_path!r} must be a relative path inside the datastore",
                "e.g. target_path='datasets/mnist'",
                field="target_path",
            )
        return self.folder / rel

    def upload(
        self,
        src_dir: str,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> DataReference:
        """Copy the files under `src_dir` to `target_path` in the datastore. Files already there
        are kept unless `overwrite` (as in Azure ML)."""
        src = Path(src_dir).expanduser()
        if not src.is_dir():
            raise NotFound(
                f"upload: the folder {src} does not exist", "give the folder whose files to upload"
            )
        files = sorted(p for p in src.rglob("*") if p.is_file())
        self._copy(
            [(p, p.relative_to(src)) for p in files], self._target(target_path), overwrite, show_progress
        )
        return DataReference(self, target_path)

    def upload_files(
        self,
        files: list[str],
        relative_root: str | None = None,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> DataReference:
        """Copy `files`, each at its path relative to `relative_root` (default: its name alone)."""
        pairs = []
        for f in files:
            p = Path(f).expanduser()
            if not p.is_file():
                raise NotFound(f"upload_files: {p} is not a file", "give the paths of existing files")
            rel = Path(p.name)
            if relative_root is not None:
                try:
                    rel = p.resolve().relative_to(Path(relative_root).expanduser().resolve())
                except ValueError:
                    raise InvalidSpec(
                        f"upload_files: {p} is not under relative_root {relative_root}",
                        "give a relative_root that holds every file",
                        field="relative_root",
                    ) from None
            pairs.append((p, rel))
        self._copy(pairs, self._target(target_path), overwrite, show_progress)
        return DataReference(self, target_path)

    def _copy(self, pairs: list[tuple[Path, Path]], dest: Path, overwrite: bool, show_progress: bool) -> None:
        copied = skipped = 0
        for src, rel in pairs:
            out = dest / rel
            if out.exists() and not overwrite:
                skipped += 1
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, out)
            copied += 1
            if show_progress:
                print(
                    f"Uploaded {src} -> {self.name}/{out.relative_to(self.folder)} ({copied} of {len(pairs)})",
                    flush=True,
                )
        if show_progress and skipped:
            print(
                f"Kept {skipped} file(s) already in {self.name} (pass overwrite=True to replace them)",
                flush=True,
            )

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> DataReference:
        return DataReference(self, path, data_reference_name)

    def as_mount(self) -> DataReference:
        return DataReference(self, None, mode="mount")

    def as_download(self, path_on_compute: str | None = None) -> DataReference:
        return DataReference(self, None, mode="download")

    def __repr__(self) -> str:
        return f"Datastore(name={self.name!r}, folder={str(self.folder)!r})"


def _cloud_datastore() -> Datastore:
    raise InvalidSpec(
        "registering cloud storage as a datastore is not provided by Trainyard",
        "copy the data to this machine and use Dataset.File.from_files(path=LOCAL_PATH), or "
        f"upload it into a workspace datastore ({', '.join(DATASTORES[:2])})",
    )


class DataReference:
    """A path in a datastore (`datastore.path('x')`, what `upload` returns); an argument of a
    ScriptRunConfig gives the script that real local path."""

    def __init__(
        self,
        datastore: Datastore,
        path_on_datastore: str | None = None,
        data_reference_name: str | None = None,
        mode: str = "mount",
    ) -> None:
        self.datastore = datastore
        self.path_on_datastore = path_on_datastore
        self.data_reference_name = data_reference_name
        self.mode = mode

    @property
    def local_path(self) -> Path:
        return self.datastore._target(self.path_on_datastore)

    def as_mount(self) -> DataReference:
        return DataReference(self.datastore, self.path_on_datastore, self.data_reference_name, "mount")

    def as_download(self, path_on_compute: str | None = None, overwrite: bool = False) -> DataReference:
        return DataReference(self.datastore, self.path_on_datastore, self.data_reference_name, "download")

    def __str__(self) -> str:
        return str(self.local_path)

    def __repr__(self) -> str:
        return f"DataReference(datastore={self.datastore.name!r}, path={self.path_on_datastore!r})"


# ------------------------------------------------------------------------------ datasets
def _one_path(path: Any) -> Path:
    """A dataset's `path=` (a path, a glob matching one, `(datastore, 'rel')`, a DataReference or
    a list of one of those) -> one existing local file or folder."""
    if isinstance(path, list):
        if len(path) != 1:
            raise InvalidSpec(
                f"a dataset here is one file or folder; {len(path)} paths were given",
                "put the files in one folder and give that folder",
                field="path",
            )
        path = path[0]
    if isinstance(path, tuple) and len(path) == 2 and isinstance(path[0], Datastore):
        path = DataReference(path[0], str(path[1]))
    if isinstance(path, DataReference):
        local = path.local_path
    else:
        text = str(path)
        if "://" in text:
            raise InvalidSpec(
                f"dataset path {text!r} is a URL; Trainyard datasets are local files",
                "download it first, or upload it into a datastore (ds.upload) and give (datastore, 'path')",
                field="path",
            )
        local = Path(text).expanduser()
        if glob.has_magic(text):
            found = sorted(glob.glob(text, recursive=True))
            if len(found) != 1:
                raise NotFound(
                    f"the pattern {text!r} matches {len(found)} paths; a dataset here is one file or folder",
                    "give the folder that holds the files",
                )
            local = Path(found[0])
    if not local.exists():
        raise NotFound(
            f"the dataset path {local} does not exist",
            "check the path (relative paths are relative to the folder the control script runs in)",
        )
    return local.resolve()


class FileDataset:
    """Files: a local file or folder, registered or not."""

    def __init__(
        self,
        path: str | Path,
        name: str | None = None,
        version: int | None = None,
        workspace: Any = None,
        description: str = "",
    ) -> None:
        self.path = str(path)
        self.name = name
        self.version = version
        self.workspace = workspace
        self.description = description

    @property
    def id(self) -> str | None:
        return f"{self.name}:{self.version}" if self.name else None

    def register(
        self,
        workspace: Any,
        name: str,
        description: str = "",
        tags: dict[str, Any] | None = None,
        create_new_version: bool = False,
    ) -> FileDataset:
        """Register as data asset `name`: a new version when `create_new_version`, or when the path
        differs from the latest version's; else that version (as Azure ML does)."""
        engine = workspace.engine
        latest = next(
            (a for a in sorted(engine.list_data_assets(), key=lambda a: -a.version) if a.name == name), None
        )
        if latest is not None and not create_new_version and latest.path == self.path:
            asset = latest
        else:
            # A v1 dataset is a reference to datastore files (already in the workspace), not a copy.
            asset = engine.create_data_asset(name, self.path, description, copy=False)
        return type(self)(asset.path, asset.name, asset.version, workspace, asset.description)

    def as_named_input(self, name: str) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(name, self)

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self._input_name, self, "mount")

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self._input_name, self, "download")

    @property
    def _input_name(self) -> str:
        """The run's input name of an unnamed consumption: the dataset's name, or one from its path."""
        return self.name or "input_" + hashlib.sha256(self.path.encode()).hexdigest()[:8]

    def to_path(self) -> list[str]:
        """The dataset's files, relative to it."""
        root = Path(self.path)
        if root.is_file():
            return ["/" + root.name]
        return sorted("/" + str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    def download(self, target_path: str | None = None, overwrite: bool = False) -> list[str]:
        dest = Path(target_path or ".")
        src = Path(self.path)
        files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        out = []
        for f in files:
            target = dest / (f.name if src.is_file() else f.relative_to(src))
            if target.exists() and not overwrite:
                raise InvalidSpec(
                    f"{target} exists", "pass overwrite=True to replace it", field="target_path"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
            out.append(str(target))
        return out

    def __repr__(self) -> str:
        named = f"name={self.name!r}, version={self.version}, " if self.name else ""
        return f"{type(self).__name__}({named}path={self.path!r})"


class TabularDataset(FileDataset):
    """Delimited files (CSV, TSV) read as a table."""

    def __init__(
        self,
        path: str | Path,
        name: str | None = None,
        version: int | None = None,
        workspace: Any = None,
        description: str = "",
        separator: str = ",",
        header: bool = True,
    ) -> None:
        super().__init__(path, name, version, workspace, description)
        self.separator = separator
        self.header = header

    def to_pandas_dataframe(self, on_error: str = "null", out_of_range_datetime: str = "null") -> Any:
        try:
            import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]  # heavy; this call only
        except ImportError:
            raise NotFound(
                "to_pandas_dataframe needs pandas, which is not installed here",
                f"install it: {Path(sys.executable).name} -m pip install pandas",
            ) from None
        root = Path(self.path)
        files = (
            [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix in _TABULAR_SUFFIXES)
        )
        header = 0 if self.header else None
        frames = [pd.read_csv(f, sep=self.separator, header=header) for f in files]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


class DatasetConsumptionConfig:
    """How a run consumes a dataset (`as_named_input('x').as_mount()`): in the arguments, the
    dataset's real local path; the run also gets it as input `name`."""

    def __init__(
        self, name: str, dataset: FileDataset, mode: str = "direct", path_on_compute: str | None = None
    ) -> None:
        self.name = name
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = path_on_compute

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name, self.dataset, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name, self.dataset, "download", path_on_compute)

    @property
    def local_path(self) -> str:
        return self.dataset.path

    def __str__(self) -> str:
        return self.dataset.path

    def __repr__(self) -> str:
        return f"DatasetConsumptionConfig(name={self.name!r}, mode={self.mode!r}, path={self.dataset.path!r})"


class _FileFactory:
    @staticmethod
    def from_files(
        path: Any, validate: bool = True, partition_format: str | None = None, is_file: bool = False
    ) -> FileDataset:
        return FileDataset(_one_path(path))


class _TabularFactory:
    @staticmethod
    def from_delimited_files(
        path: Any,
        validate: bool = True,
        include_path: bool = False,
        infer_column_types: bool = True,
        set_column_types: Any = None,
        separator: str = ",",
        header: Any = True,
        **_ignored: Any,
    ) -> TabularDataset:
        return TabularDataset(_one_path(path), separator=separator, header=bool(header))


class Dataset:
    """`Dataset.File.from_files(...)`, `Dataset.Tabular.from_delimited_files(...)`,
    `Dataset.get_by_name(ws, name)`."""

    File = _FileFactory
    Tabular = _TabularFactory

    @staticmethod
    def get_by_name(workspace: Any, name: str, version: str | int = "latest") -> FileDataset:
        """A registered data asset: a TabularDataset when it is a delimited file, else a FileDataset."""
        v = None if version == "latest" else int(version)
        asset = workspace.engine.get_data_asset(name, v)
        cls = TabularDataset if Path(asset.path).suffix in _TABULAR_SUFFIXES else FileDataset
        return cls(asset.path, asset.name, asset.version, workspace, asset.description)

    @staticmethod
    def get_all(workspace: Any) -> dict[str, FileDataset]:
        latest: dict[str, FileDataset] = {}
        for a in sorted(workspace.engine.list_data_assets(), key=lambda a: a.version):
            latest[a.name] = Dataset.get_by_name(workspace, a.name, a.version)
        return latest
