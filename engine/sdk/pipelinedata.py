"""The data of SDK v1 pipelines: `PipelineData` and `OutputFileDatasetConfig` (a folder one step
writes and later steps read) and `PipelineParameter` (a value given when the pipeline is
submitted). In the pipeline they become a step's output, the inputs bound to it, and the
pipeline's inputs."""

from __future__ import annotations

from typing import Any

from engine.errors import InvalidSpec
from engine.names import check_name


class _StepData:
    """What PipelineData and OutputFileDatasetConfig share: a name, the step that writes it (set
    when a step lists it in `outputs=`), and how a consumer names it."""

    def __init__(self, name: str | None) -> None:
        if name is None:
            raise InvalidSpec(
                f"{type(self).__name__} needs a name", f"{type(self).__name__}(name='prepared')", field="name"
            )
        self.name = name
        self.producer: Any = None  # the step that lists it in outputs=
        self.input_name = name

    def as_input(self, name: str | None = None) -> DataUse:
        return DataUse(self, name or self.input_name)

    def as_mount(self, *_args: Any, **_kwargs: Any) -> _StepData:
        return self

    def as_download(self, *_args: Any, **_kwargs: Any) -> _StepData:
        return self

    def as_upload(self, *_args: Any, **_kwargs: Any) -> _StepData:
        return self

    def as_direct(self) -> _StepData:
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class PipelineData(_StepData):
    """`PipelineData(name, datastore=None, output_name=None, ...)`: a folder a step writes."""

    def __init__(
        self,
        name: str,
        datastore: Any = None,
        output_name: str | None = None,
        output_mode: str = "mount",
        is_directory: bool | None = None,
        **_ignored: Any,
    ) -> None:
        check_name(name, "pipeline data")
        super().__init__(output_name or name)
        self.datastore = datastore


class OutputFileDatasetConfig(_StepData):
    """`OutputFileDatasetConfig(name, destination=None, source=None)`: a folder a step writes;
    `read_delimited_files()` / `as_input()` pass it on to later steps."""

    def __init__(
        self, name: str | None = None, destination: Any = None, source: str | None = None, **_ignored: Any
    ) -> None:
        super().__init__(name)
        self.destination = destination
        self.source = source
        self.registered_as: str | None = None

    def read_delimited_files(self, *_args: Any, **_kwargs: Any) -> OutputFileDatasetConfig:
        """The consuming step reads the same folder (its CSV files are the table)."""
        return self

    def read_parquet_files(self, *_args: Any, **_kwargs: Any) -> OutputFileDatasetConfig:
        return self

    def register_on_complete(self, name: str, *_args: Any, **_kwargs: Any) -> OutputFileDatasetConfig:
        self.registered_as = name
        return self


class DataUse:
    """`data.as_input('name')`: the same data, under the name the consuming step knows it by."""

    def __init__(self, data: _StepData, name: str) -> None:
        self.data = data
        self.name = name

    def as_mount(self, *_args: Any, **_kwargs: Any) -> DataUse:
        return self

    def as_download(self, *_args: Any, **_kwargs: Any) -> DataUse:
        return self


class PipelineParameter:
    """`PipelineParameter(name, default_value)`: a value of the pipeline a step's arguments use."""

    def __init__(self, name: str, default_value: Any) -> None:
        check_name(name, "pipeline parameter")
        self.name = name
        self.default_value = default_value

    def __repr__(self) -> str:
        return f"PipelineParameter(name={self.name!r}, default_value={self.default_value!r})"


def step_data(value: Any) -> tuple[_StepData, str] | None:
    """(the data, the name the step knows it by) for a PipelineData-like value; else None."""
    if isinstance(value, DataUse):
        return value.data, value.name
    if isinstance(value, _StepData):
        return value, value.name
    return None
