"""The run inside a Trainyard job: ``run.log`` appends to a buffer that a daemon thread writes out.

``run.log`` only appends a tuple to a list; the flush thread formats and writes the buffered
records every ``TRAINYARD_FLUSH_INTERVAL`` seconds (``writer``), and again at exit, before a fork
and on SIGTERM. Each process (a forked child too) writes its own files.
"""

import atexit
import io
import json
import math
import os
import shutil
import signal
import sys
import threading
import time
from itertools import count

from .envvars import ENV_EXPERIMENT, ENV_FLUSH_INTERVAL, ENV_RUN_DIR, ENV_RUN_ID
from .recordformat import (
    CHILDREN_DIR,
    KIND_CHILD,
    KIND_IMAGE,
    KIND_LIST,
    KIND_MODEL,
    KIND_PARAMS,
    KIND_ROW,
    KIND_STATUS,
    KIND_TABLE,
    KIND_TAGS,
    KIND_UPLOAD,
)
from .run import ExperimentName, Run
from .runinfo import RunFolder
from .values import MetricValueError, cell, cells, check_name, check_run_path, check_step, number
from .writer import RecordWriter

TYPE_CHECKING = False  # `typing` is not imported at run time
if TYPE_CHECKING:
    from .writer import BufferedRecord

__all__ = ["DEFAULT_FLUSH_INTERVAL", "MAX_BUFFERED", "LiveRun"]

DEFAULT_FLUSH_INTERVAL = 0.1  # a logged value reaches an open chart in ~0.2 s (issue 4: ≤ 250 ms)
MAX_BUFFERED = 1 << 18  # records; beyond this the logging thread flushes itself

_time = time.time


