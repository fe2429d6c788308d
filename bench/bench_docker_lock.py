"""What the lock of a Docker environment built on this machine's daemon costs (the tests' base
image `trainyard-test-base:latest` must be loaded: tests/infra/docker_setup.sh). Medians of
--repeat, all from the same run:

- a warm image build through `ensure_built` (a pip layer on the base image, the daemon's layer
  cache cold for it, pip's downloads from the index), its lock included: the peer;
- the lock it took (`docker_lock`: the image's id and digests, and the freeze lines of its python's
  dist-info folders listed in a throwaway container), timed on its own on the same image;
- a cache hit of `ensure_built` (the image is there and so is its lock: nothing is taken again),
  and reading that lock as a run does.

    python bench/bench_docker_lock.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog, ensure_built
from engine.environments.build.daemon import docker_client
from engine.environments.lock import docker_lock, read_lock

BASE = "trainyard-test-base:latest"


def ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    client = docker_client()
    builds, locks, hits, reads = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-docker-lock-") as tmp:
        for i in range(args.repeat):
            # A new spec each time (a comment line): a new image, pip's downloads warm.
            spec = EnvironmentSpec(name="bench-img", image=BASE, pip_requirements=("six==1.16.0", f"# {time.time()} {i}"))
            t0 = time.perf_counter()
            built = ensure_built(spec, Path(tmp), BuildLog(None), docker=client)
            builds.append(time.perf_counter() - t0)
            assert not built.cached and built.image and built.lock
            t0 = time.perf_counter()
            lock = docker_lock(client, built.image, built.spec_hash)
            locks.append(time.perf_counter() - t0)
            assert lock.by_name()["six"].version == "1.16.0", lock
            t0 = time.perf_counter()
            hit = ensure_built(spec, Path(tmp), BuildLog(None), docker=client)
            hits.append(time.perf_counter() - t0)
            assert hit.cached and hit.lock
            t0 = time.perf_counter()
            kept = read_lock(Path(hit.lock))
            reads.append(time.perf_counter() - t0)
            assert kept is not None and kept.id == lock.id
            client.images.remove(built.image, force=True)
    b, lk, h, r = ms(builds), ms(locks), ms(hits), ms(reads)
    print(f"this machine's dockerd, pip layer six==1.16.0 on {BASE}; median of {args.repeat}\n")
    print("| what | ms |\n|---|---|")
    print(f"| image build through `ensure_built`, its lock included (the peer) | {b:.1f} |")
    print(f"| of which the lock: inspect + its python's dist-info folders listed in a container | {lk:.1f} "
          f"({lk / b:.1%} of the build; target < 5 %) |")
    print(f"| cache hit: `ensure_built` finds the image and its lock | {h:.1f} |")
    print(f"| what the lock adds to it: a run reads the kept lock | {r:.1f} (target < 20 ms) |")


if __name__ == "__main__":
    main()
