"""Reading TensorBoard event files (``events.out.tfevents.*``) incrementally, from a byte offset.

An event file is a sequence of TFRecords: ``uint64 length, uint32 masked crc32c(length),
data[length], uint32 masked crc32c(data)``, each ``data`` a serialized ``Event`` protobuf. The
events and their checksums are TensorBoard's own (``tensorboard.compat.proto.event_pb2``, its
``masked_crc32c``); the framing is read here because TensorBoard's loaders cannot start at an
offset (its reader without TensorFlow refuses ``start_offset``), and the supervisor keeps each
file's offset in the store so that it reads only what is new, even after a restart.

Scalars come in two forms, both read: the legacy ``simple_value`` (PyTorch's SummaryWriter) and
a scalar tensor with the ``scalars`` plugin (TensorFlow 2, Lightning's TensorBoardLogger). So do
images: an encoded ``image`` (PyTorch's ``add_image``) and a string tensor with the ``images``
plugin (TensorFlow 2's ``tf.summary.image``: width, height, then one encoded image per sample).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["EventChunk", "EventImage", "event_files", "read_events"]

HEADER = struct.Struct("<QI")
FOOTER = struct.Struct("<I")
MARK = ".tfevents."


def event_files(logs: Path) -> list[Path]:
    """The event files under ``logs`` (any depth), in a stable order."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(logs):
        dirs.sort()
        found.extend(Path(folder) / f for f in sorted(files) if MARK in f)
    return found


@dataclass(frozen=True)
class EventImage:
    tag: str
    step: int
    wall_time: float
    index: int  # the sample's place among the images of this tag and step
    data: bytes  # encoded (PNG, as TensorBoard writes them)


@dataclass
class EventChunk:
    """What one read gave: scalars by tag (steps, values, wall times), images, the events read,
    the offset after the last whole record, and an error when the file is damaged there."""

    scalars: dict[str, tuple[list[int], list[float], list[float]]] = field(default_factory=dict)
    images: list[EventImage] = field(default_factory=list)
    events: int = 0
    offset: int = 0
    error: str | None = None


def read_events(path: Path, offset: int, max_bytes: int = 16 << 20) -> EventChunk:
    """The whole records of ``path`` from ``offset`` (a record still being written is left for
    the next read)."""
    from tensorboard.compat.proto.event_pb2 import Event  # protobuf: only where event files are read
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    chunk = EventChunk(offset=offset)
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(max_bytes)
    except OSError:
        return chunk
    pos = 0
    while pos + HEADER.size <= len(data):
        length, length_crc = HEADER.unpack_from(data, pos)
        if masked_crc32c(data[pos : pos + 8]) != length_crc:
            chunk.error = (
                f"{path}: damaged record at byte {offset + pos} (length checksum); the rest is not read"
            )
            break
        end = pos + HEADER.size + length + FOOTER.size
        if end > len(data):
            break  # not written completely yet (or beyond this read's bytes)
        body = data[pos + HEADER.size : pos + HEADER.size + length]
        if masked_crc32c(body) != FOOTER.unpack_from(data, end - FOOTER.size)[0]:
            chunk.error = (
                f"{path}: damaged record at byte {offset + pos} (data checksum); the rest is not read"
            )
            break
        _add(chunk, Event.FromString(body))
        chunk.events += 1
        pos = end
    chunk.offset = offset + pos
    return chunk


def _add(chunk: EventChunk, event: object) -> None:
    summary = getattr(event, "summary", None)
    if summary is None or not event.HasField("summary"):  # type: ignore[attr-defined]
        return
    for value in summary.value:
        kind = value.WhichOneof("value")
        if kind == "simple_value":
            number = float(value.simple_value)
        elif kind == "image":
            chunk.images.append(EventImage(value.tag, int(event.step), float(event.wall_time), 0,  # type: ignore[attr-defined]
                                           bytes(value.image.encoded_image_string)))
            continue
        elif kind == "tensor" and value.metadata.plugin_data.plugin_name == "images":
            encoded = list(value.tensor.string_val)[2:]  # width and height come first
            chunk.images.extend(EventImage(value.tag, int(event.step), float(event.wall_time), i, bytes(b))  # type: ignore[attr-defined]
                                for i, b in enumerate(encoded))
            continue
        elif kind == "tensor" and value.metadata.plugin_data.plugin_name == "scalars":
            from tensorboard.util.tensor_util import make_ndarray

            array = make_ndarray(value.tensor)
            if array.size != 1:
                continue
            number = float(array.reshape(()))
        else:
            continue  # histograms, text, audio: not read
        col = chunk.scalars.get(value.tag)
        if col is None:
            col = chunk.scalars[value.tag] = ([], [], [])
        col[0].append(int(event.step))  # type: ignore[attr-defined]
        col[1].append(number)
        col[2].append(float(event.wall_time))  # type: ignore[attr-defined]
