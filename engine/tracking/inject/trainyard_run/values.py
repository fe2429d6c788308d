"""Checking what a script logs: names, numbers, cells, steps and paths inside the run.

The live and the offline run check alike; the ``mlflow`` stand-in uses the number check too.
"""

import operator

__all__ = [
    "MetricValueError",
    "cell",
    "cells",
    "check_name",
    "check_run_path",
    "check_step",
    "integer",
    "json_scalar",
    "number",
    "relative_parts",
    "short",
]


class MetricValueError(TypeError, ValueError):
    """A value given to ``run.log`` (or a list/row/table) is not a number.

    It is both a TypeError and a ValueError so either ``except`` clause a script uses catches it.
    """


def short(value: object, limit: int = 60) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _metric_error(call: str, name: object, value: object) -> "MetricValueError":
    return MetricValueError(
        f"run.{call}({name!r}, {short(value)}): metric values must be numbers (int or float), "
        f"got {type(value).__name__} {short(value)}. "
        "Log text with run.tag(...) or several values with run.log_list(...)"
    )


def number(value: object, call: str, name: object) -> object:
    """Slow path of the metric type check: bools, int subclasses, numpy/torch scalars."""
    t = type(value)
    if t is float or t is int:
        return value
    if isinstance(value, bool):  # as `t is bool`: bool has no subclasses
        return int(value)
    if isinstance(value, float):  # numpy.float64 and other float subclasses
        return float(value)
    if isinstance(value, (str, bytes, bytearray)) or not hasattr(t, "__float__"):
        raise _metric_error(call, name, value)
    if isinstance(value, int):  # IntEnum and friends: write a plain int
        return int(value)
    if hasattr(t, "__index__"):  # numpy/torch integer scalars stay integers
        try:
            return operator.index(value)  # type: ignore[arg-type]  # t has __index__ (checked above)
        except TypeError:
            pass
    try:
        # numpy floats, 0-d tensors, Decimal, Fraction (t has __float__, checked above)
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, RuntimeError):
        # e.g. a numpy array or tensor with more than one element
        raise _metric_error(call, name, value) from None


def cell(value: object, call: str, name: object) -> object:
    """A value inside a list/row/table: a number, a bool, a string or None."""
    t = type(value)
    if t is float or t is int or t is str or t is bool or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    try:
        return number(value, call, name)
    except MetricValueError:
        raise MetricValueError(
            f"run.{call}({name!r}, ...): values must be numbers, bools or strings, "
            f"got {type(value).__name__} {short(value)}"
        ) from None


def cells(values: object, call: str, name: object) -> list:
    """A list of cells from a list, tuple, numpy array, tensor or other iterable."""
    if isinstance(values, (str, bytes, bytearray, dict)) or values is None:
        raise MetricValueError(
            f"run.{call}({name!r}, {short(values)}): expected a list of values, got {type(values).__name__}"
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
            f"run.{call}({name!r}, {short(values)}): expected a list of values, got {type(values).__name__}"
        ) from None
    return [cell(v, call, name) for v in items]


def check_name(name: object, call: str) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(f"run.{call}(...): the name must be a non-empty string, got {short(name)}")
    return str(name)


def json_scalar(value: object) -> object:
    """A tag/param value as JSON: scalars as they are, anything else as its str()."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    try:
        return number(value, "log_param", "")
    except MetricValueError:
        return str(value)


def integer(value: object) -> "int | None":
    """``value`` as an int when it is an integer (numpy/torch integers too, not a bool), else None."""
    if type(value) is not bool and hasattr(type(value), "__index__"):
        try:
            return operator.index(value)  # type: ignore[arg-type]  # it has __index__ (checked above)
        except TypeError:
            pass
    return None


def relative_parts(text: str) -> "list | None":
    r"""The parts of a relative path (``a\b/./c`` -> a, b, c); None when it is absolute or has ``..``."""
    text = text.replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if text.startswith("/") or ".." in parts:
        return None
    return parts


def check_run_path(name: object, call: str) -> str:
    """A path inside the run (``outputs/x.csv``): relative, no ``..``."""
    parts = relative_parts(check_name(name, call))
    if not parts:
        raise ValueError(
            f"run.{call}({name!r}, ...): the name must be a relative path inside the run, "
            "like 'outputs/x.csv'"
        )
    return "/".join(parts)


def check_step(name: object, value: object, step: object) -> int:
    as_int = integer(step)
    if as_int is not None:
        return as_int
    raise TypeError(
        f"run.log({name!r}, {short(value)}, step={short(step)}): step must be an int, "
        f"got {type(step).__name__}"
    )
