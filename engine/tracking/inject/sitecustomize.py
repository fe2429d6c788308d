"""Started by Python in every process of a run (this folder is first on the run's PYTHONPATH).

It does three small things, standard library only, and nothing else (on Python 3.6 and newer; it
is written so that Python 2.7 parses it too, and does nothing there):

1. Runs the environment's own ``sitecustomize`` (the next one on ``sys.path``), which this module
   would otherwise hide.
2. Serves Trainyard's ``mlflow`` stand-in (``trainyard_standins/mlflow``) to ``import mlflow``,
   but only where the run's environment has no MLflow of its own: the finder is appended to
   ``sys.meta_path``, so Python's own path finder finds a real ``mlflow`` (or ``mlflow-skinny``)
   first and that one is imported, untouched. The real MLflow then logs into Trainyard through
   the ``trainyard`` plugins (``trainyard_mlflow``, declared by ``trainyard_mlflow-*.dist-info``).

   The stand-in serves the logging calls, not the rest of MLflow's API, so libraries that probe
   for MLflow before using it (``importlib.util.find_spec("mlflow")``: transformers' Trainer,
   Lightning's MLFlowLogger...) must not see it: the finder answers imports only, never a probe
   through ``importlib.util.find_spec``. Those libraries then act as without MLflow.
3. Lets PyTorch's gloo worker threads finish before the interpreter shuts down. A gloo worker
   takes the GIL to drop the last collective it ran; if the main thread has begun finalizing by
   then, Python ends the worker mid-destructor and the C++ runtime aborts the whole process
   ("terminate called without an active exception", SIGABRT) after the script did all its work:
   about one distributed run in a hundred on a loaded machine failed so. Destroying the process
   group does not stop those threads while a DistributedDataParallel model still holds the group,
   so at exit, only where they exist, the main thread gives up the GIL for a moment.
4. Notes which bytes of the driver log the process wrote to ``sys.stderr`` (the Logs tab shows
   them in their own colour): where file descriptor 2 is a driver log in the run folder, each
   write through ``sys.stderr`` appends its byte range to ``.<log>.stderr`` beside the log
   (engine.runtime.stderrmarks). The bytes themselves go to the log as before, on the same
   descriptor, so stdout and stderr keep the order they were written in.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_STANDINS = os.path.join(_HERE, "trainyard_standins")
_SERVED = "mlflow"
_UTIL_FILES = ("importlib/util.py", "importlib.util>")


def _is_probe():  # type: () -> bool
    """True when the lookup comes from ``importlib.util.find_spec`` (a probe), not an import."""
    frame = sys._getframe(2)
    for _ in range(6):  # the finder <- importlib._bootstrap._find_spec <- find_spec / _find_and_load
        if frame is None:
            return False
        code = frame.f_code
        # importlib.util is frozen in some Pythons ("<frozen importlib.util>"), a file in others
        if code.co_name == "find_spec" and code.co_filename.replace("\\", "/").endswith(_UTIL_FILES):
            return True
        if code.co_name == "_find_and_load_unlocked":
            return False
        frame = frame.f_back  # type: ignore[assignment]
    return False


class StandinFinder:
    """Finds ``mlflow`` in the stand-ins folder, after every other finder (see the module doc)."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):  # type: (str, object, object) -> object
        if fullname != _SERVED or _is_probe():
            return None  # submodules come from the package's own __path__ once it is imported
        from importlib.machinery import PathFinder

        return PathFinder.find_spec(fullname, [_STANDINS])

    @classmethod
    def invalidate_caches(cls):  # type: () -> None
        pass


def _run_next_sitecustomize():  # type: () -> None
    from importlib.machinery import PathFinder

    others = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    spec = PathFinder.find_spec(__name__, others)
    if spec is None or spec.loader is None:
        return
    code = spec.loader.get_code(__name__)  # type: ignore[attr-defined]
    if code is not None:
        exec(code, {"__name__": __name__, "__file__": spec.origin, "__builtins__": __builtins__})


_GLOO_WORKER = "pt_gloo_runloop"  # the name torch gives each gloo worker thread
_GLOO_GRACE_S = 0.1


