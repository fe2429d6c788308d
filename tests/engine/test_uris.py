"""engine.specs.uris: a job's path or URI is told apart (local, http, registered asset, cloud)
before anything reads it as a relative path; a cloud input fails with file:line and what to do."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.errors import InvalidSpec
from engine.specs.jobs import load_job
from engine.specs.uris import classify, describe_cloud, local_path


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("data", "local"),
        ("./data/iris.csv", "local"),
        ("../../assets/model", "local"),
        ("/abs/path", "local"),
        ("file:data", "local"),
        ("file://./data", "local"),
        ("C:\\data\\iris.csv", "local"),
        ("https://example.org/iris.csv", "http"),
        ("HTTP://example.org/x", "http"),
        ("azureml:iris@latest", "azureml_asset"),
        ("azureml:iris:3", "azureml_asset"),
        ("azureml:iris", "azureml_asset"),
        ("azureml://datastores/workspaceblobstore/paths/example-data/", "cloud"),
        ("azureml://subscriptions/s/resourcegroups/r/workspaces/w/datastores/d/paths/p", "cloud"),
        ("azureml://registries/azureml/data/iris/versions/1", "cloud"),
        ("wasbs://datasets@account.blob.core.windows.net/iris.csv", "cloud"),
        ("abfss://fs@account.dfs.core.windows.net/x", "cloud"),
        ("adl://store.azuredatalakestore.net/x", "cloud"),
        ("s3://bucket/key", "cloud"),
        ("gs://bucket/key", "cloud"),
        ("ftp://host/x", "cloud"),
    ],
)
def test_classify(uri: str, kind: str) -> None:
    assert classify(uri) == kind


def test_local_path_and_description() -> None:
    assert local_path("file:data") == "data"
    assert local_path("file:///abs/x") == "/abs/x"
    assert local_path("data") == "data"
    assert describe_cloud("wasbs://c@a.blob.core.windows.net/") == "Azure Blob Storage"
    assert describe_cloud("azureml://datastores/d/paths/p") == "an Azure ML datastore"
    assert describe_cloud("s3://b/k") == "Amazon S3"


@pytest.mark.parametrize(
    "uri",
    [
        "wasbs://datasets@account.blob.core.windows.net/iris.csv",
        "abfss://fs@account.dfs.core.windows.net/iris.csv",
        "azureml://datastores/workspaceblobstore/paths/example-data/iris.csv",
        "azureml://subscriptions/s/resourcegroups/r/workspaces/w/datastores/d/paths/iris.csv",
        "adl://store.azuredatalakestore.net/iris.csv",
        "s3://bucket/iris.csv",
        "gs://bucket/iris.csv",
    ],
)
def test_a_cloud_input_says_where_and_what_to_do(tmp_path: Path, uri: str) -> None:
    job = tmp_path / "job.yml"
    job.write_text(
        textwrap.dedent(f"""\
        command: python -c "print(1)" ${{{{inputs.iris}}}}
        inputs:
          iris:
            type: uri_file
            path: {uri}
        """)
    )
    with pytest.raises(InvalidSpec) as info:
        load_job(job)
    err = info.value
    assert err.file == str(job) and err.line == 5 and err.field == "inputs.iris.path"
    assert uri in err.message and "does not exist" not in err.message
    assert "--set inputs.iris.path=LOCAL_PATH" in (err.hint or "")
    assert "trainyard data create --name iris" in (err.hint or "")
    # The --set the hint names makes the same file load.
    (tmp_path / "iris.csv").write_text("a,b\n")
    spec = load_job(job, ["inputs.iris.path=iris.csv"])
    assert spec.data_inputs["iris"].path == str(tmp_path / "iris.csv")
