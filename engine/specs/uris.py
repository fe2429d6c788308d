"""What a path or URI in a job file, a data asset or `--set` points at, told apart once for every
reader (job inputs and outputs, `data create`, the SDK's Dataset): a local path, an http(s) URL
Trainyard can download, a registered data asset (`azureml:NAME[:VERSION|@latest]`), or cloud
storage this machine cannot reach (Azure blob / data lake, an Azure ML datastore, S3, GCS...).

Standard library only: the CLI and the SDK may import it without loading the YAML schemas."""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["UriKind", "classify", "cloud_input_hint", "describe_cloud", "local_path"]

UriKind = Literal["local", "http", "cloud", "azureml_asset"]

# Cloud storage schemes Azure ML jobs name (and their plain-http cousins), with what they are.
_CLOUD_SCHEMES = {
    "wasbs": "Azure Blob Storage",
    "wasb": "Azure Blob Storage",
    "abfss": "Azure Data Lake Storage Gen2",
    "abfs": "Azure Data Lake Storage Gen2",
    "adl": "Azure Data Lake Storage Gen1",
    "s3": "Amazon S3",
    "s3a": "Amazon S3",
    "gs": "Google Cloud Storage",
    "gcs": "Google Cloud Storage",
    "hdfs": "HDFS",
    "dbfs": "Databricks File System",
    "az": "Azure storage",
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def classify(uri: str) -> UriKind:
    """`local` (a relative or absolute path, `file:` or `file://`), `http` (http:// or https://),
    `azureml_asset` (`azureml:NAME`, `azureml:NAME:VERSION`, `azureml:NAME@latest`), or `cloud`
    (`azureml://datastores/...`, `azureml://subscriptions/...`, `azureml://registries/...`,
    wasbs://, abfss://, adl://, s3://, gs://, and any other `scheme://`)."""
    text = uri.strip()
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")):
        return "http"
    if lowered.startswith("azureml://"):
        return "cloud"
    if lowered.startswith("azureml:"):
        return "azureml_asset"
    if lowered.startswith("file:") or _WINDOWS_DRIVE.match(text):
        return "local"
    match = _SCHEME.match(text)
    if match and (text[match.end() :].startswith("//") or match.group(1).lower() in _CLOUD_SCHEMES):
        return "cloud"
    return "local"


def local_path(uri: str) -> str:
    """A local URI as a path: `file:data`, `file://./data` and `file:///abs` lose their prefix."""
    text = uri.strip()
    if text.lower().startswith("file://"):
        return text[len("file://") :] or "."
    if text.lower().startswith("file:"):
        return text[len("file:") :] or "."
    return text


def describe_cloud(uri: str) -> str:
    """What kind of remote storage a `cloud` URI names, in words (`Azure Blob Storage`, `an Azure ML
    datastore`, ...)."""
    lowered = uri.strip().lower()
    if lowered.startswith("azureml://datastores/") or "/datastores/" in lowered:
        return "an Azure ML datastore"
    if lowered.startswith("azureml://registries/"):
        return "an Azure ML registry"
    if lowered.startswith("azureml://"):
        return "Azure ML storage"
    match = _SCHEME.match(lowered)
    scheme = match.group(1) if match else ""
    return _CLOUD_SCHEMES.get(scheme, f"remote storage ({scheme}://)")


def cloud_input_hint(name: str) -> str:
    """What to do about an input whose path is in cloud storage: one line a user can act on."""
    return (
        f"copy the data to this machine and run with `--set inputs.{name}.path=LOCAL_PATH`, or register it "
        f"once with `trainyard data create --name {name} --path LOCAL_PATH` and write "
        f"`path: azureml:{name}@latest`"
    )
