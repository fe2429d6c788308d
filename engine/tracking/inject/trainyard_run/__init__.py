"""Trainyard's in-run client: what a training script uses to log metrics, tags, params and files.

The engine puts the folder holding this package on the run's ``PYTHONPATH``; nothing is installed
in the run's environment, so this module uses the standard library only and runs on Python 3.8+.

The script talks to Trainyard only through files: every process appends JSON-array lines to its
own ``<TRAINYARD_TRACKING_DIR>/<pid>-<8 hex>.jsonl`` (see ``engine/tracking/records.py`` for the
reader). ``run.log`` only appends a tuple to a list; a daemon thread formats and writes the
buffered records every ``TRAINYARD_FLUSH_INTERVAL`` seconds, and again at exit and on SIGTERM.

Outside a run (no ``TRAINYARD_TRACKING_DIR``) ``Run.get_context()`` returns an offline run that
prints what it would have logged, like Azure ML's offline run.
"""

from __future__ import annotations

import atexit
import io
import json
import math
import operator
import os
import shutil
import signal
import struct
import sys
import threading
import time
import uuid
from itertools import count

__all__ = ["MetricValueError", "Run", "get_run"]

ENV_RUN_ID = "TRAINYARD_RUN_ID"
ENV_EXPERIMENT = "TRAINYARD_EXPERIMENT"
ENV_TRACKING_DIR = "TRAINYARD_TRACKING_DIR"
ENV_FLUSH_INTERVAL = "TRAINYARD_FLUSH_INTERVAL"
ENV_RUN_DIR = "TRAINYARD_RUN_DIR"
DEFAULT_FLUSH_INTERVAL = 0.1  # a logged value reaches an open chart in ~0.2 s (issue 4: ≤ 250 ms)
MAX_BUFFERED = 1 << 18  # records; beyond this the logging thread flushes itself
FILES_DIR = "files"
# Scalar metrics go to a binary file of fixed-size little-endian records (seq, key id, step,
# value, time): the reader turns millions of them into arrays without creating one Python object
# per point. The key ids are defined by `[seq,"k",id,key]` lines in the JSON-lines file, which
# is always written before the binary records that use them.
SCALAR_RECORD = struct.Struct("<QIqdd")
SCALARS_SUFFIX = ".scalars"

# repr() of the non-finite floats, mapped to the spelling Python's json module reads and writes.
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}

_time = time.time
_NO_KEY = object()


