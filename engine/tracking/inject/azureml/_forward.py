"""The forwarding of ``azureml.*`` control-script names to Trainyard's SDK (``engine.sdk``)."""

from azureml import _missing

__all__ = ["forward_to_sdk", "lazy_getattr", "sdk_attribute"]

_missing.install()  # `import azureml.<anything not here>` says what it is and what to use instead

TYPE_CHECKING = False  # `typing` is not imported at run time: the client loads as little as it can
if TYPE_CHECKING:
    from collections.abc import Callable


def sdk_attribute(module: str, name: str) -> object:
    """``engine.sdk.<name>``, or an ImportError that says how to run control scripts."""
    try:
        from engine import sdk  # only importable where Trainyard is installed
    except ImportError as exc:
        raise ImportError(
            f"{module}.{name} is provided by Trainyard's SDK; run control scripts with "
            "`trainyard python script.py`",
            name=module,
        ) from exc
    try:
        return getattr(sdk, name)
    except AttributeError:
        if name in _missing.NAMES:
            raise _missing.name_error(module, name) from None
        raise AttributeError(
            f"module {module!r} has no attribute {name!r} (Trainyard's SDK does not provide it; {_missing.DOCS})"
        ) from None


def lazy_getattr(module_globals: dict, names: frozenset) -> "Callable[[str], object]":
    """A PEP 562 ``__getattr__`` forwarding ``names`` to ``engine.sdk`` on first use."""
    module = module_globals["__name__"]

    def __getattr__(name: str) -> object:
        if name in names:
            value = sdk_attribute(module, name)
            module_globals[name] = value  # later lookups are plain attribute reads
            return value
        if name in _missing.NAMES:
            raise _missing.name_error(module, name)
        raise AttributeError(f"module {module!r} has no attribute {name!r} ({_missing.DOCS})")

    return __getattr__


def forward_to_sdk(module_globals: dict, *names: str) -> None:
    """Make a module of SDK classes: ``names`` come from ``engine.sdk`` on first use, and are its
    ``__all__`` and part of its ``dir()``."""
    forwarded = frozenset(names)
    module_globals["__all__"] = sorted(forwarded)
    module_globals["__getattr__"] = lazy_getattr(module_globals, forwarded)
    module_globals["__dir__"] = lambda: sorted(set(module_globals) | forwarded)