class LiveRun(Run):
    """The run inside a Trainyard job: buffers records and writes them to this process's file."""

    # Set by _create and _reset_process_state (the run is built without __init__).
    _tracking_dir: str
    _run_dir: "str | None"
    _interval: float
    _counters: "dict[str, count[int]]"
    _warned: bool
    _children: "dict[str, LiveRun]"
    _pid: int
    _files: "RecordWriter"
    _buf: "list[BufferedRecord]"  # in log order
    _lock: "threading.Lock"
    _lock_owner: "int | None"
    _term_pending: bool
    _stop: "threading.Event"
    _thread: "threading.Thread"

    @classmethod
    def _create(cls, tracking_dir: str) -> "LiveRun":
        self = object.__new__(cls)
        self._tracking_dir = tracking_dir
        self._id = os.environ.get(ENV_RUN_ID) or "unknown-run"
        self._experiment = ExperimentName(os.environ.get(ENV_EXPERIMENT) or "Default")
        self._display_name = self._id
        self._run_dir = os.environ.get(ENV_RUN_DIR)
        try:
            interval = float(os.environ.get(ENV_FLUSH_INTERVAL) or DEFAULT_FLUSH_INTERVAL)
        except ValueError:
            interval = DEFAULT_FLUSH_INTERVAL
        self._interval = DEFAULT_FLUSH_INTERVAL if math.isnan(interval) else min(max(interval, 0.01), 60.0)
        self._counters = {}  # key -> itertools.count: next() is atomic, so threads may log the same key
        self._warned = False
        self._children = {}
        self._reset_process_state()
        atexit.register(self._at_exit)
        self._install_sigterm()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(  # novermin - guarded: Python 3.7+
                before=self._flush_quietly,
                after_in_child=self._after_fork_child,
            )
        return self

    def _reset_process_state(self) -> None:
        """Per-process state: a fresh writer, file, buffer, lock and flush thread."""
        self._pid = os.getpid()
        self._files = RecordWriter(self._tracking_dir)
        self._buf = []
        self._lock = threading.Lock()
        self._lock_owner = None
        self._term_pending = False
        self._stop = threading.Event()
        thread = threading.Thread(target=self._flush_loop, name="trainyard-flush", daemon=True)
        self._thread = thread
        thread.start()

    def _after_fork_child(self) -> None:
        # The parent flushed before forking and owns whatever it logged; the child starts empty
        # with its own writer so the two never interleave lines or reuse sequence numbers.
        inherited = self._files
        self._reset_process_state()
        inherited.close()
        # multiprocessing ends its children with os._exit, which skips atexit; its own exit
        # hook runs finalizers, registered after it clears them (hence the after-fork hop).
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None:
            try:
                mp_util.register_after_fork(self, LiveRun._register_mp_finalizer)
            except Exception:  # noqa: BLE001, S110 - best effort: the flush thread still runs
                pass

    def _register_mp_finalizer(self) -> None:
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None:
            mp_util.Finalize(None, self._flush_quietly, exitpriority=100)

    # ---- the hot path ------------------------------------------------------------------------

    def log(self, name: str, value: object, description: str = "", step: "int | None" = None) -> None:
        """Log one value of the scalar metric ``name`` (an int or float; steps count 0, 1, 2, ...)."""
        t = type(value)
        if t is not float and t is not int:
            value = number(value, "log", name)
        if step is not None and type(step) is not int:
            step = check_step(name, value, step)  # before counting: a rejected call logs nothing
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

    def _new_key(self, name: object) -> "count[int]":
        key = check_name(name, "log")
        return self._counters.setdefault(key, count())

    def _log_at(self, name: str, value: object, step: "int | None", timestamp: float) -> None:
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
        key = check_name(name, "log_list")
        self._add(KIND_LIST, [key, cells(value, "log_list", key), _time(), description or ""])

    def log_row(self, name: str, description: "str | None" = None, **kwargs: object) -> None:
        """Log one row (``column=value``) of the table metric ``name``."""
        key = check_name(name, "log_row")
        row = {col: cell(v, "log_row", key) for col, v in kwargs.items()}
        self._add(KIND_ROW, [key, row, _time(), description or ""])

    def log_table(self, name: str, value: dict, description: str = "") -> None:
        """Log a table metric given as ``{column: [values...]}``."""
        key = check_name(name, "log_table")
        if not isinstance(value, dict):
            raise MetricValueError(
                f"run.log_table({key!r}, ...): expected a dict of column -> list of values, "
                f"got {type(value).__name__}"
            )
        table = {str(col): cells(vals, "log_table", key) for col, vals in value.items()}
        self._add(KIND_TABLE, [key, table, _time(), description or ""])

    def log_image(self, name: str, path: object = None, plot: object = None, description: str = "") -> None:
        """Log an image: a file at ``path``, or a matplotlib figure (or pyplot) as ``plot``."""
        key = check_name(name, "log_image")
        if (path is None) == (plot is None):
            raise ValueError(f"run.log_image({key!r}, ...): give exactly one of path=... or plot=...")
        if path is not None:
            source = os.fspath(path)  # type: ignore[call-overload]  # anything else: fspath's TypeError
            if not os.path.isfile(source):
                raise FileNotFoundError(f"run.log_image({key!r}, path={source!r}): no such file")
            stored = self._files.store_file(os.path.basename(source), lambda tmp: shutil.copyfile(source, tmp))
        else:
            savefig = getattr(plot, "savefig", None)
            if savefig is None:
                raise TypeError(
                    f"run.log_image({key!r}, plot=...): expected a matplotlib figure or pyplot, "
                    f"got {type(plot).__name__}"
                )
            stored = self._files.store_file(key + ".png", lambda tmp: savefig(tmp, format="png"))
        self._add(KIND_IMAGE, [key, stored, _time(), description or ""])

    def upload_file(self, name: str, path_or_stream: object) -> None:
        """Add a file to the run as ``name`` (e.g. ``outputs/x.csv``) from a path or a stream."""
        target = check_run_path(name, "upload_file")
        base = target.rsplit("/", 1)[-1]
        src = path_or_stream
        if isinstance(src, (str, bytes, os.PathLike)):
            source = os.fspath(src)
            if not os.path.isfile(source):
                raise FileNotFoundError(f"run.upload_file({name!r}, {source!r}): no such file")
            stored = self._files.store_file(base, lambda tmp: shutil.copyfile(source, tmp))
        elif hasattr(src, "read"):

            def write(tmp: str) -> None:
                with open(tmp, "wb") as out:
                    if isinstance(src, io.TextIOBase):
                        out.write(src.read().encode("utf-8"))
                    else:
                        shutil.copyfileobj(src, out)

            stored = self._files.store_file(base, write)
        else:
            raise TypeError(
                f"run.upload_file({name!r}, ...): expected a file path or a readable stream, "
                f"got {type(src).__name__}"
            )
        self._add(KIND_UPLOAD, [target, stored, _time()])

    def _register_model(self, name: str, path: str, info: dict) -> None:
        """Ask the engine to register ``path`` (in the run, uploaded before) as model ``name``."""
        self._add(KIND_MODEL, [check_name(name, "register_model"), check_run_path(path, "register_model"),
                               _time(), info])

    def _child(self, child_id: str, info: dict) -> "LiveRun":
        """Create or update the child run ``child_id`` (info: display_name, status, tags); returns
        the run its records go to (``<tracking>/children/<child_id>/tracking/``: the child's run
        folder is ``<tracking>/children/<child_id>/``, laid out as any run folder)."""
        self._add(KIND_CHILD, [check_name(child_id, "child"), info, _time()])
        child = self._children.get(child_id)
        if child is None:
            child = LiveRun._create(os.path.join(self._tracking_dir, CHILDREN_DIR, child_id, "tracking"))
            child._id = child._display_name = child_id
            child._experiment = self._experiment
            self._children[child_id] = child
        return child

    # ---- reading the run, child runs, the status (Run's Azure ML methods) ----------------------

    def _folder(self) -> "RunFolder":
        return RunFolder(self._tracking_dir, self._run_dir)

    def _end(self, status: str, error: "str | None") -> None:
        parent = self._parent_run
        if isinstance(parent, LiveRun):  # a child_run(): its parent's record ends it now
            info = {"status": status}  # type: dict
            if error is not None:
                info["error"] = error
            parent._child(self._id, info)
            parent.flush()
        else:
            self._add(KIND_STATUS, [status, {"error": error}, _time()])
            self.flush()

    def _make_child(self, name: "str | None", run_id: "str | None") -> "LiveRun":
        child_id = run_id
        n = len(self._children)
        while child_id is None:
            n += 1
            candidate = f"{self._id}_{n}"
            # Another process of the run may have made it already.
            if candidate not in self._children and not os.path.exists(
                    os.path.join(self._tracking_dir, CHILDREN_DIR, candidate)):
                child_id = candidate
        child = self._child(child_id, {"display_name": name or child_id, "status": "Running", "tags": {}})
        child._parent_run = self
        child._run_dir = os.path.join(self._tracking_dir, CHILDREN_DIR, child_id)
        self.flush()
        return child

    def _tags(self, items: dict) -> None:
        self._add(KIND_TAGS, [items, _time()])

    def _params(self, items: dict) -> None:
        self._add(KIND_PARAMS, [items, _time()])

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
        self._files.write(chunk)

    def _flush_quietly(self) -> None:
        try:
            self.flush()
        except Exception as exc:  # noqa: BLE001 - never break the script over its metrics
            if not self._warned:
                self._warned = True
                try:
                    sys.stderr.write(f"trainyard: could not write run records to {self._files.path}: {exc}\n")
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


Run._live_class = LiveRun