class _PartialWrite(Exception):
    """An OSError after `written` bytes went out: the caller marks the file torn, then re-raises."""

    def __init__(self, error: OSError, written: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.written = written


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    written = 0
    try:
        while written < len(view):
            written += os.write(fd, view[written:])
    except OSError as exc:
        raise _PartialWrite(exc, written) from None


class MetricValueError(TypeError, ValueError):
    """A value given to ``run.log`` (or a list/row/table) is not a number.

    It is both a TypeError and a ValueError so either ``except`` clause a script uses catches it.
    """


class _ExperimentName(str):
    """The experiment's name; ``.name`` too, for scripts written against Azure's Experiment object."""

    @property
    def name(self) -> str:
        return str(self)


def _short(value: object, limit: int = 60) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _metric_error(call: str, name: object, value: object) -> MetricValueError:
    return MetricValueError(
        f"run.{call}({name!r}, {_short(value)}): metric values must be numbers (int or float), "
        f"got {type(value).__name__} {_short(value)}. "
        "Log text with run.tag(...) or several values with run.log_list(...)"
    )


def _number(value: object, call: str, name: object) -> object:
    """Slow path of the metric type check: bools, int subclasses, numpy/torch scalars."""
    t = type(value)
    if t is float or t is int:
        return value
    if t is bool:
        return int(value)
    if isinstance(value, float):  # numpy.float64 and other float subclasses
        return float(value)
    if isinstance(value, (str, bytes, bytearray)) or not hasattr(t, "__float__"):
        raise _metric_error(call, name, value)
    if isinstance(value, int):  # IntEnum and friends: write a plain int
        return int(value)
    if hasattr(t, "__index__"):  # numpy/torch integer scalars stay integers
        try:
            return operator.index(value)
        except TypeError:
            pass
    try:
        return float(value)  # numpy floats, 0-d tensors, Decimal, Fraction
    except (TypeError, ValueError, OverflowError, RuntimeError):
        # e.g. a numpy array or tensor with more than one element
        raise _metric_error(call, name, value) from None


def _cell(value: object, call: str, name: object) -> object:
    """A value inside a list/row/table: a number, a bool, a string or None."""
    t = type(value)
    if t is float or t is int or t is str or t is bool or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    try:
        return _number(value, call, name)
    except MetricValueError:
        raise MetricValueError(
            f"run.{call}({name!r}, ...): values must be numbers, bools or strings, "
            f"got {type(value).__name__} {_short(value)}"
        ) from None


def _cells(values: object, call: str, name: object) -> list:
    """A list of cells from a list, tuple, numpy array, tensor or other iterable."""
    if isinstance(values, (str, bytes, bytearray, dict)) or values is None:
        raise MetricValueError(
            f"run.{call}({name!r}, {_short(values)}): expected a list of values, got {type(values).__name__}"
        )
    tolist = getattr(values, "tolist", None)
    if tolist is not None:  # numpy/torch: one C call instead of a scalar object per element
        try:
            values = tolist()
        except Exception:  # noqa: BLE001, S110 - not array-like after all: iterate it below
            pass
    try:
        items = list(values)  # type: ignore[call-overload]
    except TypeError:
        raise MetricValueError(
            f"run.{call}({name!r}, {_short(values)}): expected a list of values, got {type(values).__name__}"
        ) from None
    return [_cell(v, call, name) for v in items]


def _check_name(name: object, call: str) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(f"run.{call}(...): the name must be a non-empty string, got {_short(name)}")
    return str(name)


def _json_scalar(value: object) -> object:
    """A tag/param value as JSON: scalars as they are, anything else as its str()."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    try:
        return _number(value, "log_param", "")
    except MetricValueError:
        return str(value)


class Run:
    """The run a training script is part of; get it with ``Run.get_context()``.

    The same object is returned for the whole process. Use ``log`` for scalar metrics (cheap
    enough to call every step), the ``log_*`` methods for lists, rows, tables and images, ``tag``
    and ``log_param`` for metadata and ``upload_file`` to add a file to the run's outputs.
    """

    _live = None  # the process-wide live run, once created
    _offline = None  # the process-wide offline run, once asked for outside a run
    _create_lock = threading.Lock()

    def __new__(cls, *args: object, **kwargs: object) -> object:
        # Azure control scripts may build Run(experiment, run_id): that is the SDK's run object,
        # which exists only where Trainyard is installed (`trainyard python control.py`).
        try:
            from engine.sdk import Run as SdkRun
        except ImportError:
            raise TypeError(
                "Run(...) looks up an existing run, which needs Trainyard's SDK: run control scripts "
                "with `trainyard python script.py`; inside a training script use Run.get_context()"
            ) from None
        return SdkRun(*args, **kwargs)  # type: ignore[no-any-return]

    # ---- getting the run -------------------------------------------------------------------

    @classmethod
    def get_context(cls, allow_offline: bool = True, **kwargs: object) -> Run:
        """The run this process belongs to, or an offline run that prints when outside a run."""
        tracking_dir = os.environ.get(ENV_TRACKING_DIR)
        if not tracking_dir:
            if not allow_offline:
                raise RuntimeError(
                    "Run.get_context(allow_offline=False): this script is not running inside a "
                    "Trainyard run (TRAINYARD_TRACKING_DIR is not set)"
                )
            offline = Run._offline
            if offline is None:
                offline = Run._offline = _OfflineRun._create()
            return offline
        live = Run._live
        if live is None:
            with Run._create_lock:
                live = Run._live
                if live is None:
                    live = Run._live = _LiveRun._create(tracking_dir)
        return live

    # ---- identity --------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The run's id."""
        return self._id  # type: ignore[attr-defined]

    @property
    def experiment(self) -> _ExperimentName:
        """The experiment's name (a str; ``run.experiment.name`` works too)."""
        return self._experiment  # type: ignore[attr-defined]

    @property
    def display_name(self) -> str:
        """The run's display name (its id: Trainyard's run ids are readable names)."""
        return self._display_name  # type: ignore[attr-defined]

    @property
    def name(self) -> str:
        return self._display_name  # type: ignore[attr-defined]

    def get_status(self) -> str:
        """Best effort: a script asking about its own run is running."""
        return "Running"

    def __repr__(self) -> str:
        return f"Run(experiment={str(self.experiment)!r}, id={self.id!r})"

    def __enter__(self) -> Run:  # noqa: PYI034 - typing.Self is not in Python 3.8
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()

    # The methods below are implemented by the live and offline runs.

    def log(self, name: str, value: object, description: str = "", step: int | None = None) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def _log_at(self, name: str, value: object, step: int | None, timestamp: float) -> None:
        """``log`` of a checked number, measured at ``timestamp`` (seconds since the epoch): for
        MLflow's ``log_metric(..., timestamp=ms)``. The live run keeps the time; others just log."""
        self.log(name, value, step=step)

    def complete(self) -> None:
        """Flush everything logged; the engine decides the final status from the exit code."""
        self.flush()

    def fail(self, *args: object, **kwargs: object) -> None:
        """Flush; the engine marks the run failed when the script exits non-zero."""
        self.flush()

    def set_tags(self, tags: object) -> None:
        """Set several tags at once: a dict, or a list of keys (tags with empty values)."""
        if isinstance(tags, dict):
            items = {_check_name(k, "set_tags"): ("" if v is None else str(v)) for k, v in tags.items()}
        elif isinstance(tags, (list, tuple, set, frozenset)):
            items = {_check_name(k, "set_tags"): "" for k in tags}
        else:
            raise TypeError(f"run.set_tags(...): expected a dict of tags, got {type(tags).__name__}")
        if items:
            self._tags(items)

    def tag(self, key: str, value: object = None) -> None:
        """Set one tag (a string; None stores an empty string)."""
        self._tags({_check_name(key, "tag"): "" if value is None else str(value)})

    def log_param(self, key: str, value: object) -> None:
        """Record one parameter of the run."""
        self._params({_check_name(key, "log_param"): _json_scalar(value)})

    def log_params(self, params: dict) -> None:
        """Record several parameters of the run."""
        if not isinstance(params, dict):
            raise TypeError(f"run.log_params(...): expected a dict, got {type(params).__name__}")
        items = {_check_name(k, "log_params"): _json_scalar(v) for k, v in params.items()}
        if items:
            self._params(items)

    def upload_files(self, names: list, paths: list) -> None:
        """Upload several files: ``names[i]`` is where ``paths[i]`` appears in the run."""
        if len(names) != len(paths):
            raise ValueError("run.upload_files(names, paths): names and paths must have the same length")
        for name, path in zip(names, paths):
            self.upload_file(name, path)

    def upload_folder(self, name: str, path: str) -> None:
        """Upload every file under the folder ``path`` to ``name/<relative path>`` in the run."""
        root = os.fspath(path)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"run.upload_folder({name!r}, {path!r}): not a folder")
        for folder, _dirs, files in os.walk(root):
            for file in sorted(files):
                full = os.path.join(folder, file)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                self.upload_file(name.rstrip("/") + "/" + rel, full)

    def _tags(self, items: dict) -> None:
        raise NotImplementedError

    def _params(self, items: dict) -> None:
        raise NotImplementedError

    def upload_file(self, name: str, path_or_stream: object) -> None:
        raise NotImplementedError


