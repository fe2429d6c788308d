"""Fixtures for the environment tests. (Keep additive: several test modules share this file.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from conda_channel import build_channel


@pytest.fixture(scope="session")
def conda_channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real local conda channel (python shim, mymodule, libgreet 1.0/2.0, hello), indexed with
    py-rattler; see conda_channel.py."""
    return build_channel(tmp_path_factory.mktemp("conda-channel") / "channel")
