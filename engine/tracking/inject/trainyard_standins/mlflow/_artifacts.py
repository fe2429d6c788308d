"""Artifacts: files under the run's ``outputs/`` (``outputs/<artifact_path>/<name>``)."""

import io
import json
import os

from trainyard_run.values import relative_parts, short

from mlflow._runs import current_run
from mlflow.exceptions import InvalidInput

TYPE_CHECKING = False  # `typing` is not imported at run time: the client loads as little as it can
if TYPE_CHECKING:
    from typing import Any

__all__ = ["log_artifact", "log_artifacts", "log_dict", "log_figure", "log_image", "log_text"]

# Artifacts go where the studio shows a run's files and `trainyard job download` fetches them.
ARTIFACTS_DIR = "outputs"


def _relative_parts(path: object, call: str, what: str) -> list:
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str):
        raise InvalidInput(f"mlflow.{call}(..., {short(path)}): the {what} must be a string, "
                           f"got {type(path).__name__}")
    text = text.replace("\\", "/")
    parts = relative_parts(text)
    if parts is None:
        raise InvalidInput(f"mlflow.{call}(..., {text!r}): the {what} must be a relative path inside the "
                           "run's artifacts, like 'plots' or 'plots/loss.png'")
    return parts


def _artifact_folder(artifact_path: object, call: str) -> str:
    if artifact_path is None:
        return ARTIFACTS_DIR
    return "/".join([ARTIFACTS_DIR, *_relative_parts(artifact_path, call, "artifact_path")])


def _artifact_file(artifact_file: object, call: str) -> str:
    parts = _relative_parts(artifact_file, call, "artifact_file")
    if not parts:
        raise InvalidInput(f"mlflow.{call}(..., {artifact_file!r}): artifact_file needs a file name, "
                           "like 'report.txt'")
    return "/".join([ARTIFACTS_DIR, *parts])


