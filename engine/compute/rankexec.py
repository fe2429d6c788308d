"""What each rank of an MPI run is started through (mpirun runs this file, then it becomes the
script): it sends the rank's output to its own driver log, expands the script's `$VAR` arguments
with the rank's own variables, and execs the script.

    python -I rankexec.py LOG_DIR EXPAND_FROM -- ARGV...

Standard library only and importable: `expand` is also how the engine expands the arguments of
the processes it starts itself (engine.compute.local, engine.compute.docker).

Argument expansion, as Azure ML does it for ScriptRunConfig arguments: `$NAME` and `${NAME}` take
the value of the variable NAME in the process's environment. A variable the process does not
have is left as written (the script sees `$NAME`, which makes the mistake visible), and so is
anything else with a `$` (`${{inputs.x}}` references were rendered before the run started).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence

__all__ = ["expand", "expand_argv", "log_name"]

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand(text: str, env: Mapping[str, str]) -> str:
    """`text` with each `$NAME` / `${NAME}` that `env` defines replaced by its value."""
    if "$" not in text:
        return text

    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return env[name] if name in env else m.group(0)

    return _VAR.sub(value, text)


def expand_argv(argv: Sequence[str], env: Mapping[str, str], start: int | None) -> list[str]:
    """`argv` with the words from index `start` on expanded (None: none, e.g. a shell command,
    whose shell expands them itself)."""
    if start is None:
        return list(argv)
    return [*argv[:start], *(expand(a, env) for a in argv[start:])]


def log_name(rank: int) -> str:
    """A rank's driver log (engine.runtime.distribution.Distribution.log_name says the same)."""
    return f"70_driver_log_{rank}.txt"


def main(args: list[str]) -> int:
    log_dir, start, sep, *argv = args
    if sep != "--" or not argv:
        sys.stderr.write("usage: rankexec.py LOG_DIR EXPAND_FROM -- ARGV...\n")
        return 2
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK") or os.environ.get("PMI_RANK") or "0")
    fd = os.open(os.path.join(log_dir, log_name(rank)), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    first = int(start)
    argv = expand_argv(argv, os.environ, None if first < 0 else first)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        os.write(2, f"[trainyard] rank {rank} could not start {argv[0]!r}: {exc}\n".encode())
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
