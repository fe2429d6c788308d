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
ORDER = ["log", "store", "snapshot", "submit", "envbuild", "studio_start", "studio_table", "studio_plot"]
TITLES = {
    "log": "In-script `run.log` (target ≤ 5 µs per call)",
    "store": "Metric ingestion and history reads",
    "snapshot": "Snapshots of a 10,000-file project (target: unchanged re-snapshot ≤ 150 ms)",
    "submit": "Submit to first line",
    "envbuild": "Environment builds: uv vs python -m venv + pip",
}


def main(names: list[str]) -> int:
    chosen = names or [n for n in ORDER if (HERE / f"bench_{n}.py").exists()]
    sections = []
    for name in chosen:
        print(f"== bench_{name}.py", flush=True)
        res = subprocess.run([sys.executable, str(HERE / f"bench_{name}.py")], cwd=ROOT, capture_output=True,
                             text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        table = "\n".join(line for line in res.stdout.splitlines() if line.startswith(("|", "#", "_")) or not line)
        print(table)
        if res.returncode != 0:
            print(res.stderr[-3000:], file=sys.stderr)
            return res.returncode
        table = table.strip()
        if not table.startswith("#"):
            table = f"### {TITLES.get(name, name)}\n\n{table}"
        sections.append(table)
    load = os.getloadavg()[0]
    header = (
        "# Benchmarks\n\n"
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} CPUs, Python {platform.python_version()}, load average {load:.1f} at the end). "
        "Each table measures Trainyard and its peer in the same run on the same work; machines here are "
        "noisy, so read the ratios. Re-run with `.venv/bin/python bench/run_all.py`.\n"
    )
    (ROOT / "BENCHMARKS.md").write_text(header + "\n" + "\n\n".join(sections) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