def _check_run_path(name: object, call: str) -> str:
    """A path inside the run (``outputs/x.csv``): relative, no ``..``."""
    text = _check_name(name, call).replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if text.startswith("/") or not parts or ".." in parts:
        raise ValueError(
            f"run.{call}({name!r}, ...): the name must be a relative path inside the run, "
            "like 'outputs/x.csv'"
        )
    return "/".join(parts)


class _LiveRun(Run):
    """The run inside a Trainyard job: buffers records and writes them to this process's file."""

    @classmethod
    def _create(cls, tracking_dir: str) -> _LiveRun:
        self = object.__new__(cls)
        self._tracking_dir = tracking_dir
        self._id = os.environ.get(ENV_RUN_ID) or "unknown-run"
        self._experiment = _ExperimentName(os.environ.get(ENV_EXPERIMENT) or "Default")
        self._display_name = self._id
        self._run_dir = os.environ.get(ENV_RUN_DIR)
        try:
            interval = float(os.environ.get(ENV_FLUSH_INTERVAL) or DEFAULT_FLUSH_INTERVAL)
        except ValueError:
            interval = DEFAULT_FLUSH_INTERVAL
        self._interval = DEFAULT_FLUSH_INTERVAL if math.isnan(interval) else min(max(interval, 0.01), 60.0)
        self._counters = {}  # key -> itertools.count: next() is atomic, so threads may log the same key
        self._warned = False
        self._reset_process_state()
        atexit.register(self._at_exit)
        self._install_sigterm()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(
                before=self._flush_quietly,
                after_in_child=self._after_fork_child,
            )
        return self

    def _reset_process_state(self) -> None:
        """Per-process state: a fresh writer, file, buffer, lock and flush thread."""
        self._pid = os.getpid()
        self._writer = f"{self._pid}-{os.urandom(4).hex()}"
        self._path = os.path.join(self._tracking_dir, self._writer + ".jsonl")
        self._fd = None
        self._bin_path = os.path.join(self._tracking_dir, self._writer + SCALARS_SUFFIX)
        self._bin_fd = None
        self._bin_torn = 0  # bytes of a partial record a failed write left in the binary file
        self._key_ids = {}  # key -> id in this writer's files (defined by a "k" line)
        self._seq = 0
        self._torn = False  # a failed write left a partial line at the end of the file
        # (key, value, step, ts) scalars and (None, kind, JSON body, None) others, in log order
        self._buf = []
        self._lock = threading.Lock()
        self._lock_owner = None
        self._term_pending = False
        self._file_counter = count(1)
        self._stop = threading.Event()
        thread = threading.Thread(target=self._flush_loop, name="trainyard-flush", daemon=True)
        self._thread = thread
        thread.start()

    def _after_fork_child(self) -> None:
        # The parent flushed before forking and owns whatever it logged; the child starts empty
        # with its own writer so the two never interleave lines or reuse sequence numbers.
        fds = (self._fd, self._bin_fd)
        self._reset_process_state()
        for fd in fds:
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        # multiprocessing ends its children with os._exit, which skips atexit; its own exit
        # hook runs finalizers, registered after it clears them (hence the after-fork hop).
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None:
            try:
                mp_util.register_after_fork(self, _LiveRun._register_mp_finalizer)
            except Exception:  # noqa: BLE001, S110 - best effort: the flush thread still runs
                pass

    def _register_mp_finalizer(self) -> None:
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None:
            mp_util.Finalize(None, self._flush_quietly, exitpriority=100)

    # ---- the hot path ------------------------------------------------------------------------

    def log(self, name: str, value: object, description: str = "", step: int | None = None) -> None:
        """Log one value of the scalar metric ``name`` (an int or float; steps count 0, 1, 2, ...)."""
        t = type(value)
        if t is not float and t is not int:
            value = _number(value, "log", name)
        if step is not None and type(step) is not int:
            step = _check_step(name, value, step)  # before counting: a rejected call logs nothing
        try:
            ctr = self._counters[name]
        except (KeyError, TypeError):
            ctr = self._new_key(name)
        index = next(ctr)
        if step is None:
            step = index
        # list.append is atomic under the GIL; the flush thread takes items from the front.
        buf = self._buf
        buf.append((name, value, step, _time()))
        if len(buf) > MAX_BUFFERED:
            # A loop that never releases the GIL starves the flush thread: write from here, so
            # memory and what a SIGKILL would lose stay bounded.
            self._flush_quietly()

    def _new_key(self, name: object) -> count:
        key = _check_name(name, "log")
        return self._counters.setdefault(key, count())

    def _log_at(self, name: str, value: object, step: int | None, timestamp: float) -> None:
        # Off the hot path: the caller (the mlflow stand-in) has checked name, value and step.
        ctr = self._counters.get(name) or self._new_key(name)
        index = next(ctr)
        buf = self._buf
        buf.append((name, value, index if step is None else step, timestamp))
        if len(buf) > MAX_BUFFERED:
            self._flush_quietly()

    # ---- other records -----------------------------------------------------------------------

    def _add(self, kind: str, fields: list) -> None:
        # The body is everything after the kind, as JSON text starting with a comma.
        self._buf.append((None, kind, "," + json.dumps(fields, separators=(",", ":"))[1:-1], None))

    def log_list(self, name: str, value: object, description: str = "") -> None:
        """Log a list of values under ``name`` (numbers, bools or strings)."""
        key = _check_name(name, "log_list")
        self._add("l", [key, _cells(value, "log_list", key), _time(), description or ""])

    def log_row(self, name: str, description: str | None = None, **kwargs: object) -> None:
        """Log one row (``column=value``) of the table metric ``name``."""
        key = _check_name(name, "log_row")
        row = {col: _cell(v, "log_row", key) for col, v in kwargs.items()}
        self._add("r", [key, row, _time(), description or ""])

    def log_table(self, name: str, value: dict, description: str = "") -> None:
        """Log a table metric given as ``{column: [values...]}``."""
        key = _check_name(name, "log_table")
        if not isinstance(value, dict):
            raise MetricValueError(
                f"run.log_table({key!r}, ...): expected a dict of column -> list of values, "
                f"got {type(value).__name__}"
            )
        table = {str(col): _cells(vals, "log_table", key) for col, vals in value.items()}
        self._add("t", [key, table, _time(), description or ""])

    def log_image(self, name: str, path: object = None, plot: object = None, description: str = "") -> None:
        """Log an image: a file at ``path``, or a matplotlib figure (or pyplot) as ``plot``."""
        key = _check_name(name, "log_image")
        if (path is None) == (plot is None):
            raise ValueError(f"run.log_image({key!r}, ...): give exactly one of path=... or plot=...")
        if path is not None:
            source = os.fspath(path)  # type: ignore[arg-type]
            if not os.path.isfile(source):
                raise FileNotFoundError(f"run.log_image({key!r}, path={source!r}): no such file")
            stored = self._store_file(os.path.basename(source), lambda tmp: shutil.copyfile(source, tmp))
        else:
            savefig = getattr(plot, "savefig", None)
            if savefig is None:
                raise TypeError(
                    f"run.log_image({key!r}, plot=...): expected a matplotlib figure or pyplot, "
                    f"got {type(plot).__name__}"
                )
            stored = self._store_file(key + ".png", lambda tmp: savefig(tmp, format="png"))
        self._add("i", [key, stored, _time(), description or ""])

    def upload_file(self, name: str, path_or_stream: object) -> None:
        """Add a file to the run as ``name`` (e.g. ``outputs/x.csv``) from a path or a stream."""
        target = _check_run_path(name, "upload_file")
        base = target.rsplit("/", 1)[-1]
        src = path_or_stream
        if isinstance(src, (str, bytes, os.PathLike)):
            source = os.fspath(src)
            if not os.path.isfile(source):
                raise FileNotFoundError(f"run.upload_file({name!r}, {source!r}): no such file")
            stored = self._store_file(base, lambda tmp: shutil.copyfile(source, tmp))
        elif hasattr(src, "read"):

            def write(tmp: str) -> None:
                with open(tmp, "wb") as out:
                    if isinstance(src, io.TextIOBase):
                        out.write(src.read().encode("utf-8"))  # type: ignore[union-attr]
                    else:
                        shutil.copyfileobj(src, out)  # type: ignore[arg-type]

            stored = self._store_file(base, write)
        else:
            raise TypeError(
                f"run.upload_file({name!r}, ...): expected a file path or a readable stream, "
                f"got {type(src).__name__}"
            )
        self._add("u", [target, stored, _time()])

    def _tags(self, items: dict) -> None:
        self._add("g", [items, _time()])

    def _params(self, items: dict) -> None:
        self._add("p", [items, _time()])

    def _store_file(self, base: str, write: object) -> str:
        """Write a file into ``<tracking_dir>/files/`` (temp + rename) and return ``files/<name>``."""
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[-100:] or "file"
        stored = f"{self._writer}-{next(self._file_counter)}-{safe}"
        folder = os.path.join(self._tracking_dir, FILES_DIR)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, ".tmp-" + stored)
        try:
            write(tmp)  # type: ignore[operator]
            os.replace(tmp, os.path.join(folder, stored))  # complete before its record is written
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return FILES_DIR + "/" + stored

    # ---- writing -----------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything logged so far to the run's record file."""
        if os.getpid() != self._pid:  # forked without the at-fork hook (e.g. a C extension's fork)
            self._after_fork_child()
        lock = self._lock
        with lock:
            self._flush_owned()
        if self._term_pending and threading.current_thread() is threading.main_thread():
            self._die(signal.SIGTERM)  # SIGTERM arrived while this (main) thread was flushing

    def _flush_owned(self) -> None:
        # The caller holds the lock; the owner tells the SIGTERM handler not to wait for it.
        self._lock_owner = threading.get_ident()
        try:
            self._flush_locked()
        finally:
            self._lock_owner = None

    def _flush_locked(self) -> None:
        buf = self._buf
        n = len(buf)
        if not n:
            return
        chunk = buf[:n]
        del buf[:n]  # one C call: appends racing with us land after the n items we took
        seq = self._seq
        key_ids = self._key_ids
        pack = SCALAR_RECORD.pack
        out = []
        add = out.append
        scalars = []
        add_scalar = scalars.append
        last = _NO_KEY  # not None: None marks the non-scalar records
        kid = 0
        for name, value, step, ts in chunk:
            seq += 1
            if name is not last:  # consecutive records mostly share their key object
                if name is None:  # (None, kind, JSON body, None): not a scalar
                    add(f'[{seq},"{value}"{step}]\n')
                    continue
                kid = key_ids.get(name)
                if kid is None:
                    kid = key_ids[name] = len(key_ids) + 1
                    # The definition shares the sequence number of the record it precedes.
                    add(f'[{seq},"k",{kid},{json.dumps(name)}]\n')
                last = name
            try:
                add_scalar(pack(seq, kid, step, value, ts))
            except (OverflowError, struct.error):  # an int beyond float range, or a huge step
                add_scalar(pack(seq, kid, max(min(step, 2**63 - 1), -(2**63)),
                                math.copysign(math.inf, value), ts))
        self._seq = seq
        if out:
            data = "".join(out).encode("utf-8")
            if self._torn:
                data = b"\n" + data  # end the partial line a failed write left, so later lines parse
                self._torn = False
            self._write(data)
        if scalars:
            data = b"".join(scalars)
            if self._bin_torn:
                # Complete the torn record with zeros: the reader drops it (its key id is 0).
                data = bytes(SCALAR_RECORD.size - self._bin_torn) + data
                self._bin_torn = 0
            self._write_scalars(data)

    def _write_scalars(self, data: bytes) -> None:
        if self._bin_fd is None:
            self._bin_fd = self._open_append(self._bin_path)
        try:
            _write_all(self._bin_fd, data)
        except _PartialWrite as exc:
            self._bin_torn = exc.written % SCALAR_RECORD.size
            raise exc.error from None

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            self._fd = self._open_append(self._path)
        try:
            _write_all(self._fd, data)
        except _PartialWrite as exc:
            if exc.written:
                self._torn = True
            raise exc.error from None

    def _open_append(self, path: str) -> int:
        os.makedirs(self._tracking_dir, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        return os.open(path, flags, 0o644)

    def _flush_quietly(self) -> None:
        try:
            self.flush()
        except Exception as exc:  # noqa: BLE001 - never break the script over its metrics
            if not self._warned:
                self._warned = True
                try:
                    sys.stderr.write(f"trainyard: could not write run records to {self._path}: {exc}\n")
                except Exception:  # noqa: BLE001, S110 - stderr closed: nowhere left to warn
                    pass

    def _at_exit(self) -> None:
        self._flush_quietly()
        self._stop.set()  # the flush thread must not wake up while the interpreter is torn down

    def _flush_loop(self) -> None:
        wait = self._stop.wait
        interval = self._interval
        while not wait(interval):
            self._flush_quietly()

    # ---- SIGTERM -----------------------------------------------------------------------------

    def _install_sigterm(self) -> None:
        # Only when the script has no handler of its own (and is not ignoring SIGTERM).
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, self._on_sigterm)
        except (ValueError, OSError, AttributeError):
            pass

    def _on_sigterm(self, signum: int, frame: object) -> None:
        if self._lock_owner == threading.get_ident():
            # Interrupted our own flush: let it finish, then it re-raises SIGTERM.
            self._term_pending = True
            return
        # The flush thread may be mid-write: wait for it, but never hang a terminating process.
        if self._lock.acquire(timeout=5):
            try:
                self._flush_owned()
            except Exception:  # noqa: BLE001, S110 - terminating anyway; nothing better to do
                pass
            finally:
                self._lock.release()
        self._die(signum)

    @staticmethod
    def _die(signum: int) -> None:
        # Terminate the way SIGTERM's default action would, so the exit status says "killed".
        try:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            time.sleep(1)
        finally:
            os._exit(128 + signum)


