"""A stand-in for the ``azureml`` package, so Azure ML v1 scripts run unchanged under Trainyard.

Inside a training script only ``azureml.core.Run`` is needed and it comes from the
standard-library-only ``trainyard_run`` client. The control-script classes (Workspace,
Experiment, ...) are forwarded lazily to ``engine.sdk``, which exists only where Trainyard
itself is installed (``trainyard python control.py``).
"""

import sys

if sys.version_info < (3, 6):  # this much parses on Python 2.7 too: the message, not a SyntaxError
    raise ImportError(
        "Trainyard's in-run client (azureml.core.Run, trainyard_run, mlflow) needs Python 3.6 or newer; "
        "this run's interpreter is Python %s (%s). Give the job an environment with Python 3.6+, e.g. "
        "`python=3.8` in its conda file." % (sys.version.split()[0], sys.executable)
    )

from azureml._forward import forward_to_sdk, lazy_getattr, sdk_attribute

__all__ = ["forward_to_sdk", "lazy_getattr", "sdk_attribute"]
