"""A GPU request (`resources.gpus` of a job, `gpus:` of a compute target) in the form
`docker run --gpus` takes. Plain Python: run supervisors import it."""

from __future__ import annotations

import re


def normalise_gpus(value: int | str | None) -> int | str | None:
    """A GPU request as `docker run --gpus` takes it -> None, an int (-1: all, 0: none, N) or
    `"device=ID,ID"`. ValueError says what is wrong."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("expected a number, 'all' or device ids, not true/false")  # noqa: TRY004 - one error type for callers
    if isinstance(value, int):
        if value < -1:
            raise ValueError("a GPU count must be 0 or more (-1 or 'all' for all of them)")
        return value
    text = str(value).strip().strip('"').strip()
    if text.lower() == "all":
        return -1
    if text.lstrip("-").isdigit():
        return normalise_gpus(int(text))
    ids = [d.strip() for d in text.removeprefix("device=").split(",") if d.strip()]
    listed = text.startswith("device=") or "," in text
    if listed and ids and all(re.fullmatch(r"[A-Za-z0-9_:.-]+", d) for d in ids):
        return "device=" + ",".join(ids)
    raise ValueError("expected a number, 'all', or device ids like 'device=0,1'")