def _extension(name: str, default: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else default


def log_artifact(local_path: object, artifact_path: "str | None" = None, run_id: "str | None" = None) -> None:
    """Add the file ``local_path`` to the run as ``outputs/<artifact_path>/<file name>``."""
    source = os.fspath(local_path)  # type: ignore[call-overload]
    folder = _artifact_folder(artifact_path, "log_artifact")
    if os.path.isdir(source):
        raise IsADirectoryError(f"mlflow.log_artifact({source!r}): this is a folder; log a folder with "
                                "mlflow.log_artifacts(...)")
    if not os.path.isfile(source):
        raise FileNotFoundError(f"mlflow.log_artifact({source!r}): no such file")
    current_run().upload_file(folder + "/" + os.path.basename(source), source)


def log_artifacts(local_dir: object, artifact_path: "str | None" = None, run_id: "str | None" = None) -> None:
    """Add every file under the folder ``local_dir`` to the run, under ``outputs/<artifact_path>/``."""
    source = os.fspath(local_dir)  # type: ignore[call-overload]
    folder = _artifact_folder(artifact_path, "log_artifacts")
    if not os.path.isdir(source):
        raise FileNotFoundError(f"mlflow.log_artifacts({source!r}): no such folder")
    current_run().upload_folder(folder, source)


def log_text(text: str, artifact_file: str, run_id: "str | None" = None) -> None:
    """Save ``text`` as the artifact ``artifact_file`` (UTF-8)."""
    name = _artifact_file(artifact_file, "log_text")
    if not isinstance(text, str):
        raise InvalidInput(f"mlflow.log_text({short(text)}, {artifact_file!r}): expected a string, "
                           f"got {type(text).__name__}")
    current_run().upload_file(name, io.BytesIO(text.encode("utf-8")))


def log_dict(dictionary: object, artifact_file: str, run_id: "str | None" = None) -> None:
    """Save ``dictionary`` as JSON (or YAML for ``.yaml``/``.yml``) as the artifact ``artifact_file``."""
    name = _artifact_file(artifact_file, "log_dict")
    try:
        if _extension(name, "json") in ("yaml", "yml"):
            try:
                import yaml

                text = yaml.safe_dump(dictionary, default_flow_style=False)
            except ImportError:
                text = json.dumps(dictionary, indent=2)  # JSON is valid YAML
        else:
            text = json.dumps(dictionary, indent=2)
    except Exception as exc:  # noqa: BLE001 - json's/yaml's own error, said with the call
        raise InvalidInput(f"mlflow.log_dict(..., {artifact_file!r}): cannot serialize it: {exc}") from None
    current_run().upload_file(name, io.BytesIO(text.encode("utf-8")))


def log_figure(figure: object, artifact_file: str, *, save_kwargs: "dict | None" = None) -> None:
    """Save a matplotlib figure (or a plotly one) as the artifact ``artifact_file``."""
    name = _artifact_file(artifact_file, "log_figure")
    fmt = _extension(name, "png")
    options = dict(save_kwargs or {})
    data = io.BytesIO()
    if hasattr(figure, "savefig"):  # matplotlib
        figure.savefig(data, format=fmt, **options)
    elif fmt == "html" and hasattr(figure, "to_html"):  # plotly
        data.write(figure.to_html(**options).encode("utf-8"))
    elif hasattr(figure, "write_image"):  # plotly, static (needs kaleido)
        figure.write_image(data, format=fmt, **options)
    else:
        raise InvalidInput(f"mlflow.log_figure(..., {artifact_file!r}): expected a matplotlib or plotly figure, "
                           f"got {type(figure).__name__}")
    data.seek(0)
    current_run().upload_file(name, data)


def _pil_image(image: object, where: str) -> object:
    """A PIL image from a PIL image or a numpy array (floats in [0, 1] or integers in [0, 255])."""
    if hasattr(image, "save") and hasattr(image, "mode"):
        return image
    if not (hasattr(image, "shape") and hasattr(image, "dtype")):
        raise InvalidInput(f"{where}: expected a PIL image or a numpy array, got {type(image).__name__}")
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"{where}: logging a numpy array as an image needs Pillow in the run's environment") from None
    array: "Any" = image  # a numpy array (checked above); numpy is not imported here
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise InvalidInput(f"{where}: expected an array of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
                           f"got {tuple(array.shape)}")
    kind = array.dtype.kind
    low, high = array.min(), array.max()
    if kind == "f":
        if low < 0 or high > 1:
            raise InvalidInput(f"{where}: float image values must be in [0, 1], got [{low}, {high}]")
        array = (array * 255).round()
    elif kind in "iub":
        if low < 0 or high > 255:
            raise InvalidInput(f"{where}: integer image values must be in [0, 255], got [{low}, {high}]")
    else:
        raise InvalidInput(f"{where}: unsupported image array type {array.dtype}")
    return Image.fromarray(array.astype("uint8"))


def log_image(
    image: object,
    artifact_file: "str | None" = None,
    key: "str | None" = None,
    step: "int | None" = None,
    timestamp: "int | None" = None,
    synchronous: "bool | None" = None,
) -> None:
    """Save a PIL image or numpy array as the artifact ``artifact_file`` (e.g. ``'images/x.png'``)."""
    if artifact_file is None:
        raise InvalidInput("mlflow.log_image(image, key=...): image metrics by key are not supported under "
                           "Trainyard; give artifact_file='name.png'")
    name = _artifact_file(artifact_file, "log_image")
    picture = _pil_image(image, f"mlflow.log_image(..., {artifact_file!r})")
    from PIL import Image

    ext = "." + _extension(name, "png")
    fmt = Image.registered_extensions().get(ext, "PNG")
    data = io.BytesIO()
    picture.save(data, format=fmt)  # type: ignore[attr-defined]
    data.seek(0)
    current_run().upload_file(name, data)
