"""Trainyard's in-run client: what a training script uses to log metrics, tags, params and files.

The engine puts the folder holding this package on the run's ``PYTHONPATH``; nothing is installed
in the run's environment, so this package uses the standard library only and runs on Python 3.6+.

The script talks to Trainyard only through files: every process appends records to its own
files in ``<TRAINYARD_TRACKING_DIR>`` (``recordformat`` defines them; ``engine/tracking/records.py``
reads them). ``run.log`` only appends a tuple to a list; a daemon thread writes the buffered
records every ``TRAINYARD_FLUSH_INTERVAL`` seconds, and again at exit and on SIGTERM (``live``).

Outside a run (no ``TRAINYARD_TRACKING_DIR``) ``Run.get_context()`` returns an offline run that
prints what it would have logged, like Azure ML's offline run (``offline``).

The modules: ``run`` (the ``Run`` class), ``live`` and ``writer`` (logging inside a run),
``offline``, ``values`` (checking what is logged), and the two contracts with the engine,
``envvars`` (variable names) and ``recordformat`` (the files).

This file and ``azureml/__init__.py`` parse on Python 2.7 as well, so that an interpreter older
than 3.6 gets a message saying what to do rather than a SyntaxError.
"""

import sys

if sys.version_info < (3, 6):  # this much parses on Python 2.7 too: the message, not a SyntaxError
    raise ImportError(
        "Trainyard's in-run client (azureml.core.Run, trainyard_run, mlflow) needs Python 3.6 or newer; "
        "this run's interpreter is Python %s (%s). Give the job an environment with Python 3.6+, e.g. "
        "`python=3.8` in its conda file." % (sys.version.split()[0], sys.executable)
    )

# The engine imports this package only for its contract modules (envvars, recordformat: as
# engine.tracking.inject.trainyard_run), on paths that must start fast (`trainyard job list`): the
# run classes are loaded only where a run imports the package by its own name.
if __name__ == "trainyard_run":
    # Besides the API: the run classes are loaded with the package, as before the split (so
    # get_context() imports nothing), and the module constants the package had then are kept.
    from .envvars import ENV_EXPERIMENT, ENV_FLUSH_INTERVAL, ENV_RUN_DIR, ENV_RUN_ID, ENV_TRACKING_DIR  # noqa: F401
    from .live import DEFAULT_FLUSH_INTERVAL, MAX_BUFFERED, LiveRun  # noqa: F401
    from .offline import OfflineRun  # noqa: F401
    from .recordformat import FILES_DIR, SCALAR_RECORD, SCALARS_SUFFIX  # noqa: F401
    from .run import Run, get_run
    from .values import MetricValueError

    __all__ = ["MetricValueError", "Run", "get_run"]

    # Tracebacks and reprs name them as before the split: trainyard_run.MetricValueError, trainyard_run.Run.
    MetricValueError.__module__ = Run.__module__ = __name__
