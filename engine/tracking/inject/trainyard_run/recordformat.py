"""The record files: what the in-run client writes and the engine reads, defined once.

The writer is ``trainyard_run.live``; the readers are ``engine/tracking/records.py`` and
``engine/runs/ingest.py``, which import this module as
``engine.tracking.inject.trainyard_run.recordformat``. Standard library only (Python 3.6+).

Each process of a run is one *writer* (``<pid>-<8 hex>``) with two files in the run's tracking
folder. ``<writer>.jsonl`` holds JSON-array lines; every line starts with a sequence number (per
writer, from 1, increasing), so a reader that remembers its byte offset and the last sequence
number per writer never loses or duplicates a record. Line formats (``ts`` = time.time()):

    [seq, "m", key, value, step, ts]                  scalar metric (accepted; the client writes binary)
    [seq, "l", key, [values...], ts, description]     list
    [seq, "r", key, {col: value}, ts, description]    row
    [seq, "t", key, {col: [values]}, ts, description] table
    [seq, "i", key, "files/<name>", ts, description]  image (file already in the tracking folder)
    [seq, "g", {tag: value}, ts]                      tags
    [seq, "p", {param: value}, ts]                    params
    [seq, "u", name_in_run, "files/<name>", ts]       uploaded file
    [seq, "k", key_id, key]                           defines a scalar key id; it shares the seq
                                                      of the scalar record it precedes
    [seq, "M", name, path_in_run, ts, {model info}]   register the file/folder path_in_run (uploaded
                                                      before this record) as a new version of model
                                                      name; info: {"type", "description", "tags"}
    [seq, "c", child_id, {run info}, ts]              a child run (MLflow's nested run), created on
                                                      the first record, updated by later ones;
                                                      info: {"display_name", "status", "tags"};
                                                      its run folder is children/<child_id>/ (records
                                                      in children/<child_id>/tracking/)
    [seq, "s", status, {"error": text or null}, ts]   the script's run.complete() ("Completed") or
                                                      run.fail() ("Failed"): the status the run
                                                      ends with (a failed script still fails it)

Scalar metrics (``run.log``) go to ``<writer>.scalars``: fixed 36-byte little-endian records
``(seq u64, key id u32, step i64, value f64, time f64)`` that numpy reads as arrays without a
Python object per point. A key id is defined by a "k" line in the same writer's ``.jsonl`` file,
which the client always writes before the binary records that use it. Key id 0 marks a record
that a failed write tore (the client completes it with zeros); readers drop it.
"""

import struct

__all__ = [
    "CHILDREN_DIR",
    "FILES_DIR",
    "JSONL_SUFFIX",
    "KINDS",
    "KIND_CHILD",
    "KIND_IMAGE",
    "KIND_KEY",
    "KIND_LIST",
    "KIND_MODEL",
    "KIND_PARAMS",
    "KIND_ROW",
    "KIND_SCALAR",
    "KIND_STATUS",
    "KIND_TABLE",
    "KIND_TAGS",
    "KIND_UPLOAD",
    "OBJECT_KINDS",
    "SCALARS_SUFFIX",
    "SCALAR_FIELDS",
    "SCALAR_RECORD",
    "TORN_KEY_ID",
    "jsonl_name",
    "scalars_name",
]

JSONL_SUFFIX = ".jsonl"
SCALARS_SUFFIX = ".scalars"
# Files logged by the script (images, uploads) are written here, in the tracking folder, before
# the record naming them as "files/<name>".
FILES_DIR = "files"

# The binary scalar record, and its fields' names in that order (numpy's dtype uses them).
SCALAR_RECORD = struct.Struct("<QIqdd")
SCALAR_FIELDS = ("seq", "key", "step", "value", "ts")
TORN_KEY_ID = 0

KIND_SCALAR = "m"
KIND_LIST = "l"
KIND_ROW = "r"
KIND_TABLE = "t"
KIND_IMAGE = "i"
KIND_TAGS = "g"
KIND_PARAMS = "p"
KIND_UPLOAD = "u"
KIND_KEY = "k"
KIND_MODEL = "M"
KIND_CHILD = "c"
KIND_STATUS = "s"
KINDS = frozenset(
    {KIND_SCALAR, KIND_LIST, KIND_ROW, KIND_TABLE, KIND_IMAGE, KIND_TAGS, KIND_PARAMS, KIND_UPLOAD, KIND_KEY,
     KIND_MODEL, KIND_CHILD, KIND_STATUS}
)
# A child run's folder: <tracking>/children/<child_id>/, laid out as any run folder.
CHILDREN_DIR = "children"
# The kinds stored as metric objects, and the object kind each is stored as.
OBJECT_KINDS = {KIND_LIST: "list", KIND_ROW: "row", KIND_TABLE: "table", KIND_IMAGE: "image"}


def jsonl_name(writer: str) -> str:
    """The JSON-lines file of ``writer``."""
    return writer + JSONL_SUFFIX


def scalars_name(writer: str) -> str:
    """The binary scalar file of ``writer``."""
    return writer + SCALARS_SUFFIX
