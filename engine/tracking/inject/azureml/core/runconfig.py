"""``azureml.core.runconfig`` under Trainyard: run configurations from ``engine.sdk``, loaded lazily."""

from __future__ import annotations

from azureml import lazy_getattr

_SDK_NAMES = frozenset(
    {
        "PyTorchConfiguration",
        "MpiConfiguration",
        "RunConfiguration",
        "DockerConfiguration",
    }
)

__all__ = [  # noqa: F822 - provided by __getattr__
    "DockerConfiguration",
    "MpiConfiguration",
    "PyTorchConfiguration",
    "RunConfiguration",
]

_sdk_getattr = lazy_getattr(globals(), _SDK_NAMES)


def __getattr__(name: str) -> object:
    return _sdk_getattr(name)


def __dir__() -> list:
    return sorted(set(globals()) | _SDK_NAMES)