def _gloo_workers_running():  # type: () -> bool
    if "torch.distributed" not in sys.modules:
        return False
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:  # not Linux: no way to tell
        return False
    for task in tasks:
        try:
            with open("/proc/self/task/%s/comm" % task) as comm:
                if comm.read().startswith(_GLOO_WORKER):
                    return True
        except OSError:  # the thread ended meanwhile
            continue
    return False


def _let_gloo_workers_finish():  # type: () -> None
    if _gloo_workers_running():
        import time

        time.sleep(_GLOO_GRACE_S)  # gives up the GIL: the workers drop their last work


def _is_driver_log(name):  # type: (str) -> bool
    # the same test as engine.runtime.stderrmarks.is_driver_log
    return name == "driver.log" or (name.startswith("70_driver_log") and name.endswith(".txt"))


def _stderr_writer_class():  # type: () -> type
    import io

    class MarkedStderr(io.RawIOBase):
        """File descriptor 2, noting the byte range each write landed on."""

        def __init__(self, marks, reader):  # type: (int, int) -> None
            super().__init__()
            self._marks = marks
            self._reader = reader  # the log opened for reading: fd 2 is write-only

        def writable(self):  # type: () -> bool
            return True

        def fileno(self):  # type: () -> int
            return 2

        def isatty(self):  # type: () -> bool
            return False

        def write(self, data):  # type: (object) -> int
            chunk = bytes(data)  # type: ignore[call-overload]
            n = os.write(2, chunk)
            if n:
                try:
                    end = os.lseek(2, 0, os.SEEK_CUR)  # appended: the offset is now the write's end
                    # Another process (or thread) writing to the log in between would move the
                    # offset: mark only bytes that are ours.
                    if os.pread(self._reader, n, end - n) == chunk[:n]:
                        os.write(self._marks, ("%d %d\n" % (end - n, end)).encode("ascii"))
                except OSError:
                    pass
            return n

    return MarkedStderr


def _mark_stderr():  # type: () -> None
    run_dir = os.environ.get("TRAINYARD_RUN_DIR")
    if not run_dir or not sys.platform.startswith("linux"):
        return
    import stat

    try:
        if not stat.S_ISREG(os.fstat(2).st_mode):
            return  # a terminal or a pipe (a Docker run): nothing to mark
        log = os.readlink("/proc/self/fd/2")
    except OSError:
        return
    folder, name = os.path.split(log)
    if not _is_driver_log(name) or not log.startswith(os.path.realpath(run_dir) + os.sep):
        return  # the script sent its stderr somewhere of its own
    old = sys.stderr
    if old is None or getattr(old, "fileno", lambda: -1)() != 2:
        return
    flags = os.O_CLOEXEC  # a program started from here marks for itself (its own sitecustomize)
    marks = os.open(os.path.join(folder, "." + name + ".stderr"), os.O_WRONLY | os.O_APPEND | os.O_CREAT | flags, 0o644)
    reader = os.open(log, os.O_RDONLY | flags)
    import io

    old.flush()
    sys.stderr = io.TextIOWrapper(_stderr_writer_class()(marks, reader),
                                  encoding=old.encoding, errors=old.errors,
                                  line_buffering=True, write_through=True)


# Older interpreters get none of this (the client says at import that it needs Python 3.6+).
if sys.version_info >= (3, 6):
    if not any(getattr(f, "__name__", "") == "StandinFinder" for f in sys.meta_path):
        sys.meta_path.append(StandinFinder)  # type: ignore[arg-type]
    import atexit

    # Registered first, so it runs last: after the run's own exit hooks (the metrics flush).
    atexit.register(_let_gloo_workers_finish)
    try:
        _mark_stderr()
    except Exception:  # noqa: BLE001, S110 - marking is a nicety: the run goes on unmarked
        pass
    try:
        _run_next_sitecustomize()
    except Exception as _exc:  # noqa: BLE001 - the environment's own hook failing must not stop the run
        sys.stderr.write("trainyard: the environment's sitecustomize failed: %r\n" % (_exc,))
