"""``azureml.core.experiment`` under Trainyard: ``Experiment`` from ``engine.sdk``, loaded lazily."""

from __future__ import annotations

from azureml import lazy_getattr

_SDK_NAMES = frozenset(
    {
        "Experiment",
    }
)

__all__ = ["Experiment"]  # noqa: F822 - provided by __getattr__

_sdk_getattr = lazy_getattr(globals(), _SDK_NAMES)


def __getattr__(name: str) -> object:
    return _sdk_getattr(name)


def __dir__() -> list:
    return sorted(set(globals()) | _SDK_NAMES)