def _check_step(name: object, value: object, step: object) -> int:
    if type(step) is not bool and hasattr(type(step), "__index__"):
        try:
            return operator.index(step)
        except TypeError:
            pass
    raise TypeError(
        f"run.log({name!r}, {_short(value)}, step={_short(step)}): step must be an int, "
        f"got {type(step).__name__}"
    )


class _OfflineRun(Run):
    """The run outside Trainyard: checks values like the live run and prints instead of logging."""

    @classmethod
    def _create(cls) -> _OfflineRun:
        self = object.__new__(cls)
        self._id = f"OfflineRun_{uuid.uuid4()}"
        self._experiment = _ExperimentName("offline_experiment")
        self._display_name = self._id
        self._counters = {}
        return self

    def _say(self, what: str, name: object, value: object) -> None:
        print(f"Attempted to {what} {name}:\n{value}")

    def log(self, name: str, value: object, description: str = "", step: int | None = None) -> None:
        t = type(value)
        if t is not float and t is not int:
            value = _number(value, "log", name)
        _check_name(name, "log")
        if step is not None and type(step) is not int:
            _check_step(name, value, step)
        self._say("log scalar metric", name, value)

    def log_list(self, name: str, value: object, description: str = "") -> None:
        key = _check_name(name, "log_list")
        self._say("log list metric", key, _cells(value, "log_list", key))

    def log_row(self, name: str, description: str | None = None, **kwargs: object) -> None:
        key = _check_name(name, "log_row")
        self._say("log row metric", key, {c: _cell(v, "log_row", key) for c, v in kwargs.items()})

    def log_table(self, name: str, value: dict, description: str = "") -> None:
        key = _check_name(name, "log_table")
        if not isinstance(value, dict):
            raise MetricValueError(
                f"run.log_table({key!r}, ...): expected a dict of column -> list of values"
            )
        self._say("log table metric", key, {str(c): _cells(v, "log_table", key) for c, v in value.items()})

    def log_image(self, name: str, path: object = None, plot: object = None, description: str = "") -> None:
        key = _check_name(name, "log_image")
        if (path is None) == (plot is None):
            raise ValueError(f"run.log_image({key!r}, ...): give exactly one of path=... or plot=...")
        self._say("log image metric", key, path if path is not None else plot)

    def upload_file(self, name: str, path_or_stream: object) -> None:
        self._say("upload file", _check_run_path(name, "upload_file"), path_or_stream)

    def _tags(self, items: dict) -> None:
        for key, value in items.items():
            self._say("set tag", key, value)

    def _params(self, items: dict) -> None:
        for key, value in items.items():
            self._say("log parameter", key, value)

    def flush(self) -> None:
        pass


def get_run() -> Run:
    """The current run (same as ``Run.get_context()``)."""
    return Run.get_context()
