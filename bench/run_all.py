"""Run every benchmark and write their tables into BENCHMARKS.md.

    python bench/run_all.py            # all
    python bench/run_all.py store log  # some (bench_<name>.py)
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ORDER = ["cli", "log", "store", "snapshot", "submit", "stream", "envbuild", "studio_start", "studio_table", "studio_plot", "gpu", "ssh_upload",
         "inrun", "mlflow_client"]
TITLES = {
    "cli": "CLI answer time (target: job list / job show ≤ 150 ms on 1,000 runs)",
    "log": "In-script `run.log` (target ≤ 5 µs per call)",
    "store": "Metric ingestion and history reads",
    "snapshot": "Snapshots of a 10,000-file project (target: unchanged re-snapshot ≤ 150 ms)",
    "submit": "Submit to first line",
    "envbuild": "Environment builds: uv vs python -m venv + pip",
    "inrun": "In-script `run.get_metrics()`: the client's own reader vs the engine's (median of 3)",
}


MARK = "<!-- bench:{} -->"


def kept_sections() -> dict[str, str]:
    """The sections of the current BENCHMARKS.md, by benchmark name (from their markers)."""
    path = ROOT / "BENCHMARKS.md"
    if not path.exists():
        return {}
    text = path.read_text()
    found: dict[str, str] = {}
    for name in ORDER:
        mark = MARK.format(name)
        if mark in text:
            rest = text.split(mark, 1)[1]
            found[name] = rest.split("<!-- bench:", 1)[0].strip()
    return found


def main(names: list[str]) -> int:
    chosen = names or [n for n in ORDER if (HERE / f"bench_{n}.py").exists()]
    sections = kept_sections() if names else {}
    for name in chosen:
        print(f"== bench_{name}.py", flush=True)
        res = subprocess.run([sys.executable, str(HERE / f"bench_{name}.py")], cwd=ROOT, capture_output=True,
                             text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}, check=False)
        table = "\n".join(line for line in res.stdout.splitlines() if line.startswith(("|", "#", "_")) or not line)
        print(table)
        if res.returncode != 0:
            print(res.stderr[-3000:], file=sys.stderr)
            return res.returncode
        table = table.strip()
        if not table.startswith("#"):
            table = f"### {TITLES.get(name, name)}\n\n{table}"
        sections[name] = table
    load = os.getloadavg()[0]
    header = (
        "# Benchmarks\n\n"
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} CPUs, Python {platform.python_version()}, load average {load:.1f} at the end). "
        "Each table measures Trainyard and its peer in the same run on the same work; machines here are "
        "noisy, so read the ratios. Re-run with `.venv/bin/python bench/run_all.py` (naming benchmarks, e.g. "
        "`run_all.py studio_plot`, re-runs only those and keeps the other tables).\n"
    )
    body = "\n\n".join(f"{MARK.format(n)}\n{sections[n]}" for n in ORDER if n in sections)
    (ROOT / "BENCHMARKS.md").write_text(header + "\n" + body + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
