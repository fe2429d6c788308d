"""Environment builds: Trainyard's uv builder (``ensure_built``) vs ``python -m venv`` + ``pip install``
for the same pip spec, cold (empty package caches) and warm (a second env, caches filled), plus the
overhead of ``ensure_built`` on a cache hit and a py-rattler conda build from a local channel.
Both sides use this machine's pip configuration (find-links, local indexes). Prints a markdown table.

    python bench/bench_envbuild.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "engine" / "environments"))

from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog, ensure_built

REQS = ("pyyaml", "six", "tomli")
# The same packages with a spelling that hashes differently: a second env, built with warm caches.
REQS_WARM = ("pyyaml>=5", "six>=1", "tomli>=1")


def time_uv(tmp: Path) -> tuple[float, float]:
    cache = tmp / "uv-cache-root"
    t0 = time.perf_counter()
    a = ensure_built(EnvironmentSpec(name="bench", pip_requirements=REQS), cache, BuildLog(None))
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = ensure_built(EnvironmentSpec(name="bench2", pip_requirements=REQS_WARM), cache, BuildLog(None))
    warm = time.perf_counter() - t0
    assert not a.cached and not b.cached and a.spec_hash != b.spec_hash
    for built in (a, b):
        subprocess.run([built.interpreter or "", "-c", "import yaml, six, tomli"], check=True)
    return cold, warm


def time_pip(tmp: Path) -> tuple[float, float]:
    env = {**os.environ, "PIP_CACHE_DIR": str(tmp / "pip-cache"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VIRTUAL_ENV", None)
    times = []
    for name, reqs in (("pip1", REQS), ("pip2", REQS_WARM)):
        venv = tmp / name
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *reqs], check=True, env=env,
                       stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
        subprocess.run([str(venv / "bin" / "python"), "-c", "import yaml, six, tomli"], check=True)
    return times[0], times[1]


def time_cached(tmp: Path, n: int = 50) -> float:
    cache = tmp / "hit"
    spec = EnvironmentSpec(name="hit", pip_requirements=REQS)
    ensure_built(spec, cache, BuildLog(None))
    log = BuildLog(tmp / "hit.log")
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        assert ensure_built(spec, cache, log).cached
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def time_conda(tmp: Path) -> float | str:
    try:
        from conda_channel import build_channel
    except ImportError as exc:
        return f"unavailable: {exc}"
    chan = build_channel(tmp / "channel")
    spec = EnvironmentSpec(name="conda", conda={"channels": [str(chan)],
                                                "dependencies": ["python", "mymodule", "hello"]})
    t0 = time.perf_counter()
    built = ensure_built(spec, tmp / "conda-cache", BuildLog(None))
    took = time.perf_counter() - t0
    subprocess.run([built.interpreter or "", "-c", "import mymodule"], check=True)
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    uv_cold, uv_warm, pip_cold, pip_warm, conda = [], [], [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-envbuild-") as tmp:
            c, w = time_uv(Path(tmp))
            uv_cold.append(c)
            uv_warm.append(w)
        with tempfile.TemporaryDirectory(prefix="bench-envbuild-") as tmp:
            c, w = time_pip(Path(tmp))
            pip_cold.append(c)
            pip_warm.append(w)
        with tempfile.TemporaryDirectory(prefix="bench-envbuild-") as tmp:
            r = time_conda(Path(tmp))
            if isinstance(r, float):
                conda.append(r)
    with tempfile.TemporaryDirectory(prefix="bench-envbuild-") as tmp:
        hit = time_cached(Path(tmp))
    med = statistics.median
    print(f"### Environment builds: uv vs `python -m venv` + pip ({', '.join(REQS)}; median of {args.repeat})\n")
    print("| what | trainyard (uv) | python -m venv + pip | ratio (pip / uv) | target |")
    print("|---|---|---|---|---|")
    print(f"| new env, empty package caches, s | {med(uv_cold):.2f} | {med(pip_cold):.2f} | "
          f"{med(pip_cold) / med(uv_cold):.1f}x faster | |")
    print(f"| second env, warm caches, s | {med(uv_warm):.2f} | {med(pip_warm):.2f} | "
          f"{med(pip_warm) / med(uv_warm):.1f}x faster | |")
    print(f"| `ensure_built` on a cache hit, ms | {hit * 1e3:.2f} | | | ≤ 500 |")
    if conda:
        print(f"| conda env via py-rattler, local channel (4 packages), s | {med(conda):.2f} | | | |")


if __name__ == "__main__":
    main()
