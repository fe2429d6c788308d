"""Datastores and datasets over local files: `upload` into the workspace's datastore folder,
`Dataset.File.from_files` / `Dataset.Tabular.from_delimited_files` on paths or (datastore, path),
`register` / `get_by_name`, and `as_named_input(...).as_mount()` / `as_download()` in a
ScriptRunConfig's arguments reaching a real script as a real local path."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InvalidSpec, NotFound
from engine.sdk import Dataset, Datastore, Experiment, FileDataset, ScriptRunConfig, TabularDataset, Workspace


def _data(tmp_path: Path) -> Path:
    src = tmp_path / "mnist"
    (src / "train").mkdir(parents=True)
    (src / "train" / "a.csv").write_text("x,y\n1,2\n3,4\n")
    (src / "labels.txt").write_text("0\n1\n")
    return src


def test_upload_into_the_default_datastore_keeps_existing_files_unless_asked(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = ws.get_default_datastore()
    assert ds.name == "workspaceblobstore" and Datastore.get(ws, "workspaceblobstore").folder == ds.folder
    ref = ds.upload(
        src_dir=str(_data(tmp_path)), target_path="datasets/mnist", overwrite=False, show_progress=True
    )
    assert (ds.folder / "datasets" / "mnist" / "train" / "a.csv").read_text() == "x,y\n1,2\n3,4\n"
    assert Path(str(ref)) == ds.folder / "datasets" / "mnist"
    assert "(2 of 2)" in capsys.readouterr().out

    (tmp_path / "mnist" / "labels.txt").write_text("changed\n")
    ds.upload(
        src_dir=str(tmp_path / "mnist"), target_path="datasets/mnist", overwrite=False, show_progress=True
    )
    assert (ds.folder / "datasets" / "mnist" / "labels.txt").read_text() == "0\n1\n"
    assert "Kept 2 file(s)" in capsys.readouterr().out
    ds.upload_files(
        [str(tmp_path / "mnist" / "labels.txt")],
        target_path="datasets/mnist",
        overwrite=True,
        show_progress=False,
    )
    assert (ds.folder / "datasets" / "mnist" / "labels.txt").read_text() == "changed\n"

    with pytest.raises(InvalidSpec, match="inside the datastore"):
        ds.upload(src_dir=str(tmp_path / "mnist"), target_path="../outside")
    with pytest.raises(NotFound) as info:
        Datastore.get(ws, "my-blob-store")
    assert "workspaceblobstore" in (info.value.hint or "")
    with pytest.raises(InvalidSpec, match="cloud storage"):
        Datastore.register_azure_blob_container(ws, "x", "container", "account")


def test_datasets_register_and_come_back_by_name(ws: Workspace, tmp_path: Path) -> None:
    ds = ws.get_default_datastore()
    ds.upload(src_dir=str(_data(tmp_path)), target_path="mnist", show_progress=False)
    files = Dataset.File.from_files(path=(ds, "mnist"))
    assert isinstance(files, FileDataset) and files.path == str((ds.folder / "mnist").resolve())
    assert files.to_path() == ["/labels.txt", "/train/a.csv"]
    registered = files.register(workspace=ws, name="mnist-files", description="digits")
    assert (registered.name, registered.version) == ("mnist-files", 1)
    assert files.register(ws, "mnist-files").version == 1  # unchanged: the same version
    assert files.register(ws, "mnist-files", create_new_version=True).version == 2
    back = Dataset.get_by_name(ws, name="mnist-files", version="latest")
    assert (back.version, back.path) == (2, files.path) and not isinstance(back, TabularDataset)
    assert Dataset.get_by_name(ws, "mnist-files", version=1).version == 1
    assert sorted(ws.datasets) == ["mnist-files"]

    table = Dataset.Tabular.from_delimited_files(path=[(ds, "mnist/train/a.csv")])
    table.register(ws, "table")
    assert isinstance(Dataset.get_by_name(ws, "table"), TabularDataset)
    out = tmp_path / "dl"
    assert Dataset.get_by_name(ws, "table").download(str(out)) == [str(out / "a.csv")]

    with pytest.raises(NotFound, match="does not exist"):
        Dataset.File.from_files(path=str(tmp_path / "nope"))
    with pytest.raises(NotFound, match="matches 2 paths"):
        Dataset.File.from_files(path=str(tmp_path / "mnist" / "*"))
    assert Dataset.File.from_files(path=str(tmp_path / "mnist" / "train" / "*.csv")).path.endswith("a.csv")
    with pytest.raises(InvalidSpec, match="is a URL"):
        Dataset.File.from_files(path="https://example.com/data.csv")


def test_to_pandas_dataframe_says_when_pandas_is_missing(tmp_path: Path) -> None:
    table = Dataset.Tabular.from_delimited_files(path=str(_data(tmp_path) / "train" / "a.csv"))
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(NotFound, match="needs pandas"):
            table.to_pandas_dataframe()
    else:
        assert table.to_pandas_dataframe().to_dict("list") == {"x": [1, 3], "y": [2, 4]}


SCRIPT = """\
import os, sys
from azureml.core import Run
for flag, path in zip(sys.argv[1::2], sys.argv[2::2]):
    kind = "folder" if os.path.isdir(path) else "file"
    names = sorted(os.listdir(path)) if kind == "folder" else [open(path).readline().strip()]
    print(flag, kind, os.path.isabs(path), names, flush=True)
print("ENV", os.environ.get("AZUREML_DATAREFERENCE_digits") == sys.argv[2], flush=True)
"""


def test_datasets_in_arguments_reach_the_script_as_real_paths(ws: Workspace, tmp_path: Path) -> None:
    ds = ws.get_default_datastore()
    ds.upload(src_dir=str(_data(tmp_path)), target_path="mnist", show_progress=False)
    Dataset.File.from_files(path=(ds, "mnist")).register(ws, "digits")
    digits = Dataset.get_by_name(ws, "digits")
    table = Dataset.Tabular.from_delimited_files(path=(ds, "mnist/train/a.csv"))
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "show.py").write_text(SCRIPT)
    src = ScriptRunConfig(
        source_directory=str(tmp_path / "code"),
        script="show.py",
        compute_target="local",
        arguments=[
            "--data",
            digits.as_named_input("digits").as_mount(),
            "--table",
            table.as_download(),
            "--store",
            ds.path("mnist/train").as_mount(),
        ],
    )
    run = Experiment(ws, "data").submit(src)
    run.wait_for_completion()
    log = Path(ws.engine.get_run(run.id).run_dir, "azureml-logs", "70_driver_log.txt").read_text()
    assert "--data folder True ['labels.txt', 'train']" in log
    assert "--table file True ['x,y']" in log
    assert "--store folder True ['a.csv']" in log
    assert "ENV True" in log
    inputs = ws.engine.get_run(run.id).inputs
    assert inputs.pop("digits") == digits.path
    ((name, path),) = inputs.items()  # the unnamed one gets a name of its own, as in Azure ML
    assert name.startswith("input_") and path == table.path
